"""GRPO, top to bottom.

1. Advantages: for the n rollouts of one task (a group), ``A_i = (r_i - mean(r)) / (std(r) +
   eps)`` (or without the division), the same value for every generated token of rollout i.
2. Token logprobs of the current policy on the trajectory tokens (one forward pass; the logit
   at position t scores token t + 1).
3. Policy loss, PPO-clipped with the rollout's logprobs as the old policy:
   ``-min(ratio * A, clip(ratio, 1 - eps_low, 1 + eps_high) * A)`` per generated token, with
   ``ratio = exp(logp - old_logp)``; observation and prompt tokens have loss mask 0 and get no
   gradient.
4. Optional KL to a frozen reference model (the k3 estimator ``exp(q) - q - 1`` with ``q =
   ref_logp - logp``) and an entropy bonus.
5. Aggregation: ``token-mean`` (sum over all generated tokens of the batch / their count) or
   ``seq-mean`` (mean over each sequence's tokens, then over sequences).
6. Micro-batches of rows of similar length (each padded only to its own longest row) with
   gradient accumulation, gradient-norm clipping, AdamW with linear
   warm-up; bf16 autocast on CUDA. Under torch.distributed (gloo on CPU, NCCL on GPU) each rank
   takes its shard of the batch rows and its loss is its share of the global mean, so the
   ranks' gradients are summed: by an all-reduce here (data parallel), or by FSDP2's
   reduce-scatter when the model was sharded with :func:`parallel.shard_model`.
7. Checkpoints hold the full (unsharded) model and optimiser state, scheduler, step and RNG
   states; resuming gives the same next step as an uninterrupted run, with or without FSDP.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from . import parallel
from .data import Batch


@dataclass(frozen=True)
class Args:
    """GRPO hyper-parameters."""

    lr: float = 1e-5
    """AdamW learning rate after warm-up."""
    warmup_steps: int = 0
    """Steps of linear learning-rate warm-up from 0."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    clip_low: float = 0.2
    """Lower PPO clip range: ratios below 1 - clip_low are clipped."""
    clip_high: float = 0.2
    """Upper PPO clip range (DAPO's clip-higher uses a larger value than clip_low)."""
    kl_coef: float = 0.0
    """Weight of the KL penalty to the reference model (0: no reference model needed)."""
    entropy_coef: float = 0.0
    """Weight of the entropy bonus."""
    loss_agg: str = "token-mean"
    """"token-mean" or "seq-mean"."""
    normalize_std: bool = True
    """Divide group-centred rewards by the group's standard deviation (GRPO) or not (Dr. GRPO)."""
    adv_eps: float = 1e-6
    """Added to the group std."""
    micro_batch: int = 4
    """Rows per forward/backward pass; gradients accumulate over the batch."""
    max_grad_norm: float = 1.0
    """Gradient-norm clip (0: off)."""
    seed: int = 0
    """Seed of torch, numpy and random."""


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def group_advantages(
    rewards: Sequence[float], groups: Sequence[int], *, normalize_std: bool = True, eps: float = 1e-6
) -> list[float]:
    """One advantage per rollout: its reward centred (and scaled) within its group."""
    r = torch.tensor(list(rewards), dtype=torch.float64)
    g = torch.tensor(list(groups), dtype=torch.long)
    _, index = torch.unique(g, return_inverse=True)
    count = torch.zeros(int(index.max()) + 1, dtype=torch.float64).index_add_(0, index, torch.ones_like(r))
    mean = torch.zeros_like(count).index_add_(0, index, r) / count
    centred = r - mean[index]
    if not normalize_std:
        return centred.tolist()
    var = torch.zeros_like(count).index_add_(0, index, centred**2) / (count - 1).clamp(min=1)
    return (centred / (var.sqrt()[index] + eps)).tolist()


def token_logprobs(model: torch.nn.Module, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token logprob and entropy of the model, aligned with ``batch.input_ids`` (position
    0, which no logit predicts, gets 0)."""
    logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits.float()
    logp_all = F.log_softmax(logits[:, :-1], dim=-1)
    targets = batch.input_ids[:, 1:]
    logp = logp_all.gather(-1, targets[..., None])[..., 0]
    entropy = -(logp_all.exp() * logp_all).sum(-1)
    pad = torch.zeros_like(logp[:, :1])
    return torch.cat([pad, logp], dim=1), torch.cat([pad, entropy], dim=1)


def aggregate(
    values: torch.Tensor, mask: torch.Tensor, how: str, total_tokens: float, total_rows: int
) -> torch.Tensor:
    """Sum of this micro-batch's share of the batch-level mean (so accumulated micro-batches
    add up to the mean over the whole batch)."""
    if how == "token-mean":
        return (values * mask).sum() / max(total_tokens, 1.0)
    if how == "seq-mean":
        per_row = (values * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)
        return per_row.sum() / max(total_rows, 1)
    raise ValueError(f"loss_agg must be 'token-mean' or 'seq-mean', not {how!r}")


def policy_loss(
    logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor, args: Args
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token clipped surrogate loss and whether each token was clipped."""
    ratio = torch.exp(logp - old_logp)
    adv = advantages[:, None]
    unclipped = ratio * adv
    clipped = torch.clamp(ratio, 1.0 - args.clip_low, 1.0 + args.clip_high) * adv
    return -torch.minimum(unclipped, clipped), (clipped < unclipped).float()


