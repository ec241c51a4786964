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


def test_micro_batches_group_rows_by_length_and_drop_unused_padding() -> None:
    b = batch()  # rows of 12, 11, 10, 12, 11, 10 tokens
    micro = b.micro_batches(4)
    assert [tuple(m.input_ids.shape) for m in micro] == [(4, 12), (2, 10)]
    assert [m.attention_mask.sum(-1).tolist() for m in micro] == [[12, 12, 11, 11], [10, 10]]

    def unpadded(x: Batch) -> list[tuple[int, ...]]:
        return [tuple(r[: int(a.sum())].tolist()) for r, a in zip(x.input_ids, x.attention_mask, strict=True)]

    assert sorted(row for m in micro for row in unpadded(m)) == sorted(unpadded(b))  # each row once


@pytest.mark.parametrize("agg", ["token-mean", "seq-mean"])
def test_the_gradient_does_not_depend_on_the_micro_batch_size(agg: str) -> None:
    grads = []
    for micro_batch in (1, 4, 6):
        args = Args(lr=1e-2, micro_batch=micro_batch, loss_agg=agg, entropy_coef=0.01)
        model = tiny_lm()
        optimizer, scheduler = make_optimizer(model, args)
        stats = train_step(model, optimizer, scheduler, batch(), args)  # leaves the gradients
        grads.append((torch.cat([p.grad.flatten() for p in model.parameters()]), stats["loss"]))
    for grad, loss in grads[1:]:
        assert torch.allclose(grad, grads[0][0], rtol=1e-4, atol=1e-7)
        assert loss == pytest.approx(grads[0][1], rel=1e-5)
    assert grads[0][0].abs().max() > 1e-3


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


# The distributed runs: one optimiser step on 6 rows (data parallel), and FSDP2 steps on 5 rows,
# so that rank 1 runs out of micro-batches first and must keep pace with a masked row; clipping
# is tight enough to act, and the KL and entropy terms are on.
DDP_ARGS = Args(lr=1e-2, micro_batch=2)
FSDP_ARGS = Args(lr=1e-3, micro_batch=2, max_grad_norm=0.05, kl_coef=0.1, entropy_coef=0.01)


def fsdp_batch() -> Batch:
    return batch().rows(slice(0, 5))


def _gloo_worker(rank: int, world: int, port: int, out: str) -> None:
    import datetime

    import torch.distributed as dist
    from codegym_trainer.parallel import save_pretrained, shard_model

    torch.set_num_threads(1)  # before any op: a forked child must not reuse the parent's OpenMP pool
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    # a timeout turns a collective that one rank never joins into an error instead of a hang
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=datetime.timedelta(seconds=60))
    try:
        model = tiny_lm()
        opt, sched = make_optimizer(model, DDP_ARGS)
        ddp = train_step(model, opt, sched, batch(), DDP_ARGS)
        ddp_params = [p.detach() for p in model.parameters()]

        def fsdp_steps(steps: int, resume: str | None = None) -> tuple[torch.nn.Module, dict[str, float]]:
            seed_everything(0)
            model = shard_model(tiny_lm())
            opt, sched = make_optimizer(model, FSDP_ARGS)
            if resume is not None:
                load_checkpoint(resume, model, opt, sched)
            for _ in range(steps):
                stats = train_step(model, opt, sched, fsdp_batch(), FSDP_ARGS, ref_model=tiny_lm(seed=5))
            if resume is None:
                save_checkpoint(f"{out}/fsdp.pt", model, opt, sched, steps, FSDP_ARGS)
                save_pretrained(model, f"{out}/hf")
            return model, stats

        model, fsdp = fsdp_steps(1)
        fsdp_params = [p.full_tensor() for p in model.parameters()]  # all-gathered on every rank
        assert all(len(p.to_local()) < len(p) for p in model.parameters() if p.dim())  # sharded
        model, _ = fsdp_steps(1, resume=f"{out}/single.pt")  # written by one process
        resumed = [p.full_tensor() for p in model.parameters()]
        result = {"ddp": (ddp_params, ddp), "fsdp": (fsdp_params, fsdp), "resumed": resumed}
        torch.save(result, f"{out}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def one_process(
    args: Args, b: Batch, steps: int, ref_model: torch.nn.Module | None = None
) -> tuple[list[torch.Tensor], dict[str, float]]:
    seed_everything(0)
    model = tiny_lm()
    opt, sched = make_optimizer(model, args)
    for _ in range(steps):
        stats = train_step(model, opt, sched, b, args, ref_model=ref_model)
    return [p.detach() for p in model.parameters()], stats


