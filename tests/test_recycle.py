"""Sandbox recycling: the sandbox of an env whose ``solve()`` finished, or of an env of a closed
pool, goes to the next env of the same class that any pool creates, brought back to the state
of a freshly loaded one. Nothing an env can observe may differ from a fresh sandbox, and
nothing may leak from one env to the next."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Iterator

import codegym
import pytest


@pytest.fixture(autouse=True)
def _no_idle_sandboxes() -> Iterator[None]:
    """Each test starts without idle sandboxes, so its recycled counts are exact."""
    codegym.release_idle_sandboxes()
    yield
    codegym.release_idle_sandboxes()


def _fresh(specs: list[codegym.EnvSpec]) -> codegym.EnvPool:
    """A pool whose envs get fresh sandboxes (none idle to take)."""
    codegym.release_idle_sandboxes()
    return codegym.EnvPool(specs)


LEAKY = """
import os
import random
import time

SEEN = []


class LeakyEnv:
    calls = 0

    @staticmethod
    def from_env_str(env_str):
        env = LeakyEnv()
        env.step_count, env.reward, env.finished = 0, 0.0, False
        env.objects = {object() for _ in range(8)}
        LeakyEnv.calls += 1
        return env

    def step(self, action):
        self.step_count += 1
        SEEN.append(action)
        ids = sorted(id(o) % 9973 for o in self.objects)
        return True, repr([LeakyEnv.calls, len(SEEN), ids, random.random(), os.urandom(4).hex(),
                           time.time()])

    def solve(self):
        return self.step("solve")[1]