def kl_k3(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Per-token k3 estimate of KL(policy || reference): non-negative, unbiased."""
    q = ref_logp - logp
    return torch.exp(q) - q - 1.0


def make_optimizer(model: torch.nn.Module, args: Args) -> tuple[torch.optim.Optimizer, Any]:
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    warmup = max(args.warmup_steps, 0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / warmup) if warmup else 1.0
    )
    return optimizer, scheduler


def train_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    batch: Batch,
    args: Args,
    ref_model: torch.nn.Module | None = None,
) -> dict[str, float]:
    """One optimiser step on ``batch`` (each rank of a distributed run takes its rows)."""
    rank, world = parallel.world()
    sharded = parallel.is_sharded(model)
    shard = batch.rows(slice(rank, None, world)) if world > 1 else batch
    # FSDP runs collectives in every forward and backward, so every rank must take the same
    # number of micro-batches: a rank whose rows run out runs a fully masked row (zero loss,
    # zero gradient) instead
    rows_per_rank = -(-len(batch) // world) if sharded else len(shard)
    idle = batch.rows(slice(0, 1))
    idle.loss_mask = torch.zeros_like(idle.loss_mask)
    # normalisers over the *global* batch so that every rank's sum is its share of the mean
    total_tokens = float(batch.loss_mask.sum())
    total_rows = len(batch)
    device = next(model.parameters()).device
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else _null()
    model.train()
    optimizer.zero_grad(set_to_none=True)
    sums = {"loss": 0.0, "pg_loss": 0.0, "kl": 0.0, "entropy": 0.0, "clip_frac": 0.0}
    micro = shard.micro_batches(args.micro_batch)
    for k in range(-(-rows_per_rank // args.micro_batch)):
        mb = (micro[k] if k < len(micro) else idle).to(device)
        with autocast:
            logp, entropy = token_logprobs(model, mb)
        pg, clipped = policy_loss(logp, mb.old_logprobs, mb.advantages, args)
        loss = aggregate(pg, mb.loss_mask, args.loss_agg, total_tokens, total_rows)
        sums["pg_loss"] += float(loss.detach())
        sums["clip_frac"] += float(aggregate(clipped, mb.loss_mask, "token-mean", total_tokens, total_rows))
        ent = aggregate(entropy, mb.loss_mask, args.loss_agg, total_tokens, total_rows)
        sums["entropy"] += float(ent.detach())
        if args.entropy_coef:
            loss = loss - args.entropy_coef * ent
        if args.kl_coef and ref_model is not None:
            with torch.no_grad():
                ref_logp, _ = token_logprobs(ref_model, mb)
            kl = aggregate(kl_k3(logp, ref_logp), mb.loss_mask, args.loss_agg, total_tokens, total_rows)
            sums["kl"] += float(kl.detach())
            loss = loss + args.kl_coef * kl
        sums["loss"] += float(loss.detach())
        loss.backward()  # type: ignore[no-untyped-call]
    if world > 1 and not sharded:  # FSDP has reduce-scattered (summed) the gradients already
        for p in model.parameters():
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)  # shares of a global mean: sum them
    if world > 1:
        stats = torch.tensor([sums[k] for k in sums], dtype=torch.float64, device=device)
        dist.all_reduce(stats, op=dist.ReduceOp.SUM)
        sums = dict(zip(sums, stats.tolist(), strict=True))
    grad_norm = torch.nn.utils.clip_grad_norm_(
        model.parameters(), args.max_grad_norm if args.max_grad_norm > 0 else math.inf
    )
    optimizer.step()
    scheduler.step()
    return {**sums, "grad_norm": float(grad_norm), "lr": float(scheduler.get_last_lr()[0])}


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def save_checkpoint(
    path: str | Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    step: int,
    args: Args,
) -> None:
    """Full model and optimiser state (:func:`parallel.full_state`: unsharded, on CPU,
    parameter-name keys), scheduler, step, args and every RNG state, in one file. A collective
    under torch.distributed: every rank calls it, rank 0 writes (its RNG states), and all ranks
    return once the file is complete."""
    model_state, optimizer_state = parallel.full_state(model, optimizer)
    rank, world = parallel.world()
    if rank == 0:
        state = {
            "model": model_state,
            "optimizer": optimizer_state,
            "scheduler": scheduler.state_dict(),
            "step": step,
            "args": asdict(args),
            "rng": {
                "torch": torch.get_rng_state(),
                "numpy": np.random.get_state(),
                "random": random.getstate(),
            },
        }
        # write then rename: a crash mid-write leaves the previous checkpoint whole, and tensors
        # still memory-mapped from it by load_checkpoint keep their (now unlinked) file
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        partial = Path(f"{path}.partial")
        torch.save(state, partial)
        partial.replace(path)
    if world > 1:
        dist.barrier()


def load_checkpoint(
    path: str | Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any
) -> int:
    """Restore everything :func:`save_checkpoint` wrote, into a plain or an FSDP-sharded model
    (whichever wrote it); return the step. Every rank reads the file (memory-mapped, so the
    ranks of one machine share its pages) and keeps its shard."""
    state = torch.load(path, weights_only=False, mmap=True)
    parallel.load_full_state(model, optimizer, state["model"], state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["rng"]["torch"])
    np.random.set_state(state["rng"]["numpy"])
    random.setstate(state["rng"]["random"])
    return int(state["step"])
