"""Guest side of the sandbox: runs one CodeGym environment inside the CPython WASI component.

The host (crates/codegym-core) calls the exports of the `env-host` world (../wit/env-host.wit).
Every export turns a Python exception into `Err(traceback)`, because an uncaught exception
would trap and poison the whole store. `BaseException` is caught too, so `sys.exit()` in an
env becomes an error result instead of ending the guest.
"""

import gc
import io
import marshal
import random
import re
import sys
import traceback
import types

import heap
import immortal
import jsonfast
import literal
import preload  # noqa: F401  (imports the pure-Python stdlib before the snapshot is taken)
import warmup
import wit_world
from componentize_py_types import Err

# An oracle trace past these bounds is dropped (the host gets `None`), so that a solve() loop
# cannot grow the guest's answer without limit.
_MAX_TRACE_CALLS = 4096
_MAX_TRACE_BYTES = 4 << 20
# Tracebacks can be made arbitrarily long by hostile code (deep recursion, huge messages).
_MAX_TRACEBACK_CHARS = 8192
_SURROGATE = re.compile("[\ud800-\udfff]")


def _error_text(prefix: str) -> str:
    text = traceback.format_exc()
    if len(text) > _MAX_TRACEBACK_CHARS:
        half = _MAX_TRACEBACK_CHARS // 2
        text = text[:half] + "\n...[traceback truncated]...\n" + text[-half:]
    return f"{prefix}\n{text}"


def _format_error(prefix: str) -> Err:
    return Err(_error_text(prefix))


def _clip(text, limit: int) -> str:
    """Turn any value into a str (exactly `str`: a subclass keeps its characters, not what its
    own methods would make of them) that is valid UTF-8 and at most `limit` bytes long."""
    if type(text) is not str:
        text = str.__str__(text) if isinstance(text, str) else str(text)
    if text.isascii() and len(text) <= limit:  # the common case: no copy to count its bytes
        return text
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: one U+FFFD each, never trap in the lowering
        text = _SURROGATE.sub("\ufffd", text)
        data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    marker = f"...[truncated {len(data) - limit} bytes]"
    keep = max(0, limit - len(marker.encode()))
    return data[:keep].decode("utf-8", "ignore") + marker


class _TrackedText(io.TextIOWrapper):
    """stdout/stderr that remember whether anything was written since the last flush, so that
    the flush at the end of every call (which makes output visible to the host) costs nothing
    when the env printed nothing, the common case."""

    dirty = False

    def write(self, text):
        self.dirty = True
        return super().write(text)

    def flush(self):
        self.dirty = False
        return super().flush()


def _tracked(stream):
    # detach() first: the old wrapper would otherwise close the shared buffer when collected.
    return _TrackedText(stream.detach(), encoding="utf-8", errors="backslashreplace", line_buffering=False)


sys.stdout = sys.__stdout__ = _tracked(sys.stdout)
sys.stderr = sys.__stderr__ = _tracked(sys.stderr)


def _flush_stdio() -> None:
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "dirty", True):  # a stream an env put there: always flush
            try:
                stream.flush()
            except BaseException:  # a closed or replaced stream must not fail the call
                pass


class _State:
    """The single env this guest instance hosts."""

    def __init__(self) -> None:
        self.cls = None
        self.env = None
        self.max_obs_bytes = 1 << 20
        self.steps = 0  # fallback when an env has no `step_count`

    def outcome(self, obs) -> tuple:
        env = self.env
        reward = getattr(env, "reward", 0.0)
        done = getattr(env, "finished", False)
        count = getattr(env, "step_count", self.steps)
        return (
            _clip(obs, self.max_obs_bytes),
            float(reward or 0.0),
            bool(done),
            max(0, int(count or 0)),
        )


_state = _State()

# The step count as text for the first 1,024 steps of an episode: formatting an `int` converts
# and allocates on every step, indexing this (immortal, shared) tuple does neither.
_COUNT_TEXTS = 1024
_COUNT_TEXT = tuple(str(count) for count in range(_COUNT_TEXTS))