"""


def _spec(seed: int) -> codegym.EnvSpec:
    return codegym.EnvSpec(LEAKY, "LeakyEnv@{}", seed=seed)


def test_envs_after_a_solve_are_the_envs_of_fresh_sandboxes() -> None:
    specs = [_spec(seed) for seed in (0, 1, 2, 0)]
    with codegym.EnvPool(specs, num_threads=1) as pool:
        solved = pool.solve()
        solved.raise_for_error()
        # Every env's sandbox went idle after its solve(); these resets take them back.
        pool.reset().raise_for_error()
        # One thread: envs 1-3 solved in the sandbox env 0 gave back, and env 0's reset took
        # the one env 3 gave back (the other three resets made fresh sandboxes).
        assert pool.recycled == 4
        recycled = [pool.step(["a"] * 4).obs for _ in range(2)]
    fresh, fresh_answers = [], []
    for spec in specs:
        with _fresh([spec]) as pool:
            fresh_answers.append(pool.solve().answer[0])
            assert pool.recycled == 0
        with _fresh([spec]) as pool:
            pool.reset().raise_for_error()
            fresh.append([pool.step(["a"]).obs[0] for _ in range(2)])
            assert pool.recycled == 0
    assert solved.answer == fresh_answers
    assert recycled == [list(steps) for steps in zip(*fresh, strict=True)]
    # The class attribute and module global start over: no episode sees another's.
    assert all(obs.startswith("[1, 1, ") for obs in recycled[0])
    # Seeds still matter, and equal seeds agree.
    assert recycled[0][0] == recycled[0][3] != recycled[0][1]


def test_verification_results_do_not_depend_on_recycling() -> None:
    tasks = codegym.builtin.tasks()
    by_class = itertools.groupby(tasks, key=lambda t: t.env_name)
    picked = [t for _, group in itertools.islice(by_class, 3) for t in itertools.islice(group, 3)]
    specs = [codegym.EnvSpec(t.source, t.env_str, seed=i) for i, t in enumerate(picked)]
    with codegym.EnvPool(specs, num_threads=1) as pool:
        first = pool.solve(record=True)
        again = pool.solve(record=True)  # every env in a recycled sandbox
        assert pool.recycled == 6 + 9  # all but each class's first, then all
    for i, spec in enumerate(specs):
        with _fresh([spec]) as alone:
            expected = alone.solve(record=True)
            assert alone.recycled == 0
        for result in (first, again):
            assert result.error[i] is None
            assert result.answer[i] == expected.answer[0]
            assert result.actions[i] == expected.actions[0]
            assert result.steps[i] == expected.steps[0]


def test_output_and_fork_after_a_solve() -> None:
    source = LEAKY.replace('return self.step("solve")[1]', 'print("solved")\n        return "ok"')
    with codegym.EnvPool([codegym.EnvSpec(source, "LeakyEnv@{}"), _spec(0)]) as pool:
        pool.solve().raise_for_error()
        assert pool.output(0) == ("solved\n", "")
        clones = pool.fork(1, 2)  # its sandbox is gone: the clones replay its calls
        pool.reset(clones).raise_for_error()
        out = pool.step(["a", "a"], clones)
        assert out.error == [None, None] and out.obs[0] == out.obs[1]


def test_clones_made_by_copy_are_recycled_too() -> None:
    with codegym.EnvPool([_spec(4)], num_threads=1) as pool:
        pool.reset().raise_for_error()
        pool.step(["a"])
        clones = [int(i) for i in pool.fork(0, 2)]
        pool.solve(clones).raise_for_error()  # both copies go idle
        pool.reset([clones[0]]).raise_for_error()
        assert pool.recycled == 1
        obs = pool.step(["b"], [clones[0]]).obs
    with _fresh([_spec(4)]) as fresh:
        fresh.reset().raise_for_error()
        assert fresh.step(["b"]).obs == obs
        assert fresh.recycled == 0


def test_a_closed_pools_sandboxes_go_to_the_next_pool() -> None:
    specs = [_spec(seed) for seed in range(4)]
    with codegym.EnvPool(specs, num_threads=1) as first:
        first.reset().raise_for_error()
        first.step(["x"] * 4).raise_for_error()  # mid-episode when the pool closes
        dirty = first.step(["y"] * 4).obs
    with codegym.EnvPool(specs, num_threads=1) as second:
        second.reset().raise_for_error()
        assert second.recycled == 4
        recycled = [second.step(["x"] * 4).obs, second.step(["y"] * 4).obs]
    assert recycled[1] == dirty  # as if new: the first pool's episodes left nothing behind
    with _fresh(specs) as fresh:
        fresh.reset().raise_for_error()
        assert [fresh.step(["x"] * 4).obs, fresh.step(["y"] * 4).obs] == recycled
        assert fresh.recycled == 0
    # The fresh pool's 4, given back when it closed, and the class's pristine sandbox, which
    # its second env made to copy.
    assert codegym.release_idle_sandboxes() == 5
    assert codegym.release_idle_sandboxes() == 0


def test_codegym_idle_mb_bounds_what_closed_pools_leave() -> None:
    """``$CODEGYM_IDLE_MB`` bounds the pages idle sandboxes keep (0: none are kept)."""
    script = (
        "import codegym, json\n"
        f"spec = codegym.EnvSpec({LEAKY!r}, 'LeakyEnv@{{}}')\n"
        "with codegym.EnvPool([spec] * 8) as pool:\n"
        "    pool.reset().raise_for_error()\n"
        "print(json.dumps(codegym.release_idle_sandboxes()))\n"
    )
    kept = {}
    for mb in ("0", "1024"):
        env = {**os.environ, "CODEGYM_IDLE_MB": mb}
        command = [sys.executable, "-c", script]
        out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        kept[mb] = int(out.stdout.strip().splitlines()[-1])
    # Each count includes the class's pristine sandbox (made by the pool's second env to copy).
    assert kept == {"0": 1, "1024": 9}


def test_release_drops_the_idle_and_the_pristine_sandboxes() -> None:
    with codegym.EnvPool([_spec(0), _spec(1)], num_threads=1) as pool:
        pool.solve().raise_for_error()  # env 1 takes env 0's sandbox: the class gets a pristine one
        assert pool.recycled == 1
    assert codegym.release_idle_sandboxes() == 2  # env 1's sandbox, and the class's pristine one
    assert codegym.release_idle_sandboxes() == 0
    with codegym.EnvPool([_spec(0), _spec(1)], num_threads=1) as pool:
        again = pool.solve()  # the pristine sandbox is made again
        assert pool.recycled == 1
    with _fresh([_spec(1)]) as fresh:
        assert fresh.solve().answer[0] == again.answer[1]
