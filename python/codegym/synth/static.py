"""Static checks of LLM-written code, with :mod:`ast` only: nothing here executes the code.

:func:`inspect_env` finds the env class and checks the contract's members, the tools and their
docstrings, and reads the example task strings from the ``if __name__ == "__main__":`` block;
:func:`inspect_solver` checks that a solver parses and defines ``solve(env)``.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from ..errors import ConfigError
from ..tools import Tool, extract_tools

__all__ = ["EnvInfo", "Rejected", "helper_tools", "inspect_env", "inspect_solver", "pick_tool"]

DONE_PREFIXES = ("done", "submit", "answer", "finish", "final", "respond")
OBSERVE_PREFIXES = ("observe", "inspect", "view", "read", "look", "show")
REQUIRED = ("from_env_str", "step", "finished", "reward", "step_count")
_ARGS = re.compile(r"^\s*(Args|Arguments|Parameters):\s*$", re.M)
_RETURNS = re.compile(r"^\s*Returns?:\s*$", re.M)


class Rejected(Exception):
    """A candidate fails a check: ``reason`` is a short code, the message says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class EnvInfo:
    """What the static check learned about an env source."""

    env_name: str
    tools: list[Tool]
    observe: str
    done: str
    examples: list[str]


def pick_tool(tools: list[Tool], prefixes: tuple[str, ...]) -> str | None:
    """The first tool whose lower-cased name starts with one of ``prefixes``."""
    for prefix in prefixes:
        for tool in tools:
            if tool.name.lower().startswith(prefix):
                return tool.name
    return None


def helper_tools(info: EnvInfo) -> set[str]:
    """The env's tools other than its observe and submit tools."""
    return {t.name for t in info.tools} - {info.observe, info.done}


def _parse(source: str) -> ast.Module:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
        raise Rejected("syntax_error", f"{type(e).__name__}: {e}") from None


def _members(cls: ast.ClassDef, classes: dict[str, ast.ClassDef]) -> set[str]:
    """Names a class defines, assigns as ``self.x`` or inherits from classes of the module."""
    names: set[str] = set()
    for node in ast.walk(cls):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    for base in cls.bases:
        if isinstance(base, ast.Name) and base.id in classes and base.id != cls.name:
            names |= _members(classes[base.id], {k: v for k, v in classes.items() if k != cls.name})
    return names


def _examples(module: ast.Module, env_name: str) -> list[str]:
    """String constants ``"EnvName@..."`` inside the module's ``if __name__ == "__main__":``."""
    found: list[str] = []
    for node in module.body:
        if not isinstance(node, ast.If) or "__main__" not in ast.unparse(node.test):
            continue
        for sub in ast.walk(node):
            if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                if sub.value.startswith(f"{env_name}@") and sub.value not in found:
                    found.append(sub.value)
    return found


def inspect_env(source: str, max_examples: int = 4) -> EnvInfo:
    """Check an env source statically; raise :class:`Rejected` with the first problem.

    Reasons: ``syntax_error``, ``no_env_class`` (no class defines ``from_env_str``),
    ``missing_member`` (one of ``from_env_str``, ``step``, ``finished``, ``reward``,
    ``step_count``, a submit tool, an observe tool, a helper tool), ``missing_docstring`` (a
    tool without a docstring, a ``Returns:`` section, or an ``Args:`` entry per argument),
    ``no_examples`` (no ``"EnvName@{...}"`` string in the ``__main__`` block).
    """
    module = _parse(source)
    classes = {n.name: n for n in module.body if isinstance(n, ast.ClassDef)}
    env = next(
        (c for c in classes.values() if any(getattr(n, "name", "") == "from_env_str" for n in c.body)),
        None,
    )
    if env is None:
        raise Rejected("no_env_class", "no class in the module defines from_env_str")
    members = _members(env, classes)
    missing = [m for m in REQUIRED if m not in members]
    if missing:
        raise Rejected("missing_member", f"{env.name} lacks {', '.join(missing)}")
    try:
        tools = extract_tools(source, env.name)
    except ConfigError as e:  # pragma: no cover - the parse above already succeeded
        raise Rejected("syntax_error", str(e)) from None
    done = pick_tool(tools, DONE_PREFIXES)
    observe = pick_tool(tools, OBSERVE_PREFIXES)
    if done is None or observe is None:
        what = "a submit tool (Done)" if done is None else "an observe tool (Observe)"
        raise Rejected("missing_member", f"{env.name} has no {what} among {[t.name for t in tools]}")
    info = EnvInfo(env.name, tools, observe, done, _examples(module, env.name)[:max_examples])
    if not helper_tools(info):
        raise Rejected("missing_member", f"{env.name} has no tool besides {observe} and {done}")
    methods = {n.name: n for n in env.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    for tool in tools:
        fn = methods.get(tool.name)
        if fn is None:
            raise Rejected("missing_member", f"tool {tool.name} is dispatched but not a method of {env.name}")
        doc = ast.get_docstring(fn) or ""
        if not doc.strip():
            raise Rejected("missing_docstring", f"tool {tool.name} has no docstring")
        if not _RETURNS.search(doc):
            raise Rejected("missing_docstring", f"tool {tool.name}: the docstring has no Returns: section")
        undocumented = [p.name for p in tool.params if not p.description]
        if tool.params and not _ARGS.search(doc):
            raise Rejected("missing_docstring", f"tool {tool.name}: the docstring has no Args: section")
        if undocumented:
            raise Rejected(
                "missing_docstring", f"tool {tool.name}: Args: does not describe {', '.join(undocumented)}"
            )
    if not info.examples:
        raise Rejected("no_examples", f'no "{env.name}@{{...}}" example task string in the __main__ block')
    return info


def inspect_solver(source: str) -> None:
    """Raise :class:`Rejected` unless ``source`` parses and defines ``solve`` with one argument
    at its top level (``syntax_error``, ``no_solve_function``)."""
    module = _parse(source)
    for node in module.body:
        if isinstance(node, ast.FunctionDef) and node.name == "solve":
            if len(node.args.posonlyargs + node.args.args) >= 1:
                return
    raise Rejected("no_solve_function", "the solver defines no top-level solve(env)")
