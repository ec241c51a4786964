"""GRPO pieces: advantages, masking, clipping, KL, resume, and the 2-process gloo path."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import msgspec
import pytest

torch = pytest.importorskip("torch")

from codegym.protocol import TaskRef, Trajectory  # noqa: E402
from codegym_trainer.data import Batch, collate  # noqa: E402
from codegym_trainer.grpo import (  # noqa: E402
    Args,
    aggregate,
    group_advantages,
    kl_k3,
    load_checkpoint,
    make_optimizer,
    policy_loss,
    save_checkpoint,
    seed_everything,
    token_logprobs,
    train_step,
)


def tiny_lm(seed: int = 0) -> torch.nn.Module:
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=128,
    )  # fmt: skip
    return Qwen2ForCausalLM(config)


def trajectories(n: int = 6, length: int = 12) -> list[Trajectory]:
    gen = torch.Generator().manual_seed(1)
    out = []
    for i in range(n):
        k = length - (i % 3)
        ids = torch.randint(0, 64, (k,), generator=gen).tolist()
        mask = [0] * 4 + [1, 1, 1, 0, 0] + [1] * (k - 9)
        logprobs = [(-1.0 - 0.1 * j) if m else 0.0 for j, m in enumerate(mask)]
        out.append(
            Trajectory(
                TaskRef("codegym_v1@a__E@{}", 0, i // 3, i % 3),
                ids,
                mask,
                logprobs,
                4,
                "",
                [],
                float(i % 2),
                "done",
            )
        )
    return out


def batch() -> Batch:
    trajs = trajectories()
    adv = group_advantages([t.reward for t in trajs], [t.task.group for t in trajs])
    return collate(trajs, adv, pad_id=0)


def test_group_advantages() -> None:
    adv = group_advantages([1.0, 0.0, 1.0, 1.0, 1.0], [0, 0, 1, 1, 1])
    assert adv[0] == pytest.approx(0.7071, abs=1e-3) and adv[1] == pytest.approx(-0.7071, abs=1e-3)
    assert adv[2:] == [0.0, 0.0, 0.0]  # a group that always succeeds teaches nothing
    assert group_advantages([3.0, 1.0], [7, 7], normalize_std=False) == [1.0, -1.0]


def test_collate_pads_and_keeps_masks() -> None:
    trajs = trajectories()
    b = collate(trajs, [0.0] * len(trajs), pad_id=0)
    assert b.input_ids.shape == (6, 12)
    assert b.attention_mask[2].tolist() == [1] * 10 + [0, 0]
    assert b.loss_mask[0].tolist() == [float(m) for m in trajs[0].loss_mask]


def test_masked_tokens_get_no_gradient() -> None:
    logp = torch.full((1, 6), -1.0, requires_grad=True)
    mask = torch.tensor([[0.0, 1, 1, 0, 0, 1]])
    pg, _ = policy_loss(logp, torch.full((1, 6), -1.0), torch.tensor([1.0]), Args())
    aggregate(pg, mask, "token-mean", float(mask.sum()), 1).backward()
    assert logp.grad is not None
    assert (logp.grad[mask == 0] == 0).all() and (logp.grad[mask == 1] != 0).all()
    # end to end: changing what sits under mask 0 (old logprobs there) changes no model gradient
    b = batch()
    grads = []
    for fill in (0.0, -5.0):
        model = tiny_lm()
        old = b.old_logprobs.clone()
        old[b.loss_mask == 0] = fill
        pg, _ = policy_loss(token_logprobs(model, b)[0], old, b.advantages, Args())
        aggregate(pg, b.loss_mask, "token-mean", float(b.loss_mask.sum()), len(b)).backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]))
    assert torch.equal(grads[0], grads[1])


def test_clipping_stops_the_gradient_beyond_the_trust_region() -> None:
    args = Args(clip_low=0.2, clip_high=0.3)
    old = torch.zeros(1, 3)
    logp = torch.tensor([[0.0, 0.5, -0.5]], requires_grad=True)  # ratios 1, e^.5 = 1.65, e^-.5 = .61
    pg, clipped = policy_loss(logp, old, torch.tensor([1.0]), args)
    pg.sum().backward()
    assert logp.grad is not None
    assert clipped.tolist() == [[0.0, 1.0, 0.0]]  # positive advantage: only the high side clips
    assert logp.grad[0, 1] == 0 and logp.grad[0, 0] != 0 and logp.grad[0, 2] != 0
    _, clipped_neg = policy_loss(logp, old, torch.tensor([-1.0]), args)
    assert clipped_neg.tolist() == [[0.0, 0.0, 1.0]]


def test_kl_k3_is_zero_at_the_reference_and_positive_elsewhere() -> None:
    logp = torch.log_softmax(torch.randn(4, 10), -1)
    assert torch.allclose(kl_k3(logp, logp), torch.zeros_like(logp))
    assert (kl_k3(logp, logp + 0.3) > 0).all() and (kl_k3(logp, logp - 0.3) > 0).all()


@pytest.mark.parametrize("agg", ["token-mean", "seq-mean"])
def test_resume_gives_the_same_next_step(tmp_path: Path, agg: str) -> None:
    args = Args(lr=1e-2, warmup_steps=2, micro_batch=2, loss_agg=agg, kl_coef=0.1, entropy_coef=0.01)
    b = batch()
    ref = tiny_lm(seed=5)

    def fresh() -> tuple[torch.nn.Module, torch.optim.Optimizer, object]:
        seed_everything(0)
        model = tiny_lm()
        return (model, *make_optimizer(model, args))

    model, opt, sched = fresh()
    for _ in range(3):
        last = train_step(model, opt, sched, b, args, ref_model=ref)
    straight = [p.detach().clone() for p in model.parameters()]
    assert last["kl"] > 0 and 0 <= last["clip_frac"] <= 1 and last["grad_norm"] > 0

    model, opt, sched = fresh()
    for _ in range(2):
        train_step(model, opt, sched, b, args, ref_model=ref)
    save_checkpoint(tmp_path / "ck.pt", model, opt, sched, 2, args)
    model, opt, sched = fresh()
    assert load_checkpoint(tmp_path / "ck.pt", model, opt, sched) == 2
    train_step(model, opt, sched, b, args, ref_model=ref)
    for a, c in zip(straight, model.parameters(), strict=True):
        assert torch.equal(a, c.detach())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _gloo_worker(rank: int, world: int, port: int, out: str) -> None:
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        torch.set_num_threads(1)
        args = Args(lr=1e-2, micro_batch=2)
        model = tiny_lm()
        opt, sched = make_optimizer(model, args)
        stats = train_step(model, opt, sched, batch(), args)
        torch.save(
            {"params": [p.detach() for p in model.parameters()], "stats": stats}, f"{out}/rank{rank}.pt"
        )
    finally:
        dist.destroy_process_group()


def test_two_process_gloo_step_matches_one_process(tmp_path: Path) -> None:
    import torch.multiprocessing as mp

    mp.spawn(_gloo_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=False)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=False)
    for a, c in zip(r0["params"], r1["params"], strict=True):
        assert torch.equal(a, c)  # all-reduced gradients: identical weights on both ranks
    args = Args(lr=1e-2, micro_batch=2)
    model = tiny_lm()
    opt, sched = make_optimizer(model, args)
    single = train_step(model, opt, sched, batch(), args)
    for a, c in zip(r0["params"], model.parameters(), strict=True):
        assert torch.allclose(a, c.detach(), atol=1e-6)  # and the same step as one process
    assert r0["stats"]["pg_loss"] == pytest.approx(single["pg_loss"], abs=1e-6)


def test_train_loop_smoke_and_resume(tiny_model: Path, tmp_path: Path) -> None:
    """Two GRPO steps with the tiny local policy through `codegym train`, then a resumed third."""
    from codegym.cli import main

    config = tmp_path / "train.toml"
    config.write_text(
        f"""
