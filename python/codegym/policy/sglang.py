"""Client of SGLang's native HTTP API (one server, or an sglang-router / model-gateway URL).

Generation is ``POST /generate`` with ``input_ids`` and ``return_logprob``; the sampled tokens
and their logprobs come from ``meta_info.output_token_logprobs`` (``[logprob, token_id,
text]`` triples) and the reason from ``meta_info.finish_reason.type``. By default every prompt
is its own request, sent concurrently (bounded by ``max_concurrency``): the server batches them
itself, a slow long generation holds back no other episode, and each request carries its
episode's routing key (body ``rid`` = ``{key}_t{turn}``, header ``x-smg-routing-key``) so a
router keeps an episode on the worker that caches its prefix. ``batch_requests=True`` sends one
request with lists instead (fewer HTTP round trips against a single server).

Retries: connection errors and 502/503/504 are retried with exponential backoff up to
``retries`` times. Cancelling the awaiting task cancels the HTTP requests; ``abort`` asks the
server to drop in-flight requests by ``rid``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from typing import Any

import httpx

from ..errors import PolicyError
from . import Generation, SamplingParams

__all__ = ["SGLangPolicy"]

_RETRY_STATUS = {502, 503, 504}


class SGLangPolicy:
    """Async client of one SGLang endpoint."""

    def __init__(
        self,
        base_url: str,
        *,
        max_concurrency: int = 256,
        timeout: float = 600.0,
        retries: int = 5,
        backoff: float = 0.5,
        batch_requests: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.name = f"sglang:{self.base_url}"
        self.weight_version = 0
        self.retries = retries
        self.backoff = backoff
        self.batch_requests = batch_requests
        self._turns: dict[str, int] = {}
        self._slots = asyncio.Semaphore(max_concurrency)
        limits = httpx.Limits(max_connections=max_concurrency, max_keepalive_connections=max_concurrency)
        self._client = httpx.AsyncClient(
            base_url=self.base_url, timeout=timeout, limits=limits, transport=transport
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _request(
        self, method: str, path: str, *, json: Any = None, headers: dict[str, str] | None = None
    ) -> Any:
        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                response = await self._client.request(method, path, json=json, headers=headers)
            except httpx.TransportError as e:
                if attempt == self.retries:
                    raise PolicyError(f"{method} {path}: {e!r}") from None
            else:
                if response.status_code not in _RETRY_STATUS or attempt == self.retries:
                    if response.status_code >= 400:
                        raise PolicyError(
                            f"{method} {path}: HTTP {response.status_code}: {response.text[:500]}"
                        )
                    return response.json() if response.content else None
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay *= 2
        raise PolicyError(f"{method} {path}: retries exhausted")  # unreachable

    # --- generation -------------------------------------------------------------------------

    @staticmethod
    def _sampling(params: SamplingParams) -> dict[str, Any]:
        out: dict[str, Any] = {
            "max_new_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "top_k": params.top_k,
            "skip_special_tokens": False,
            "no_stop_trim": True,  # keep the stop token: it is part of what the policy generated
        }
        if params.stop:
            out["stop"] = list(params.stop)
        if params.stop_token_ids:
            out["stop_token_ids"] = list(params.stop_token_ids)
        if params.seed is not None:
            out["sampling_seed"] = params.seed
        return out

    def _rid(self, key: str) -> str:
        turn = self._turns.get(key, 0) + 1
        self._turns[key] = turn
        return f"{key}_t{turn}"

    async def generate(
        self,
        prompts: Sequence[Sequence[int]],
        params: SamplingParams,
        keys: Sequence[str] | None = None,
    ) -> list[Generation]:
        if not prompts:
            return []
        sampling = self._sampling(params)
        if self.batch_requests:
            body: dict[str, Any] = {
                "input_ids": [list(p) for p in prompts],
                "sampling_params": sampling,
                "return_logprob": True,
            }
            if keys is not None:
                body["rid"] = [self._rid(k) for k in keys]
            async with self._slots:
                out = await self._request("POST", "/generate", json=body)
            if not isinstance(out, list) or len(out) != len(prompts):
                raise PolicyError(f"/generate returned {type(out).__name__} for {len(prompts)} prompts")
            return [_generation(item) for item in out]
        keys = list(keys) if keys is not None else [None] * len(prompts)  # type: ignore[list-item]
        return list(
            await asyncio.gather(*(self._one(p, sampling, k) for p, k in zip(prompts, keys, strict=True)))
        )

    async def _one(self, prompt: Sequence[int], sampling: dict[str, Any], key: str | None) -> Generation:
        body: dict[str, Any] = {
            "input_ids": list(prompt),
            "sampling_params": sampling,
            "return_logprob": True,
        }
        headers = None
        if key is not None:
            body["rid"] = self._rid(key)
            headers = {"x-smg-routing-key": key}
        async with self._slots:
            out = await self._request("POST", "/generate", json=body, headers=headers)
        if isinstance(out, list) and len(out) == 1:
            out = out[0]
        return _generation(out)

    # --- server control ---------------------------------------------------------------------

    async def health(self) -> bool:
        try:
            await self._request("GET", "/health_generate")
        except PolicyError:
            return False
        return True

    async def model_info(self) -> dict[str, Any]:
        info = await self._request("GET", "/model_info")
        return dict(info or {})

    async def flush_cache(self, attempts: int = 20) -> None:
        """``/flush_cache`` fails while requests are running; retry until it succeeds."""
        for _ in range(attempts):
            try:
                await self._request("POST", "/flush_cache")
                return
            except PolicyError:
                await asyncio.sleep(self.backoff)
        raise PolicyError("/flush_cache kept failing (requests still running?)")

    async def abort(self, rid: str = "", abort_all: bool = False) -> None:
        await self._request("POST", "/abort_request", json={"rid": rid, "abort_all": abort_all})

    async def pause(self) -> None:
        await self._request("POST", "/pause_generation", json={})

    async def resume(self) -> None:
        await self._request("POST", "/continue_generation", json={})

    async def update_weights_from_disk(self, model_path: str, weight_version: int | None = None) -> None:
        """Load new weights on the server, then bump this client's ``weight_version``."""
        body: dict[str, Any] = {"model_path": model_path}
        out = await self._request("POST", "/update_weights_from_disk", json=body)
        if isinstance(out, dict) and out.get("success") is False:
            raise PolicyError(f"update_weights_from_disk failed: {out.get('message')}")
        self.weight_version = weight_version if weight_version is not None else self.weight_version + 1


def _generation(item: Any) -> Generation:
    """A Generation from one ``/generate`` response object."""
    if not isinstance(item, dict) or not isinstance(item.get("meta_info"), dict):
        raise PolicyError(f"/generate response without meta_info: {str(item)[:200]}")
    meta = item["meta_info"]
    triples = meta.get("output_token_logprobs")
    if not isinstance(triples, list):
        raise PolicyError("/generate response without output_token_logprobs (return_logprob ignored?)")
    token_ids = [int(t[1]) for t in triples]
    logprobs = [float(t[0]) if t[0] is not None else 0.0 for t in triples]
    reason = meta.get("finish_reason")
    kind = reason.get("type") if isinstance(reason, dict) else reason
    if kind not in ("stop", "length", "abort"):
        kind = "abort" if kind is None else str(kind)
    return Generation(token_ids, logprobs, kind, str(item.get("text", "")))
