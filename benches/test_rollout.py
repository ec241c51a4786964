"""Engine overhead per rollout turn against policy time, at 256 concurrent episodes.

One turn of 256 episodes is timed in two parts on the same prompts: the policy (the tiny local
model generating ``NEW_TOKENS`` tokens for all 256 prompts in batches of 64, the CPU stand-in
for an SGLang server) and the engine (parsing 256 replies with the Rust parser, stepping 256
sandboxed envs, tokenizing 256 observation turns). The replies fed to the engine are the
oracle's tool calls, so every turn parses a real call and steps its env (the tiny random model
would mostly write no call, which costs the engine less). Figures are per episode-turn.
"""

from __future__ import annotations

import asyncio
import importlib.util
import time
from pathlib import Path
from typing import Any

import codegym
import pytest
from codegym import datasets
from codegym.chat import ChatCodec
from codegym.policy import SamplingParams
from codegym.policy.local import LocalPolicy  # imports torch only when a policy is made
from codegym.prompts import render_call

from .conftest import CODEGYM, put, timing_enabled

# Not `importorskip` at import time: a bench process that has loaded torch forks ~25× slower
# (45.8 vs 1.9 ms per fork + exit measured), which would slow the process baselines of the
# other benches; conftest also runs this module last.
pytestmark = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")

NEW_TOKENS = 32


@pytest.fixture(scope="module")
def tiny_model() -> Path:
    from codegym.testing.tiny import cached_tiny_model

    return cached_tiny_model()


def test_engine_overhead_per_turn(benchmark: Any, tiny_model: Path) -> None:
    enabled = timing_enabled(benchmark)
    episodes, turns = (256, 3) if enabled else (8, 1)
    data = datasets.load("builtin", min_rounds=turns + 1)
    instances = [data[i % len(data)] for i in range(episodes)]
    specs = [data.spec(inst, seed=i) for i, inst in enumerate(instances)]
    policy = LocalPolicy(tiny_model, max_batch=64)
    codec = ChatCodec(policy.tokenizer)
    params = SamplingParams(max_new_tokens=NEW_TOKENS, temperature=1.0, stop_token_ids=[])
    with codegym.EnvPool(specs) as oracle_pool:
        traces = oracle_pool.solve(record=True).actions
    prompts = [codec.prompt(inst.prompt)[0] for inst in instances]
    times = benchmark.pedantic(_turns, args=(specs, prompts, traces, policy, codec, params, turns), rounds=1)
    policy_s, engine_s = times
    per = 1000.0 / (episodes * turns)
    if enabled:
        put("turn: engine", CODEGYM, engine_s * per)
        share = 100 * engine_s / (engine_s + policy_s)
        note = (
            f"engine (parse + step + observation tokens) is {share:.1f}% of a turn at {episodes} "
            f"episodes; policy = tiny {NEW_TOKENS}-token CPU model, a lower bound on a real policy's time"
        )
        put("turn: policy", CODEGYM, policy_s * per, note=note)


def _turns(
    specs: list[codegym.EnvSpec],
    prompts: list[list[int]],
    traces: list[list[str] | None],
    policy: LocalPolicy,
    codec: ChatCodec,
    params: SamplingParams,
    turns: int,
) -> tuple[float, float]:
    episodes = len(specs)
    policy_s = engine_s = 0.0
    with codegym.EnvPool(specs) as pool:
        pool.reset().raise_for_error()
        for turn in range(turns):
            t0 = time.perf_counter()
            gens = asyncio.run(policy.generate(prompts, params))
            t1 = time.perf_counter()
            replies = [render_call(trace[turn]) for trace in traces if trace is not None]
            parsed = codegym.parse_actions(replies)
            assert all(a is not None for a in parsed.action)
            out = pool.step([a for a in parsed.action if a is not None])
            obs = [codec.observation(o, r)[0] for o, r in zip(out.obs, replies, strict=True)]
            t2 = time.perf_counter()
            assert len(gens) == len(obs) == episodes and not any(out.error)
            policy_s += t1 - t0
            engine_s += t2 - t1
    return policy_s, engine_s


def test_prefix_cache_multi_turn(benchmark: Any, tiny_model: Path) -> None:
    """Generation over a growing multi-turn history, with the local policy's prefix cache and
    without it, on the same prompts and replies (same seeds: the same tokens come out)."""
    enabled = timing_enabled(benchmark)
    episodes, turns = (128, 5) if enabled else (4, 2)
    data = datasets.load("builtin")
    cached = LocalPolicy(tiny_model, max_batch=episodes, seed=0)
    plain = LocalPolicy(tiny_model, max_batch=episodes, seed=0, cache_bytes=0)
    codec = ChatCodec(cached.tokenizer)
    prompts = [codec.prompt(data[i % len(data)].prompt)[0] for i in range(episodes)]
    keys = [f"e{i}" for i in range(episodes)]
    params = SamplingParams(max_new_tokens=NEW_TOKENS, temperature=1.0, stop_token_ids=[])
    observation, _ = codec.observation('{"result": [1, 2, 3], "remaining": 4}', "")

    def play(policy: LocalPolicy) -> tuple[float, list[list[int]]]:
        history = [list(p) for p in prompts]
        seconds = 0.0
        for _ in range(turns):
            t0 = time.perf_counter()
            gens = policy.generate_sync(history, params, keys)
            seconds += time.perf_counter() - t0
            for h, g in zip(history, gens, strict=True):
                h.extend(g.token_ids + observation)
        return seconds, history

    (with_cache, a), (without, b) = benchmark.pedantic(lambda: (play(cached), play(plain)), rounds=1)
    assert a == b  # the cache changes the cost, not the tokens
    if enabled:
        per = 1000.0 / (episodes * turns)
        note = (
            f"{turns}-turn histories of {episodes} episodes: {without * per:.1f} ms/episode-turn without the "
            f"prefix cache, {with_cache * per:.1f} with it ({without / with_cache:.2f}× faster)"
        )
        put("turn: policy, multi-turn", CODEGYM, with_cache * per, note=note)
