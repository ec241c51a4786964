"""codegym.parse_actions: model text in every supported tool-call format becomes the env
action; every malformed shape becomes an error message for the agent, never an exception."""

from __future__ import annotations

import json

import codegym
import pytest
from codegym import errors

from .conftest import source

OBSERVE = '{"name":"Observe","parameters":{}}'


@pytest.mark.parametrize(
    "text",
    [
        '<|FunctionCallBegin|>[{"name": "Observe", "parameters": {}}]<|FunctionCallEnd|>',
        'Let me look.\n<|FunctionCallBegin|>[{"name": "Observe", "parameters": {}}]<|FunctionCallEnd|>\nok',
        '<tool_call>\n{"name": "Observe", "arguments": {}}\n</tool_call>',
        '<tool_call>{"name": "Observe", "arguments": "{}"}</tool_call>',
        '{"tool_calls": [{"type": "function", "function": {"name": "Observe", "arguments": "{}"}}]}',
        '[{"function": {"name": "Observe", "arguments": {}}}]',
    ],
    ids=["codegym", "codegym-prose", "hermes", "hermes-string-args", "openai-message", "openai-list"],
)
def test_every_format_gives_the_env_action(text: str) -> None:
    out = codegym.parse_actions([text])
    assert out.action == [OBSERVE] and out.error == [None]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "no tool call found"),
        ("I think the answer is 5.", "no tool call found"),
        ('<|FunctionCallBegin|>[{"name": "Observe", "parameters": {}}]', "never closed"),
        ('<tool_call>{"name": "Observe"}', "never closed"),
        (
            '<tool_call>{"name": "A", "arguments": {}}</tool_call>'
            '<tool_call>{"name": "B", "arguments": {}}</tool_call>',
            "found 2 tool calls",
        ),
        (
            '<|FunctionCallBegin|>[{"name": "A", "parameters": {}}, {"name": "B", "parameters": {}}]'
            "<|FunctionCallEnd|>",
            "found 2 tool calls",
        ),
        ("<tool_call>{'name': 'Observe', 'arguments': {}}</tool_call>", "double quotes"),
        ('<tool_call>{"tool": "Observe", "args": {}}</tool_call>', 'no "name"'),
        ('<tool_call>{"name": "Done", "answer": 3}</tool_call>', 'no "arguments" object'),
        ('<tool_call>{"name": "Done", "arguments": "{bad"}</tool_call>', "does not hold a JSON object"),
        ('<tool_call>{"name": "Done", "arguments": [3]}</tool_call>', "must be an object"),
        ('<tool_call>{"name": "", "arguments": {}}</tool_call>', "non-empty string"),
        ('<tool_call>{"name": "Done", "arguments": {"answer": 3}</tool_call>', "not valid JSON"),
        ("<|FunctionCallBegin|>[]<|FunctionCallEnd|>", "empty"),
    ],
    ids=[
        "empty",
        "prose-only",
        "codegym-truncated",
        "hermes-truncated",
        "two-hermes-calls",
        "two-calls-in-list",
        "single-quotes",
        "wrong-keys",
        "arguments-missing",
        "nested-string-not-json",
        "arguments-list",
        "empty-name",
        "unbalanced-json",
        "empty-list",
    ],
)
def test_malformed_calls_become_error_messages(text: str, says: str) -> None:
    out = codegym.parse_actions([text])
    assert out.action == [None]
    message = out.error[0]
    assert message is not None and message.startswith("Error: ") and says in message, message


def test_batches_keep_order_and_formats_can_be_forced() -> None:
    hermes = '<tool_call>{"name": "Observe", "arguments": {}}</tool_call>'
    out = codegym.parse_actions([hermes, "nope", hermes])
    assert out.action == [OBSERVE, None, OBSERVE] and len(out) == 3
    forced = codegym.parse_actions([hermes], format="codegym")
    assert forced.action == [None] and "FunctionCallBegin" in (forced.error[0] or "")
    with pytest.raises(errors.ConfigError, match="unknown tool-call format"):
        codegym.parse_actions([hermes], format="xml")
    with pytest.raises(TypeError):
        codegym.parse_actions(hermes)


def test_parsed_actions_step_a_sandboxed_env() -> None:
    text = 'Answer:\n<tool_call>{"name": "Done", "arguments": {"answer": 8}}</tool_call>'
    (act,) = codegym.parse_actions([text]).action
    assert act is not None and json.loads(act) == {"name": "Done", "parameters": {"answer": 8}}
    with codegym.EnvPool([codegym.EnvSpec(source("max_env"), 'MaxEnv@{"nums": [4, 8, 1]}')]) as pool:
        pool.reset()
        out = pool.step([act])
        assert out.reward.tolist() == [1.0] and out.done.all()
