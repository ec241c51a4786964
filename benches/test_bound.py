"""The *in-guest ceiling*: steps/s of the LIS env stepped by a loop that runs *inside* the guest
(no host crossing at all), on every core, next to the same loop in native CPython on one core.
No batching or host-side optimisation can make a sandboxed step cheaper than this, so if the
ceiling is below the in-process loop, ≥ 1× that loop is out of reach for this design. (The
empty step, the crossing with no env work, and the step bound built from both are timed with
the LIS step in ``test_step``.)
"""

from __future__ import annotations

from typing import Any

import codegym

from .baselines import load_class, make_env
from .conftest import CODEGYM, IN_PROCESS, OBSERVE, cores, guest_loop, record

LOOPS = 20_000


def test_in_guest_ceiling(benchmark: Any, enabled: bool, lis: Any) -> None:
    loops = LOOPS if enabled else 10
    source, env_str = guest_loop(lis.source, lis.env_str, loops)
    threads = cores()
    specs = [codegym.EnvSpec(source, env_str, seed=i) for i in range(threads)]
    with codegym.EnvPool(specs, num_threads=threads) as pool:

        def run() -> None:
            out = pool.solve()
            out.raise_for_error()

        benchmark.pedantic(run, rounds=3, warmup_rounds=1)
    record(benchmark, "in-guest ceiling", CODEGYM, threads * loops)


def test_in_guest_ceiling_native(benchmark: Any, enabled: bool, lis: Any) -> None:
    loops = LOOPS if enabled else 10
    env = make_env(load_class(lis.source, lis.env_name), lis.env_str, 0)

    def run() -> None:
        step = env.step
        for _ in range(loops):
            step(OBSERVE)

    benchmark.pedantic(run, rounds=3, warmup_rounds=1)
    record(benchmark, "in-guest ceiling", IN_PROCESS, loops)
