"""Tool docs: an env class's tools, read from its source, rendered for prompts.

The tools of a CodeGym env are the public methods its ``step`` dispatches to: the keys of the
``self.func_mapping = {...}`` literal in the class (falling back to public methods with a
docstring when there is none). Extraction reads the source with :mod:`ast` and never runs it —
env code is untrusted and runs only inside the sandbox.

Two renderings: :func:`render_text` (the block a CodeGym system prompt shows) and
:func:`openai_tools` (JSON-schema tool definitions for chat templates that take ``tools``).
:func:`paraphrase` renames the generic tools (``Observe``/``Done``) per task so a policy does not
overfit to their names; the returned :class:`ToolNames` maps names both ways for dispatch.
"""

from __future__ import annotations

import ast
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import ConfigError

__all__ = [
    "Param",
    "Tool",
    "ToolNames",
    "extract_tools",
    "openai_tools",
    "paraphrase",
    "render_text",
]

# Methods every env has that are not tools, even when they carry a docstring.
_NOT_TOOLS = frozenset(
    {"step", "reset", "solve", "render", "close", "seed", "from_env_str", "get_ref_answer"}
)
_SECTION = re.compile(r"^\s*(Args|Arguments|Parameters|Returns?|Raises|Example Outputs?|Examples?):\s*$")
_ARG = re.compile(r"^\s*(\*{0,2}\w+)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$")
_JSON_TYPES = {
    "int": "integer",
    "integer": "integer",
    "float": "number",
    "number": "number",
    "str": "string",
    "string": "string",
    "bool": "boolean",
    "boolean": "boolean",
    "list": "array",
    "tuple": "array",
    "sequence": "array",
    "dict": "object",
    "mapping": "object",
}
# Alternatives for the generic tool names (see `paraphrase`).
OBSERVE_NAMES = ("Observe", "Inspect", "ViewTask", "ReadTask", "LookAtTask", "GetTaskData", "ShowInput")
DONE_NAMES = ("Done", "Submit", "SubmitAnswer", "Answer", "Finish", "FinalAnswer", "Respond")


@dataclass(frozen=True)
class Param:
    """One argument of a tool."""

    name: str
    type: str = ""
    description: str = ""
    required: bool = True


@dataclass(frozen=True)
class Tool:
    """One tool: its name, signature and cleaned docstring."""

    name: str
    description: str
    params: tuple[Param, ...] = ()
    returns: str = ""

    def signature(self) -> str:
        args = ", ".join(p.name + (f": {p.type}" if p.type else "") for p in self.params)
        return f"{self.name}({args})"


@dataclass(frozen=True)
class ToolNames:
    """The names a policy sees (``shown``) for the env's real tool names, and back."""

    shown: Mapping[str, str] = field(default_factory=dict)  # real -> shown

    @property
    def real(self) -> dict[str, str]:
        return {v: k for k, v in self.shown.items()}

    def to_shown(self, name: str) -> str:
        return self.shown.get(name, name)

    def to_real(self, name: str) -> str:
        return self.real.get(name, name)

    def __bool__(self) -> bool:
        return any(k != v for k, v in self.shown.items())


