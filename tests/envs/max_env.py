"""A small, well-behaved env in the CodeGym format: find the maximum of a list."""

import ast
import json
import random

import gymnasium


class MaxEnv(gymnasium.Env):
    def __init__(self, env_str=None):
        super().__init__()
        self.func_mapping = {"Observe": self.Observe, "Done": self.Done, "Noise": self.Noise}
        self.reset(ast.literal_eval(env_str.split("@", 1)[1]) if env_str else {})

    @staticmethod
    def from_env_str(env_str):
        if not env_str.startswith("MaxEnv@"):
            return None
        return MaxEnv(env_str=env_str)

    @property
    def finished(self):
        return self._done

    @property
    def reward(self):
        return float(self._reward)

    def reset(self, options={}):
        self.nums = options.get("nums", [])
        self._done = False
        self._reward = 0
        self.step_count = 0
        return "reset"

    def step(self, action):
        self.step_count += 1
        try:
            call = json.loads(action)
            name = call["name"]
            params = call.get("parameters", {})
            if name not in self.func_mapping:
                raise ValueError(f"Invalid action: {name}")
            msg = self.func_mapping[name](**params)
        except Exception as e:
            msg = "Error: " + str(e)
        return True, msg

    def Observe(self):
        """Return the list as JSON."""
        return json.dumps(self.nums)

    def Noise(self):
        """A random float from the env's seeded `random` module."""
        return repr(random.random())

    def Done(self, answer):
        """Submit the maximum."""
        ok = answer == max(self.nums)
        self._reward = 1 if ok else 0
        self._done = True
        return f"answer={answer}, ref={max(self.nums)}, {'correct' if ok else 'wrong'}"

    def solve(self):
        nums = json.loads(self.step(json.dumps({"name": "Observe", "parameters": {}}))[1])
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": max(nums)}}))[1]
