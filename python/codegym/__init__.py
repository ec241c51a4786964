"""codegym: sandboxed, batched CodeGym environments for RL on tool-using LLM agents.

>>> import codegym
>>> spec = codegym.EnvSpec(source, "MaxEnv@{'nums': [3, 9, 2]}")
>>> with codegym.EnvPool([spec] * 64) as pool:
...     pool.reset()
...     out = pool.step(['{"name": "Observe", "parameters": {}}'] * 64)

Task suite and agent protocol: ``codegym.datasets.load("builtin")`` (task instances with
prompts), ``codegym.tools`` (tool docs), ``codegym.prompts``, ``codegym.episodes``
(``EpisodeRunner``, ``OraclePolicy``).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from . import builtin, datasets, episodes, errors, prompts, tools
from ._core import (
    BatchResult,
    EnvPool,
    EnvSpec,
    Limits,
    ParsedActions,
    SolveResult,
    cache_dir,
    parse_actions,
    release_idle_sandboxes,
)

try:
    __version__ = version("codegym")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0+unknown"

__all__ = [
    "BatchResult",
    "EnvPool",
    "EnvSpec",
    "Limits",
    "ParsedActions",
    "SolveResult",
    "cache_dir",
    "parse_actions",
    "release_idle_sandboxes",
    "builtin",
    "datasets",
    "episodes",
    "errors",
    "prompts",
    "tools",
    "__version__",
]
