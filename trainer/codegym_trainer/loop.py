"""The training loop: rollout → filter → GRPO step → new weights to the policy, repeated.

``codegym train --config CONFIG.toml`` (or ``python -m codegym_trainer.loop CONFIG.toml``)
reads a :class:`TrainConfig`. With ``policy = "local"`` the trainer's model *is* the rollout
policy (updated in place, ``weight_version`` bumped each step: the CPU path). With ``policy =
"sglang://HOST:PORT"`` the trainer keeps its own copy, and after each step saves it, calls
``/update_weights_from_disk`` and ``/flush_cache`` on the server (the GPU path; not runnable on
a CPU-only machine beyond the stub). Every trajectory records the weight version it was sampled
with; trajectories more than ``max_staleness`` versions old are dropped.

Curriculum: each task's pass rate is tracked over its rollouts; once a task has at least
``filter_min_attempts`` rollouts and was always or never solved, it is skipped (its group
would have zero advantage anyway), as the CodeGym recipe does.

Metrics per step go to ``OUT/metrics.jsonl``, held-out evaluations to ``OUT/eval.jsonl``, and
a PNG learning curve to ``OUT/curve.png``; checkpoints to ``OUT/checkpoint.pt`` (resumed
automatically); the final weights to ``OUT/model`` (``save_pretrained`` layout).

Distributed: ``torchrun --nproc-per-node N -m codegym_trainer.loop CONFIG.toml`` runs the same
loop on N ranks (``parallel = "ddp"`` or ``"fsdp"``, see :mod:`codegym_trainer.parallel`).
Rank 0 alone rolls out, evaluates and writes metrics; it broadcasts each step's batch, every
rank takes its rows of it in the GRPO step, and checkpoints and saved weights are gathered to
rank 0 whole, so a run can resume with another world size or mode.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch.distributed as dist
from codegym import datasets
from codegym.chat import ChatCodec
from codegym.errors import ConfigError
from codegym.policy import SamplingParams
from codegym.policy.local import LocalPolicy
from codegym.protocol import Trajectory, TrajectoryWriter
from codegym.rollout import RolloutConfig, rollout

from . import parallel
from .data import Batch, collate
from .grpo import (
    Args,
    group_advantages,
    load_checkpoint,
    make_optimizer,
    save_checkpoint,
    seed_everything,
    train_step,
)


@dataclass
class TrainConfig:
    """What to train, on what, for how long."""

    model: str
    """A save_pretrained directory: the starting policy (and the KL reference)."""
    out: str = "train-out"
    """Output directory: metrics.jsonl, curve.png, checkpoint.pt, rollouts.msgpack."""
    policy: str = "local"
    """"local" (the trainer's model samples in-process) or "sglang://HOST:PORT"."""
    dataset: str = "builtin"
    split: str | None = "train"
    envs: list[str] | None = None
    steps: int = 10
    tasks_per_step: int = 8
    n: int = 4
    """Rollouts per task (GRPO group size)."""
    max_new_tokens: int = 64
    temperature: float = 1.0
    top_p: float = 1.0
    """Nucleus sampling for rollouts and the sampled evaluation (1: off). The logprobs kept
    for the PPO ratio are of the untruncated distribution, which the trainer recomputes."""
    max_turns: int | None = None
    max_total_tokens: int = 4096
    rollout_batch: int = 128
    """Prompts per ``generate`` call (and the local policy's batch): one GRPO step's episodes
    in one batch when they fit (measured in the learning demo: 96 episodes take 19 s in
    batches of 128, 33 s in batches of 64, without the local policy's prefix cache)."""
    max_staleness: int = 1
    filter_min_attempts: int = 8
    save_every: int = 5
    eval_dataset: str | None = None
    """A dataset (builtin or a path) evaluated before the first step, every ``eval_every``
    steps and after the last: success rate of ``eval_n`` samples per task at
    ``eval_temperature`` (and greedy when ``eval_greedy``), written to ``OUT/eval.jsonl``."""
    eval_split: str | None = None
    eval_every: int = 0
    eval_n: int = 4
    eval_temperature: float = 1.0
    eval_greedy: bool = True
    parallel: str = "ddp"
    """How ranks share the model under ``torchrun``: "ddp" (the whole model on every rank,
    gradients all-reduced; also the plain single-process run) or "fsdp" (FSDP2: parameters,
    gradients and optimiser state sharded across ranks; needs torchrun, even for one rank)."""
    grpo: Args = field(default_factory=Args)


def load_config(path: str | Path) -> TrainConfig:
    raw = tomllib.loads(Path(path).read_text())
    grpo = Args(**raw.pop("grpo", {}))
    return TrainConfig(**raw, grpo=grpo)


class PassRates:
    """Per-task success counts from rollouts (the best-of-k filter)."""

    def __init__(self) -> None:
        self.tries: dict[str, int] = {}
        self.wins: dict[str, int] = {}

    def add(self, trajectories: list[Trajectory]) -> None:
        for t in trajectories:
            self.tries[t.task.ability] = self.tries.get(t.task.ability, 0) + 1
            self.wins[t.task.ability] = self.wins.get(t.task.ability, 0) + int(t.reward == 1.0)

    def informative(self, ability: str, min_attempts: int) -> bool:
        tries = self.tries.get(ability, 0)
        return tries < min_attempts or 0 < self.wins.get(ability, 0) < tries


def evaluate(
    data: datasets.Dataset,
    policy: Any,
    codec: ChatCodec,
    *,
    n: int,
    temperature: float,
    max_new_tokens: int,
    top_p: float = 1.0,
    max_total_tokens: int,
    max_turns: int | None = None,
    max_batch: int,
    seed: int = 0,
) -> dict[str, float]:
    """Success rate and mean reward/turns of ``n`` rollouts of every task of ``data``, at most
    ``max_batch`` generations at a time (the training loop passes ``TrainConfig.rollout_batch``)."""
    config = RolloutConfig(
        n=n,
        sampling=SamplingParams(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p),
        max_turns=max_turns,
        max_total_tokens=max_total_tokens,
        max_batch=max_batch,
        seed=seed,
    )
    trajs, _ = asyncio.run(rollout(data, policy, codec, config))
    return {
        "success": sum(t.reward == 1.0 for t in trajs) / len(trajs),
        "reward": sum(t.reward for t in trajs) / len(trajs),
        "turns": sum(len(t.turns) for t in trajs) / len(trajs),
        "episodes": float(len(trajs)),
    }


def train(config: TrainConfig) -> list[dict[str, Any]]:
    """Run the loop; return the per-step metrics (on rank 0; other ranks return [])."""
    from transformers import AutoModelForCausalLM

    if config.parallel not in parallel.PARALLEL:
        raise ConfigError(f"parallel must be one of {parallel.PARALLEL}, not {config.parallel!r}")
    device = parallel.init_from_env()
    fsdp = config.parallel == "fsdp"
    if fsdp and not dist.is_initialized():
        raise ConfigError('parallel = "fsdp" shards over a process group: launch with torchrun')
    rank, _ = parallel.world()
    lead = rank == 0
    seed_everything(config.grpo.seed)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    # the trainer's model: with "ddp" every rank loads the whole model and rank 0 samples from
    # it in place; with "fsdp" every rank holds shards and rank 0 keeps a full copy to sample
    # with (refreshed from the gathered weights after every step) or, with a server policy,
    # only for its tokenizer, on CPU
    local: LocalPolicy | None = None
    if fsdp:
        model = parallel.shard_model(AutoModelForCausalLM.from_pretrained(config.model).to(device))  # type: ignore[arg-type]
        if lead:
            sampler_device = str(device) if config.policy == "local" else "cpu"
            local = LocalPolicy(
                config.model, device=sampler_device, seed=config.grpo.seed, max_batch=config.rollout_batch
            )
    else:
        local = LocalPolicy(
            config.model, device=str(device), seed=config.grpo.seed, max_batch=config.rollout_batch
        )
        model = local.model
    ref_model = None
    if config.grpo.kl_coef:
        ref_model = AutoModelForCausalLM.from_pretrained(config.model).to(device).eval()  # type: ignore[arg-type]
        if fsdp:
            parallel.shard_model(ref_model)
    optimizer, scheduler = make_optimizer(model, config.grpo)
    step = 0
    checkpoint = out / "checkpoint.pt"
    if checkpoint.is_file():
        step = load_checkpoint(checkpoint, model, optimizer, scheduler)

    def sync_sampler() -> None:
        """Hand the trainer's weights to the in-process sampler when they are not the same
        tensors (FSDP): a collective, rank 0 copies the gathered full weights."""
        if fsdp and config.policy == "local":
            state, _ = parallel.full_state(model)
            if local is not None:
                local.model.load_state_dict(state)

    sync_sampler()
    tokenizer = local.tokenizer if local is not None else None
    push: Callable[[str, int], None] | None = None  # rank 0 with a server policy: weights to it

    def update(batch: Batch) -> dict[str, float]:
        """One step's collectives, in the one order every rank runs them: the GRPO step,
        the weights to the sampler or the server, the checkpoint."""
        nonlocal step
        stats = train_step(model, optimizer, scheduler, batch, config.grpo, ref_model=ref_model)
        step += 1
        sync_sampler()
        if config.policy != "local":
            parallel.save_pretrained(model, out / "weights", tokenizer)
            if push is not None:
                push(str(out / "weights"), step)
        if step % config.save_every == 0 or step == config.steps:
            save_checkpoint(checkpoint, model, optimizer, scheduler, step, config.grpo)
        return stats

    if not lead:  # ranks > 0: rank 0's batches until it stops, then the final weights
        while (batch := _share(None)) is not None:
            update(batch)
        parallel.save_pretrained(model, out / "model")
        return []
    assert local is not None
    data = datasets.load(config.dataset, split=config.split, envs=config.envs)
    policy: Any = local
    if config.policy != "local":
        from codegym.policy import from_uri

        policy = from_uri(config.policy)

        def push(path: str, version: int) -> None:
            asyncio.run(_push(policy, path, version))

    policy.weight_version = step
    codec = ChatCodec(local.tokenizer)
    rates = PassRates()
    rng = random.Random(config.grpo.seed + step)
    rollout_config = RolloutConfig(
        n=config.n,
        sampling=SamplingParams(
            max_new_tokens=config.max_new_tokens, temperature=config.temperature, top_p=config.top_p
        ),
        max_turns=config.max_turns,
        max_total_tokens=config.max_total_tokens,
        max_batch=config.rollout_batch,
        seed=config.grpo.seed,
    )
    history: list[dict[str, Any]] = []
    metrics_file = (out / "metrics.jsonl").open("a")
    held_out = datasets.load(config.eval_dataset, split=config.eval_split) if config.eval_dataset else None
    eval_file = (out / "eval.jsonl").open("a")

    def run_eval() -> None:
        if held_out is None:
            return
        local.model.eval()
        row: dict[str, Any] = {"step": step}
        settings = [("sampled", config.eval_temperature, config.eval_n)]
        if config.eval_greedy:
            settings.append(("greedy", 0.0, 1))
        for name, temperature, n in settings:
            result = evaluate(
                held_out,
                policy,
                codec,
                n=n,
                temperature=temperature,
                max_new_tokens=config.max_new_tokens,
                top_p=config.top_p,
                max_total_tokens=config.max_total_tokens,
                max_turns=config.max_turns,
                max_batch=config.rollout_batch,
                seed=10_000 + config.grpo.seed,
            )
            row.update({f"{name}_{k}": v for k, v in result.items()})
        eval_file.write(json.dumps(row) + "\n")
        eval_file.flush()
        print(
            f"eval @ step {step}: held-out success {row['sampled_success']:.3f} (T={config.eval_temperature})"
            + (f", greedy {row['greedy_success']:.3f}" if config.eval_greedy else ""),
            flush=True,
        )

    if step == 0:
        run_eval()
    with TrajectoryWriter(out / "rollouts.msgpack") as writer:
        while step < config.steps:
            t0 = time.perf_counter()
            pool = [i for i in data.instances if rates.informative(i.ability, config.filter_min_attempts)]
            if not pool:
                print("every task is always or never solved: stopping", file=sys.stderr)
                _share(None)
                break
            tasks = rng.sample(pool, min(config.tasks_per_step, len(pool)))
            local.model.eval()
            trajs, rstats = asyncio.run(rollout(data, policy, codec, rollout_config, instances=tasks))
            rates.add(trajs)
            for t in trajs:  # a resumable log of everything sampled, across steps
                writer.write(t)
            fresh = [t for t in trajs if policy.weight_version - t.weight_version <= config.max_staleness]
            adv = group_advantages(
                [t.reward for t in fresh],
                [t.task.group for t in fresh],
                normalize_std=config.grpo.normalize_std,
                eps=config.grpo.adv_eps,
            )
            batch = collate(fresh, adv, pad_id=local.pad_id)
            _share(batch)
            stats = update(batch)
            policy.weight_version = step
            row = {
                "step": step,
                "reward": sum(t.reward for t in trajs) / len(trajs),
                "success": sum(t.reward == 1.0 for t in trajs) / len(trajs),
                "turns": sum(len(t.turns) for t in trajs) / len(trajs),
                "tokens": sum(t.num_generated for t in trajs) / len(trajs),
                "dropped_stale": len(trajs) - len(fresh),
                "tasks_left": len(pool),
                "seconds": time.perf_counter() - t0,
                "rollout_seconds": rstats.wall_seconds,
                **stats,
            }
            history.append(row)
            metrics_file.write(json.dumps(row) + "\n")
            metrics_file.flush()
            print(
                f"step {step}: success {row['success']:.2f} reward {row['reward']:.2f} "
                f"loss {row['loss']:.4f} kl {row['kl']:.4f} clip {row['clip_frac']:.3f} "
                f"grad {row['grad_norm']:.3f} ({row['seconds']:.1f} s)",
                flush=True,
            )
            if config.eval_every and (step % config.eval_every == 0 or step == config.steps):
                run_eval()
        else:
            _share(None)  # the other ranks leave their loop too
    if held_out is not None and not config.eval_every:
        run_eval()
    metrics_file.close()
    eval_file.close()
    parallel.save_pretrained(model, out / "model", local.tokenizer)
    plot(out / "metrics.jsonl", out / "curve.png", out / "eval.jsonl")
    (out / "config.json").write_text(json.dumps(asdict(config), indent=2, default=str))
    return history


def _share(batch: Batch | None) -> Batch | None:
    """Rank 0's batch (``None``: stop training) on every rank."""
    if parallel.world()[1] == 1:
        return batch
    box = [batch]
    dist.broadcast_object_list(box, src=0)
    return box[0]


async def _push(policy: Any, path: str, version: int) -> None:
    await policy.update_weights_from_disk(path, weight_version=version)
    await policy.flush_cache()


def plot(metrics: Path, png: Path, evals: Path | None = None) -> Path:
    """Training success rate and reward per step, and held-out success when evaluated."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([r["step"] for r in rows], [r["success"] for r in rows], label="train success (rollouts)")
    ax.plot([r["step"] for r in rows], [r["reward"] for r in rows], label="train mean reward", alpha=0.6)
    if evals is not None and evals.is_file():
        ev = [json.loads(line) for line in evals.read_text().splitlines() if line.strip()]
        ax.plot([r["step"] for r in ev], [r["sampled_success"] for r in ev], "o-", label="held-out success")
        if ev and "greedy_success" in ev[0]:
            ax.plot([r["step"] for r in ev], [r["greedy_success"] for r in ev], "s--", label="greedy")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("GRPO step")
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return png


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m codegym_trainer.loop CONFIG.toml", file=sys.stderr)
        return 2
    try:
        train(load_config(argv[0]))
    finally:
        parallel.shutdown()  # the process group train() joined under torchrun
    return 0


if __name__ == "__main__":
    code = main()
    if "RANK" in os.environ:
        # A torchrun worker whose work is done and whose process group is destroyed: leave
        # without the interpreter's and the C++ runtime's teardown, in which torch's own threads
        # still alive now and then abort the process ("terminate called without an active
        # exception", SIGABRT) and fail the whole job after it succeeded. Outputs are closed by
        # then; flush what is buffered first.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    raise SystemExit(code)
