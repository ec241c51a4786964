"""Rollouts: token-in/token-out episodes with no retokenization drift, loss masks exactly on
generated tokens, GRPO groups from fork, the SGLang client against the API stub, and a rollout
killed mid-run resumed without loss or duplicates."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import codegym
import pytest
from codegym import datasets
from codegym.cli import main
from codegym.protocol import Trajectory, read_trajectories

pytest.importorskip("torch")

from codegym.chat import ChatCodec  # noqa: E402
from codegym.policy import SamplingParams  # noqa: E402
from codegym.policy.oracle import OracleTokenPolicy  # noqa: E402
from codegym.policy.sglang import SGLangPolicy  # noqa: E402
from codegym.rollout import RolloutConfig, rollout  # noqa: E402
from codegym.testing.sglang_stub import SGLangStub  # noqa: E402


@pytest.fixture(scope="module")
def tokenizer(tiny_model: Path) -> object:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


@pytest.fixture(scope="module")
def test_split() -> datasets.Dataset:
    return datasets.load("builtin", split="test")


def check_token_stream(t: Trajectory, codec: ChatCodec) -> None:
    """Decoded tokens equal the text the policy saw, turn by turn; mask 1 exactly on replies."""
    assert len(t.token_ids) == len(t.loss_mask) == len(t.logprobs)
    assert codec.decode(t.token_ids[: t.prompt_len]) == t.prompt_text
    expected_mask = [0] * t.prompt_len
    text = t.prompt_text
    for turn in t.turns:
        assert turn.response_start == len(expected_mask)
        reply = t.token_ids[turn.response_start : turn.response_start + turn.response_len]
        assert codec.decode(reply).startswith(turn.response_text)
        expected_mask += [1] * turn.response_len
        obs = t.token_ids[turn.observation_start : turn.observation_start + turn.observation_len]
        if turn.observation_len:
            assert codec.decode(obs) == turn.observation_text
        expected_mask += [0] * turn.observation_len
        text += codec.decode(reply) + (turn.observation_text if turn.observation_len else "")
    assert t.loss_mask == expected_mask
    assert codec.decode(t.token_ids) == text
    assert all(lp == 0.0 for lp, m in zip(t.logprobs, t.loss_mask, strict=True) if m == 0)


def test_oracle_tokens_solve_every_held_out_task_in_groups(
    tokenizer: object, test_split: datasets.Dataset
) -> None:
    codec = ChatCodec(tokenizer)
    policy = OracleTokenPolicy(test_split, codec, weight_version=3, logprob=-0.5)
    config = RolloutConfig(n=3, max_total_tokens=1 << 20, max_episodes=64, max_batch=16)
    trajs, stats = asyncio.run(rollout(test_split, policy, codec, config))
    assert len(trajs) == 3 * len(test_split)
    # every episode, in (group, sample) order whatever order they finished in
    assert [t.key for t in trajs] == [(g, s) for g in range(len(test_split)) for s in range(3)]
    assert all(t.reward == 1.0 and t.finish_reason == "done" for t in trajs), stats.finish
    for t in trajs:
        assert len(t.turns) == test_split[t.task.group].solve_fc_round
        assert t.weight_version == 3 and t.policy == "oracle"
        assert t.turns[-1].observation_len == 0  # the episode ended with the answer
        check_token_stream(t, codec)


def test_local_and_sglang_policies_write_consistent_streams(
    tiny_model: Path, tokenizer: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    codec = ChatCodec(tokenizer)
    common = [
        "--split",
        "test",
        "--limit",
        "3",
        "--n",
        "2",
        "--max-new-tokens",
        "12",
        "--max-turns",
        "3",
        "-q",
    ]
    local = tmp_path / "local.msgpack"
    assert main(["rollout", "--policy", f"local:{tiny_model}", "--out", str(local), *common]) == 0
    stub = SGLangStub(str(tiny_model), fail_first=1).start()
    try:
        remote = tmp_path / "sglang.msgpack"
        url = "sglang://" + stub.url.split("://", 1)[1]
        assert main(["rollout", "--policy", url, "--out", str(remote), *common]) == 0
    finally:
        stub.stop()
    for path in (local, remote):
        trajs = list(read_trajectories(path))
        assert len(trajs) == 6
        for t in trajs:
            check_token_stream(t, codec)
            assert t.num_generated > 0
            generated = [lp for lp, m in zip(t.logprobs, t.loss_mask, strict=True) if m]
            assert all(lp < 0.0 for lp in generated)
    assert main(["traj", "stats", str(remote), "--plot", str(tmp_path / "r.png")]) == 0
    assert (tmp_path / "r.png").stat().st_size > 0
    assert "6 trajectories" in capsys.readouterr().out


def test_sglang_client_retries_and_controls_the_server(tiny_model: Path) -> None:
    stub = SGLangStub(str(tiny_model), fail_first=2).start()

    async def go() -> None:
        client = SGLangPolicy(stub.url, backoff=0.01)
        try:
            assert await client.health()
            gens = await client.generate([[5, 6, 7], [8]], SamplingParams(max_new_tokens=4), keys=["a", "b"])
            assert [len(g.token_ids) for g in gens] == [4, 4] and gens[0].finish_reason == "length"
            batch = SGLangPolicy(stub.url, batch_requests=True)
            gens = await batch.generate([[5, 6, 7], [8]], SamplingParams(max_new_tokens=3, temperature=0))
            assert [g.finish_reason for g in gens] == ["length", "length"]
            await batch.aclose()
            await client.flush_cache()
            await client.pause()
            await client.resume()
            info = await client.model_info()
            assert info["is_generation"] is True
            await client.update_weights_from_disk(str(tiny_model))
            assert client.weight_version == 1
        finally:
            await client.aclose()

    try:
        asyncio.run(go())
        assert stub.requests >= 2 + 1  # the injected 503s were retried
    finally:
        stub.stop()


def test_killed_rollout_keeps_finished_trajectories_and_resumes_without_duplicates(
    tiny_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run.msgpack"
    args = [
        sys.executable, "-m", "codegym.cli", "rollout", "--policy", f"local:{tiny_model}",
        "--env", "EditDistanceEnv", "--n", "2", "--max-new-tokens", "8", "--max-turns", "2",
        "--max-episodes", "2", "--max-batch", "2", "--out", str(out), "-q",
    ]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and len(list(read_trajectories(out))) >= 2:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    survived = list(read_trajectories(out))
    assert 2 <= len(survived) < 18, "the run should have been killed part-way"
    assert main(args[3:]) == 2  # an existing output is never appended to by accident
    assert main([*args[3:], "--resume"]) == 0
    final = list(read_trajectories(out))
    keys = [t.key for t in final]
    assert len(keys) == len(set(keys)) == 9 * 2
    assert final[: len(survived)] == survived


def test_openai_chat_policy_plays_episodes(tiny_model: Path) -> None:
    """Against the stub's /v1/chat/completions (random text: parse failures end the episodes),
    and against a scripted endpoint answering with OpenAI tool_calls (the oracle's: solved)."""
    import httpx
    from codegym.episodes import EpisodeRunner
    from codegym.policy.openai import OpenAIChatPolicy

    full = datasets.load("builtin", envs=["EditDistanceEnv", "HouseRobberEnv"])
    firsts = [next(i for i in full if i.env_name == name) for name in ("EditDistanceEnv", "HouseRobberEnv")]
    data = datasets.Dataset(firsts, full.sources, "two")  # different envs: different user prompts
    stub = SGLangStub(str(tiny_model)).start()
    try:
        with EpisodeRunner(data, max_parse_failures=2) as runner:
            policy = OpenAIChatPolicy(stub.url + "/v1", "tiny", max_tokens=8, temperature=1.0)
            episodes = runner.run(policy)
        assert all(ep.finish_reason in ("parse_failures", "max_rounds", "done") for ep in episodes)
        assert all(len(ep.turns) >= 1 for ep in episodes)
    finally:
        stub.stop()

    with codegym.EnvPool(data.specs()) as pool:
        traces = pool.solve(record=True).actions

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert body["tools"][0]["type"] == "function"
        task = next(m["content"] for m in body["messages"] if m["role"] == "user")
        turn = sum(1 for m in body["messages"] if m["role"] == "assistant")
        index = next(i for i, inst in enumerate(data) if inst.prompt[1].content == task)
        trace = traces[index]
        assert trace is not None
        call = json.loads(trace[turn])
        tool_call = {
            "id": f"c{turn}",
            "type": "function",
            "function": {"name": call["name"], "arguments": json.dumps(call["parameters"])},
        }
        message = {"role": "assistant", "content": None, "tool_calls": [tool_call]}
        return httpx.Response(200, json={"choices": [{"message": message}]})

    with EpisodeRunner(data) as runner:
        scripted = OpenAIChatPolicy(
            "http://endpoint/v1", "m", tools=True, transport=httpx.MockTransport(answer)
        )
        episodes = runner.run(scripted)
    assert [ep.reward for ep in episodes] == [1.0, 1.0]
