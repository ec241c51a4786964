"""`json.loads` with a fast path for the call every env's `step` makes: `json.loads(action)`.

With default arguments, `json.loads(s)` goes through `loads`, `JSONDecoder.decode` and
`JSONDecoder.raw_decode` (three Python frames, two regular-expression matches for the
whitespace around the document) before the default decoder's C scanner reads the text. In the
guest each of those costs several times what it does natively, on every step of every env.

The fast path calls the default decoder's scanner directly when the call is one the original
would have answered with that same scanner call: an exact `str`, default arguments, the module's
default decoder still an unmodified `JSONDecoder` (no method of its class replaced, no attribute
added to it), and a document that starts at the first character and ends at the last. Any other
call, any text the scanner rejects and any text with whitespace around the document goes to the
original, which parses it again from the start. So values and exceptions are the original's for
every input (tests/test_jsonfast.py checks this on generated and mutated texts, on the host and
inside a sandbox); only the fuel a parse uses is smaller.
"""

import functools
import json
import json.decoder

_original = json.loads
_Decoder = json.decoder.JSONDecoder
_decode = _Decoder.decode
_raw_decode = _Decoder.raw_decode
_ATTRIBUTES = len(vars(json._default_decoder))


@functools.wraps(_original)
def loads(
    s,
    *,
    cls=None,
    object_hook=None,
    parse_float=None,
    parse_int=None,
    parse_constant=None,
    object_pairs_hook=None,
    **kw,
):
    if (
        type(s) is str
        and cls is None
        and object_hook is None
        and parse_float is None
        and parse_int is None
        and parse_constant is None
        and object_pairs_hook is None
        and not kw
    ):
        decoder = json._default_decoder
        if (
            type(decoder) is _Decoder
            and _Decoder.decode is _decode
            and _Decoder.raw_decode is _raw_decode
            and len(decoder.__dict__) == _ATTRIBUTES
        ):
            try:
                value, end = decoder.scan_once(s, 0)
            except Exception:  # no document at the start, or a bad one: the original says which
                pass
            else:
                if end == len(s):
                    return value
    return _original(
        s,
        cls=cls,
        object_hook=object_hook,
        parse_float=parse_float,
        parse_int=parse_int,
        parse_constant=parse_constant,
        object_pairs_hook=object_pairs_hook,
        **kw,
    )


def install() -> None:
    """Make `json.loads` this function (before the snapshot, so every env sees it)."""
    json.loads = loads
