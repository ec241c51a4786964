"""It learns, on CPU: supervised warm start on oracle trajectories, then GRPO, measured on
held-out task configurations.

``python -m codegym_trainer.demo --out learn-demo`` (28 minutes on 2 cores: 15 for the warm start,
13 for 30 GRPO steps with four held-out evaluations):

1. Data: for a few bundled env families, configurations are drawn at random — a warm-start
   set, a GRPO set and a held-out set, pairwise disjoint (different dates, fractions,
   matrices; the same tools). All are written in the CodeGym layout (``OUT/data/train``,
   ``OUT/data/rl``, ``OUT/data/heldout``).
2. Model: a tiny Qwen2-architecture model with random weights and a byte-level BPE tokenizer
   trained here (:mod:`codegym.testing.tiny`; nothing is downloaded), reading a compact prompt
   (:func:`compact_prompt`) unless ``--prompt full``.
3. Warm start: the oracle's tool calls on the *warm-start* configurations, as token
   trajectories (:class:`~codegym.policy.oracle.OracleTokenPolicy`), for a supervised run
   (:mod:`codegym_trainer.sft`) until the model copies values from the observations into its
   calls well enough: greedy success on 16 GRPO-set configurations per family of at least
   ``--sft-target`` (0.5), checked every 100 steps, at most ``--sft-steps`` (1600). When
   copying emerges varies from run to run (from about 600 to more than 1300 steps), and a
   warm start trained to the end solves nearly everything, which leaves GRPO nothing to
   learn from (docs/trainer.md).
4. GRPO (:func:`codegym_trainer.loop.train`) on the GRPO configurations, which the warm start
   never saw (so it cannot lean on memorised answers), sampling at temperature 1 with top-p
   0.9, a KL penalty to the warm-start model; the held-out set is evaluated the same way
   before the first step, every few steps and at the end.

Outputs: ``OUT/report.json`` (before/after held-out success, timings), ``OUT/grpo/curve.png``
(learning curve), ``OUT/grpo/metrics.jsonl`` and ``OUT/grpo/eval.jsonl``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from codegym import datasets
from codegym.chat import ChatCodec
from codegym.datasets import Dataset, ExtraInfo, TaskInstance, make_ability
from codegym.policy.oracle import OracleTokenPolicy
from codegym.prompts import CALL_BEGIN, CALL_END, Message
from codegym.rollout import RolloutConfig, rollout
from codegym.testing.tiny import make_tiny_model
from codegym.tools import Tool

from .grpo import Args
from .loop import TrainConfig, evaluate, train
from .sft import SFTArgs, sft


def _dates(rng: random.Random) -> dict[str, Any]:
    start = datetime.date(1950, 1, 1).toordinal()
    end = datetime.date(2050, 12, 31).toordinal()
    a, b = (datetime.date.fromordinal(rng.randint(start, end)).isoformat() for _ in range(2))
    return {"date1": a, "date2": b}


def _fractions(rng: random.Random) -> dict[str, Any]:
    return {"fractions": [f"{rng.randint(1, 9)}/{rng.randint(2, 9)}" for _ in range(rng.randint(1, 2))]}


def _spiral(rng: random.Random) -> dict[str, Any]:
    rows, cols = rng.randint(1, 3), rng.randint(1, 3)
    return {"matrix": [[rng.randint(1, 9) for _ in range(cols)] for _ in range(rows)]}


EPISODE = {"max_new_tokens": 48, "max_total_tokens": 2048, "max_turns": 10}
"""Per-episode budgets of every rollout the demo samples (warm-start checks, GRPO, evaluation)."""
PROBE_PER_FAMILY = 16
"""GRPO-set configurations per family on which the warm start's greedy success is checked."""

FAMILIES: dict[str, Callable[[random.Random], dict[str, Any]]] = {
    "DaysBetweenDatesEnv": _dates,
    "FractionSumEnv": _fractions,
    "SpiralOrderEnv": _spiral,
}
"""Env families of the demo and a random configuration of each."""