class WitWorld(wit_world.WitWorld):
    def compile(self, source: str, filename: str) -> bytes:
        try:
            return marshal.dumps(compile(source, filename, "exec"))
        except BaseException:
            raise _format_error("compiling the env source failed") from None
        finally:
            _flush_stdio()

    def load(self, code: bytes, class_name: str, max_obs_bytes: int) -> None:
        try:
            _state.max_obs_bytes = max_obs_bytes
            random.seed(0)
            module = types.ModuleType("codegym_env")
            module.__file__ = f"{class_name}.py"
            sys.modules["codegym_env"] = module
            exec(marshal.loads(code), module.__dict__)
            cls = module.__dict__.get(class_name)
            if not isinstance(cls, type):
                raise LookupError(f"the source defines no class named {class_name!r}")
            if not callable(getattr(cls, "from_env_str", None)):
                raise LookupError(f"class {class_name!r} has no from_env_str()")
            _state.cls = cls
            _state.env = None
        except BaseException:
            raise _format_error("loading the env source failed") from None
        finally:
            _flush_stdio()

    def reset(self, env_str: str, seed: int) -> str:
        try:
            if _state.cls is None:
                raise RuntimeError("reset() before load()")
            random.seed(seed)
            env = _state.cls.from_env_str(env_str)
            if env is None:
                raise ValueError(f"from_env_str({env_str[:200]!r}) returned None")
            _state.env = env
            _state.steps = 0
            return ""
        except BaseException:
            raise _format_error("creating the env with from_env_str failed") from None
        finally:
            _flush_stdio()

    # Static: componentize-py calls an export as an attribute of the world's instance, so a
    # plain method would cost a bound-method object per step.
    @staticmethod
    def step(action: str) -> str:
        try:
            if _state.env is None:
                raise RuntimeError("step() before reset()")
            _state.steps += 1
            env = _state.env
            out = env.step(action)
            obs = out[1] if isinstance(out, tuple) and len(out) == 2 else out
            # `_State.outcome`, inlined on the per-step path (each Python call costs here), in
            # one string (see the WIT). Its parts are exactly `str`, `float`, `bool` and `int`,
            # so formatting them runs none of the env's code.
            # `getattr(env, name, default)`, spelled as attribute reads: the interpreter
            # specialises those for the env's class, where `getattr` is a builtin call each.
            try:
                reward = env.reward
            except AttributeError:
                reward = 0.0
            try:
                done = env.finished
            except AttributeError:
                done = False
            try:
                count = env.step_count
            except AttributeError:
                count = _state.steps
            limit = _state.max_obs_bytes
            if type(obs) is str and len(obs) <= limit and obs.isascii():
                text = obs
            else:
                text = _clip(obs, limit)
            # `float(reward or 0.0)` and `max(0, int(count or 0))`, without the calls in the
            # common cases (a zero reward; a count that is already a non-negative `int`).
            # Converted in the same order as before: reward, finished, step count.
            head = "O0.0 " if not reward else f"O{float(reward)!r} "
            head += "1 " if done else "0 "
            if type(count) is not int or count < 0:
                count = max(0, int(count or 0))
            return f"{head}{_COUNT_TEXT[count] if count < _COUNT_TEXTS else count}\n{text}"
        except BaseException:
            return "E" + _error_text("the env's step() raised")
        finally:
            if getattr(sys.stdout, "dirty", True) or getattr(sys.stderr, "dirty", True):
                _flush_stdio()

    def sync(self, data: bytes) -> None:
        return None

    def solve(self, trace: bool) -> tuple:
        try:
            env = _state.env
            if env is None:
                raise RuntimeError("solve() before reset()")
            solve = getattr(env, "solve", None)
            if not callable(solve):
                raise LookupError("the env has no solve() oracle")
            recorder = _Trace(env) if trace else None
            try:
                answer = solve()
            finally:
                if recorder is not None:
                    recorder.detach()
            actions = recorder.actions if recorder is not None else None
            return (_state.outcome(answer), actions)
        except BaseException:
            raise _format_error("the env's solve() raised") from None
        finally:
            _flush_stdio()


class _Trace:
    """Records the actions an oracle passes to its env's `step`, by shadowing the bound method
    with an instance attribute for the length of one `solve()` (how `self.step(...)` resolves)."""

    def __init__(self, env) -> None:
        self.env = env
        self.actions = []
        self.size = 0
        step = env.step

        def recording_step(action, *args, **kwargs):
            if self.actions is not None:
                self.size += len(action) if isinstance(action, str) else 0
                if len(self.actions) >= _MAX_TRACE_CALLS or self.size > _MAX_TRACE_BYTES:
                    self.actions = None
                else:
                    self.actions.append(_clip(action, _MAX_TRACE_BYTES))
            return step(action, *args, **kwargs)

        try:
            env.__dict__["step"] = recording_step
        except Exception:  # no instance dict (slots, odd classes): no trace, solve still runs
            self.actions = None

    def detach(self) -> None:
        try:
            if self.env.__dict__.get("step") is not None:
                del self.env.__dict__["step"]
        except Exception:
            pass


# Env option texts are parsed by json's C scanner where that gives the parser's result, and
# plain `json.loads` and `json.dumps` calls go straight to json's C code where the originals
# would make the same call.
literal.install()
jsonfast.install()

# Run every export once so that CPython's first-use writes happen before the snapshot (see
# warmup.py). Everything alive after that lives in the pre-initialised snapshot and is shared
# copy-on-write by every instance; moving it out of the collector's reach keeps a GC pass from
# dirtying it, and making it immortal (immortal.py) keeps reference counting from dirtying it.
# Filling the allocator's holes (heap.py) makes sandboxes allocate on pages of their own.
warmup.run(WitWorld(), _state)
sys.modules.pop("codegym_env", None)
gc.collect()
heap.fill()
immortal.record()
gc.freeze()
