"""An env that loads fine but whose from_env_str raises: a load error with a traceback."""

import gymnasium


class BrokenCtorEnv(gymnasium.Env):
    @staticmethod
    def from_env_str(env_str):
        return BrokenCtorEnv(env_str)

    def __init__(self, env_str):
        options = {}
        self.size = options["size"]  # KeyError: the traceback must reach the user