@pytest.fixture(scope="module")
def gloo_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, object]]]:
    """Two gloo processes (forked: the parent has torch and transformers imported already)
    running the data-parallel step, FSDP2 steps and checkpoints; each rank's results."""
    import torch.multiprocessing as mp

    out = tmp_path_factory.mktemp("gloo")
    seed_everything(0)
    model = tiny_lm()
    opt, sched = make_optimizer(model, FSDP_ARGS)
    train_step(model, opt, sched, fsdp_batch(), FSDP_ARGS, ref_model=tiny_lm(seed=5))
    save_checkpoint(out / "single.pt", model, opt, sched, 1, FSDP_ARGS)
    args = (2, _free_port(), str(out))
    mp.start_processes(_gloo_worker, args=args, nprocs=2, join=True, start_method="fork")
    return out, [torch.load(out / f"rank{r}.pt", weights_only=False) for r in (0, 1)]


def assert_close(a: list[torch.Tensor], b: list[torch.Tensor], atol: float = 1e-6) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert torch.allclose(x, y, atol=atol, rtol=0)


def test_two_process_gloo_step_matches_one_process(gloo_runs: tuple[Path, list[dict]]) -> None:
    _, (r0, r1) = gloo_runs
    (p0, stats), (p1, _) = r0["ddp"], r1["ddp"]
    for a, c in zip(p0, p1, strict=True):
        assert torch.equal(a, c)  # all-reduced gradients: identical weights on both ranks
    single, single_stats = one_process(DDP_ARGS, batch(), 1)
    assert_close(p0, single)  # and the same step as one process
    assert stats["pg_loss"] == pytest.approx(single_stats["pg_loss"], abs=1e-6)


def test_two_process_fsdp_step_matches_one_process(gloo_runs: tuple[Path, list[dict]]) -> None:
    """FSDP2 over two gloo ranks, 5 rows (3 + 2, so rank 1 runs a masked micro-batch to keep
    pace), clipping active: both ranks hold the same full weights, equal to one process's step,
    with the same statistics."""
    _, (r0, r1) = gloo_runs
    (p0, stats0), (p1, stats1) = r0["fsdp"], r1["fsdp"]
    for a, c in zip(p0, p1, strict=True):
        assert torch.equal(a, c)
    assert stats0 == stats1
    single, single_stats = one_process(FSDP_ARGS, fsdp_batch(), 1, ref_model=tiny_lm(seed=5))
    assert single_stats["grad_norm"] > FSDP_ARGS.max_grad_norm  # the clip acted
    assert_close(p0, single)
    # the grad norm (≈ 0.08) is what catches averaged instead of summed gradients: AdamW's first
    # step barely depends on the gradient's scale
    assert stats0 == pytest.approx(single_stats, abs=1e-6)


def test_fsdp_checkpoints_load_in_one_process_and_back(gloo_runs: tuple[Path, list[dict]]) -> None:
    """A checkpoint and save_pretrained weights written by FSDP hold the full state, readable
    by one process; a one-process checkpoint resumes under FSDP to the same next step."""
    from transformers import Qwen2ForCausalLM

    out, (r0, r1) = gloo_runs
    fsdp_params, _ = r0["fsdp"]
    model = tiny_lm(seed=3)
    opt, sched = make_optimizer(model, FSDP_ARGS)
    assert load_checkpoint(out / "fsdp.pt", model, opt, sched) == 1
    assert_close([p.detach() for p in model.parameters()], fsdp_params, atol=0.0)
    # the full optimiser state came along: the next step is one process's second step
    train_step(model, opt, sched, fsdp_batch(), FSDP_ARGS, ref_model=tiny_lm(seed=5))
    two_steps, _ = one_process(FSDP_ARGS, fsdp_batch(), 2, ref_model=tiny_lm(seed=5))
    assert_close([p.detach() for p in model.parameters()], two_steps)
    assert_close(r0["resumed"], two_steps)  # and the other way round
    assert_close(r1["resumed"], r0["resumed"], atol=0.0)
    hf = Qwen2ForCausalLM.from_pretrained(out / "hf")
    assert_close([p.detach() for p in hf.parameters()], fsdp_params, atol=0.0)


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


