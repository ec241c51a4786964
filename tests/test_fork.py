"""pool.fork: clones start in the exact state of the original (env object, `random`, clock,
step count, captured output), then diverge independently; failed envs are refused cleanly."""

from __future__ import annotations

import codegym
import numpy as np
import pytest
from codegym import errors

from .conftest import action, source

STATE = source("state_env")
SCRIPT = [action("Draw"), action("Clock"), action("Observe"), action("Add", x=7), action("Draw")]


def _pool(n: int = 1, **kw: object) -> codegym.EnvPool:
    specs = [codegym.EnvSpec(STATE, "StateEnv@{}", seed=11 + i) for i in range(n)]
    return codegym.EnvPool(specs, **kw)  # type: ignore[arg-type]


def test_clones_start_in_the_exact_state_of_the_original() -> None:
    with _pool() as pool:
        pool.reset()
        for act in [action("Add", x=1), action("Draw"), action("Clock"), action("Add", x=2)]:
            pool.step([act]).raise_for_error()
        ids = pool.fork(0, 3)
        assert isinstance(ids, np.ndarray) and ids.tolist() == [1, 2, 3]
        assert len(pool) == 4
        assert {pool.output(i) for i in range(4)} == {pool.output(0)}
        for act in SCRIPT:
            out = pool.step([act] * 4)
            out.raise_for_error()
            assert len(set(out.obs)) == 1, (act, out.obs)
            assert len(set(out.step_count.tolist())) == 1


def test_clones_take_idle_sandboxes_of_their_class_and_match_fresh_clones() -> None:
    """Clones made from a closed pool's sandboxes behave like clones made in fresh ones. (No
    `Add` before the fork: an env that printed holds an output stream, and is forked by replay.)"""
    played = [action("Draw"), action("Clock"), action("Draw")]

    def clones_after(release: bool) -> tuple[list[str], int]:
        with _pool(4) as used:  # other episodes first: their sandboxes go idle at close
            used.reset()
            used.step([action("Draw")] * 4)
            used.step([action("Clock")] * 4)
        if release:
            codegym.release_idle_sandboxes()
        with _pool() as pool:
            pool.reset()
            for act in played:
                pool.step([act]).raise_for_error()
            before = pool.recycled
            pool.fork(0, 3)
            recycled = pool.recycled - before
            obs = []
            for act in SCRIPT:
                out = pool.step([act] * 4)
                out.raise_for_error()
                obs.extend(out.obs)
            return obs, recycled

    fresh, none = clones_after(release=True)
    reused, three = clones_after(release=False)
    assert (none, three) == (0, 3)
    assert reused == fresh


def test_clones_diverge_independently() -> None:
    with _pool() as pool:
        pool.reset()
        pool.step([action("Add", x=1)])
        a, b = pool.fork(0, 2).tolist()
        pool.step([action("Add", x=10), action("Add", x=20)], env_ids=[a, b])
        out = pool.step([action("Observe")] * 3)
        assert out.obs == [
            '{"items": [1], "steps": 2}',
            '{"items": [1, 10], "steps": 3}',
            '{"items": [1, 20], "steps": 3}',
        ]
        # Their random streams stay identical to the original's until they diverge in use.
        draws = pool.step([action("Draw")] * 3).obs
        assert draws[0] == draws[1] == draws[2]


def test_clone_of_a_clone_and_of_a_finished_env() -> None:
    with _pool() as pool:
        pool.reset()
        pool.step([action("Add", x=3)])
        (a,) = pool.fork(0, 1).tolist()
        pool.step([action("Add", x=4)], env_ids=[a])
        (b,) = pool.fork(a, 1).tolist()
        assert pool.step([action("Observe")] * 2, env_ids=[a, b]).obs == ['{"items": [3, 4], "steps": 3}'] * 2
        pool.step([action("Done")], env_ids=[0])
        (c,) = pool.fork(0, 1).tolist()
        out = pool.step([action("Observe")], env_ids=[c])
        assert out.error_kind == ["needs_reset"]
        pool.reset([c]).raise_for_error()


def test_clone_after_solve_and_after_reset() -> None:
    with _pool() as pool:
        pool.solve().raise_for_error()
        (a,) = pool.fork(0, 1).tolist()
        assert pool.output(a) == pool.output(0) == ("added 42\n", "")
        pool.reset([0, a])
        (b,) = pool.fork(0, 1).tolist()
        draws = pool.step([action("Draw")] * 3, env_ids=[0, a, b]).obs
        assert draws[0] == draws[1] == draws[2]


def test_fork_of_a_failed_or_unreset_env_is_refused_cleanly(small_limits: codegym.Limits) -> None:
    specs = [
        codegym.EnvSpec(source("hostile"), "HostileEnv@{}"),
        codegym.EnvSpec(STATE, "StateEnv@{}"),
    ]
    with codegym.EnvPool(specs, limits=small_limits) as pool:
        with pytest.raises(errors.ConfigError, match="before its first reset"):
            pool.fork(1, 2)
        pool.reset().raise_for_error()
        out = pool.step([action("LoopForever")], env_ids=[0])
        assert out.error_kind == ["fuel_exhausted"]
        with pytest.raises(errors.ConfigError, match="cannot be forked: its sandbox failed"):
            pool.fork(0, 2)
        assert len(pool) == 2
        # The pool is unharmed and the failed env can be reset and forked again.
        assert pool.fork(1, 1).tolist() == [2]
        pool.reset([0]).raise_for_error()
        assert pool.fork(0, 1).tolist() == [3]
        with pytest.raises(errors.ConfigError, match="out of range"):
            pool.fork(9, 1)


def test_fork_of_an_env_in_flight_is_refused() -> None:
    with _pool() as pool:
        pool.reset()
        pool.send([action("Draw")], [0])
        with pytest.raises(errors.ConfigError, match="pending send"):
            pool.fork(0, 1)
        pool.recv()
        assert pool.fork(0, 0).tolist() == []


def test_clones_work_with_send_recv_and_auto_reset() -> None:
    with _pool(auto_reset=True) as pool:
        pool.reset()
        ids = pool.fork(0, 2).tolist()
        pool.send([action("Done")] * 3, [0, *ids])
        out = pool.recv()
        assert sorted(out.env_ids.tolist()) == [0, 1, 2] and out.done.all()
        again = pool.step([action("Observe")] * 3)  # auto-reset
        assert again.error == [None] * 3
