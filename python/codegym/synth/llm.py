"""LLM clients for synthesis: a small protocol, an OpenAI-compatible HTTP client (which also
serves SGLang, whose ``/v1/chat/completions`` is the same API), a client that replays recorded
responses, and the content-addressed cache every stage calls through.

``from_uri`` picks a client:

- ``openai://HOST:PORT/v1`` (plain HTTP) or ``openai+https://HOST/v1``; the model name is the
  URI's fragment (``openai://host:8000/v1#Qwen2.5-Coder-32B``) or ``$CODEGYM_SYNTH_MODEL``;
  the API key is ``$OPENAI_API_KEY`` when set;
- ``sglang://HOST:PORT`` → ``http://HOST:PORT/v1`` (SGLang's OpenAI-compatible endpoint);
- ``recorded:DIR`` → :class:`RecordedLLM`, the fixtures the tests run on.

Recorded responses (``recorded:DIR``): every prompt the pipeline sends names its problem and
its request in the last user message (``Problem id: {question_id}`` and ``Request: {name}``,
with ``name`` one of ``generate``, ``configs``, ``solvers``; the latter two also carry
``Environment class: {EnvName}``). Sample ``i`` of a request is the file
``DIR/{question_id}/{EnvName}.{name}.{i}.txt`` if it exists, else
``DIR/{question_id}/{name}.{i}.txt``; a missing file is an empty completion (a model that said
nothing). ``RecordedLLM.calls`` counts the requests it answered.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

import httpx

from ..errors import ConfigError, PolicyError
from ..policy.openai import post_chat_completions

__all__ = ["LLM", "CachedLLM", "OpenAIChatLLM", "RecordedLLM", "cache_key", "from_uri"]

ChatMessages = Sequence[Mapping[str, str]]


@runtime_checkable
class LLM(Protocol):
    """Anything that completes chat messages: ``n`` independent samples per request."""

    async def complete(
        self, messages: ChatMessages, *, n: int, temperature: float, max_tokens: int
    ) -> list[str]: ...


class OpenAIChatLLM:
    """``POST {base_url}/chat/completions`` with bounded concurrency and retries with
    exponential backoff on transport errors, 429 and 5xx."""

    def __init__(
        self,
        base_url: str,
        model: str = "default",
        *,
        api_key: str | None = None,
        max_concurrency: int = 16,
        retries: int = 5,
        timeout: float = 600.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.retries = retries
        self.calls = 0
        self._slots = asyncio.Semaphore(max_concurrency)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    async def complete(
        self, messages: ChatMessages, *, n: int, temperature: float, max_tokens: int
    ) -> list[str]:
        body = {
            "model": self.model,
            "messages": [dict(m) for m in messages],
            "n": n,
            "temperature": temperature,
            "max_tokens": max_tokens,
        }
        async with self._slots:
            self.calls += 1
            payload = await post_chat_completions(
                self._client,
                body,
                retries=self.retries,
                first_delay=1.0,
                label=f"{self.base_url}/chat/completions",
            )
            return _choices(payload, n)

    async def aclose(self) -> None:
        await self._client.aclose()


def _choices(payload: object, n: int) -> list[str]:
    try:
        choices = payload["choices"]  # type: ignore[index]
        texts = [str(c["message"].get("content") or "") for c in choices]
    except (KeyError, TypeError, AttributeError):
        raise PolicyError(f"chat/completions: unexpected response {str(payload)[:200]}") from None
    if len(texts) < n:  # servers that ignore `n` answer one choice; the rest count as empty
        texts += [""] * (n - len(texts))
    return texts[:n]


_PROBLEM = re.compile(r"^Problem id: (\S+)\s*$", re.M)
_REQUEST = re.compile(r"^Request: (\w+)\s*$", re.M)
_CLASS = re.compile(r"^Environment class: (\w+)\s*$", re.M)


class RecordedLLM:
    """Replays model outputs stored as files (see the module docstring for the layout)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise ConfigError(f"recorded responses: {self.root} is not a directory")
        self.calls = 0

    async def complete(
        self, messages: ChatMessages, *, n: int, temperature: float, max_tokens: int
    ) -> list[str]:
        self.calls += 1
        text = messages[-1]["content"] if messages else ""
        problem, request = _PROBLEM.search(text), _REQUEST.search(text)
        if problem is None or request is None:
            raise ConfigError("recorded responses: the prompt names no 'Problem id:' and 'Request:'")
        env = _CLASS.search(text)
        folder = self.root / problem.group(1)
        out = []
        for i in range(n):
            candidates = [folder / f"{request.group(1)}.{i}.txt"]
            if env is not None:
                candidates.insert(0, folder / f"{env.group(1)}.{request.group(1)}.{i}.txt")
            found = next((p for p in candidates if p.is_file()), None)
            out.append(found.read_text(encoding="utf-8") if found is not None else "")
        return out


