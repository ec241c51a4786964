"""env-steps/s of batched ``step`` and of async ``send``/``recv``, at 1, 64, 256 and 1024 envs,
for codegym and baselines (a), (b) and (c) on the same env class and actions, the step figures
timed in turn.

At 256 envs three more things are timed in the same turn. The *empty step*: an env whose
``step`` does nothing, stepped like the LIS env (the same pool settings, batches and actions),
in codegym and in the in-process loop; it is what the crossing into 256 sandboxed interpreters
costs with no env work. And the LIS env's ``step`` and the empty env's, each in a loop inside
one guest on one thread: what the LIS env's own work costs beyond the empty env's, warm and with
no crossing. Together they bound codegym's LIS step @256 from above, round by round
(`conftest.step_bound`), and the run's notes hold that bound to every step target
(`conftest._floor_note`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import codegym
import pytest

from .baselines import HttpEnvServer, InProcessEnvs, ProcessPerEnv
from .conftest import (
    CODEGYM,
    EMPTY_LOOP,
    EMPTY_STEP,
    HTTP_SERVER,
    IN_PROCESS,
    LIS_LOOP,
    OBSERVE,
    PAIRED,
    PROCESS_PER_ENV,
    STEP_BOUND,
    STEP_ROUNDS,
    batches_per_call,
    cores,
    guest_loop,
    measure_in_turn,
    put_rounds,
    record,
    step_bound,
    step_calls,
)

SIZES = (1, 64, 256, 1024)

EMPTY_ENV = """
class EmptyStepEnv:
    \"\"\"An env whose step does nothing but count: the crossing with no env work.\"\"\"

    def __init__(self):
        self.step_count = 0
        self.finished = False
        self.reward = 0.0

    @staticmethod
    def from_env_str(env_str):
        return EmptyStepEnv()

    def reset(self, seed=None):
        return "ready"

    def step(self, action):
        self.step_count += 1
        return True, "ok"
