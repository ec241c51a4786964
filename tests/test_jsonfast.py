"""The guest's ``json.loads`` and ``json.dumps`` (envs_wasm/guest/jsonfast.py) give the
original's value or exception for every call: checked on generated and mutated texts and
values with this interpreter, and inside a sandbox against the guest's own originals."""

from __future__ import annotations

import decimal
import enum
import json
import json.decoder
import random
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from .test_literal import _outcome, _texts, _value, assert_guest_agrees, guest_module


def _result(loads: Any, text: Any) -> Any:
    """`_outcome`, except that a RecursionError's message is left out: where nesting runs out
    of stack depends on how deep the caller already is, which a wrapper changes by a frame."""
    outcome = _outcome(loads, text)
    return outcome[:2] if outcome[:2] == ("error", "RecursionError") else outcome


# Texts around the document that the fast path must hand to the original.
EDGES = ["\ufeff[1]", "[1] ", " [1]", "\n{}\n", "[1]\t", "[1]x", "[1][2]", "1", "-0", '"s"', "nul"]


@pytest.fixture
def jsonfast() -> Iterator[ModuleType]:
    module = guest_module("jsonfast")
    yield module
    assert json.loads is module._original_loads  # nothing here installed it


def test_same_value_or_exception_as_the_original(jsonfast: ModuleType) -> None:
    for text in _texts(2, 6000) + EDGES:
        assert _result(jsonfast.loads, text) == _result(json.loads, text), text


def test_other_arguments_go_to_the_original(jsonfast: ModuleType) -> None:
    class Text(str):
        def startswith(self, *args: Any) -> bool:
            return True  # the original asks a str subclass whether it starts with a BOM

    calls: list[tuple[Any, dict[str, Any]]] = [
        (b'{"a": [1, 2.5]}', {}),
        (bytearray(b"[1]"), {}),
        (Text("[1]"), {}),
        (None, {}),
        ("[1.5]", {"parse_float": decimal.Decimal}),
        ("[1]", {"parse_int": float}),
        ("[NaN]", {"parse_constant": str}),
        ('{"a": 1}', {"object_hook": lambda d: sorted(d)}),
        ('{"a": 1, "a": 2}', {"object_pairs_hook": list}),
        ("[1]", {"cls": json.JSONDecoder}),
        ("[1]", {"strict": False}),
        ("[1]", {"no_such_argument": 1}),
    ]
    for s, kw in calls:
        fast = _result(lambda t, kw=kw: jsonfast.loads(t, **kw), s)
        assert fast == _result(lambda t, kw=kw: json.loads(t, **kw), s), (s, kw, fast)


