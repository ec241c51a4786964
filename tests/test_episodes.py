"""Episodes: the oracle policy solves every bundled task through render → parse → step, in
every call format and with paraphrased tool names; every finish reason is reachable."""

from __future__ import annotations

import json
from collections.abc import Sequence

import codegym
import pytest
from codegym import datasets
from codegym.episodes import Episode, EpisodeRunner, OraclePolicy
from codegym.prompts import render_call

from .conftest import source


@pytest.fixture(scope="module")
def builtin() -> datasets.Dataset:
    return datasets.load("builtin")


def test_oracle_policy_solves_every_builtin_task_through_the_text_path(builtin: datasets.Dataset) -> None:
    with EpisodeRunner(builtin) as runner:
        episodes = runner.run(OraclePolicy(runner))
    failures = [(ep.instance.env_str[:60], ep.finish_reason, ep.error) for ep in episodes if ep.reward != 1.0]
    assert failures == []
    assert all(ep.finish_reason == "done" for ep in episodes)
    for ep in episodes:
        assert len(ep.turns) == ep.instance.solve_fc_round  # one turn per oracle call, no parse failures
        assert [m.role for m in ep.messages[:2]] == ["system", "user"]
        assert [m.role for m in ep.messages[2:]] == ["assistant", "tool"] * len(ep.turns)
        assert ep.messages[2].content.startswith("<|FunctionCallBegin|>[")


@pytest.mark.parametrize("fmt", ["hermes", "openai"])
def test_other_call_formats_and_paraphrased_names(builtin: datasets.Dataset, fmt: str) -> None:
    data = builtin.filter(split="test")
    with EpisodeRunner(data, paraphrase_tools=True, seed=1) as runner:
        episodes = runner.run(OraclePolicy(runner, call_format=fmt))
    assert all(ep.reward == 1.0 and ep.finish_reason == "done" for ep in episodes)
    renamed = [ep for ep in episodes if ep.names]
    assert len(renamed) > len(episodes) // 2
    for ep in renamed:
        shown = {t.name for t in ep.tools}
        system = ep.messages[0].content
        assert ep.names.to_shown("Done") in shown and f"- {ep.names.to_shown('Done')}(" in system
        if ep.names.to_shown("Done") != "Done":
            assert "- Done(" not in system
        # the policy wrote the shown name; the env received its own
        assert ep.names.to_shown("Done") in ep.turns[-1].reply
        assert json.loads(ep.turns[-1].action or "{}")["name"] == "Done"


class Scripted:
    def __init__(self, reply: str) -> None:
        self.reply = reply

    def __call__(self, episodes: Sequence[Episode]) -> list[str]:
        return [self.reply for _ in episodes]


def _one(builtin: datasets.Dataset, env: str) -> datasets.Dataset:
    data = builtin.filter(envs=[env])
    return datasets.Dataset(data.instances[:1], data.sources, "one")


def test_max_rounds_parse_failures_and_wrong_answers(builtin: datasets.Dataset) -> None:
    data = _one(builtin, "EditDistanceEnv")
    with EpisodeRunner(data) as runner:
        (ep,) = runner.run(Scripted(render_call({"name": "Observe", "parameters": {}})))
        assert ep.finish_reason == "max_rounds" and len(ep.turns) == ep.max_rounds and ep.reward == 0.0
        (ep,) = runner.run(Scripted("I am not sure what to do."))
        assert ep.finish_reason == "parse_failures" and len(ep.turns) == 3
        assert ep.messages[-1].role == "tool" and ep.messages[-1].content.startswith("Error:")
        (ep,) = runner.run(Scripted(render_call({"name": "Done", "parameters": {"answer": -5}})))
        assert ep.finish_reason == "done" and ep.reward == 0.0 and len(ep.turns) == 1


def test_a_parse_failure_costs_a_turn_and_then_play_continues(builtin: datasets.Dataset) -> None:
    data = _one(builtin, "EditDistanceEnv")
    with EpisodeRunner(data) as runner:
        oracle = OraclePolicy(runner)
        replies = iter(["<|FunctionCallBegin|>[{'name': 'Observe'}]<|FunctionCallEnd|>"])
        episodes = runner.start()
        while waiting := runner.waiting():
            runner.feed(waiting, [next(replies, None) or oracle([e])[0] for e in waiting])
    (ep,) = episodes
    assert ep.turns[0].parse_error and "double quotes" in ep.turns[0].observation
    assert ep.finish_reason == "done" and ep.reward == 1.0
    assert len(ep.turns) == (ep.instance.solve_fc_round or 0) + 1
    assert not any(t.parse_error for t in ep.turns[1:])


def test_env_errors_end_the_episode_with_the_reason() -> None:
    hostile = source("hostile")
    stem = "h1__HostileEnv"
    inst = datasets.TaskInstance(
        ability=f"codegym_v1@{stem}@{{}}",
        prompt=[datasets.Message("user", "x")],
    )
    data = datasets.Dataset([inst], {stem: hostile}, "hostile")
    with EpisodeRunner(data, limits=codegym.Limits(fuel_per_step=300_000_000)) as runner:
        (ep,) = runner.run(Scripted(render_call({"name": "LoopForever", "parameters": {}})))
    assert ep.finish_reason == "env_error" and ep.error is not None and ep.reward == 0.0