def cache_key(stage: str, messages: ChatMessages, sample: int, temperature: float) -> str:
    """sha256 of what determines one sample: the stage, the messages, the sample index and the
    temperature (not the endpoint or the model, so a cache can be replayed anywhere)."""
    payload = json.dumps(
        {"stage": stage, "messages": [dict(m) for m in messages], "sample": sample, "t": temperature},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


class CachedLLM:
    """Every completion stored as ``DIR/{key[:2]}/{key}.txt`` under its :func:`cache_key`;
    a request whose samples are all stored makes no call. When some samples are missing, one
    call asks for ``n = highest missing index + 1`` samples and keeps those at the missing
    indices (so a replayed recording stays aligned with its sample numbers)."""

    def __init__(self, llm: LLM, root: str | os.PathLike[str]) -> None:
        self.llm = llm
        self.root = Path(root)
        self.calls = 0

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.txt"

    async def samples(
        self, stage: str, messages: ChatMessages, *, k: int, temperature: float, max_tokens: int
    ) -> list[str]:
        keys = [cache_key(stage, messages, i, temperature) for i in range(k)]
        out: list[str | None] = []
        for key in keys:
            path = self._path(key)
            out.append(path.read_text(encoding="utf-8") if path.is_file() else None)
        missing = [i for i, text in enumerate(out) if text is None]
        if missing:
            self.calls += 1
            texts = await self.llm.complete(
                messages, n=missing[-1] + 1, temperature=temperature, max_tokens=max_tokens
            )
            for i in missing:
                out[i] = texts[i]
                path = self._path(keys[i])
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp")
                tmp.write_text(texts[i], encoding="utf-8")
                tmp.replace(path)
        return [text or "" for text in out]


def from_uri(uri: str, *, max_concurrency: int = 16) -> LLM:
    """An LLM client for ``recorded:DIR``, ``openai://HOST:PORT/PATH[#model]``,
    ``openai+https://HOST/PATH[#model]`` or ``sglang://HOST:PORT[#model]``."""
    if uri.startswith("recorded:"):
        return RecordedLLM(uri.removeprefix("recorded:"))
    parts = urlsplit(uri)
    model = parts.fragment or os.environ.get("CODEGYM_SYNTH_MODEL", "default")
    api_key = os.environ.get("OPENAI_API_KEY") or None
    if parts.scheme in ("openai", "openai+http", "openai+https"):
        scheme = "https" if parts.scheme == "openai+https" else "http"
        base = f"{scheme}://{parts.netloc}{parts.path or '/v1'}"
    elif parts.scheme == "sglang":
        base = f"http://{parts.netloc}/v1"  # SGLang serves the OpenAI API under /v1
    else:
        raise ConfigError(
            f"unknown LLM URI {uri!r}: use recorded:DIR, openai://HOST:PORT/v1 or sglang://HOST:PORT"
        )
    if not parts.netloc:
        raise ConfigError(f"LLM URI {uri!r} has no host")
    return OpenAIChatLLM(base, model, api_key=api_key, max_concurrency=max_concurrency)
