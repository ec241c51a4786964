"""A transformers causal LM in this process: the CPU stand-in for an SGLang server.

Sampling is a plain loop over the model with a KV cache: prompts are left-padded into one
batch, each step samples one token per row (temperature, top-k, top-p; greedy at temperature
0) from a seeded ``torch.Generator``, and records the token's logprob under the temperature-
scaled distribution before top-k/top-p truncation (what a trainer recomputes). A row stops at
a stop token (kept in the output, like SGLang with ``no_stop_trim``), when its decoded text
ends with a stop string, or at ``max_new_tokens``. Needs ``pip install 'codegym[train]'``.

Multi-turn prefix cache (SGLang's radix cache does the same on a server): after a call, each
row's keys and values are kept under its routing key (the episode id). When the next prompt
with that key starts with the tokens already computed (the history of the episode plus its
last reply), only the new tokens are fed — a turn costs its observation and reply instead of
the whole history again. Entries are dropped when the weights change (in-place optimiser
steps or ``load_weights``), least recently used first once they exceed ``cache_bytes``.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass
class _Prefix:
    """One row's computed prefix: its tokens and, per layer, keys and values (heads, len, dim)."""

    tokens: list[int]
    kv: list[tuple[Any, Any]]
    stamp: tuple[int, int]

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for pair in self.kv for t in pair)