def test_plain_calls_take_the_fast_path_and_others_the_original(
    jsonfast: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    def original(*args: Any, **kw: Any) -> Any:
        raise AssertionError("the original ran")

    monkeypatch.setattr(jsonfast, "_original_loads", original)
    assert jsonfast.loads('{"name": "Observe", "parameters": {"v": [1, -2.5e3, "é"]}}') == {
        "name": "Observe",
        "parameters": {"v": [1, -2500.0, "é"]},
    }
    for text in ["[1] ", " [1]", "\ufeff[1]", "[1", "", "[1]x"]:
        with pytest.raises(AssertionError, match="the original ran"):
            jsonfast.loads(text)
    with pytest.raises(AssertionError, match="the original ran"):
        jsonfast.loads(b"[1]")
    with pytest.raises(AssertionError, match="the original ran"):
        jsonfast.loads("[1]", parse_int=float)


def test_a_changed_default_decoder_is_respected(
    jsonfast: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the original would look up at call time and an env could change: the module's
    default decoder, its class's methods, an attribute set on it."""
    monkeypatch.setattr(json.decoder.JSONDecoder, "decode", lambda self, s: "class method")
    assert jsonfast.loads("[1]") == "class method"
    monkeypatch.undo()
    monkeypatch.setattr(json, "_default_decoder", json.JSONDecoder(parse_int=str))
    assert jsonfast.loads("[1]") == ["1"]
    monkeypatch.undo()
    monkeypatch.setattr(json._default_decoder, "decode", lambda s: "instance attribute", raising=False)
    assert jsonfast.loads("[1]") == "instance attribute"
    monkeypatch.undo()
    assert jsonfast.loads("[1]") == [1]


def test_the_guest_loads_as_its_own_original() -> None:
    assert_guest_agrees(
        "json.loads", ("jsonfast.py", "json/__init__.py"), _texts(3, 3000) + EDGES, (_result,)
    )


def _dumped(dumps: Any, text: str) -> Any:
    """`_result` of dumping the value a text evaluates to (texts that do not evaluate give the
    same error either way)."""
    return _result(lambda t: dumps(eval(t)), text)


class Color(enum.IntEnum):
    RED = 1


class Items(dict):  # type: ignore[type-arg]
    """A dict whose items() calls dumps again while the outer call is encoding it."""

    def items(self) -> Any:
        return [(json.dumps([1, {"in": 2}]), v) for _, v in super().items()]


def _values(seed: int, n: int) -> list[Any]:
    rng = random.Random(seed)
    values: list[Any] = [_value(rng) for _ in range(n)]
    loop: list[Any] = [1]
    loop.append(loop)
    values += [
        loop,
        {"a": loop},
        {1: "i", 2.5: "f", False: "b", None: "n"},
        {(1, 2): "tuple key"},
        {"k": object()},
        [b"bytes"],
        {1, 2},
        "é\u2028\ud83d",
        type("S", (str,), {})("sub"),
        Color.RED,
        [float("nan"), float("inf"), -float("inf"), -0.0, 1e300],
        Items(a=1),
        [[[[]]]],
        [{"x": [1] * 50}] * 3,
    ]
    return values


def test_dumps_gives_the_original_value_or_exception(jsonfast: ModuleType) -> None:
    for value in _values(4, 3000):
        fast = _result(jsonfast.dumps, value)
        assert fast == _result(json.dumps, value), (value, fast)
    deep: list[Any] = []
    for _ in range(5000):
        deep = [deep]
    assert _result(jsonfast.dumps, deep) == _result(json.dumps, deep)
    # An error leaves no marker behind: the same objects encode on the next call.
    outer: list[Any] = [[1], [object()]]
    with pytest.raises(TypeError):
        jsonfast.dumps(outer)
    outer[1] = [2]
    assert jsonfast.dumps(outer) == "[[1], [2]]"


def test_a_dumps_call_made_while_encoding_has_markers_of_its_own(jsonfast: ModuleType) -> None:
    """A dict subclass's items() encodes the list it sits in: no circular reference for the
    original, whose every call has its own markers."""
    for dumps in (jsonfast.dumps, json.dumps):
        outer: list[Any] = []

        class Reenter(dict):  # type: ignore[type-arg]
            busy = False
            nested = ""

            def items(self) -> Any:
                if not Reenter.busy:
                    Reenter.busy = True
                    try:
                        Reenter.nested = dumps(outer)  # noqa: B023 (this loop's dumps)
                    finally:
                        Reenter.busy = False
                return super().items()

        outer.append(Reenter(k=1))
        assert dumps(outer) == '[{"k": 1}]'
        assert Reenter.nested == '[{"k": 1}]'


def test_dumps_with_other_arguments_goes_to_the_original(jsonfast: ModuleType) -> None:
    value = {"b": [1.5, float("nan")], "a": "é", 3: None}
    for kw in [
        {"sort_keys": False},
        {"indent": 2},
        {"separators": (",", ":")},
        {"ensure_ascii": False},
        {"allow_nan": False},
        {"check_circular": False},
        {"skipkeys": True},
        {"default": str},
        {"cls": json.JSONEncoder},
        {"no_such_argument": 1},
        {"ensure_ascii": 1, "skipkeys": 0},
    ]:
        fast = _result(lambda v, kw=kw: jsonfast.dumps(v, **kw), value)
        assert fast == _result(lambda v, kw=kw: json.dumps(v, **kw), value), (kw, fast)


def test_plain_dumps_take_the_fast_path(jsonfast: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    def original(*args: Any, **kw: Any) -> Any:
        raise AssertionError("the original ran")

    monkeypatch.setattr(jsonfast, "_original_dumps", original)
    assert jsonfast.dumps({"name": "PlaceTail", "parameters": {"position": 0, "value": -2.5}}) == (
        '{"name": "PlaceTail", "parameters": {"position": 0, "value": -2.5}}'
    )
    assert jsonfast.dumps("é") == '"\\u00e9"'
    with pytest.raises(AssertionError, match="the original ran"):
        jsonfast.dumps([1], indent=1)


def test_a_changed_default_encoder_is_respected(
    jsonfast: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each thing the original would look up at call time and an env could change."""
    changes: list[tuple[Any, str, Any]] = [
        (json.encoder.JSONEncoder, "item_separator", ";"),
        (json.encoder.JSONEncoder, "key_separator", "="),
        (json.encoder.JSONEncoder, "default", lambda self, o: "default"),
        (json.encoder.JSONEncoder, "encode", lambda self, o: "encode"),
        (json.encoder.JSONEncoder, "iterencode", lambda self, o, _one_shot=False: ["iterencode"]),
        (json._default_encoder, "sort_keys", True),
        (json._default_encoder, "indent", 1),
        (json, "_default_encoder", json.JSONEncoder(separators=("|", "~"))),
        (json.encoder, "c_make_encoder", None),
        (json.encoder, "encode_basestring_ascii", lambda s: "ascii"),
    ]
    value = ["x", {"b": 1, "a": object()}]
    for target, name, replacement in changes:
        monkeypatch.setattr(target, name, replacement)
        fast = _result(jsonfast.dumps, value)
        assert fast == _result(json.dumps, value), (name, fast)
        assert _result(jsonfast.dumps, "x") == _result(json.dumps, "x"), name
        monkeypatch.undo()
    assert jsonfast.dumps(["x"]) == '["x"]'


def test_the_guest_dumps_as_its_own_original() -> None:
    texts = [repr(v) for v in _values(5, 1500)] + _texts(6, 500)
    assert_guest_agrees("json.dumps", ("jsonfast.py", "json/__init__.py"), texts, (_result, _dumped))
