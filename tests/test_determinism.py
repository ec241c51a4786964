"""Determinism: the same specs and actions give byte-identical results on every run, whatever
the thread count, and budgets run out at the same step."""

from __future__ import annotations

import codegym

from .conftest import action, source

MAX = source("max_env")
WORK = source("work")


def _noise(seed: int, threads: int) -> list[str]:
    specs = [codegym.EnvSpec(MAX, "MaxEnv@{'nums': [1]}", seed=seed + i) for i in range(6)]
    with codegym.EnvPool(specs, num_threads=threads) as pool:
        pool.reset()
        rows: list[str] = []
        for _ in range(3):
            rows += pool.step([action("Noise")] * 6).obs
        pool.reset()  # a reset reseeds: the episode replays
        rows += pool.step([action("Noise")] * 6).obs
    return rows


def test_same_seed_same_observations_across_runs_and_thread_counts() -> None:
    first = _noise(seed=10, threads=1)
    assert first == _noise(seed=10, threads=2)
    assert first[:6] == first[-6:]
    assert len(set(first[:6])) == 6


def test_seed_is_settable() -> None:
    assert _noise(seed=10, threads=2) != _noise(seed=11, threads=2)


def test_fuel_runs_out_at_the_same_step_every_time() -> None:
    limits = codegym.Limits(fuel_per_step=40_000_000)

    def run(threads: int) -> tuple[int, list[str]]:
        specs = [codegym.EnvSpec(WORK, "WorkEnv@{}", seed=3)] * 2
        with codegym.EnvPool(specs, num_threads=threads, limits=limits) as pool:
            pool.reset()
            seen: list[str] = []
            for n in range(1, 200):
                out = pool.step([action("Work", n=n * 2000)] * 2)
                if out.error_kind[0] is not None:
                    assert out.error_kind == ["fuel_exhausted"] * 2
                    return n, seen
                seen += out.obs
        raise AssertionError("the budget never ran out")

    first = run(1)
    assert first == run(2)
    assert 5 < first[0] < 199


def test_time_inside_the_guest_is_virtual_and_repeatable() -> None:
    clock = MAX.replace(
        "        return repr(random.random())",
        "        import time, datetime\n"
        "        return f'{time.time():.6f} {time.monotonic_ns()} {datetime.datetime.now().isoformat()}'",
    )

    def run() -> list[str]:
        with codegym.EnvPool([codegym.EnvSpec(clock, "MaxEnv@{'nums': [1]}")]) as pool:
            pool.reset()
            return [pool.step([action("Noise")]).obs[0] for _ in range(3)]

    first = run()
    assert first == run()
    assert first[0].startswith("1704067200.")  # the virtual epoch, 2024-01-01T00:00:00Z