class LocalPolicy:
    """``local:PATH``: a model and tokenizer saved with ``save_pretrained`` in ``PATH``.
    ``cache_bytes``: memory budget of the multi-turn prefix cache's keys and values (0: off)."""

    def __init__(
        self,
        path: str | Path,
        *,
        device: str = "cpu",
        seed: int = 0,
        max_batch: int = 64,
        cache_bytes: int = 1 << 30,
    ) -> None:
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
        self.cache_bytes = cache_bytes
        self._prefixes: OrderedDict[str, _Prefix] = OrderedDict()
        self.cached_bytes = 0  # held by the prefix cache now
        self.prefix_hits = 0  # prompt tokens served from the prefix cache (not recomputed)
        self.prefix_misses = 0  # prompt tokens computed

    def _stamp(self) -> tuple[int, int]:
        """Changes whenever the weights do: the version counters of the parameters tensors
        (bumped by every in-place update) and ``weight_version``."""
        return (sum(p._version for p in self.model.parameters()), self.weight_version)

    def clear_cache(self) -> None:
        """Forget every cached prefix."""
        with self._lock:
            self._prefixes.clear()
            self.cached_bytes = 0

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
        return await asyncio.to_thread(self.generate_sync, prompts, params, keys)

    def generate_sync(
        self, prompts: Sequence[Sequence[int]], params: SamplingParams, keys: Sequence[str] | None = None
    ) -> list[Generation]:
        out: list[Generation] = []
        for start in range(0, len(prompts), self.max_batch):
            chunk = keys[start : start + self.max_batch] if keys is not None else None
            with self._lock:
                out.extend(self._batch(prompts[start : start + self.max_batch], params, chunk))
        return out

    def _batch(
        self, prompts: Sequence[Sequence[int]], params: SamplingParams, keys: Sequence[str] | None
    ) -> list[Generation]:
        torch = _torch()
        if not prompts:
            return []
        if any(len(p) == 0 for p in prompts):
            raise ConfigError("a prompt needs at least one token")
        device = self.device
        rows = len(prompts)
        stamp = self._stamp()
        cached = [self._lookup(keys[r], prompts[r], stamp) if keys else None for r in range(rows)]
        lengths = [len(c.tokens) if c else 0 for c in cached]  # tokens already computed per row
        suffixes = [list(p[n:]) for p, n in zip(prompts, lengths, strict=True)]
        self.prefix_hits += sum(lengths)
        self.prefix_misses += sum(len(x) for x in suffixes)
        # layout per row: [pad][cached prefix] [pad][new prompt tokens] [generated...]
        width_c = max(lengths)
        width = max(len(x) for x in suffixes)
        ids = torch.full((rows, width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((rows, width_c + width), dtype=torch.long)
        positions = torch.zeros((rows, width), dtype=torch.long)
        for row, x in enumerate(suffixes):
            ids[row, width - len(x) :] = torch.tensor(x, dtype=torch.long)
            mask[row, width_c - lengths[row] : width_c] = 1
            mask[row, width_c + width - len(x) :] = 1
            positions[row, width - len(x) :] = torch.arange(lengths[row], lengths[row] + len(x))
        ids, mask, positions = ids.to(device), mask.to(device), positions.to(device)
        past = self._past(cached, lengths, width_c) if width_c else None
        stop_ids = set(params.stop_token_ids)
        tokens: list[list[int]] = [[] for _ in range(rows)]
        logprobs: list[list[float]] = [[] for _ in range(rows)]
        reasons: list[str | None] = [None] * rows
        with torch.inference_mode():
            out = self.model(
                input_ids=ids,
                attention_mask=mask,
                position_ids=positions,
                past_key_values=past,
                use_cache=True,
                logits_to_keep=1,
            )
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
        if keys and self.cache_bytes > 0:
            self._store(keys, prompts, tokens, suffixes, lengths, width_c, width, past, stamp)
        return [
            Generation(t, lp, r or "length", str(self.tokenizer.decode(t, skip_special_tokens=False)))
            for t, lp, r in zip(tokens, logprobs, reasons, strict=True)
        ]

    def _lookup(self, key: str, prompt: Sequence[int], stamp: tuple[int, int]) -> _Prefix | None:
        entry = self._prefixes.get(key)
        if entry is None:
            return None
        n = len(entry.tokens)
        if entry.stamp != stamp or n >= len(prompt) or list(prompt[:n]) != entry.tokens:
            self._drop(key)  # stale weights, or another episode under the same key
            return None
        self._prefixes.move_to_end(key)
        return entry

    def _past(self, cached: Sequence[_Prefix | None], lengths: Sequence[int], width: int) -> Any:
        """A cache of ``width`` positions holding each row's prefix right-aligned."""
        from transformers import DynamicCache

        sample = next(c for c in cached if c is not None).kv
        layers = []
        for layer, (k0, v0) in enumerate(sample):
            keys = k0.new_zeros((len(cached), k0.shape[0], width, k0.shape[2]))
            values = v0.new_zeros((len(cached), v0.shape[0], width, v0.shape[2]))
            for row, entry in enumerate(cached):
                if entry is not None:
                    keys[row, :, width - lengths[row] :] = entry.kv[layer][0]
                    values[row, :, width - lengths[row] :] = entry.kv[layer][1]
            layers.append((keys, values))
        return DynamicCache(layers)

    def _store(
        self,
        keys: Sequence[str],
        prompts: Sequence[Sequence[int]],
        tokens: Sequence[list[int]],
        suffixes: Sequence[list[int]],
        lengths: Sequence[int],
        width_c: int,
        width: int,
        past: Any,
        stamp: tuple[int, int],
    ) -> None:
        """Keep each row's computed prefix: the prompt and every generated token but the last
        (whose keys and values were never computed, unless decoding went on for other rows)."""
        torch = _torch()
        kv = [(layer.keys, layer.values) for layer in past.layers]
        for row, key in enumerate(keys):
            fed = max(len(tokens[row]) - 1, 0)
            spans = [
                slice(width_c - lengths[row], width_c),
                slice(width_c + width - len(suffixes[row]), width_c + width + fed),
            ]
            row_kv = [
                (
                    torch.cat([k[row, :, s] for s in spans], dim=1),
                    torch.cat([v[row, :, s] for s in spans], dim=1),
                )
                for k, v in kv
            ]
            if key in self._prefixes:
                self._drop(key)
            entry = _Prefix(list(prompts[row]) + tokens[row][:fed], row_kv, stamp)
            self._prefixes[key] = entry
            self.cached_bytes += entry.nbytes
        while self.cached_bytes > self.cache_bytes:
            self._drop(next(iter(self._prefixes)))

    def _drop(self, key: str) -> None:
        self.cached_bytes -= self._prefixes.pop(key).nbytes

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
