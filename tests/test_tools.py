"""Tool docs are read from env source without running it, and rendered as prompt text and as
OpenAI/JSON-schema tool definitions; paraphrased names map back for dispatch."""

from __future__ import annotations

import codegym
import pytest
from codegym.errors import ConfigError
from codegym.tools import extract_tools, openai_tools, paraphrase, render_text

SOURCE = '''
import gymnasium, json
raise SystemExit("module level code must never run on the host")

class ToyEnv(gymnasium.Env):
    def __init__(self, env_str=None):
        self.func_mapping = {"Observe": self.Observe, "Pick": self.Pick, "Done": self.Done}

    def step(self, action):
        """Not a tool."""

    def Observe(self):
        r"""
        Show the task.

        Returns:
            str: the list as JSON.

        Example Output:
            "[1, 2]"
        """

    def Pick(self, i: int, items, flag=False):
        """
        Take element i of the list,
        counted from zero.

        Args:
            i (int): the index,
                zero-based.
            items (list[int]): candidates.
            flag (bool): optional switch.

        Returns:
            str: the element.
        """

    def Done(self, answer):
        """Submit.

        Args:
            answer (int): the result.
        """

    def Helper(self):
        """Public with a docstring but not dispatched: not a tool."""
'''


def test_tools_come_from_func_mapping_in_order_without_running_the_source() -> None:
    tools = extract_tools(SOURCE, "ToyEnv")
    assert [t.name for t in tools] == ["Observe", "Pick", "Done"]
    pick = tools[1]
    assert pick.description == "Take element i of the list, counted from zero."
    assert [(p.name, p.type, p.required) for p in pick.params] == [
        ("i", "int", True),
        ("items", "list[int]", True),
        ("flag", "bool", False),
    ]
    assert pick.params[0].description == "the index, zero-based."
    assert tools[0].returns == "str: the list as JSON."


def test_text_rendering_drops_self_and_example_output() -> None:
    text = render_text(extract_tools(SOURCE, "ToyEnv"))
    assert "self" not in text and "Example Output" not in text and '"[1, 2]"' not in text
    assert "- Pick(i: int, items: list[int], flag: bool)" in text
    assert "flag (bool) (optional): optional switch." in text


def test_openai_schema_types_and_required() -> None:
    (observe, pick, done) = openai_tools(extract_tools(SOURCE, "ToyEnv"))
    assert observe["type"] == "function"
    assert observe["function"]["parameters"] == {"type": "object", "properties": {}, "required": []}
    params = pick["function"]["parameters"]
    assert params["properties"]["i"] == {"type": "integer", "description": "the index, zero-based."}
    assert params["properties"]["items"]["type"] == "array"
    assert params["properties"]["items"]["items"] == {"type": "integer"}
    assert params["properties"]["flag"]["type"] == "boolean"
    assert params["required"] == ["i", "items"]
    # an argument of unknown type accepts any JSON value
    assert "type" not in extract_and_schema("def Done(self, answer):\n        pass")


def extract_and_schema(method: str) -> dict[str, object]:
    src = f"class E:\n    def __init__(self):\n        self.func_mapping = {{'Done': 1}}\n    {method}\n"
    return dict(openai_tools(extract_tools(src, "E"))[0]["function"]["parameters"]["properties"]["answer"])


def test_every_builtin_env_has_documented_tools_with_observe_and_done() -> None:
    data = codegym.datasets.load("builtin")
    seen = set()
    for inst in data:
        if inst.stem in seen:
            continue
        seen.add(inst.stem)
        tools = data.tools(inst)
        names = [t.name for t in tools]
        assert "Observe" in names and "Done" in names, inst.stem
        assert all(t.description for t in tools), inst.stem
        assert 3 <= len(tools) <= 8, inst.stem
    assert len(seen) >= 40


def test_paraphrase_is_seeded_and_reversible() -> None:
    tools = extract_tools(SOURCE, "ToyEnv")
    renamed, names = paraphrase(tools, seed=3)
    again, _ = paraphrase(tools, seed=3)
    assert [t.name for t in renamed] == [t.name for t in again]
    assert renamed[1].name == "Pick"  # only the generic names change
    for real, shown in zip(tools, renamed, strict=True):
        assert names.to_real(shown.name) == real.name
        assert names.to_shown(real.name) == shown.name
    variants = {tuple(t.name for t in paraphrase(tools, seed=s)[0]) for s in range(20)}
    assert len(variants) > 5


def test_bad_sources_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="does not parse"):
        extract_tools("def (", "X")
    with pytest.raises(ConfigError, match="no class named"):
        extract_tools("class A: pass", "B")
