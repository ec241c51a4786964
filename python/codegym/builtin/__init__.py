"""The environments bundled with codegym: ``envs/{code_id}__{EnvName}.py`` plus ``tasks.json``.

``tasks.json`` maps each env file's stem to its task configurations (option dicts); the task
string of a configuration ``o`` is ``f"{EnvName}@{json.dumps(o)}"``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["Task", "tasks", "sources"]


@dataclass(frozen=True)
class Task:
    """One task configuration of a bundled env."""

    code_id: str
    env_name: str
    env_str: str
    source: str


@cache
def sources() -> dict[str, str]:
    """Env file stem (``{code_id}__{EnvName}``) → Python source, for every bundled env."""
    root = resources.files(__package__) / "envs"
    return {
        entry.name.removesuffix(".py"): entry.read_text(encoding="utf-8")
        for entry in sorted(root.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".py")
    }


def tasks() -> list[Task]:
    """Every task configuration of every bundled env, in a stable order."""
    configs = json.loads((resources.files(__package__) / "tasks.json").read_text(encoding="utf-8"))
    out = []
    for stem, source in sources().items():
        code_id, env_name = stem.split("__", 1)
        for options in configs[stem]:
            out.append(Task(code_id, env_name, f"{env_name}@{json.dumps(options)}", source))
    return out
