"""An env with a tool whose cost grows with a parameter: for fuel-determinism tests."""

import json
import random

import gymnasium


class WorkEnv(gymnasium.Env):
    def __init__(self):
        self.step_count = 0
        self.total = 0

    @staticmethod
    def from_env_str(env_str):
        return WorkEnv() if env_str.startswith("WorkEnv@") else None

    @property
    def finished(self):
        return False

    @property
    def reward(self):
        return 0.0

    def step(self, action):
        self.step_count += 1
        n = json.loads(action)["parameters"]["n"]
        acc = 0
        for i in range(n):
            acc = (acc * 31 + i) % 1000003
        self.total += acc
        return True, f"{acc} {self.total} {random.random()}"
