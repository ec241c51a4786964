"""Hostile environments: each attack becomes a per-env error or a harmless observation, the
neighbours in the same pool keep stepping correctly, and the process survives."""

from __future__ import annotations

import os
import time
from pathlib import Path

import codegym
import pytest
from codegym import errors

from .conftest import action, source

GOOD = 'MaxEnv@{"nums": [4, 8, 1]}'


@pytest.fixture(scope="module")
def max_source() -> str:
    return source("max_env")


def _pool(hostile_source: str, max_source: str, limits: codegym.Limits) -> codegym.EnvPool:
    specs = [
        codegym.EnvSpec(max_source, GOOD),
        codegym.EnvSpec(hostile_source, "HostileEnv@{}"),
        codegym.EnvSpec(max_source, GOOD),
    ]
    pool = codegym.EnvPool(specs, limits=limits)
    pool.reset().raise_for_error()
    return pool


def _attack(
    hostile_source: str, max_source: str, limits: codegym.Limits, tool: str, **params: object
) -> tuple[str, str | None]:
    """Step the hostile env with `tool` beside two good envs; check the good ones are unharmed.

    Returns the hostile env's observation and error kind, after checking that a reset brings
    it back to work.
    """
    with _pool(hostile_source, max_source, limits) as pool:
        out = pool.step([action("Observe"), action(tool, **params), action("Observe")])
        assert out.obs[0] == out.obs[2] == "[4, 8, 1]"
        assert out.error[0] is None and out.error[2] is None
        obs, kind = out.obs[1], out.error_kind[1]
        if kind is not None:
            assert out.done[1]
        # The neighbours go on to finish their episodes.
        done = pool.step([action("Done", answer=8), action("Done", answer=8)], env_ids=[0, 2])
        assert done.reward.tolist() == [1.0, 1.0]
        # The attacked env comes back after a reset (its sandbox is rebuilt if it failed).
        pool.reset([1]).raise_for_error()
        again = pool.step([action("Echo", text="alive")], env_ids=[1])
        assert again.obs == ["echo:alive"]
    return obs, kind


def test_infinite_loop_in_step_becomes_fuel_error(hostile_source, max_source, small_limits):
    _, kind = _attack(hostile_source, max_source, small_limits, "LoopForever")
    assert kind == "fuel_exhausted"


def test_infinite_loop_at_load_becomes_fuel_error(small_limits, max_source):
    limits = codegym.Limits(fuel_per_load=500_000_000)
    specs = [codegym.EnvSpec(source("load_loop"), "LoadLoopEnv@{}"), codegym.EnvSpec(max_source, GOOD)]
    with codegym.EnvPool(specs, limits=limits) as pool:
        out = pool.reset()
        assert out.error_kind == ["fuel_exhausted", None]
        assert "loading the env" in (out.error[0] or "")
        with pytest.raises(errors.BudgetExhaustedError):
            out.raise_for_error()
        assert pool.step([action("Observe")], env_ids=[1]).obs == ["[4, 8, 1]"]


def test_unbounded_allocation_becomes_memory_error(hostile_source, max_source, small_limits):
    _, kind = _attack(hostile_source, max_source, small_limits, "Allocate")
    assert kind == "memory_limit"


def test_deep_recursion_is_caught(hostile_source, max_source, small_limits):
    obs, kind = _attack(hostile_source, max_source, small_limits, "Recurse")
    assert kind is None and "RecursionError" in obs


def test_recursion_past_the_interpreter_limit_hits_the_stack_limit(hostile_source, max_source, small_limits):
    obs, kind = _attack(hostile_source, max_source, small_limits, "RecurseDeep")
    # CPython either notices the C stack running low (RecursionError/MemoryError observation)
    # or the wasm stack guard traps; both are safe, neither may crash the host.
    assert kind in (None, "stack_overflow", "fuel_exhausted"), (kind, obs)


def test_reading_host_files_finds_nothing(hostile_source, max_source, small_limits):
    obs, kind = _attack(hostile_source, max_source, small_limits, "ReadPasswd")
    assert kind is None and obs.startswith("Error:") and "root:" not in obs


def test_writing_host_files_is_impossible(hostile_source, max_source, small_limits, tmp_path: Path):
    target = tmp_path / "pwned.txt"
    obs, kind = _attack(hostile_source, max_source, small_limits, "WriteFile", path=str(target))
    assert kind is None and obs.startswith("Error:")
    assert not target.exists()


def test_sockets_cannot_connect(hostile_source, max_source, small_limits):
    obs, kind = _attack(hostile_source, max_source, small_limits, "Socket")
    assert kind is None and obs.startswith("Error:") and "connected" not in obs


def test_os_system_and_subprocesses_do_not_run(hostile_source, max_source, small_limits):
    obs, kind = _attack(hostile_source, max_source, small_limits, "System")
    assert kind is None and obs.startswith("Error:")
    assert not Path("/tmp/codegym_pwned").exists()
    obs, kind = _attack(hostile_source, max_source, small_limits, "Subprocess")
    assert kind is None and obs.startswith("Error:")


