"""The bundled envs: every task's oracle solves it in the sandbox, and the sandbox gives exactly
the observations plain CPython gives for the same actions (differential test)."""

from __future__ import annotations

import json
import random
import types

import codegym
import pytest


def test_every_oracle_reaches_reward_one_in_the_sandbox(tasks: list[codegym.builtin.Task]) -> None:
    specs = [codegym.EnvSpec(t.source, t.env_str) for t in tasks]
    with codegym.EnvPool(specs) as pool:
        out = pool.solve()
    assert len(tasks) >= 40 * 8
    failures = [(tasks[i].env_str, out.error[i]) for i in range(len(tasks)) if out.reward[i] != 1.0]
    assert failures == []
    assert out.done.all()
    assert (out.steps > 1).all()
    # tasks.json records each configuration's oracle step count (python -m codegym.builtin)
    stale = [t.env_str[:60] for i, t in enumerate(tasks) if t.solve_fc_round != out.steps[i]]
    assert stale == []


def _run_natively(task: codegym.builtin.Task, seed: int) -> tuple[list[tuple[str, str]], object]:
    """Run the oracle in this CPython, recording (action, observation) at every step."""
    module = types.ModuleType("native_env")
    exec(compile(task.source, f"{task.env_name}.py", "exec"), module.__dict__)
    random.seed(seed)
    env = module.__dict__[task.env_name].from_env_str(task.env_str)
    record: list[tuple[str, str]] = []
    step = env.step

    def recording_step(action: str) -> tuple[bool, str]:
        ok, obs = step(action)
        record.append((action, obs))
        return ok, obs

    env.step = recording_step
    env.solve()
    return record, env


def test_sandbox_matches_plain_cpython_step_by_step(tasks: list[codegym.builtin.Task]) -> None:
    for i, task in enumerate(tasks):
        record, native = _run_natively(task, seed=i)
        with codegym.EnvPool([codegym.EnvSpec(task.source, task.env_str, seed=i)], num_threads=1) as pool:
            pool.reset().raise_for_error()
            for n, (act, expected) in enumerate(record, start=1):
                out = pool.step([act])
                out.raise_for_error()
                assert out.obs[0] == expected, f"{task.env_str}: step {n} differs"
                assert out.step_count[0] == n
            assert out.reward[0] == native.reward == 1.0
            assert bool(out.done[0]) == native.finished


@pytest.mark.parametrize("bad", ["not json", "{}", '{"name": "Nope", "parameters": {}}', '{"name": "Done"}'])
def test_builtin_envs_answer_malformed_actions_with_error_observations(
    tasks: list[codegym.builtin.Task], bad: str
) -> None:
    first_of_each = list({t.env_name: t for t in tasks}.values())
    specs = [codegym.EnvSpec(t.source, t.env_str) for t in first_of_each]
    with codegym.EnvPool(specs) as pool:
        pool.reset().raise_for_error()
        out = pool.step([bad] * len(specs))
    out.raise_for_error()
    assert all(obs.startswith("Error") for obs in out.obs), out.obs
    assert not out.done.any()


def test_task_strings_round_trip_through_json(tasks: list[codegym.builtin.Task]) -> None:
    for task in tasks:
        name, options = task.env_str.split("@", 1)
        assert name == task.env_name
        assert isinstance(json.loads(options), dict)
