"""`json.loads` and `json.dumps` with fast paths for the calls every env's `step` makes:
`json.loads(action)` and `json.dumps(observation)`.

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

`json.dumps(obj)` with default arguments goes through `dumps`, `JSONEncoder.encode` and
`JSONEncoder.iterencode`, which builds a closure, a `markers` dict and a new C encoder (parsing
nine arguments) for every call. The fast path keeps one C encoder, built with exactly the
arguments `iterencode` passes for the default encoder, and calls it when the call is one the
original would have answered with such an encoder: default arguments, the module's default
encoder and `JSONEncoder`'s methods, separators and the module's `c_make_encoder` and
`encode_basestring_ascii` all unchanged, and no fast call already running (a `default` or a
`dict` subclass's `items` may call `dumps` again; such a call gets the original, with markers of
its own). The encoder's `markers` dict is empty after every call that returns; one that raises
is cleared. An exception is raised from this function rather than from `encode`, so a
traceback shows two frames fewer; its type and message are the original's.
"""

import functools
import json
import json.decoder
import json.encoder

_original_loads = json.loads
_Decoder = json.decoder.JSONDecoder
_decode = _Decoder.decode
_raw_decode = _Decoder.raw_decode
_decoder_attribute_count = len(vars(json._default_decoder))


@functools.wraps(_original_loads)
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
            and len(decoder.__dict__) == _decoder_attribute_count
        ):
            try:
                value, end = decoder.scan_once(s, 0)
            except Exception:  # no document at the start, or a bad one: the original says which
                pass
            else:
                if end == len(s):
                    return value
    return _original_loads(
        s,
        cls=cls,
        object_hook=object_hook,
        parse_float=parse_float,
        parse_int=parse_int,
        parse_constant=parse_constant,
        object_pairs_hook=object_pairs_hook,
        **kw,
    )


_original_dumps = json.dumps
_Encoder = json.encoder.JSONEncoder
_encoder = json._default_encoder
_encoder_attributes = dict(vars(_encoder))
_encode = _Encoder.encode
_iterencode = _Encoder.iterencode
_default = _Encoder.default
_key_separator = _Encoder.key_separator
_item_separator = _Encoder.item_separator
_c_make_encoder = json.encoder.c_make_encoder
_encode_ascii = json.encoder.encode_basestring_ascii
_markers = {}
# What `JSONEncoder.iterencode` builds for the default encoder, built once.
_encode_fast = _c_make_encoder(
    _markers,
    _encoder.default,
    _encode_ascii,
    _encoder.indent,
    _key_separator,
    _item_separator,
    _encoder.sort_keys,
    _encoder.skipkeys,
    _encoder.allow_nan,
)
_busy = False


@functools.wraps(_original_dumps)
def dumps(
    obj,
    *,
    skipkeys=False,
    ensure_ascii=True,
    check_circular=True,
    allow_nan=True,
    cls=None,
    indent=None,
    separators=None,
    default=None,
    sort_keys=False,
    **kw,
):
    global _busy
    if (
        not skipkeys
        and ensure_ascii
        and check_circular
        and allow_nan
        and cls is None
        and indent is None
        and separators is None
        and default is None
        and not sort_keys
        and not kw
        and not _busy
        and json._default_encoder is _encoder
        and type(_encoder) is _Encoder
        and _Encoder.encode is _encode
        and _Encoder.iterencode is _iterencode
        and _Encoder.default is _default
        and _Encoder.key_separator is _key_separator
        and _Encoder.item_separator is _item_separator
        and json.encoder.c_make_encoder is _c_make_encoder
        and json.encoder.encode_basestring_ascii is _encode_ascii
        and vars(_encoder) == _encoder_attributes
    ):
        if isinstance(obj, str):
            return _encode_ascii(obj)
        _busy = True
        try:
            chunks = _encode_fast(obj, 0)
        except BaseException:
            _markers.clear()
            raise
        finally:
            _busy = False
        if not isinstance(chunks, (list, tuple)):
            chunks = list(chunks)
        return "".join(chunks)
    return _original_dumps(
        obj,
        skipkeys=skipkeys,
        ensure_ascii=ensure_ascii,
        check_circular=check_circular,
        allow_nan=allow_nan,
        cls=cls,
        indent=indent,
        separators=separators,
        default=default,
        sort_keys=sort_keys,
        **kw,
    )


def install() -> None:
    """Make `json.loads` and `json.dumps` these functions (before the snapshot, so every env
    sees them)."""
    json.loads = loads
    json.dumps = dumps