"""
EMPTY_N = 256


def _empty_envs(n: int, cleanup: contextlib.ExitStack) -> tuple[codegym.EnvPool, InProcessEnvs]:
    specs = [codegym.EnvSpec(EMPTY_ENV, "EmptyStepEnv@{}", seed=i) for i in range(n)]
    pool = cleanup.enter_context(codegym.EnvPool(specs))
    pool.reset().raise_for_error()
    return pool, InProcessEnvs(EMPTY_ENV, "EmptyStepEnv", ["EmptyStepEnv@{}"] * n)


def _loop_in_guest(
    source: str, env_str: str, loops: int, cleanup: contextlib.ExitStack
) -> Callable[[], codegym.SolveResult]:
    """One sandbox on one thread whose `solve()` steps the env `loops` times (`guest_loop`)."""
    loop_source, loop_env_str = guest_loop(source, env_str, loops)
    spec = codegym.EnvSpec(loop_source, loop_env_str, seed=0)
    pool = cleanup.enter_context(codegym.EnvPool([spec], num_threads=1))

    def run() -> codegym.SolveResult:
        out = pool.solve()
        out.raise_for_error()
        return out

    return run


def _size(n: int, enabled: bool) -> None:
    if not enabled and n > 64:
        pytest.skip("smoke run: small sizes only")


@pytest.mark.parametrize("n", SIZES)
def test_step(benchmark: Any, enabled: bool, lis: Any, n: int) -> None:
    """Every approach steps the same n envs, their timed calls in turn (see `measure_in_turn`)."""
    _size(n, enabled)
    envs = [lis.env_str] * n
    with contextlib.ExitStack() as cleanup:
        # The baselines' processes are forked before the pool exists: a fork made while
        # sandboxes live copies their page tables into every child.
        procs = ProcessPerEnv(lis.source, lis.env_name, envs)
        cleanup.callback(procs.close)
        server = HttpEnvServer(lis.source, lis.env_name, envs, clients=32)
        cleanup.callback(server.close)
        native = InProcessEnvs(lis.source, lis.env_name, envs)
        specs = [codegym.EnvSpec(lis.source, lis.env_str, seed=i) for i in range(n)]
        pool = cleanup.enter_context(codegym.EnvPool(specs))
        pool.reset().raise_for_error()
        figure = f"step @{n}"
        steppers: dict[tuple[str, str], Callable[[list[str]], Any]] = {
            (figure, CODEGYM): pool.step,
            (figure, IN_PROCESS): native.step,
            (figure, PROCESS_PER_ENV): procs.step,
            (figure, HTTP_SERVER): server.step,
        }
        if n == EMPTY_N:
            empty_pool, empty_native = _empty_envs(n, cleanup)
            steppers[EMPTY_STEP, CODEGYM] = empty_pool.step
            steppers[EMPTY_STEP, IN_PROCESS] = empty_native.step
        calls = step_calls(enabled, n, steppers)
        steps = n * batches_per_call(n, enabled)
        if n == EMPTY_N:
            calls[LIS_LOOP, CODEGYM] = _loop_in_guest(lis.source, lis.env_str, steps, cleanup)
            calls[EMPTY_LOOP, CODEGYM] = _loop_in_guest(EMPTY_ENV, "EmptyStepEnv@{}", steps, cleanup)
        measure_in_turn(benchmark, STEP_ROUNDS, steps, calls)
        if n == EMPTY_N and EMPTY_STEP in PAIRED:
            rounds = zip(*(PAIRED[f][CODEGYM] for f in (EMPTY_STEP, LIS_LOOP, EMPTY_LOOP)), strict=True)
            bounds = [
                step_bound(empty, lis_loop, empty_loop, cores()) for empty, lis_loop, empty_loop in rounds
            ]
            put_rounds(STEP_BOUND, CODEGYM, bounds)
        out = pool.step([OBSERVE] * n)
        assert out.error == [None] * n and not out.done.any()


@pytest.mark.parametrize("n", SIZES)
def test_send_recv_codegym(benchmark: Any, enabled: bool, lis: Any, n: int) -> None:
    """envpool's async loop: keep every env in flight, take the first half that finishes."""
    _size(n, enabled)
    specs = [codegym.EnvSpec(lis.source, lis.env_str, seed=i) for i in range(n)]
    batch = max(1, n // 2)
    rounds = 2 * batches_per_call(n, enabled)
    with codegym.EnvPool(specs) as pool:
        pool.reset().raise_for_error()
        pool.send([OBSERVE] * n, range(n))

        def run() -> None:
            for _ in range(rounds):
                out = pool.recv(min_batch=batch)
                pool.send([OBSERVE] * len(out), out.env_ids)

        benchmark.pedantic(run, rounds=STEP_ROUNDS, warmup_rounds=1)
        record(benchmark, f"send/recv @{n}", CODEGYM, batch * rounds)
        out = pool.recv()
        assert out.error == [None] * n


def test_the_empty_env_answers_ok_sandboxed_and_in_process() -> None:
    """The empty step's env (timed in `test_step` at 256 envs) does nothing and says so."""
    with contextlib.ExitStack() as cleanup:
        pool, native = _empty_envs(3, cleanup)
        out = pool.step([OBSERVE] * 3)
        assert out.error == [None] * 3 and out.obs == ["ok"] * 3
        assert native.step([OBSERVE] * 3) == ["ok"] * 3


def test_the_in_guest_loops_step_their_env_inside_one_solve(lis: Any) -> None:
    """The step bound's loops (timed in `test_step` at 256 envs) run their env's step in the guest."""
    with contextlib.ExitStack() as cleanup:
        for source, env_str in ((lis.source, lis.env_str), (EMPTY_ENV, "EmptyStepEnv@{}")):
            assert _loop_in_guest(source, env_str, 3, cleanup)().answer == ["ok"]


def test_baselines_and_codegym_see_the_same_observations(lis: Any) -> None:
    """The comparison is fair only if every approach does the same work."""
    n = 3
    native = InProcessEnvs(lis.source, lis.env_name, [lis.env_str] * n).step([OBSERVE] * n)
    procs = ProcessPerEnv(lis.source, lis.env_name, [lis.env_str] * n)
    server = HttpEnvServer(lis.source, lis.env_name, [lis.env_str] * n)
    try:
        assert procs.step([OBSERVE] * n) == native
        assert server.step([OBSERVE] * n) == native
    finally:
        procs.close()
        server.close()
    specs = [codegym.EnvSpec(lis.source, lis.env_str, seed=i) for i in range(n)]
    with codegym.EnvPool(specs) as pool:
        pool.reset()
        assert pool.step([OBSERVE] * n).obs == native
