"""The guest's ``ast.literal_eval`` (envs_wasm/guest/literal.py) gives the original's value or
exception for every text: checked on generated and mutated texts with this interpreter, and
inside a sandbox against the guest's own original (a newer CPython, whose parser refuses
shallower nesting)."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import json
import random
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import codegym
import pytest

GUEST = Path(__file__).resolve().parents[1] / "envs_wasm" / "guest"
_SURROGATE = re.compile("[\ud800-\udfff]")
_ADDRESS = re.compile(" at 0x[0-9a-f]+")  # "<ast.Name object at 0x7f...>" in error messages

# Characters a mutation inserts: JSON's and Python's syntax, the letters of the names they
# spell differently, whitespace, escapes, a control character and non-ASCII.
_ALPHABET = "[]{}\",:0123456789-+.eEjJ \t\n\r\x0c\\/truefalsnNIiy'()#_x\x00\x01é\u2028"
_STRINGS = ["", "a", "true", "null", "x y", "ünï", "a\\b", 'q"q', "tab\t", "NaN", "'", "\ud83d", "😀"]
_FLOATS = [0.0, -0.0, 1.5, -2.25e-7, 1e300, 5e-324, 0.1, float("inf"), float("nan"), 123456789.0]
_INTS = [0, 1, -7, 10**20, -(10**30), 2**63]


def guest_module(name: str) -> ModuleType:
    """A fresh copy of the guest's module `name` (its definitions only: nothing is installed)."""
    spec = importlib.util.spec_from_file_location(f"codegym_guest_{name}", GUEST / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def literal() -> ModuleType:
    return guest_module("literal")


def _value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return rng.choice(_INTS + [rng.randrange(-1000, 1000)])
    if kind == 1:
        return rng.choice(_FLOATS + [rng.uniform(-1e6, 1e6)])
    if kind == 2:
        return rng.choice(_STRINGS)
    if kind == 3:
        return rng.choice([True, False, None])
    if kind in (4, 5):
        return rng.choice(_INTS + _STRINGS)
    items = [_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == 6:
        return items
    if kind == 7:
        return {str(rng.choice(_STRINGS + _INTS)): item for item in items}
    return tuple(items)


def _renderings(value: Any, rng: random.Random) -> list[str]:
    plain = json.loads(json.dumps(value))  # tuples become lists
    texts = [
        json.dumps(value),
        json.dumps(value, ensure_ascii=False),
        json.dumps(value, indent=rng.choice([None, 1, "\t"]), separators=rng.choice([None, (",", ":")])),
        " \t" + json.dumps([value, plain]),
        repr(value),
    ]
    return texts


def _mutate(text: str, rng: random.Random) -> str:
    for _ in range(rng.randrange(1, 3)):
        i = rng.randrange(len(text) + 1)
        op = rng.randrange(3)
        if op == 0:
            text = text[:i] + rng.choice(_ALPHABET) + text[i:]
        elif op == 1:
            text = text[:i] + text[i + 1 :]
        else:
            text = text[:i] + rng.choice(_ALPHABET) + text[i + 1 :]
    return text


def _nested(opening: str, inner: str, closing: str, depth: int) -> str:
    return opening * depth + inner + closing * depth


EDGES = [
    '{"nums": [1, 2, 3]}',
    "true",
    "[true]",
    '{"a": null}',
    "[NaN]",
    "[Infinity]",
    "[-Infinity]",
    "[1e400]",
    "[-0]",
    "[-0.0]",
    "[1.0]",
    "[1]",
    '["\\ud83d\\ude00"]',
    '["\\/"]',
    '["\\u00e9"]',
    '{"a": 1, "a": 2}',
    "{1: 2}",
    "(1, 2)",
    "{1, 2}",
    "[1,]",
    " \t[1]",
    "\n[1]",
    "[1]\n",
    "[1]\r",
    "[1,\r2]",
    "[1,\n2]",
    '["a\x01"]',
    "[\x0c1]",
    "[1 2]",
    "[01]",
    "[1_000]",
    "[.5]",
    "[+1]",
    "[- 1]",
    '["é"]',
    "[" + "1" * 5000 + "]",
    "[]",
    "{}",
    "",
    " ",
    "[",
    "]",
    '{"a"}',
]
EDGES += [
    _nested(opening, inner, closing, depth)
    for opening, closing in [("[", "]"), ('{"a": ', "}"), ('[{"k": ', "}]"), ("[ 1, ", "]")]
    for inner in ["1", "-1.5e-3", '"s"', "{}", "[]"]
    for depth in [49, 50, 98, 99, 100, 101, 130, 140, 300, 5000]
]


def _texts(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    texts = list(EDGES)
    while len(texts) < n:
        rendered = _renderings(_value(rng), rng)
        texts += rendered
        texts += [_mutate(t, rng) for t in rendered for _ in range(2)]
    return texts


def _typed(value: Any) -> Any:
    """A value with every type spelled out (``1 == 1.0 == True`` and ``0.0 == -0.0``)."""
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_typed(v) for v in value])
    if isinstance(value, dict):
        return ("dict", [(_typed(k), _typed(v)) for k, v in value.items()])
    if isinstance(value, (set, frozenset)):
        return (type(value).__name__, sorted(repr(_typed(v)) for v in value))
    return (type(value).__name__, repr(value))


def _outcome(parse: Any, text: Any) -> Any:
    try:
        return ("value", _typed(parse(text)))
    except Exception as error:
        return ("error", type(error).__name__, _ADDRESS.sub("", str(error)))


# The original warns about invalid escapes such as "\\_" in mutated texts; the fast path never
# sees a backslash.
@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::SyntaxWarning")
def test_same_value_or_exception_as_the_original(literal: ModuleType) -> None:
    texts = _texts(0, 6000)
    for text in texts:
        assert _outcome(literal.literal_eval, text) == _outcome(ast.literal_eval, text), text


def test_json_options_take_the_fast_path_and_others_the_original(
    literal: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    def original(node_or_string: Any) -> Any:
        raise AssertionError("the original parser ran")

    monkeypatch.setattr(literal, "_original", original)
    assert literal.literal_eval(' \t{"nums": [1, -2.5, "x"], "k": {"a": []}}') == {
        "nums": [1, -2.5, "x"],
        "k": {"a": []},
    }
    assert literal.literal_eval("[" * 99 + "]" * 99) == json.loads("[" * 99 + "]" * 99)
    for text in ["(1, 2)", "[true]", '["\\/"]', "[NaN]", "[" * 100 + "]" * 100, "[1]\r", '["é"]']:
        with pytest.raises(AssertionError, match="original parser"):
            literal.literal_eval(text)

    class Text(str):
        def lstrip(self, chars: str | None = None) -> str:
            raise AssertionError("a str subclass's method ran")

    with pytest.raises(AssertionError, match="original parser"):
        literal.literal_eval(Text("[1]"))
    with pytest.raises(AssertionError, match="original parser"):
        literal.literal_eval(ast.parse("[1]", mode="eval"))


def assert_guest_agrees(
    function: str, files: tuple[str, str], texts: list[str], helpers: tuple[Any, ...] = ()
) -> None:
    """Inside sandboxes, `function` as the guest installed it (such as ``ast.literal_eval``)
    gives its ``__wrapped__`` original's outcome for every text (UTF-8 texts only: a step's
    action must be). ``files`` are how the two functions' source file names end; ``helpers``
    are more functions put into the env, the last of them used instead of `_outcome`."""
    compare = helpers[-1].__name__ if helpers else "_outcome"
    module = function.split(".")[0]
    source = (
        f"""
from __future__ import annotations

import ast
import {module}
import re

_ADDRESS = re.compile({_ADDRESS.pattern!r})

"""
        + "\n\n".join(inspect.getsource(f) for f in (_typed, _outcome, *helpers))
        + f"""

class CompareEnv:
    step_count = 0

    @staticmethod
    def from_env_str(env_str):
        options = ast.literal_eval(env_str.split("@", 1)[1])
        assert options == {{"n": [1, 2]}}, options
        return CompareEnv()

    def step(self, action):
        if action == "installed?":
            return f"{{{function}.__code__.co_filename}} {{{function}.__wrapped__.__code__.co_filename}}"
        fast = {compare}({function}, action)
        original = {compare}({function}.__wrapped__, action)
        return "same" if fast == original else f"differ: {{fast!r}} != {{original!r}}"
"""
    )
    texts = [t for t in texts if t.isascii() or not _SURROGATE.search(t)]
    n = 32
    specs = [codegym.EnvSpec(source, 'CompareEnv@{"n": [1, 2]}', seed=i) for i in range(n)]
    with codegym.EnvPool(specs) as pool:
        pool.reset().raise_for_error()
        installed = pool.step(["installed?"] * n)
        installed.raise_for_error()
        fast_file, original_file = installed.obs[0].split()
        assert fast_file.endswith(files[0]) and original_file.endswith(files[1]), installed.obs[0]
        texts += [""] * (-len(texts) % n)
        for start in range(0, len(texts), n):
            batch = texts[start : start + n]
            out = pool.step(batch)
            out.raise_for_error()
            differ = [(text, obs) for text, obs in zip(batch, out.obs, strict=True) if obs != "same"]
            assert not differ, differ[:3]


def test_the_guest_parses_as_its_own_original() -> None:
    assert_guest_agrees("ast.literal_eval", ("literal.py", "ast.py"), _texts(1, 3000))
