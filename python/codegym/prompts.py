"""What the policy reads: the system prompt with the tool docs, the user message with rules and
the task, observation messages, and a tool call written the way a model writes it.

The wording is ours. The call syntax the prompt teaches is CodeGym's
``<|FunctionCallBegin|>[{"name": ..., "parameters": {...}}]<|FunctionCallEnd|>``; models trained
with chat templates that take ``tools`` use :func:`codegym.tools.openai_tools` instead and write
Hermes ``<tool_call>`` blocks, which the parser accepts as well.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import msgspec

from .tools import Tool, render_text

__all__ = [
    "CALL_BEGIN",
    "CALL_END",
    "Message",
    "build_prompt",
    "default_max_rounds",
    "render_call",
    "render_observation",
]


class Message(msgspec.Struct, frozen=True):
    """One chat message."""

    role: str
    content: str


CALL_BEGIN = "<|FunctionCallBegin|>"
CALL_END = "<|FunctionCallEnd|>"

SYSTEM_TEMPLATE = """\
You solve tasks by calling the tools of an interactive environment, one call per turn.
To call a tool, write the call as a JSON list holding one object between the markers, for example:
{begin}[{{"name": "ToolName", "parameters": {{"arg": 1}}}}]{end}
The tool's output comes back in the next message. Think before you call if it helps, but every \
reply must end with exactly one call.

Tools:
{tools}"""

USER_TEMPLATE = """\
Task: {description}

Rules:
- Call exactly one tool per turn; a reply without a valid call is answered with an error and \
still uses a turn.
- You have at most {max_rounds} turns.
- Submitting an answer with {done} ends the episode; the reward is 1 if the answer is correct, \
otherwise 0.
- Only the tools' outputs tell you about the task data: start with {observe}."""


def default_max_rounds(solve_fc_round: int | None) -> int:
    """Turn budget for a task the oracle solves in ``solve_fc_round`` calls: twice that, and at
    least 16 (64 when unknown)."""
    if solve_fc_round is None:
        return 64
    return max(16, 2 * solve_fc_round)


def _pick(tools: Sequence[Tool], prefixes: tuple[str, ...], fallback: str) -> str:
    for prefix in prefixes:
        for tool in tools:
            if tool.name.lower().startswith(prefix):
                return tool.name
    return fallback


def build_prompt(tools: Sequence[Tool], description: str, max_rounds: int) -> list[Message]:
    """The system and user messages that start an episode."""
    done = _pick(tools, ("done", "submit", "answer", "finish", "final", "respond"), tools[-1].name)
    observe = _pick(tools, ("observe", "inspect", "view", "read", "look", "get", "show"), tools[0].name)
    system = SYSTEM_TEMPLATE.format(begin=CALL_BEGIN, end=CALL_END, tools=render_text(tools))
    user = USER_TEMPLATE.format(
        description=" ".join(description.split()) or "Solve the environment's task.",
        max_rounds=max_rounds,
        done=done,
        observe=observe,
    )
    return [Message("system", system), Message("user", user)]


def render_call(action: str | dict[str, Any], call_format: str = "codegym") -> str:
    """A tool call as model text: ``action`` is the env action JSON (``{"name", "parameters"}``).

    ``call_format`` is ``"codegym"`` (``<|FunctionCallBegin|>[...]<|FunctionCallEnd|>``),
    ``"hermes"`` (``<tool_call>{"name", "arguments"}</tool_call>``) or ``"openai"`` (a
    ``tool_calls`` JSON list)."""
    call = json.loads(action) if isinstance(action, str) else action
    name, params = call.get("name"), call.get("parameters", {})
    if call_format == "codegym":
        return CALL_BEGIN + json.dumps([{"name": name, "parameters": params}]) + CALL_END
    if call_format == "hermes":
        return "<tool_call>\n" + json.dumps({"name": name, "arguments": params}) + "\n</tool_call>"
    if call_format == "openai":
        fn = {"name": name, "arguments": json.dumps(params)}
        return json.dumps([{"type": "function", "function": fn}])
    raise ValueError(f"unknown call format {call_format!r}")


def render_observation(text: str, role: str = "tool") -> Message:
    """The message that carries a tool's output (or a parse error) back to the policy."""
    return Message(role, text)
