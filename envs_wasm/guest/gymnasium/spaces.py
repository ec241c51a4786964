"""Pure-Python spaces with gymnasium's names; enough for declaring action/observation spaces."""

import random as _random


class Space:
    def __init__(self, shape=None, dtype=None, seed=None):
        self.shape = shape
        self.dtype = dtype
        self._rng = _random.Random(seed)

    def seed(self, seed=None):
        self._rng = _random.Random(seed)
        return [seed]

    def sample(self):
        raise NotImplementedError

    def contains(self, x):
        raise NotImplementedError

    def __contains__(self, x):
        return self.contains(x)


class Discrete(Space):
    def __init__(self, n, seed=None, start=0):
        super().__init__((), int, seed)
        self.n = int(n)
        self.start = int(start)

    def sample(self, mask=None):
        return self.start + self._rng.randrange(self.n)

    def contains(self, x):
        return isinstance(x, int) and self.start <= x < self.start + self.n

    def __repr__(self):
        return f"Discrete({self.n})" if self.start == 0 else f"Discrete({self.n}, start={self.start})"

    def __eq__(self, other):
        return isinstance(other, Discrete) and (self.n, self.start) == (other.n, other.start)


class Text(Space):
    def __init__(self, max_length, *, min_length=1, charset=None, seed=None):
        super().__init__((), str, seed)
        self.max_length = max_length
        self.min_length = min_length
        self.charset = charset or "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

    def sample(self, mask=None):
        n = self._rng.randint(self.min_length, self.max_length)
        return "".join(self._rng.choice(self.charset) for _ in range(n))

    def contains(self, x):
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    def __repr__(self):
        return f"Text({self.min_length}, {self.max_length})"


class Dict(Space):
    def __init__(self, spaces=None, seed=None, **kwargs):
        super().__init__(None, None, seed)
        self.spaces = dict(spaces or {}, **kwargs)

    def sample(self, mask=None):
        return {k: s.sample() for k, s in self.spaces.items()}

    def contains(self, x):
        return isinstance(x, dict) and all(k in x and s.contains(x[k]) for k, s in self.spaces.items())

    def __getitem__(self, key):
        return self.spaces[key]


class Tuple(Space):
    def __init__(self, spaces, seed=None):
        super().__init__(None, None, seed)
        self.spaces = tuple(spaces)

    def sample(self, mask=None):
        return tuple(s.sample() for s in self.spaces)

    def contains(self, x):
        return (
            isinstance(x, tuple)
            and len(x) == len(self.spaces)
            and all(s.contains(v) for s, v in zip(self.spaces, x, strict=True))
        )

    def __getitem__(self, index):
        return self.spaces[index]


__all__ = ["Space", "Discrete", "Text", "Dict", "Tuple"]
