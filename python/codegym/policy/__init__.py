"""Policy clients: one async interface from token-id prompts to sampled tokens with logprobs.

``generate(prompts, params, keys=None)`` takes a batch of prompts (lists of token ids) and
returns one :class:`Generation` per prompt: the sampled token ids, each one's logprob under the
policy, and why generation stopped (``"stop"``, ``"length"`` or ``"abort"``). ``keys`` are
optional routing keys (one per prompt; the episode id) so a router can keep an episode on the
server that holds its prefix cache.

Clients: :class:`~codegym.policy.sglang.SGLangPolicy` (``sglang://host:port``, the production
path; a GPU machine runs the server, see docs/rollout.md),
:class:`~codegym.policy.local.LocalPolicy` (``local:PATH``, a transformers model in this
process, for CPU tests and small runs), :class:`~codegym.policy.openai.OpenAIChatPolicy`
(``openai://host:port/v1``, text level, for evaluating hosted models; no token ids).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import msgspec

__all__ = ["Generation", "SamplingParams", "TokenPolicy", "from_uri"]


class SamplingParams(msgspec.Struct, frozen=True):
    """Sampling parameters, named as SGLang names them."""

    max_new_tokens: int = 256
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = -1
    stop: list[str] = []
    stop_token_ids: list[int] = []
    seed: int | None = None


class Generation(msgspec.Struct):
    """One sampled continuation."""

    token_ids: list[int]
    logprobs: list[float]
    finish_reason: str  # "stop", "length" or "abort"
    text: str = ""


class TokenPolicy(Protocol):
    """What the rollout loop needs from a policy."""

    name: str
    weight_version: int

    async def generate(
        self,
        prompts: Sequence[Sequence[int]],
        params: SamplingParams,
        keys: Sequence[str] | None = None,
    ) -> list[Generation]: ...

    async def aclose(self) -> None: ...


def from_uri(uri: str, **kwargs: object) -> TokenPolicy:
    """``local:PATH`` or ``sglang://HOST:PORT`` (``sglang+https://`` for TLS)."""
    from ..errors import ConfigError

    if uri.startswith("local:"):
        from .local import LocalPolicy

        return LocalPolicy(uri[len("local:") :], **kwargs)  # type: ignore[arg-type]
    if uri.startswith(("sglang://", "sglang+https://")):
        from .sglang import SGLangPolicy

        scheme = "https" if uri.startswith("sglang+https://") else "http"
        return SGLangPolicy(f"{scheme}://{uri.split('://', 1)[1]}", **kwargs)  # type: ignore[arg-type]
    raise ConfigError(f"unknown policy {uri!r}: use local:PATH or sglang://HOST:PORT")
