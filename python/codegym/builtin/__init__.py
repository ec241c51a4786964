"""The environments bundled with codegym: ``envs/{code_id}__{EnvName}.py`` plus ``tasks.json``.

``tasks.json`` maps each env file's stem to its ``split`` (``"train"``, or ``"test"`` for the
held-out envs: every fifth code id) and its task configurations: ``options`` (the dict passed to
the env; the task string is ``f"{EnvName}@{json.dumps(options)}"``) and ``solve_fc_round``, the
number of tool calls the env's ``solve()`` oracle makes. ``python -m codegym.builtin`` re-measures
the round counts in the sandbox after an env changes. Use :func:`codegym.datasets.load`
(``"builtin"``) for the suite as task instances with prompts.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["Task", "tasks", "sources", "description"]


@dataclass(frozen=True)
class Task:
    """One task configuration of a bundled env."""

    code_id: str
    env_name: str
    options: str
    source: str
    solve_fc_round: int | None
    split: str

    @property
    def env_str(self) -> str:
        return f"{self.env_name}@{self.options}"

    @property
    def description(self) -> str:
        return description(self.source, self.env_name)


@cache
def sources() -> dict[str, str]:
    """Env file stem (``{code_id}__{EnvName}``) → Python source, for every bundled env."""
    root = resources.files(__package__) / "envs"
    return {
        entry.name.removesuffix(".py"): entry.read_text(encoding="utf-8")
        for entry in sorted(root.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".py")
    }


def table() -> dict[str, Any]:
    """``tasks.json`` as stored."""
    return dict(json.loads((resources.files(__package__) / "tasks.json").read_text(encoding="utf-8")))


def tasks() -> list[Task]:
    """Every task configuration of every bundled env, in a stable order."""
    configs = table()
    out = []
    for stem, source in sources().items():
        code_id, env_name = stem.split("__", 1)
        entry = configs[stem]
        for config in entry["configs"]:
            options = json.dumps(config["options"])
            out.append(Task(code_id, env_name, options, source, config.get("solve_fc_round"), entry["split"]))
    return out


@cache
def description(source: str, class_name: str) -> str:
    """The env class's docstring (its task statement), read without running the source."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            return " ".join((ast.get_docstring(node) or "").split())
    return ""
