"""The prompts of the synthesis stages (our own wording) and the parsers of their answers.

Every prompt's last user message starts with ``Problem id: ...`` and ``Request: ...`` lines (and
``Environment class: ...`` after the env exists): they tell a reader of the cache what a call
was for, and they are how :class:`~codegym.synth.llm.RecordedLLM` finds a recorded answer.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .. import builtin
from ..tools import Tool, render_text

__all__ = [
    "ParseError",
    "configs_messages",
    "generate_messages",
    "parse_configs",
    "parse_generation",
    "parse_solver",
    "solvers_messages",
]

Messages = list[dict[str, str]]

# The worked example every generate prompt shows: one env of the bundled suite.
EXAMPLE_STEM = "cg0011__DaysBetweenDatesEnv"
EXAMPLE_PROBLEM = (
    "Given two dates as strings YYYY-MM-DD, return the number of days between them.\n"
    "Reference solution:\n"
    "from datetime import date\n"
    "def days_between(a, b):\n"
    "    return abs(date.fromisoformat(a).toordinal() - date.fromisoformat(b).toordinal())"
)

ENV_CONTRACT = """\
You turn a coding problem into an interactive environment for training agents that solve tasks \
by calling tools. The agent never sees the input directly: it calls tools, one per turn, and \
submits an answer.

Write one Python module that defines the environment class. The contract:
- `import gymnasium` and subclass `gymnasium.Env`; only the Python standard library is available \
(no files, network or subprocesses).
- `@staticmethod from_env_str(env_str)`: `env_str` is `"ClassName@{options}"` where options is a \
dict literal with the task data; return an instance, or None when the prefix is not the class name.
- `reset(options)` stores the task data and sets `self.step_count = 0`, `self._done = False`, \
`self._reward = 0`.
- Properties `finished` (the episode ended) and `reward` (1.0 after a correct answer, else 0.0).
- `step(action)`: `action` is a JSON string `{"name": ToolName, "parameters": {...}}`; increment \
`self.step_count`, dispatch through `self.func_mapping` (a dict literal from tool names) and \
return `(True, observation_string)`. Bad actions give an observation starting with `Error:`, \
never an exception.
- Tools are methods named in CamelCase: `Observe()` shows the task data, a few small helpers each \
do one atomic step of the reference solution, and `Done(answer)` checks the answer against \
`get_ref_answer()`, sets the reward and ends the episode. Every tool has a docstring with a \
one-line description, an `Args:` section (`name (type): meaning`) when it takes arguments, and \
a `Returns:` section.
- `get_ref_answer()` computes the correct answer directly from the task data.
- `solve()` plays the task using only `self.step(...)` with JSON actions, submits with Done and \
returns Done's observation.
- End the module with an `if __name__ == "__main__":` block that builds the env from two or \
three example task strings with `from_env_str("ClassName@{...}")` and calls `solve()`.

Answer with the task statement the agent will read between <task> and </task>, then the whole \
module between <env> and </env>."""

CONFIGS_INSTRUCTIONS = """\
Propose task configurations for the environment below, at several difficulty levels: easy \
(tiny inputs and edge cases), medium and hard (inputs large enough that solving takes tens to \
a few hundred tool calls). Each configuration is the options dict the environment's \
`from_env_str` reads. Answer with a JSON list between <configs> and </configs>, each item \
`{"level": "easy" | "medium" | "hard", "options": {...}}`; two or three items per level."""

SOLVERS_INSTRUCTIONS = """\
Write a Python function `solve(env)` that solves any task of the environment below using only \
its tools. `env` has one method: `env.step(action)`, where `action` is a JSON string (or a \
dict) `{"name": ToolName, "parameters": {...}}`; it returns the tool's output as a string. The \
function cannot see the environment's data or code: it must read the input with the tools, \
do the work with the helper tools (not by computing the answer itself), and finish by \
calling the submit tool. It must be deterministic. Put imports inside the function or above \
it. Answer with the code between <solver> and </solver>."""


