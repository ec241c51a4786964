"""Reading trajectory files for people: per-trajectory summaries and run statistics, with an
optional PNG of reward and turns per group (``codegym traj show|stats``)."""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

from .protocol import Trajectory, read_trajectories

__all__ = ["show", "stats"]


def show(path: str | os.PathLike[str], index: int, *, tokens: bool = False) -> str:
    """One trajectory as text: task, outcome, then every turn's reply and observation."""
    for i, t in enumerate(read_trajectories(path)):
        if i == index:
            return _render(t, tokens)
    raise IndexError(f"{path} has no trajectory {index}")


def _render(t: Trajectory, tokens: bool) -> str:
    lines = [
        f"task {t.task.ability} (group {t.task.group}, sample {t.task.sample})",
        f"finish {t.finish_reason}, reward {t.reward}, turns {len(t.turns)}, tokens {len(t.token_ids)} "
        f"({t.num_generated} generated), policy {t.policy} v{t.weight_version}, {t.seconds:.2f} s",
    ]
    if t.error:
        lines.append(f"error: {t.error.splitlines()[0]}")
    for n, turn in enumerate(t.turns, start=1):
        lines.append(f"--- turn {n} [{turn.finish_reason}{', parse error' if turn.parse_error else ''}]")
        lines.append(f"assistant: {turn.response_text}")
        if tokens:
            ids = t.token_ids[turn.response_start : turn.response_start + turn.response_len]
            lines.append(f"  ids {ids}")
        lines.append(f"observation: {turn.observation_text}")
    return "\n".join(lines)


def stats(paths: Iterable[str | os.PathLike[str]], plot: str | os.PathLike[str] | None = None) -> str:
    """Success rate, finish reasons, turns and tokens over every trajectory in ``paths``."""
    trajectories = [t for p in paths for t in read_trajectories(p)]
    if not trajectories:
        return "no trajectories"
    n = len(trajectories)
    solved = sum(t.reward == 1.0 for t in trajectories)
    reasons = Counter(t.finish_reason for t in trajectories)
    turns = sorted(len(t.turns) for t in trajectories)
    generated = sorted(t.num_generated for t in trajectories)
    parse_failures = sum(turn.parse_error for t in trajectories for turn in t.turns)
    total_turns = sum(turns)
    per_env: dict[str, list[float]] = defaultdict(list)
    for t in trajectories:
        per_env[t.task.ability.split("@")[1].split("__")[-1]].append(t.reward)
    lines = [
        f"{n} trajectories, {len({t.task.group for t in trajectories})} groups; "
        f"success {solved}/{n} ({100 * solved / n:.1f}%)",
        "finish: " + ", ".join(f"{k} {v}" for k, v in reasons.most_common()),
        f"turns: mean {total_turns / n:.1f}, median {turns[n // 2]}, max {turns[-1]}; "
        f"parse failures {parse_failures}/{total_turns} turns",
        f"generated tokens: mean {sum(generated) / n:.0f}, max {generated[-1]}; "
        f"tokens per trajectory: mean {sum(len(t.token_ids) for t in trajectories) / n:.0f}",
        "success by env: "
        + ", ".join(f"{env} {100 * sum(r) / len(r):.0f}%" for env, r in sorted(per_env.items())),
    ]
    if plot is not None:
        lines.append(f"plot: {_plot(trajectories, Path(plot))}")
    return "\n".join(lines)


def _plot(trajectories: list[Trajectory], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
    turns = [len(t.turns) for t in trajectories]
    ax1.hist(turns, bins=min(30, max(turns) + 1))
    ax1.set_xlabel("turns per episode")
    ax1.set_ylabel("episodes")
    reasons = Counter(t.finish_reason for t in trajectories)
    ax2.bar(list(reasons), list(reasons.values()))
    ax2.set_ylabel("episodes")
    ax2.set_title(f"success {100 * sum(t.reward == 1.0 for t in trajectories) / len(trajectories):.1f}%")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
