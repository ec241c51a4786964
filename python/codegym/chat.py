"""Token-level chat: the prompt rendered once with the tokenizer's chat template, then each
observation turned into tokens on its own — history is never re-rendered or re-tokenized.

The observation segment is derived from the template itself: rendering a probe conversation
with and without a trailing tool turn gives the text that closes an assistant turn (e.g.
``<|im_end|>\\n``), and the text around a tool message up to the next generation prompt (e.g.
``<|im_start|>tool\\n`` … ``<|im_end|>\\n<|im_start|>assistant\\n``). When the policy's reply
already ended with the closing stop token, that part is not repeated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .errors import ConfigError
from .prompts import Message

__all__ = ["ChatCodec"]

_PROBE_REPLY = "\u2063REPLY\u2063"
_PROBE_OBS = "\u2063OBSERVATION\u2063"


class ChatCodec:
    """Renders and tokenizes episodes for one tokenizer (a transformers tokenizer with a chat
    template). ``obs_role`` is the role of observation turns (``"tool"``, or ``"user"``)."""

    def __init__(self, tokenizer: Any, obs_role: str = "tool") -> None:
        self.tokenizer = tokenizer
        self.obs_role = obs_role
        probe = [
            {"role": "system", "content": "s"},
            {"role": "user", "content": "u"},
            {"role": "assistant", "content": _PROBE_REPLY},
        ]
        base = self._render(probe, add_generation_prompt=False)
        full = self._render(probe + [{"role": obs_role, "content": _PROBE_OBS}], add_generation_prompt=True)
        if not full.startswith(base) or _PROBE_REPLY not in base or full.count(_PROBE_OBS) != 1:
            raise ConfigError("the chat template does not render turns by appending; cannot stream tokens")
        self.close_assistant = base[base.rindex(_PROBE_REPLY) + len(_PROBE_REPLY) :]
        self.obs_before, self.obs_after = full[len(base) :].split(_PROBE_OBS)
        eos = tokenizer.eos_token_id
        self.stop_token_ids = [int(eos)] if eos is not None else []
        self.stop_text = tokenizer.decode(self.stop_token_ids) if self.stop_token_ids else ""

    def _render(self, messages: Sequence[dict[str, str]], add_generation_prompt: bool) -> str:
        return str(
            self.tokenizer.apply_chat_template(
                list(messages), tokenize=False, add_generation_prompt=add_generation_prompt
            )
        )

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def decode(self, ids: Sequence[int]) -> str:
        return str(self.tokenizer.decode(list(ids), skip_special_tokens=False))

    def prompt(self, messages: Sequence[Message]) -> tuple[list[int], str]:
        """The opening tokens and text (system + user, then the generation prompt)."""
        text = self._render([{"role": m.role, "content": m.content} for m in messages], True)
        return self.encode(text), text

    def observation(self, obs: str, reply_text: str) -> tuple[list[int], str]:
        """Tokens and text that close the reply (unless it closed itself), carry the
        observation, and open the next assistant turn."""
        close = self.close_assistant
        if self.stop_text and reply_text.endswith(self.stop_text) and close.startswith(self.stop_text):
            close = close[len(self.stop_text) :]
        text = close + self.obs_before + obs + self.obs_after
        return self.encode(text), text