def compact_prompt(tools: Sequence[Tool], family: str) -> list[Message]:
    """A short prompt: the call syntax, the tools' signatures and the family's name — what a
    model trained from scratch can use (it cannot read tool docs), at a quarter of the tokens
    of the full prompt."""
    signatures = ", ".join(f"{t.name}({', '.join(p.name for p in t.params)})" for t in tools)
    system = f"Call one tool per turn as {CALL_BEGIN}[{{...}}]{CALL_END}. Tools: {signatures}."
    return [Message("system", system), Message("user", f"Task: {family.removesuffix('Env')}.")]


def _unique(
    draw: Callable[[random.Random], dict[str, Any]], rng: random.Random, count: int, seen: set[str]
) -> list[str]:
    """``count`` configurations (JSON) not in ``seen`` (which they join)."""
    options: list[str] = []
    while len(options) < count:
        text = json.dumps(draw(rng))
        if text not in seen:
            seen.add(text)
            options.append(text)
    return options


def make_datasets(
    per_family: int, heldout_per_family: int, seed: int, prompt: str = "full", rl_per_family: int = 0
) -> tuple[Dataset, Dataset, Dataset]:
    """Random configurations of every family, in three disjoint datasets: training (the warm
    start's), held-out, and RL (fresh configurations for GRPO, which the warm start never saw;
    drawn after the others, so the first two do not depend on ``rl_per_family``). Prompts are
    the bundled suite's (``prompt="full"``) or :func:`compact_prompt` (``"compact"``)."""
    builtin = datasets.load("builtin", envs=list(FAMILIES))
    rng = random.Random(seed)
    rl_rng = random.Random(seed + 1)
    splits: dict[str, list[TaskInstance]] = {"train": [], "test": [], "rl": []}
    for name, draw in FAMILIES.items():
        template = next(i for i in builtin if i.env_name == name)
        messages = template.prompt if prompt == "full" else compact_prompt(builtin.tools(template), name)
        seen: set[str] = set()
        drawn = _unique(draw, rng, per_family + heldout_per_family, seen)
        rl_drawn = _unique(draw, rl_rng, rl_per_family, seen)
        parts = {"train": drawn[:per_family], "test": drawn[per_family:], "rl": rl_drawn}
        for split, options in parts.items():
            rows = splits[split]
            for text in options:
                rows.append(
                    TaskInstance(
                        ability=make_ability(template.stem, text),
                        prompt=messages,
                        extra_info=ExtraInfo(len(rows), None, "test" if split == "test" else "train"),
                        plugin_call_max_round=template.plugin_call_max_round,
                    )
                )
    sources = {s: src for s, src in builtin.sources.items()}
    return (
        Dataset(splits["train"], sources, "demo-train"),
        Dataset(splits["test"], sources, "demo-heldout"),
        Dataset(splits["rl"], sources, "demo-rl"),
    )


def first_per_family(data: Dataset, count: int, name: str) -> Dataset:
    """The first ``count`` configurations of every family of ``data``."""
    taken: dict[str, int] = {}
    rows = []
    for inst in data:
        if taken.get(inst.env_name, 0) < count:
            taken[inst.env_name] = taken.get(inst.env_name, 0) + 1
            rows.append(inst)
    return Dataset(rows, data.sources, name)


