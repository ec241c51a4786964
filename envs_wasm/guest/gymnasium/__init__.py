"""A small, dependency-free stand-in for `gymnasium` inside the sandbox.

CodeGym environments subclass `gymnasium.Env` only for its shape (`reset`, `step`, `close`,
`metadata`); they never use numpy-backed spaces for their text actions. This module gives them
that shape so that sources written for plain CPython run here unmodified.
"""

import random as _random

from . import spaces

__all__ = ["Env", "spaces", "Wrapper", "__version__"]
__version__ = "1.0.0-codegym"


class Env:
    """Base class with gymnasium's surface: `reset`, `step`, `render`, `close`, `np_random`."""

    metadata: dict = {"render_modes": []}
    render_mode = None
    spec = None
    action_space = None
    observation_space = None
    reward_range = (-float("inf"), float("inf"))
    _np_random = None

    def step(self, action):
        raise NotImplementedError

    def reset(self, *, seed=None, options=None):
        if seed is not None:
            self._np_random = _random.Random(seed)
        return None, {}

    def render(self):
        return None

    def close(self):
        return None

    @property
    def unwrapped(self):
        return self

    @property
    def np_random(self):
        """A `random.Random` (there is no numpy in the sandbox)."""
        if self._np_random is None:
            self._np_random = _random.Random()
        return self._np_random

    @np_random.setter
    def np_random(self, value):
        self._np_random = value

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.close()
        return False

    def __str__(self):
        return f"<{type(self).__name__} instance>"


class Wrapper(Env):
    def __init__(self, env):
        self.env = env

    def __getattr__(self, name):
        return getattr(self.env, name)

    def step(self, action):
        return self.env.step(action)

    def reset(self, **kwargs):
        return self.env.reset(**kwargs)

    @property
    def unwrapped(self):
        return self.env.unwrapped