class ParseError(ValueError):
    """A model answer that lacks the requested block; ``reason`` is a short rejection code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _header(question_id: str, request: str, env_name: str | None = None) -> str:
    lines = [f"Problem id: {question_id}", f"Request: {request}"]
    if env_name:
        lines.append(f"Environment class: {env_name}")
    return "\n".join(lines) + "\n\n"


def generate_messages(question_id: str, question: str, solution: str, tests: Any = None) -> Messages:
    """The generate prompt: the env contract, one worked example, the problem."""
    example = builtin.sources()[EXAMPLE_STEM]
    example_task = builtin.description(example, EXAMPLE_STEM.split("__", 1)[1])
    tests_text = f"\nTests:\n{json.dumps(tests, ensure_ascii=False)[:4000]}\n" if tests else ""
    user = (
        _header(question_id, "generate")
        + "Example problem:\n"
        + EXAMPLE_PROBLEM
        + f"\n\nExample answer:\n<task>{example_task}</task>\n<env>\n{example}</env>\n\n"
        + f"Problem:\n{question.strip()}\n\nReference solution:\n{solution.strip()}\n{tests_text}"
    )
    return [{"role": "system", "content": ENV_CONTRACT}, {"role": "user", "content": user}]


def configs_messages(question_id: str, env_name: str, description: str, source: str) -> Messages:
    """The configs prompt: the env's task statement and source."""
    user = _header(question_id, "configs", env_name) + f"Task:\n{description}\n\nEnvironment:\n{source}"
    return [{"role": "system", "content": CONFIGS_INSTRUCTIONS}, {"role": "user", "content": user}]


def solvers_messages(
    question_id: str, env_name: str, description: str, tools: list[Tool], example: str
) -> Messages:
    """The solvers prompt: the task statement, the tool docs and one task string (never the
    env's source: a solver must work from the tools alone)."""
    user = (
        _header(question_id, "solvers", env_name)
        + f"Task:\n{description}\n\nTools:\n{render_text(tools)}\n\nAn example task: {example}"
    )
    return [{"role": "system", "content": SOLVERS_INSTRUCTIONS}, {"role": "user", "content": user}]


def _block(text: str, tag: str) -> str | None:
    match = re.search(rf"<{tag}>(.*?)</{tag}>", text, re.S)
    return match.group(1) if match else None


def _strip_fence(code: str) -> str:
    """Code without a surrounding Markdown fence."""
    match = re.fullmatch(r"\s*```[\w+-]*\n(.*?)```\s*", code, re.S)
    return (match.group(1) if match else code).strip("\n") + "\n"


def parse_generation(text: str) -> tuple[str, str]:
    """``(task statement, env source)`` from a generate answer."""
    task, env = _block(text, "task"), _block(text, "env")
    if env is None or not env.strip():
        raise ParseError("unparsable", "no <env>...</env> block in the answer")
    if task is None or not task.strip():
        raise ParseError("unparsable", "no <task>...</task> block in the answer")
    return " ".join(task.split()), _strip_fence(env)


def parse_configs(text: str) -> list[tuple[str, Any]]:
    """``(level, options)`` pairs from a configs answer (options are not validated here)."""
    block = _block(text, "configs")
    if block is None:
        raise ParseError("no_configs", "no <configs>...</configs> block in the answer")
    try:
        items = json.loads(_strip_fence(block))
    except ValueError as e:
        raise ParseError("no_configs", f"the <configs> block is not JSON: {e}") from None
    if not isinstance(items, list) or not items:
        raise ParseError("no_configs", "the <configs> block is not a non-empty JSON list")
    out = []
    for item in items:
        if isinstance(item, dict) and "options" in item:
            out.append((str(item.get("level", "")), item["options"]))
        else:
            out.append(("", item))
    return out


def parse_solver(text: str) -> str:
    """The solver source from a solvers answer."""
    block = _block(text, "solver")
    if block is None or not block.strip():
        raise ParseError("unparsable", "no <solver>...</solver> block in the answer")
    return _strip_fence(block)