def warm_start(
    out: Path, train_set: Dataset, probe: Dataset, args: argparse.Namespace
) -> tuple[Path, dict[str, Any]]:
    """A tiny model from random weights, trained on the oracle's calls for the training
    configurations until its greedy success on ``probe`` reaches ``args.sft_target`` (checked
    every ``args.sft_check_every`` steps) or ``args.sft_steps`` have run; saved to
    ``OUT/model-sft``."""
    from codegym.policy.local import LocalPolicy

    init_dir = make_tiny_model(out / "model-init", hidden=args.hidden, layers=args.layers, seed=args.seed)
    policy = LocalPolicy(init_dir, seed=args.seed, max_batch=256)
    tokenizer, model = policy.tokenizer, policy.model
    codec = ChatCodec(tokenizer)
    oracle = OracleTokenPolicy(train_set, codec)
    demos, _ = asyncio.run(
        rollout(train_set, oracle, codec, RolloutConfig(n=1, max_total_tokens=1 << 16, max_batch=256))
    )
    demos = [t for t in demos if t.reward == 1.0]  # in task order, as rollout() returns them
    # a cosine horizon twice the run: the rate stays high while in-context copying emerges
    # (measured: the loss leaves its 0.23 nats/token plateau only after ~250 steps, and Days'
    # answers are copied into Done only after ~1300; docs/trainer.md)
    sft_args = SFTArgs(
        steps=args.sft_steps,
        lr=2e-3,
        batch=16,
        micro_batch=16,
        decay_steps=2 * args.sft_steps,
        seed=args.seed,
    )
    checks: list[dict[str, float]] = []

    def on_step(step: int, stats: dict[str, float]) -> bool:
        if step % 10 == 0 or step == sft_args.steps:
            print(f"sft {step}/{sft_args.steps}: loss {stats['loss']:.3f}", flush=True)
        if not args.sft_target or step % args.sft_check_every:
            return False
        model.eval()
        result = evaluate(
            probe,
            policy,
            codec,
            n=1,
            temperature=0.0,
            max_new_tokens=EPISODE["max_new_tokens"],
            max_total_tokens=EPISODE["max_total_tokens"],
            max_turns=EPISODE["max_turns"],
            max_batch=256,
        )
        policy.clear_cache()  # its prefixes are stale after the next update
        checks.append({"step": step, "greedy_success": result["success"]})
        print(
            f"sft {step}: greedy success {result['success']:.3f} on {len(probe)} GRPO-set configurations",
            flush=True,
        )
        return bool(result["success"] >= args.sft_target)

    history = sft(model, demos, pad_id=int(tokenizer.pad_token_id), args=sft_args, on_step=on_step)
    sft_dir = out / "model-sft"
    model.save_pretrained(sft_dir)
    tokenizer.save_pretrained(sft_dir)
    return sft_dir, {
        "max_steps": args.sft_steps,
        "steps": len(history),
        "target": args.sft_target,
        "checks": checks,
        "demonstrations": len(demos),
        "final_loss": history[-1]["loss"],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m codegym_trainer.demo", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="learn-demo", help="output directory")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-configs", type=int, default=300, help="training configurations per family")
    p.add_argument("--heldout-configs", type=int, default=16, help="held-out configurations per family")
    p.add_argument(
        "--rl-configs", type=int, default=300, help="GRPO configurations per family (unseen in SFT)"
    )
    p.add_argument(
        "--prompt",
        choices=("compact", "full"),
        default="compact",
        help="tool signatures only (default), or the bundled prompts with the full tool docs",
    )
    p.add_argument("--hidden", type=int, default=128, help="model width")
    p.add_argument("--layers", type=int, default=4, help="model depth")
    p.add_argument("--sft-steps", type=int, default=1600, help="most supervised warm-start steps")
    p.add_argument(
        "--sft-target",
        type=float,
        default=0.5,
        help=f"end the warm start once greedy success on {PROBE_PER_FAMILY} GRPO-set configurations "
        "per family reaches this (0: run all --sft-steps)",
    )
    p.add_argument("--sft-check-every", type=int, default=100, help="steps between those checks")
    p.add_argument(
        "--warm-start",
        metavar="DIR",
        help="skip the supervised phase: GRPO from DIR (an earlier run's OUT/model-sft, same seed, counts)",
    )
    p.add_argument("--grpo-steps", type=int, default=30, help="GRPO steps")
    p.add_argument("--tasks-per-step", type=int, default=32)
    p.add_argument("--n", type=int, default=8, help="GRPO group size")
    p.add_argument("--lr", type=float, default=2e-4, help="GRPO learning rate")
    p.add_argument("--kl", type=float, default=0.05, help="KL penalty to the warm-start model")
    p.add_argument("--top-p", type=float, default=0.9, help="nucleus sampling (rollouts and evaluation)")
    p.add_argument("--eval-every", type=int, default=10)
    p.add_argument("--eval-n", type=int, default=8, help="samples per held-out configuration")
    args = p.parse_args(argv)
    if args.sft_check_every < 1:
        p.error("--sft-check-every must be at least 1")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    train_set, held_out, rl_set = make_datasets(
        args.train_configs, args.heldout_configs, args.seed, args.prompt, rl_per_family=args.rl_configs
    )
    datasets.export(train_set, out / "data" / "train")  # the warm start's, for inspection
    held_dir = datasets.export(held_out, out / "data" / "heldout")
    rl_dir = datasets.export(rl_set, out / "data" / "rl")
    families = ", ".join(FAMILIES)
    print(
        f"data: {len(train_set)} warm-start, {len(rl_set)} GRPO and {len(held_out)} held-out "
        f"configurations of {families}"
    )

    if args.warm_start:  # an earlier run's warm start, on the same configurations (same seed and counts)
        sft_dir = Path(args.warm_start)
        sft_report: dict[str, Any] = {"warm_start": str(sft_dir)}
    else:
        t1 = time.perf_counter()
        sft_dir, sft_report = warm_start(
            out, train_set, first_per_family(rl_set, PROBE_PER_FAMILY, "demo-probe"), args
        )
        timings["sft_seconds"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    config = TrainConfig(
        model=str(sft_dir),
        out=str(out / "grpo"),
        dataset=str(rl_dir),
        split=None,
        steps=args.grpo_steps,
        tasks_per_step=args.tasks_per_step,
        n=args.n,
        max_new_tokens=EPISODE["max_new_tokens"],
        temperature=1.0,
        top_p=args.top_p,
        max_turns=EPISODE["max_turns"],
        max_total_tokens=EPISODE["max_total_tokens"],
        filter_min_attempts=1 << 30,  # random fresh configurations: nothing to filter
        save_every=args.grpo_steps,
        eval_dataset=str(held_dir),
        eval_every=args.eval_every,
        eval_n=args.eval_n,
        rollout_batch=256,
        grpo=Args(lr=args.lr, kl_coef=args.kl, warmup_steps=2, micro_batch=16, seed=args.seed),
    )
    steps = train(config)
    timings["grpo_seconds"] = time.perf_counter() - t2  # with the held-out evaluations
    timings["grpo_step_seconds"] = sum(r["seconds"] for r in steps)  # rollouts and updates only
    timings["total_seconds"] = time.perf_counter() - t0

    evals = [json.loads(line) for line in (out / "grpo" / "eval.jsonl").read_text().splitlines() if line]
    before, after = evals[0], evals[-1]
    report = {
        "families": list(FAMILIES),
        "train_configurations": len(train_set),
        "rl_configurations": len(rl_set),
        "heldout_configurations": len(held_out),
        "prompt": args.prompt,
        "model": {"hidden": args.hidden, "layers": args.layers},
        "sft": sft_report,
        "grpo": {
            "steps": args.grpo_steps,
            "tasks_per_step": args.tasks_per_step,
            "n": args.n,
            "lr": args.lr,
            "kl_coef": args.kl,
            "top_p": args.top_p,
        },
        "heldout_before": before,
        "heldout_after": after,
        "curve": str(out / "grpo" / "curve.png"),
        **timings,
    }
    (out / "report.json").write_text(json.dumps(report, indent=2))
    print(
        f"held-out success (T=1, top-p {args.top_p}, {int(before['sampled_episodes'])} episodes): "
        f"{before['sampled_success']:.3f} after the warm start -> {after['sampled_success']:.3f} after GRPO; "
        f"greedy {before['greedy_success']:.3f} -> {after['greedy_success']:.3f}; "
        f"GRPO {timings['grpo_seconds'] / 60:.1f} min, all {timings['total_seconds'] / 60:.1f} min; "
        f"curve: {report['curve']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
