"""Exercise the env host once before the snapshot is taken.

CPython writes to its own state the first time a path runs: it fills the type attribute cache,
assigns type version tags, specialises the bytecode of stdlib functions (json, ast, random,
re, ...) in place, and grows allocator pools. Done here, before componentize-py snapshots the
interpreter, those writes land in the shared copy-on-write image instead of being repeated in
(and dirtying the private memory of) every sandbox. The env below uses the same stdlib paths
CodeGym envs use; nothing of it stays reachable afterwards.
"""

SAMPLE = r'''
import ast
import json
import random
import re

import gymnasium


class WarmupEnv(gymnasium.Env):
    """Find the maximum of a list (a CodeGym-format env, used only to warm the interpreter)."""

    def __init__(self, env_str=None):
        super().__init__()
        self.func_mapping = {"Observe": self.Observe, "Compare": self.Compare, "Done": self.Done}
        options = ast.literal_eval(env_str.split("@", 1)[1]) if env_str else {}
        self.reset(options)

    @staticmethod
    def from_env_str(env_str):
        if not env_str.startswith("WarmupEnv@"):
            return None
        return WarmupEnv(env_str=env_str)

    @property
    def finished(self):
        return self._done

    @property
    def reward(self):
        return float(self._reward)

    def reset(self, options={}):
        self.nums = list(options.get("nums", [])) or [random.randint(0, 99) for _ in range(8)]
        self._done, self._reward, self.step_count = False, 0, 0
        return "reset"

    def step(self, action: str):
        self.step_count += 1
        try:
            call = json.loads(action)
            name, params = call["name"], call.get("parameters", {})
            if not re.fullmatch(r"[A-Za-z_]+", name) or name not in self.func_mapping:
                raise ValueError(f"Invalid action: {name}")
            msg = self.func_mapping[name](**params)
        except Exception as e:
            msg = f"Error: {e}"
        return True, msg

    def Observe(self):
        return json.dumps({"nums": self.nums, "n": len(self.nums)})

    def Compare(self, i: int, j: int):
        return str(self.nums[i] >= self.nums[j])

    def Done(self, answer):
        self._reward = int(answer == max(self.nums))
        self._done = True
        return f"answer={answer}, {'correct' if self._reward else 'wrong'}, steps={self.step_count}"

    def solve(self):
        data = json.loads(self.step(json.dumps({"name": "Observe", "parameters": {}}))[1])
        best = 0
        for i in range(1, data["n"]):
            act = {"name": "Compare", "parameters": {"i": i, "j": best}}
            if self.step(json.dumps(act))[1] == "True":
                best = i
        self.step("not json")
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": self.nums[best]}}))[1]
'''


def run(world, state) -> None:
    """Drive `world` (the env host) through every export, as the host would, then forget it."""
    code = world.compile(SAMPLE, "WarmupEnv.py")
    for seed in range(3):
        world.load(code, "WarmupEnv", 1 << 16)
        world.reset('WarmupEnv@{"nums": [3, 9, 2, 7]}', seed)
        world.step('{"name": "Observe", "parameters": {}}')
        world.step('{"name": "Compare", "parameters": {"i": 1, "j": 0}}')
        world.step("{bad")
        world.solve(seed % 2 == 0)
        world.sync(b"")
        world.reset("WarmupEnv@{}", seed)
        world.step('{"name": "Done", "parameters": {"answer": 1}}')
    state.__init__()
