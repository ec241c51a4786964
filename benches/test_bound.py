"""The *in-guest ceiling*, the bound of one interpreter per sandbox from above: steps/s of the
LIS env stepped by a loop that runs *inside* the guest (no host crossing at all), on every core,
next to the same loop in native CPython on one core. No batching or host-side optimisation can
make a sandboxed step cheaper than this, so if the ceiling is below the in-process loop, ≥ 1×
that loop is out of reach for this design. (The bound from below, the *empty step*, is timed
with the LIS step in ``test_step``.)
"""

from __future__ import annotations

import os
from typing import Any

import codegym

from .baselines import load_class, make_env
from .conftest import CODEGYM, IN_PROCESS, OBSERVE, record

LOOPS = 20_000

_LOOP = '''

class GuestLoop:
    """Steps an inner env LOOPS times inside one solve() call."""

    step_count = 0
    finished = False
    reward = 0.0

    @staticmethod
    def from_env_str(env_str):
        loop = GuestLoop()
        loop.env = {cls}.from_env_str("{cls}@" + env_str.split("@", 1)[1])
        return loop

    def step(self, action):
        return self.env.step(action)

    def solve(self):
        step, action = self.env.step, {action!r}
        for _ in range({loops}):
            step(action)
        return "ok"
'''


def test_in_guest_ceiling(benchmark: Any, enabled: bool, lis: Any) -> None:
    loops = LOOPS if enabled else 10
    source = lis.source + _LOOP.format(cls=lis.env_name, action=OBSERVE, loops=loops)
    env_str = "GuestLoop@" + lis.env_str.split("@", 1)[1]
    cores = len(os.sched_getaffinity(0))
    specs = [codegym.EnvSpec(source, env_str, seed=i) for i in range(cores)]
    with codegym.EnvPool(specs, num_threads=cores) as pool:

        def run() -> None:
            out = pool.solve()
            out.raise_for_error()

        benchmark.pedantic(run, rounds=3, warmup_rounds=1)
    record(benchmark, "in-guest ceiling", CODEGYM, cores * loops)


def test_in_guest_ceiling_native(benchmark: Any, enabled: bool, lis: Any) -> None:
    loops = LOOPS if enabled else 10
    env = make_env(load_class(lis.source, lis.env_name), lis.env_str, 0)

    def run() -> None:
        step = env.step
        for _ in range(loops):
            step(OBSERVE)

    benchmark.pedantic(run, rounds=3, warmup_rounds=1)
    record(benchmark, "in-guest ceiling", IN_PROCESS, loops)
