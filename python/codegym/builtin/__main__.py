"""Maintainer tool: ``python -m codegym.builtin [--check]`` runs every bundled task's oracle in
the sandbox and writes each configuration's step count to ``tasks.json`` (``--check`` only
reports differences and exits 1 if there are any)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .._core import EnvPool, EnvSpec
from . import table, tasks


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m codegym.builtin")
    parser.add_argument("--check", action="store_true", help="report stale round counts only")
    args = parser.parse_args()
    all_tasks = tasks()
    with EnvPool([EnvSpec(t.source, t.env_str) for t in all_tasks]) as pool:
        out = pool.solve()
    failed = [(t.env_str, out.error[i]) for i, t in enumerate(all_tasks) if out.reward[i] != 1.0]
    for env_str, error in failed:
        print(f"oracle fails: {env_str[:100]}: {error}", file=sys.stderr)
    data = table()
    stale = 0
    by_stem: dict[str, int] = {}
    for i, t in enumerate(all_tasks):
        stem = f"{t.code_id}__{t.env_name}"
        k = by_stem.get(stem, 0)
        by_stem[stem] = k + 1
        config = data[stem]["configs"][k]
        if config.get("solve_fc_round") != int(out.steps[i]):
            stale += 1
            config["solve_fc_round"] = int(out.steps[i])
    print(f"{len(all_tasks)} tasks, {len(failed)} oracle failures, {stale} stale round counts")
    if args.check:
        return 1 if failed or stale else 0
    if not failed:
        write(data)
    return 1 if failed else 0


def write(data: dict[str, object]) -> None:
    """tasks.json with one configuration per line (reviewable diffs)."""
    lines = ["{"]
    stems = sorted(data)
    for n, stem in enumerate(stems):
        entry = data[stem]
        assert isinstance(entry, dict)
        lines.append(f'  "{stem}": {{"split": "{entry["split"]}", "configs": [')
        configs = entry["configs"]
        for k, c in enumerate(configs):
            comma = "," if k + 1 < len(configs) else ""
            lines.append(f"    {json.dumps(c)}{comma}")
        lines.append("  ]}" + ("," if n + 1 < len(stems) else ""))
    lines.append("}")
    (Path(__file__).parent / "tasks.json").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
