"""The local (transformers) policy: the multi-turn prefix cache changes nothing but the cost."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from codegym.policy import SamplingParams  # noqa: E402
from codegym.policy.local import LocalPolicy  # noqa: E402


def _same(a: list, b: list) -> None:
    for x, y in zip(a, b, strict=True):
        assert x.token_ids == y.token_ids and x.finish_reason == y.finish_reason
        assert x.logprobs == pytest.approx(y.logprobs, abs=1e-4)


def test_prefix_cache_gives_what_recomputing_gives(tiny_model: Path) -> None:
    # sampled at temperature 1 from same-seeded generators: equal logits draw equal tokens
    prompts = [[11, 12, 13, 14, 15, 16, 17], [21, 22], [31, 32, 33, 34]]
    probe = LocalPolicy(tiny_model, cache_bytes=0, seed=3).generate_sync(
        prompts, SamplingParams(max_new_tokens=8, temperature=1.0)
    )
    # a stop token that ends row 1 early while the others decode on
    params = SamplingParams(max_new_tokens=8, temperature=1.0, stop_token_ids=[probe[1].token_ids[2]])
    cached = LocalPolicy(tiny_model, cache_bytes=1 << 30, seed=3)
    plain = LocalPolicy(tiny_model, cache_bytes=0, seed=3)
    keys = ["a", "b", "c"]
    first = cached.generate_sync(prompts, params, keys)
    _same(first, plain.generate_sync(prompts, params))
    assert len(first[1].token_ids) == 3 and len(first[0].token_ids) > 3
    assert cached.prefix_hits == 0 and cached.prefix_misses == 13

    # turn 2: rows a and b continue their episodes; c starts another episode under the same
    # key (its cached prefix must not be used); d is new
    observation = [41, 42, 43]
    second_prompts = [
        prompts[0] + first[0].token_ids + observation,
        prompts[1] + first[1].token_ids + observation,
        [51, 52, 53],
        [61, 62, 63, 64, 65],
    ]
    second = cached.generate_sync(second_prompts, params, [*keys, "d"])
    _same(second, plain.generate_sync(second_prompts, params))
    reused = len(prompts[0]) + len(first[0].token_ids) - 1 + len(prompts[1]) + len(first[1].token_ids) - 1
    assert cached.prefix_hits == reused

    # turn 3: every row continues
    third_prompts = [p + g.token_ids + observation for p, g in zip(second_prompts, second, strict=True)]
    third = cached.generate_sync(third_prompts, params, [*keys, "d"])
    _same(third, plain.generate_sync(third_prompts, params))
    assert cached.prefix_hits > reused

    # turn 4 after a weight update: nothing cached may be reused
    with torch.no_grad():
        for policy in (cached, plain):
            next(policy.model.parameters()).mul_(1.01)
    fourth_prompts = [p + g.token_ids + observation for p, g in zip(third_prompts, third, strict=True)]
    hits = cached.prefix_hits
    _same(
        cached.generate_sync(fourth_prompts, params, [*keys, "d"]),
        plain.generate_sync(fourth_prompts, params),
    )
    assert cached.prefix_hits == hits


def test_prefix_cache_stays_within_its_memory_budget(tiny_model: Path) -> None:
    params = SamplingParams(max_new_tokens=2, temperature=0.0)
    probe = LocalPolicy(tiny_model)
    probe.generate_sync([[5, 6]], params, ["x"])
    one = probe.cached_bytes  # one entry of 3 tokens
    assert one > 0
    policy = LocalPolicy(tiny_model, cache_bytes=2 * one)
    policy.generate_sync([[5, 6], [7, 8], [9, 10]], params, ["x", "y", "z"])
    assert list(policy._prefixes) == ["y", "z"] and policy.cached_bytes == 2 * one  # x went first
    policy.generate_sync([[5, 6, 7, 8, 9]], params, ["y"])  # y replaced by a longer entry
    assert list(policy._prefixes) == ["y"] and policy.cached_bytes <= 2 * one
    policy.clear_cache()
    assert not policy._prefixes and policy.cached_bytes == 0
