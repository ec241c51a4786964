use std::sync::Arc;

use codegym_core::{EnvPool, EnvSpec, Limits, PoolOptions};

/// A small env in the CodeGym format: find the maximum of a list with Observe/Done.
pub const MAX_ENV: &str = r#"
import gymnasium
import json
import ast
import random


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
        return json.dumps(self.nums)

    def Noise(self):
        return str(random.random())

    def Done(self, answer):
        ok = answer == max(self.nums)
        self._reward = 1 if ok else 0
        self._done = True
        return f"answer={answer}, ref={max(self.nums)}, {'correct' if ok else 'wrong'}"

    def solve(self):
        nums = json.loads(self.step(json.dumps({"name": "Observe", "parameters": {}}))[1])
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": max(nums)}}))[1]
"#;

pub fn spec(source: &str, env_str: &str) -> EnvSpec {
    EnvSpec::new(Arc::from(source), env_str, None, 0).unwrap()
}

pub fn pool(specs: Vec<EnvSpec>, limits: Limits) -> EnvPool {
    EnvPool::new(
        specs,
        PoolOptions {
            num_threads: Some(2),
            limits,
            auto_reset: false,
        },
    )
    .unwrap()
}

pub fn act(name: &str, params: &str) -> String {
    format!(r#"{{"name": "{name}", "parameters": {params}}}"#)
}
