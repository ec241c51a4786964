import gymnasium
import json
import random
import time


class StateEnv(gymnasium.Env):
    """Keeps state of every kind a clone must reproduce: a list, `random`, the clock, output."""

    def __init__(self, env_str=None):
        super().__init__()
        self.items, self.step_count, self._done = [], 0, False

    @staticmethod
    def from_env_str(env_str):
        return StateEnv(env_str) if env_str.startswith("StateEnv@") else None

    @property
    def finished(self):
        return self._done

    @property
    def reward(self):
        return 1.0 if self._done else 0.0

    def step(self, action):
        self.step_count += 1
        call = json.loads(action)
        name, params = call["name"], call.get("parameters", {})
        if name == "Add":
            self.items.append(params["x"])
            print("added", params["x"])
            return True, json.dumps(self.items)
        if name == "Draw":
            return True, repr(random.random())
        if name == "Clock":
            return True, repr((time.time(), time.monotonic_ns()))
        if name == "Done":
            self._done = True
            return True, "done"
        return True, json.dumps({"items": self.items, "steps": self.step_count})

    def solve(self):
        self.step(json.dumps({"name": "Add", "parameters": {"x": 42}}))
        return self.step(json.dumps({"name": "Done", "parameters": {}}))[1]
