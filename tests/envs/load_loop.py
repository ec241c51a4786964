"""An env whose module body never finishes: loading it must hit the load budget."""

import gymnasium

while True:
    pass


class LoadLoopEnv(gymnasium.Env):
    @staticmethod
    def from_env_str(env_str):
        return LoadLoopEnv()
