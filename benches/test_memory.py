"""Resident memory per live env at 1024 and 4096 envs (each measured in a fresh process), the
time from process start to the first step with a warm compiled-guest cache, and ``fork``."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
from typing import Any

import codegym
import pytest

from .baselines import InProcessEnvs
from .conftest import CODEGYM, IN_PROCESS, OBSERVE, put

_RSS = """
import json, sys
def status():
    out = {{}}
    for line in open("/proc/self/status"):
        if line.startswith(("VmRSS", "RssAnon")):
            key, value = line.split(":")
            out[key] = int(value.split()[0]) / 1024
    return out
import codegym
sys.path.insert(0, {root!r})
from benches.baselines import InProcessEnvs
task = next(t for t in codegym.builtin.tasks() if t.env_name == "LongestIncreasingSubsequenceEnv")
n, kind = {n}, {kind!r}
act = json.dumps({{"name": "Observe", "parameters": {{}}}})
before = status()
if kind == "codegym":
    pool = codegym.EnvPool([codegym.EnvSpec(task.source, task.env_str, seed=i) for i in range(n)])
    pool.reset().raise_for_error()
    pool.step([act] * n).raise_for_error()
else:
    envs = InProcessEnvs(task.source, task.env_name, [task.env_str] * n)
    envs.step([act] * n)
after = status()
print(json.dumps({{k: (after[k] - before[k]) / n for k in before}}))
"""

_private: dict[str, float] = {}


def _memory_per_env(kind: str, n: int) -> dict[str, float]:
    """MB per env of VmRSS (as the kernel counts it) and RssAnon (private memory)."""
    from pathlib import Path

    root = str(Path(__file__).resolve().parent.parent)
    script = _RSS.format(root=root, n=n, kind=kind)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _available_mb() -> float:
    with open("/proc/meminfo") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("MemAvailable")) / 1024


@pytest.mark.parametrize("n", [1024, 4096])
def test_memory_per_live_env(enabled: bool, n: int) -> None:
    """VmRSS counts every resident page once per mapping, so the guest's copy-on-write image,
    one physical copy shared by all sandboxes, counts once per env; RssAnon is what each env
    adds privately, i.e. what more envs cost the machine."""
    if not enabled:
        assert _memory_per_env("codegym", 4)["RssAnon"] > 0
        return
    native = _memory_per_env("in-process", n)
    put(f"RSS @{n}", IN_PROCESS, native["VmRSS"])
    put(f"private @{n}", IN_PROCESS, native["RssAnon"])
    if "codegym" in _private and _private["codegym"] * n > 0.8 * _available_mb():
        note = f"not run: {n} envs need ≈ {_private['codegym'] * n / 1024:.0f} GiB of private memory"
        put(f"RSS @{n}", CODEGYM, None, note)
        return
    ours = _memory_per_env("codegym", n)
    _private["codegym"] = ours["RssAnon"]
    put(f"RSS @{n}", CODEGYM, ours["VmRSS"])
    put(f"private @{n}", CODEGYM, ours["RssAnon"])


_START = """
import json, time
t0 = {t0!r}
{body}
print(json.dumps(time.time() - t0))
"""

_START_CODEGYM = """
import codegym
task = next(t for t in codegym.builtin.tasks() if t.env_name == "LongestIncreasingSubsequenceEnv")
with codegym.EnvPool([codegym.EnvSpec(task.source, task.env_str)]) as pool:
    pool.reset().raise_for_error()
    pool.step([json.dumps({"name": "Observe", "parameters": {}})]).raise_for_error()
"""

_START_NATIVE = """
import random, types
import codegym.builtin
task = next(t for t in codegym.builtin.tasks() if t.env_name == "LongestIncreasingSubsequenceEnv")
module = types.ModuleType("env")
exec(compile(task.source, "env.py", "exec"), module.__dict__)
random.seed(0)
env = getattr(module, task.env_name).from_env_str(task.env_str)
env.step(json.dumps({"name": "Observe", "parameters": {}}))
"""


def _start_to_first_step(body: str) -> float:
    """Median over 3 runs of the time from launching a Python process to its first step."""
    times = []
    for _ in range(3):
        t0 = time.time()
        out = subprocess.run(
            [sys.executable, "-c", _START.format(t0=t0, body=body)],
            capture_output=True,
            text=True,
            check=True,
        )
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return sorted(times)[1]


def test_start_to_first_step(enabled: bool) -> None:
    """With a warm cache (the compiled guest on disk): import, create, reset, step."""
    _start_to_first_step(_START_CODEGYM)  # warms the cache
    if not enabled:
        return
    put("start→step", CODEGYM, _start_to_first_step(_START_CODEGYM))
    put("start→step", IN_PROCESS, _start_to_first_step(_START_NATIVE))


def test_fork_codegym(benchmark: Any, lis: Any) -> None:
    """Clone one env, mid-episode, into 8 copies."""
    with codegym.EnvPool([codegym.EnvSpec(lis.source, lis.env_str)]) as pool:
        pool.reset().raise_for_error()
        for _ in range(4):
            pool.step([OBSERVE])
        benchmark.pedantic(lambda: pool.fork(0, 8), rounds=3, warmup_rounds=1)
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        put("fork", CODEGYM, 1e3 * stats.stats.median / 8)


def test_fork_codegym_reused(benchmark: Any, lis: Any) -> None:
    """Group sampling in a training loop: the previous step's pool has closed (its sandboxes
    are idle), a new env is reset and stepped, and it is cloned into 8 copies, which take idle
    sandboxes of its class instead of fresh instances."""
    spec = codegym.EnvSpec(lis.source, lis.env_str)
    pools = [codegym.EnvPool([spec] * 9)]  # no idle sandboxes yet (conftest's _no_idle_sandboxes)
    pools[0].reset().raise_for_error()
    recycled: list[int] = []

    def mid_episode() -> None:  # untimed: close the previous pool, play 4 steps of a new env
        pools.pop().close()
        pool = codegym.EnvPool([spec])
        pools.append(pool)
        pool.reset().raise_for_error()
        for _ in range(4):
            pool.step([OBSERVE])

    def run() -> None:
        before = pools[0].recycled
        pools[0].fork(0, 8)
        recycled.append(pools[0].recycled - before)

    benchmark.pedantic(run, setup=mid_episode, rounds=3, warmup_rounds=1)
    pools.pop().close()
    assert recycled == [8] * len(recycled), recycled
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        put("fork: reused", CODEGYM, 1e3 * stats.stats.median / 8)


def test_fork_in_process_deepcopy(benchmark: Any, lis: Any) -> None:
    """Baseline: ``copy.deepcopy`` of a plain env object (no isolation)."""
    env = InProcessEnvs(lis.source, lis.env_name, [lis.env_str]).envs[0]
    for _ in range(4):
        env.step(OBSERVE)
    benchmark.pedantic(lambda: [copy.deepcopy(env) for _ in range(8)], rounds=3, warmup_rounds=1)
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        put("fork", IN_PROCESS, 1e3 * stats.stats.median / 8)
