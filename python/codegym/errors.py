"""Exception classes of codegym.

Pool-level problems (bad arguments, a closed pool, an engine that cannot start) are raised
directly. Per-env failures inside a batch are *data*: each row of a result has ``error`` (a
``"kind: reason"`` string or ``None``) and ``error_kind``; ``result.raise_for_error()`` turns
the first one into the matching :class:`EnvError` subclass below.
"""

from __future__ import annotations

__all__ = [
    "CodegymError",
    "ConfigError",
    "EngineError",
    "EnvError",
    "EnvLoadError",
    "EnvRaisedError",
    "BudgetExhaustedError",
    "MemoryLimitError",
    "WallTimeError",
    "StackOverflowError",
    "GuestExitError",
    "SandboxTrapError",
    "NeedsResetError",
    "PolicyError",
    "error_for",
]


class CodegymError(Exception):
    """Base class of every codegym error."""


class ConfigError(CodegymError, ValueError):
    """A bad argument or configuration: invalid limits, env ids, task strings, a closed pool."""


class EngineError(CodegymError):
    """The sandbox engine itself failed (compiling or caching the guest component)."""


class PolicyError(CodegymError):
    """A policy client failed: the server answered with an error, or kept failing after
    retries, or returned a response that does not follow the API."""


class EnvError(CodegymError):
    """One env failed. ``env_id``, ``kind`` and ``message`` say which, how and why."""

    kind: str = ""

    def __init__(self, message: str, env_id: int | None = None) -> None:
        super().__init__(message if env_id is None else f"env {env_id}: {message}")
        self.message = message
        self.env_id = env_id


class EnvLoadError(EnvError):
    """The env source failed to execute, lacks the class, or ``from_env_str`` failed.

    ``traceback`` holds the guest's Python traceback.
    """

    kind = "load_error"

    @property
    def traceback(self) -> str:
        return self.message


class EnvRaisedError(EnvError):
    """The env's own code raised out of ``step`` or ``solve``; ``traceback`` has the details."""

    kind = "env_raised"

    @property
    def traceback(self) -> str:
        return self.message


class BudgetExhaustedError(EnvError):
    """The deterministic instruction budget (fuel) of the call ran out."""

    kind = "fuel_exhausted"


class MemoryLimitError(EnvError):
    """The env tried to grow its memory past ``Limits.memory_bytes``."""

    kind = "memory_limit"


class WallTimeError(EnvError):
    """The wall-clock backstop ``Limits.wall_time_ms`` fired."""

    kind = "wall_time_limit"


class StackOverflowError(EnvError):
    """The wasm stack (``Limits.stack_bytes``) overflowed."""

    kind = "stack_overflow"


class GuestExitError(EnvError):
    """The guest called ``exit`` (for example ``os._exit``)."""

    kind = "guest_exit"


class SandboxTrapError(EnvError):
    """Any other trap inside the sandbox."""

    kind = "sandbox_trap"


class NeedsResetError(EnvError):
    """The env was stepped before its first reset, or after its episode ended."""

    kind = "needs_reset"


_BY_KIND: dict[str, type[EnvError]] = {
    cls.kind: cls
    for cls in (
        EnvLoadError,
        EnvRaisedError,
        BudgetExhaustedError,
        MemoryLimitError,
        WallTimeError,
        StackOverflowError,
        GuestExitError,
        SandboxTrapError,
        NeedsResetError,
    )
}


def error_for(kind: str, message: str, env_id: int | None = None) -> EnvError:
    """The exception for a per-env error row (``kind`` as in ``BatchResult.error_kind``)."""
    return _BY_KIND.get(kind, EnvError)(message, env_id)
