"""`ast.literal_eval` with a fast path for the JSON text that CodeGym env strings carry.

Every env parses its options with `ast.literal_eval(env_str.split("@", 1)[1])`. In the guest
that runs CPython's whole parser (tokenizer, PEG parser, AST objects) compiled to wasm: a sixth
of a verification's time. The option texts are JSON, which `json`'s C scanner reads in a
fraction of that time. The fast path takes only texts on which the two agree, and every other
text, including every text the scanner rejects, goes to the original: values and exceptions
are the original's for every input (tests/test_literal.py checks this on generated and mutated
texts, on the host and inside a sandbox). Only the fuel and stack a parse uses are smaller.

A text takes the fast path if it is an exact `str` that, after the spaces and tabs
`literal_eval` strips itself, starts with `[` or `{`, and
- is ASCII with no backslash (no escape whose meaning differs, such as `\\/` or a surrogate
  pair) and no carriage return (a line ending the two treat differently);
- does not contain `true`, `false` or `null`: JSON names that Python spells otherwise.
  `NaN` and `Infinity` are refused by `parse_constant`; they are not Python literals either;
- nests fewer than `MAX_DEPTH` brackets deep. CPython's parser refuses deep nesting (in the
  guest from about 130 levels: "Parser stack overflowed"); `json` does not.
Inside those limits JSON's grammar (objects with string keys, arrays, double-quoted strings,
decimal numbers, whitespace between tokens) is a subset of Python's literal syntax with the
same values: the same `int`, `float` (both rounded by `_Py_dg_strtod`), `str`, `list` and
`dict`, with a repeated key's last value winning in both.
"""

import ast
import functools
import json

MAX_DEPTH = 100

_original = ast.literal_eval


def _refuse(name: str):
    raise ValueError(f"{name} is not a Python literal")


_decode = json.JSONDecoder(parse_constant=_refuse).decode


def _shallower(value, levels: int) -> bool:
    """Whether the containers in `value` (a list or dict) nest at most `levels` deep."""
    if levels == 0:
        return False
    for item in value.values() if type(value) is dict else value:
        if type(item) in (list, dict) and not _shallower(item, levels - 1):
            return False
    return True


@functools.wraps(_original)
def literal_eval(node_or_string):
    if type(node_or_string) is str:
        text = node_or_string.lstrip(" \t")
        if (
            text[:1] in ("[", "{")
            and text.isascii()
            and "\\" not in text
            and "\r" not in text
            and "true" not in text
            and "false" not in text
            and "null" not in text
        ):
            try:
                value = _decode(text)
            except Exception:  # not JSON, or too deep for the scanner: the original decides
                pass
            else:
                # Fewer opening brackets than MAX_DEPTH cannot nest that deep: skip the walk.
                if text.count("[") + text.count("{") < MAX_DEPTH or _shallower(value, MAX_DEPTH - 1):
                    return value
    return _original(node_or_string)


def install() -> None:
    """Make `ast.literal_eval` this function, for every env loaded afterwards."""
    ast.literal_eval = literal_eval