@pytest.mark.slow  # ~40 s: torchrun and two fresh interpreters importing torch and transformers
def test_torchrun_fsdp_loop_resumes_in_one_process(tiny_model: Path, tmp_path: Path) -> None:
    """`torchrun --nproc-per-node 2 -m codegym_trainer.loop` with parallel = "fsdp" on gloo: two
    steps, metrics and weights written once (by rank 0), the full weights in OUT/model and in
    the checkpoint, which a single data-parallel process then resumes for a third step."""
    import subprocess
    import sys

    from codegym_trainer.loop import load_config, train
    from transformers import AutoModelForCausalLM

    out = tmp_path / "out"
    config = tmp_path / "train.toml"
    config.write_text(
        f"""
model = "{tiny_model}"
out = "{out}"
split = "train"
envs = ["EditDistanceEnv", "HouseRobberEnv"]
steps = 2
tasks_per_step = 2
n = 2
max_new_tokens = 8
max_turns = 1
parallel = "fsdp"

[grpo]
lr = 1e-3
kl_coef = 0.05
entropy_coef = 0.01
micro_batch = 1
"""
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port"]
    command += [str(_free_port()), "-m", "codegym_trainer.loop", str(config)]
    subprocess.run(command, env=env, check=True, timeout=300)
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2] and all(r["grad_norm"] > 0 for r in rows)
    start = AutoModelForCausalLM.from_pretrained(tiny_model).state_dict()
    saved = AutoModelForCausalLM.from_pretrained(out / "model").state_dict()
    checkpoint = torch.load(out / "checkpoint.pt", weights_only=False)
    assert checkpoint["step"] == 2 and set(checkpoint["model"]) == set(start)
    assert all(torch.equal(saved[k], checkpoint["model"][k]) for k in saved)
    assert not all(torch.equal(saved[k], start[k]) for k in saved)
    resumed = load_config(config)
    resumed.steps, resumed.parallel = 3, "ddp"
    assert [r["step"] for r in train(resumed)] == [3]


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


def test_demo_datasets_are_disjoint_and_the_compact_prompt_names_every_tool() -> None:
    """The learning demo's training and held-out configurations never overlap, and its compact
    prompt carries the call syntax and every tool's signature (and is much shorter)."""
    from codegym.prompts import CALL_BEGIN
    from codegym_trainer.demo import FAMILIES, make_datasets

    train, held, rl = make_datasets(20, 4, seed=1, prompt="compact", rl_per_family=10)
    assert (
        len(train) == 20 * len(FAMILIES) and len(held) == 4 * len(FAMILIES) and len(rl) == 10 * len(FAMILIES)
    )
    names = [{i.ability for i in d} for d in (train, held, rl)]
    assert not names[0] & names[1] and not names[0] & names[2] and not names[1] & names[2]
    full_train, full_held, no_rl = make_datasets(20, 4, seed=1, prompt="full")
    assert [i.ability for i in full_train] == [i.ability for i in train]  # same draws
    assert [i.ability for i in full_held] == [i.ability for i in held] and len(no_rl) == 0
    for compact, full in zip(train, full_train, strict=True):
        system = compact.prompt[0].content
        assert CALL_BEGIN in system
        assert all(f"{tool.name}(" in system for tool in train.tools(compact))
        assert 4 * len(system) < len(full.prompt[0].content)


def test_sft_cosine_horizon() -> None:
    """``decay_steps`` stretches the cosine: halfway through a run with twice its steps as the
    horizon, the learning rate is still above the midpoint of the decay."""
    from codegym_trainer.sft import SFTArgs, sft

    model = tiny_lm()
    traj = trajectories(2)
    short = sft(model, traj, pad_id=0, args=SFTArgs(steps=20, batch=2, warmup_steps=1))
    long = sft(tiny_lm(), traj, pad_id=0, args=SFTArgs(steps=20, batch=2, warmup_steps=1, decay_steps=40))
    assert short[-1]["lr"] == pytest.approx(1e-4, rel=1e-6)  # decayed to 10 % at the end
    assert long[-1]["lr"] > 0.5e-3


def test_sft_stops_when_on_step_says_so() -> None:
    """A true return value from ``on_step`` ends the run after that step (the demo's warm start
    stops once its greedy success reaches the target); a false one lets it run on."""
    from codegym_trainer.sft import SFTArgs, sft

    seen: list[int] = []

    def stop_at_three(step: int, stats: dict[str, float]) -> bool:
        seen.append(step)
        return step == 3

    traj = trajectories(2)
    history = sft(tiny_lm(), traj, pad_id=0, args=SFTArgs(steps=10, batch=2), on_step=stop_at_three)
    assert len(history) == 3 and seen == [1, 2, 3]
    full = sft(tiny_lm(), traj, pad_id=0, args=SFTArgs(steps=5, batch=2), on_step=lambda s, st: False)
    assert len(full) == 5


def test_first_per_family_takes_the_first_configurations_of_each_family() -> None:
    from codegym_trainer.demo import FAMILIES, first_per_family, make_datasets

    _, _, rl = make_datasets(1, 1, seed=0, prompt="compact", rl_per_family=5)
    probe = first_per_family(rl, 2, "probe")
    assert [i.ability for i in probe] == [
        i.ability for name in FAMILIES for i in [j for j in rl if j.env_name == name][:2]
    ]
