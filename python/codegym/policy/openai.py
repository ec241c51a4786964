"""OpenAI-compatible chat policy: text level, for evaluating hosted models or a vLLM/SGLang
``/v1`` endpoint on the task suite. It is a message-level policy for
:class:`~codegym.episodes.EpisodeRunner` (no token ids, no logprobs: not for training).

Each waiting episode's messages go to ``POST {base}/chat/completions`` concurrently (bounded);
with ``tools=True`` the env's OpenAI tool definitions are sent and a ``tool_calls`` answer is
turned back into model text the parser reads (OpenAI format). Observations are sent as
``user`` messages, because a ``tool`` message must answer a ``tool_call_id`` the text path
does not keep.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import httpx

from ..episodes import Episode
from ..errors import PolicyError
from ..tools import openai_tools

__all__ = ["OpenAIChatPolicy", "post_chat_completions"]


class OpenAIChatPolicy:
    """``policy(episodes) -> replies`` over an OpenAI-compatible chat endpoint."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        temperature: float = 0.0,
        max_tokens: int = 512,
        tools: bool = False,
        max_concurrency: int = 64,
        retries: int = 4,
        timeout: float = 300.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.tools = tools
        self.retries = retries
        self.max_concurrency = max_concurrency
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.timeout = timeout
        self.transport = transport

    def __call__(self, episodes: Sequence[Episode]) -> list[str]:
        return asyncio.run(self.areplies(episodes))

    async def areplies(self, episodes: Sequence[Episode]) -> list[str]:
        slots = asyncio.Semaphore(self.max_concurrency)
        async with httpx.AsyncClient(
            base_url=self.base_url, headers=self.headers, timeout=self.timeout, transport=self.transport
        ) as client:

            async def one(ep: Episode) -> str:
                async with slots:
                    return await self._reply(client, ep)

            return list(await asyncio.gather(*(one(ep) for ep in episodes)))

    async def _reply(self, client: httpx.AsyncClient, ep: Episode) -> str:
        messages = [
            {"role": "user" if m.role == "tool" else m.role, "content": m.content} for m in ep.messages
        ]
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        if self.tools:
            body["tools"] = openai_tools(ep.tools)
        return _text(await post_chat_completions(client, body, retries=self.retries, first_delay=0.5))


RETRY_STATUS = (429, 500, 502, 503, 504)


async def post_chat_completions(
    client: httpx.AsyncClient,
    body: dict[str, Any],
    *,
    retries: int,
    first_delay: float,
    max_delay: float = 60.0,
    label: str = "chat/completions",
) -> Any:
    """``POST /chat/completions`` and return the decoded JSON, retrying transport errors, 429
    and 5xx with exponential backoff (``first_delay`` doubling up to ``max_delay``); other
    errors, and the last failed attempt, raise :class:`~codegym.errors.PolicyError`."""
    delay = first_delay
    for attempt in range(retries + 1):
        try:
            response = await client.post("/chat/completions", json=body)
        except httpx.TransportError as e:
            if attempt == retries:
                raise PolicyError(f"{label}: {e!r}") from None
        else:
            if response.status_code < 400:
                return response.json()
            if response.status_code not in RETRY_STATUS or attempt == retries:
                raise PolicyError(f"{label}: HTTP {response.status_code}: {response.text[:300]}")
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_delay)
    raise PolicyError(f"{label}: retries exhausted")  # unreachable


def _text(payload: Any) -> str:
    """The reply as model text; tool calls become an OpenAI ``tool_calls`` JSON the parser reads."""
    try:
        message = payload["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        raise PolicyError(f"chat/completions: unexpected response {str(payload)[:200]}") from None
    calls = message.get("tool_calls")
    if calls:
        return json.dumps({"tool_calls": calls})
    return str(message.get("content") or "")
