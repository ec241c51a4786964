"""The guest's ``json.loads`` (envs_wasm/guest/jsonfast.py) gives the original's value or
exception for every call: checked on generated and mutated texts with this interpreter, and
inside a sandbox against the guest's own original."""

from __future__ import annotations

import decimal
import json
import json.decoder
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from .test_literal import _outcome, _texts, assert_guest_agrees, guest_module


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
    assert json.loads is module._original  # nothing here installed it


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

    monkeypatch.setattr(jsonfast, "_original", original)
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