model = "{tiny_model}"
out = "{tmp_path / "out"}"
split = "train"
envs = ["EditDistanceEnv", "HouseRobberEnv"]
steps = 2
tasks_per_step = 2
n = 2
max_new_tokens = 8
max_turns = 2
save_every = 1
eval_dataset = "builtin"
eval_split = "test"
eval_n = 1

[grpo]
lr = 1e-4
kl_coef = 0.05
micro_batch = 2
"""
    )
    assert main(["train", "--config", str(config)]) == 0
    out = tmp_path / "out"
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 2 and (out / "curve.png").stat().st_size > 0 and (out / "checkpoint.pt").is_file()
    first = json.loads(lines[0])
    assert {"reward", "success", "turns", "tokens", "kl", "entropy", "clip_frac", "grad_norm"} <= set(first)
    config.write_text(config.read_text().replace("steps = 2", "steps = 3"))
    assert main(["train", "--config", str(config)]) == 0  # resumes from the step-2 checkpoint
    steps = [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3]
    evals = [json.loads(x) for x in (out / "eval.jsonl").read_text().splitlines()]
    # held-out evaluation before the first step and after the last step of each run
    assert [e["step"] for e in evals] == [0, 2, 3]
    assert all(0.0 <= e["sampled_success"] <= 1.0 and e["greedy_episodes"] > 0 for e in evals)
    assert (out / "model" / "model.safetensors").is_file()


def test_sft_lowers_the_loss_of_the_generated_tokens() -> None:
    """The warm start fits loss-mask-1 tokens; prompt/observation tokens are never targets: a
    change to a trailing mask-0 token leaves the loss unchanged."""
    from codegym_trainer.sft import SFTArgs, sft, sft_step

    model = tiny_lm()
    trajs = trajectories()
    args = SFTArgs(steps=30, batch=6, micro_batch=3, lr=1e-2, warmup_steps=1)
    history = sft(model, trajs, pad_id=0, args=args)
    assert history[-1]["loss"] < 0.5 * history[0]["loss"]
    probe = SFTArgs(lr=0.0, max_grad_norm=0.0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    base = sft_step(model, optimizer, trajs, 0, probe)["loss"]
    changed = [
        msgspec.structs.replace(
            t, token_ids=t.token_ids[:-1] + [(t.token_ids[-1] + 1) % 64], loss_mask=t.loss_mask[:-1] + [0]
        )
        for t in trajs
    ]
    unmasked = [msgspec.structs.replace(t, loss_mask=t.loss_mask[:-1] + [0]) for t in trajs]
    assert sft_step(model, optimizer, changed, 0, probe)["loss"] == pytest.approx(
        sft_step(model, optimizer, unmasked, 0, probe)["loss"], rel=1e-6
    )
    assert base > 0