def test_ctypes_is_not_available(hostile_source, max_source, small_limits):
    obs, kind = _attack(hostile_source, max_source, small_limits, "CtypesEscape")
    assert kind is None and obs.startswith("Error:")


def test_host_environment_variables_are_invisible(hostile_source, max_source, small_limits, monkeypatch):
    monkeypatch.setenv("CODEGYM_SECRET_TOKEN", "hunter2")
    obs, kind = _attack(hostile_source, max_source, small_limits, "Environ")
    assert kind is None
    assert obs == "{}"
    assert "hunter2" not in obs and "PATH" not in obs


def test_200_mb_of_output_is_truncated_not_fatal(hostile_source, max_source, small_limits):
    with _pool(hostile_source, max_source, small_limits) as pool:
        out = pool.step([action("Flood", mb=200)], env_ids=[1])
        assert out.error == [None] and out.obs == ["flooded"]
        stdout, stderr = pool.output(1)
        cap = small_limits.max_output_bytes
        assert len(stdout.encode()) < cap + 100
        assert "more bytes dropped" in stdout
        assert stderr == ""


def test_sys_exit_becomes_env_error(hostile_source, max_source, small_limits):
    _, kind = _attack(hostile_source, max_source, small_limits, "Exit")
    assert kind == "env_raised"


def test_os_exit_becomes_guest_exit(hostile_source, max_source, small_limits):
    _, kind = _attack(hostile_source, max_source, small_limits, "HardExit")
    assert kind == "guest_exit"


def test_sleeping_an_hour_costs_no_wall_time(hostile_source, max_source, small_limits):
    start = time.monotonic()
    obs, kind = _attack(hostile_source, max_source, small_limits, "Sleep", seconds=3600)
    assert time.monotonic() - start < 10
    assert kind is None and obs == "slept 3600"


def test_threads_cannot_start(hostile_source, max_source, small_limits):
    obs, kind = _attack(hostile_source, max_source, small_limits, "Thread")
    assert kind is None and obs.startswith("Error:")


def test_keyboard_interrupt_out_of_a_tool_is_an_env_error(hostile_source, max_source, small_limits):
    _, kind = _attack(hostile_source, max_source, small_limits, "Raise")
    assert kind == "env_raised"


def test_huge_observation_is_truncated(hostile_source, max_source, small_limits):
    obs, kind = _attack(hostile_source, max_source, small_limits, "Huge")
    assert kind is None
    assert len(obs.encode()) <= small_limits.max_obs_bytes
    assert obs.endswith("bytes]") and "truncated" in obs


def test_lone_surrogates_in_observations_are_replaced(hostile_source, max_source, small_limits):
    obs, kind = _attack(hostile_source, max_source, small_limits, "Surrogate")
    assert kind is None and obs == "bad \ufffd text"


def test_wall_clock_backstop_fires_when_fuel_is_unlimited(hostile_source, max_source):
    limits = codegym.Limits(fuel_per_step=10**18, wall_time_ms=300)
    _, kind = _attack(hostile_source, max_source, limits, "LoopForever")
    assert kind == "wall_time_limit"


@pytest.mark.parametrize(
    "bad",
    [
        "not json at all",
        '{"name": "Echo", "parameters": {"text": ["wrong", "type"]}}',
        '{"name": 5, "parameters": []}',
        '{"name": "Echo", "parameters": "nope"}',
        "[" * 100_000 + "]" * 100_000,
        '{"name": "Echo", "parameters": {"text": "nul\x00byte"}}',
        '{"name": "Echo", "parameters": {"text": "lone \ud800 surrogate"}}',
        "",
    ],
    ids=["not-json", "wrong-type", "name-int", "params-str", "deep-nesting", "nul", "surrogate", "empty"],
)
def test_malformed_actions_become_observations(hostile_source, max_source, small_limits, bad: str):
    with _pool(hostile_source, max_source, small_limits) as pool:
        out = pool.step([bad, bad, bad])
        assert out.error == [None, None, None]
        assert not out.done.any()
        assert all(isinstance(o, str) and o for o in out.obs)
        assert pool.step([action("Observe")], env_ids=[0]).obs == ["[4, 8, 1]"]


def test_eight_megabyte_action_is_refused_with_an_observation(hostile_source, max_source, small_limits):
    big = action("Echo", text="z" * (8 << 20))
    with _pool(hostile_source, max_source, small_limits) as pool:
        out = pool.step([big, big, big])
        assert out.error == [None, None, None]
        assert all("limit" in o for o in out.obs)
    roomy = codegym.Limits(max_action_bytes=16 << 20, max_obs_bytes=1 << 10)
    with _pool(hostile_source, max_source, roomy) as pool:
        out = pool.step([big], env_ids=[1])
        assert out.error == [None] and out.obs[0].startswith("echo:zzz")


def test_host_process_environment_is_untouched() -> None:
    assert "CODEGYM_SECRET_TOKEN" not in os.environ
