"""Supervised warm start: maximise the likelihood of the generated tokens of given trajectories
(typically the oracle's, from :class:`codegym.policy.oracle.OracleTokenPolicy`).

The loss is the token-mean negative log-likelihood over loss-mask-1 tokens only: the prompt and
the observations are context, never targets — the same masking GRPO uses.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from codegym.protocol import Trajectory

from .data import collate
from .grpo import aggregate, token_logprobs


@dataclass(frozen=True)
class SFTArgs:
    """Supervised fine-tuning settings."""

    steps: int = 100
    """Optimiser steps."""
    batch: int = 16
    """Trajectories per step (sampled without replacement, reshuffled every epoch)."""
    micro_batch: int = 8
    """Rows per forward/backward pass."""
    lr: float = 1e-3
    """AdamW learning rate (cosine decay to 10 % after a linear warm-up)."""
    warmup_steps: int = 10
    """Linear warm-up steps."""
    decay_steps: int | None = None
    """Horizon of the cosine decay (default ``steps``; a longer one keeps the rate higher)."""
    max_grad_norm: float = 1.0
    """Gradient-norm clip (0: off)."""
    seed: int = 0
    """Order of the trajectories."""


def sft_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    trajectories: Sequence[Trajectory],
    pad_id: int,
    args: SFTArgs,
) -> dict[str, float]:
    """One optimiser step on ``trajectories``; returns the loss and gradient norm."""
    batch = collate(trajectories, [0.0] * len(trajectories), pad_id=pad_id)
    total = float(batch.loss_mask.sum())
    device = next(model.parameters()).device
    model.train()
    optimizer.zero_grad(set_to_none=True)
    loss_sum = 0.0
    for mb in batch.micro_batches(args.micro_batch):
        mb = mb.to(device)
        logp, _ = token_logprobs(model, mb)
        loss = -aggregate(logp, mb.loss_mask, "token-mean", total, len(batch))
        loss.backward()  # type: ignore[no-untyped-call]
        loss_sum += float(loss.detach())
    norm = torch.nn.utils.clip_grad_norm_(
        model.parameters(), args.max_grad_norm if args.max_grad_norm > 0 else math.inf
    )
    optimizer.step()
    return {"loss": loss_sum, "grad_norm": float(norm)}


def sft(
    model: torch.nn.Module,
    trajectories: Sequence[Trajectory],
    pad_id: int,
    args: SFTArgs,
    on_step: Callable[[int, dict[str, float]], bool | None] | None = None,
) -> list[dict[str, float]]:
    """Train ``model`` in place for ``args.steps`` steps; return the per-step stats.
    ``on_step(step, stats)`` runs after every step; a true return value ends training there."""
    if not trajectories:
        raise ValueError("SFT needs at least one trajectory")
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    warmup = max(args.warmup_steps, 1)

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max((args.decay_steps or args.steps) - warmup, 1)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    rng = random.Random(args.seed)
    order: list[int] = []
    history = []
    for step in range(args.steps):
        if len(order) < args.batch:
            fresh = list(range(len(trajectories)))
            rng.shuffle(fresh)
            order.extend(fresh)
        picked, order = order[: args.batch], order[args.batch :]
        stats = sft_step(model, optimizer, [trajectories[i] for i in picked], pad_id, args)
        scheduler.step()
        stats["lr"] = float(scheduler.get_last_lr()[0])
        history.append(stats)
        if on_step is not None and on_step(step + 1, stats):
            break
    model.eval()
    return history