def extract_tools(source: str, class_name: str) -> list[Tool]:
    """The tools of class ``class_name`` in ``source``, in dispatch order.

    Raises ``codegym.errors.ConfigError`` if the source does not parse or has no such class.
    """
    try:
        module = ast.parse(source)
    except SyntaxError as e:
        raise ConfigError(f"env source does not parse: {e}") from None
    cls = next((n for n in module.body if isinstance(n, ast.ClassDef) and n.name == class_name), None)
    if cls is None:
        raise ConfigError(f"the source defines no class named {class_name!r}")
    methods = {n.name: n for n in cls.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    names = _dispatched_names(cls)
    if names is None:
        names = [
            name
            for name, fn in methods.items()
            if not name.startswith("_") and name not in _NOT_TOOLS and ast.get_docstring(fn)
        ]
    tools = []
    for name in names:
        fn = methods.get(name)
        tools.append(_tool(name, fn) if fn is not None else Tool(name, ""))
    return tools


def _dispatched_names(cls: ast.ClassDef) -> list[str] | None:
    """String keys of the first ``self.func_mapping = {...}`` dict literal in the class."""
    for node in ast.walk(cls):
        if not isinstance(node, ast.Assign) or not isinstance(node.value, ast.Dict):
            continue
        if any(isinstance(t, ast.Attribute) and t.attr == "func_mapping" for t in node.targets):
            keys = [k.value for k in node.value.keys if isinstance(k, ast.Constant)]
            return [k for k in keys if isinstance(k, str)]
    return None


def _tool(name: str, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> Tool:
    doc = ast.get_docstring(fn) or ""
    description, sections = _split_sections(doc)
    arg_docs = _arg_docs(sections.get("args", []))
    positional = fn.args.posonlyargs + fn.args.args
    defaults_from = len(positional) - len(fn.args.defaults)
    params = []
    for i, arg in enumerate(positional):
        if i == 0 and arg.arg in ("self", "cls"):
            continue
        params.append(_param(arg, arg_docs, required=i < defaults_from))
    for arg, default in zip(fn.args.kwonlyargs, fn.args.kw_defaults, strict=True):
        params.append(_param(arg, arg_docs, required=default is None))
    returns = "\n".join(sections.get("returns", [])).strip()
    return Tool(name, description, tuple(params), _dedent(returns))


def _param(arg: ast.arg, arg_docs: dict[str, tuple[str, str]], required: bool) -> Param:
    """A parameter: its type from the docstring's Args entry, else from its annotation."""
    documented_type, text = arg_docs.get(arg.arg, ("", ""))
    annotation = ast.unparse(arg.annotation) if arg.annotation is not None else ""
    return Param(arg.arg, documented_type or annotation, text, required)


def _split_sections(doc: str) -> tuple[str, dict[str, list[str]]]:
    """Description text and the lines of each section (``args``, ``returns``, ...)."""
    description: list[str] = []
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in doc.splitlines():
        header = _SECTION.match(line)
        if header:
            key = header.group(1).lower()
            key = {"arguments": "args", "parameters": "args", "return": "returns"}.get(key, key)
            current = sections.setdefault(key, [])
        elif current is None:
            description.append(line)
        else:
            current.append(line)
    return " ".join(" ".join(description).split()), sections


def _arg_docs(lines: list[str]) -> dict[str, tuple[str, str]]:
    """``name -> (type, description)`` from an Args section: entries are the lines at the
    section's first indentation; deeper lines continue the entry before them."""
    out: dict[str, tuple[str, str]] = {}
    entry_indent = next((_indent(x) for x in lines if x.strip()), 0)
    last = None
    for line in lines:
        m = _ARG.match(line)
        if m and (last is None or _indent(line) <= entry_indent):
            last = m.group(1)
            out[last] = ((m.group(2) or "").strip(), m.group(3).strip())
        elif last is not None and line.strip():
            type_, text = out[last]
            out[last] = (type_, f"{text} {line.strip()}")
    return out


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _dedent(text: str) -> str:
    return " ".join(text.split())


def render_text(tools: Iterable[Tool]) -> str:
    """The tool list as a CodeGym system prompt shows it: signature, description, arguments,
    return value; one block per tool."""
    blocks = []
    for tool in tools:
        lines = [f"- {tool.signature()}", f"    {tool.description}" if tool.description else ""]
        if tool.params:
            lines.append("    Args:")
            for p in tool.params:
                kind = f" ({p.type})" if p.type else ""
                opt = "" if p.required else " (optional)"
                lines.append(f"        {p.name}{kind}{opt}: {p.description}".rstrip())
        if tool.returns:
            lines.append(f"    Returns: {tool.returns}")
        blocks.append("\n".join(line for line in lines if line))
    return "\n".join(blocks)


def _json_type(type_: str) -> dict[str, Any]:
    base = re.split(r"[\[|,\s]", type_.strip().lower(), maxsplit=1)[0]
    if base in ("list", "tuple", "sequence"):
        inner = re.search(r"\[(\w+)", type_.lower())
        items = _JSON_TYPES.get(inner.group(1)) if inner else None
        return {"type": "array", "items": {"type": items}} if items else {"type": "array"}
    kind = _JSON_TYPES.get(base)
    return {"type": kind} if kind else {}


def openai_tools(tools: Iterable[Tool]) -> list[dict[str, Any]]:
    """OpenAI-style tool definitions (``{"type": "function", "function": {...}}``) with a JSON
    schema per tool; an argument of unknown type gets a schema that accepts any value."""
    out = []
    for tool in tools:
        properties: dict[str, Any] = {}
        for p in tool.params:
            schema = _json_type(p.type)
            if p.description:
                schema["description"] = p.description
            properties[p.name] = schema
        description = tool.description
        if tool.returns:
            description = f"{description} Returns: {tool.returns}".strip()
        out.append(
            {
                "type": "function",
                "function": {
                    "name": tool.name,
                    "description": description,
                    "parameters": {
                        "type": "object",
                        "properties": properties,
                        "required": [p.name for p in tool.params if p.required],
                    },
                },
            }
        )
    return out


def paraphrase(tools: list[Tool], seed: int) -> tuple[list[Tool], ToolNames]:
    """Rename the generic ``Observe`` and ``Done`` tools (if present) to alternatives picked by
    ``seed``; other tools keep their names. Returns the renamed tools and the name map that the
    episode runner applies to the policy's calls (shown name → real name) before stepping."""
    rng = random.Random(seed)
    taken = {t.name for t in tools}
    shown: dict[str, str] = {}
    for generic, choices in (("Observe", OBSERVE_NAMES), ("Done", DONE_NAMES)):
        if generic in taken:
            options = [c for c in choices if c == generic or c not in taken]
            shown[generic] = rng.choice(options)
    names = ToolNames(shown)
    renamed = [replace(t, name=names.to_shown(t.name)) for t in tools]
    return renamed, names
