"""A transformers causal LM in this process: the CPU stand-in for an SGLang server.

Sampling is a plain loop over the model with a KV cache: prompts are left-padded into one
batch, each step samples one token per row (temperature, top-k, top-p; greedy at temperature
0) from a seeded ``torch.Generator``, and records the token's logprob under the temperature-
scaled distribution before top-k/top-p truncation (what a trainer recomputes). A row stops at
a stop token (kept in the output, like SGLang with ``no_stop_trim``), when its decoded text
ends with a stop string, or at ``max_new_tokens``. Needs ``pip install 'codegym[train]'``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from . import Generation, SamplingParams

__all__ = ["LocalPolicy"]


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise ConfigError(
            "the local policy needs torch and transformers: pip install 'codegym[train]'"
        ) from None
    return torch


class LocalPolicy:
    """``local:PATH``: a model and tokenizer saved with ``save_pretrained`` in ``PATH``."""

    def __init__(self, path: str | Path, *, device: str = "cpu", seed: int = 0, max_batch: int = 64) -> None:
        torch = _torch()
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.path = str(path)
        self.name = f"local:{self.path}"
        self.weight_version = 0
        self.device = device
        self.max_batch = max_batch
        self.tokenizer = AutoTokenizer.from_pretrained(self.path)
        self.model = AutoModelForCausalLM.from_pretrained(self.path).to(device).eval()  # type: ignore[arg-type]
        self.generator = torch.Generator(device=device).manual_seed(seed)
        self._lock = threading.Lock()  # one forward pass at a time; torch uses every core itself
        pad = self.tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else (self.tokenizer.eos_token_id or 0))

    async def aclose(self) -> None:
        return None

    def load_weights(self, path: str | Path, weight_version: int | None = None) -> None:
        """Replace the weights from a ``save_pretrained`` directory (the in-process analogue of
        SGLang's ``update_weights_from_disk``)."""
        from transformers import AutoModelForCausalLM

        fresh = AutoModelForCausalLM.from_pretrained(str(path))
        with self._lock:
            self.model.load_state_dict(fresh.state_dict())
        self.weight_version = weight_version if weight_version is not None else self.weight_version + 1

    async def generate(
        self,
        prompts: Sequence[Sequence[int]],
        params: SamplingParams,
        keys: Sequence[str] | None = None,
    ) -> list[Generation]:
        return await asyncio.to_thread(self.generate_sync, prompts, params)

    def generate_sync(self, prompts: Sequence[Sequence[int]], params: SamplingParams) -> list[Generation]:
        out: list[Generation] = []
        for start in range(0, len(prompts), self.max_batch):
            with self._lock:
                out.extend(self._batch(prompts[start : start + self.max_batch], params))
        return out

    def _batch(self, prompts: Sequence[Sequence[int]], params: SamplingParams) -> list[Generation]:
        torch = _torch()
        if not prompts:
            return []
        if any(len(p) == 0 for p in prompts):
            raise ConfigError("a prompt needs at least one token")
        device = self.device
        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, p in enumerate(prompts):
            ids[row, width - len(p) :] = torch.tensor(list(p), dtype=torch.long)
            mask[row, width - len(p) :] = 1
        ids, mask = ids.to(device), mask.to(device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        stop_ids = set(params.stop_token_ids)
        rows = len(prompts)
        tokens: list[list[int]] = [[] for _ in range(rows)]
        logprobs: list[list[float]] = [[] for _ in range(rows)]
        reasons: list[str | None] = [None] * rows
        with torch.inference_mode():
            out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True)
            past, logits = out.past_key_values, out.logits[:, -1, :]
            position = positions[:, -1:]
            for _ in range(params.max_new_tokens):
                chosen, chosen_logprob = self._sample(logits.float(), params)
                for row in range(rows):
                    if reasons[row] is not None:
                        continue
                    token = int(chosen[row])
                    tokens[row].append(token)
                    logprobs[row].append(float(chosen_logprob[row]))
                    if token in stop_ids:
                        reasons[row] = "stop"
                    elif params.stop and self._hits_stop(tokens[row], params.stop):
                        reasons[row] = "stop"
                if all(r is not None for r in reasons):
                    break
                mask = torch.cat([mask, torch.ones((rows, 1), dtype=mask.dtype, device=device)], dim=1)
                position = position + 1
                out = self.model(
                    input_ids=chosen[:, None],
                    attention_mask=mask,
                    position_ids=position,
                    past_key_values=past,
                    use_cache=True,
                )
                past, logits = out.past_key_values, out.logits[:, -1, :]
        return [
            Generation(t, lp, r or "length", str(self.tokenizer.decode(t, skip_special_tokens=False)))
            for t, lp, r in zip(tokens, logprobs, reasons, strict=True)
        ]

    def _hits_stop(self, tokens: list[int], stops: Sequence[str]) -> bool:
        tail = str(self.tokenizer.decode(tokens[-16:], skip_special_tokens=False))
        return any(tail.endswith(s) for s in stops)

    def _sample(self, logits: Any, params: SamplingParams) -> tuple[Any, Any]:
        torch = _torch()
        if params.temperature <= 0:
            logp = torch.log_softmax(logits, dim=-1)
            chosen = logp.argmax(dim=-1)
            return chosen, logp.gather(-1, chosen[:, None])[:, 0]
        logp = torch.log_softmax(logits / params.temperature, dim=-1)
        filtered = logp.clone()
        if params.top_k > 0:
            kth = torch.topk(filtered, min(params.top_k, filtered.shape[-1]), dim=-1).values[:, -1:]
            filtered[filtered < kth] = float("-inf")
        if params.top_p < 1.0:
            sorted_logp, order = torch.sort(filtered, descending=True, dim=-1)
            sorted_probs = sorted_logp.softmax(dim=-1)
            drop = sorted_probs.cumsum(dim=-1) - sorted_probs > params.top_p  # mass before each token
            sorted_logp[drop] = float("-inf")
            filtered = torch.full_like(filtered, float("-inf")).scatter(-1, order, sorted_logp)
        probs = filtered.softmax(dim=-1)
        chosen = torch.multinomial(probs, 1, generator=self.generator)[:, 0]
        return chosen, logp.gather(-1, chosen[:, None])[:, 0]
