"""A tiny Qwen2-architecture causal LM with random weights and a byte-level BPE tokenizer
trained here on the bundled suite's text, with a ChatML chat template: the CPU stand-in for a
real policy model (no download). ``python -m codegym.testing.tiny PATH`` writes one.

The model is random, so its text is noise; what it proves is the token-level plumbing: chat
template, stop tokens, logprobs, loss masks, weight updates.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

__all__ = ["CHAT_TEMPLATE", "SPECIAL_TOKENS", "cached_tiny_model", "make_tiny_model"]

SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|FunctionCallBegin|>",
    "<|FunctionCallEnd|>",
    "<tool_call>",
    "</tool_call>",
]

# ChatML, as Qwen models use it; tool results are their own "tool" turn.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def _corpus() -> list[str]:
    from .. import datasets
    from ..prompts import render_call

    data = datasets.load("builtin")
    texts = []
    seen = set()
    for inst in data:
        texts.append(inst.env_str)
        if inst.stem in seen:
            continue
        seen.add(inst.stem)
        texts.extend(m.content for m in inst.prompt)
        for tool in data.tools(inst):
            params = {p.name: 1 for p in tool.params}
            texts.append(render_call({"name": tool.name, "parameters": params}))
    texts.append(" ".join(str(i) for i in range(1000)))
    texts.append("Error: no tool call found. Your answer: 3, reference answer: 3, result: correct, reward=1")
    return texts


def make_tiny_model(
    path: str | Path, *, vocab_size: int = 1024, seed: int = 0, hidden: int = 64, layers: int = 2
) -> Path:
    """Write a tokenizer and a random tiny model to ``path`` (``save_pretrained`` layout);
    return ``path``. Deterministic for a given ``seed``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_corpus(), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=bpe,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=SPECIAL_TOKENS[1:],
        clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(out)

    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=8192,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = Qwen2ForCausalLM(config)
    model.save_pretrained(out)
    (out / "codegym_tiny.json").write_text(
        json.dumps({"seed": seed, "vocab_size": vocab_size, "hidden": hidden, "layers": layers})
    )
    return out


def cached_tiny_model() -> Path:
    """The default tiny model, built once into the codegym cache directory."""
    from .._core import cache_dir

    path = Path(cache_dir()) / "tiny-model-v1"
    if not (path / "model.safetensors").is_file():
        make_tiny_model(path)
    return path


if __name__ == "__main__":
    print(make_tiny_model(sys.argv[1] if len(sys.argv) > 1 else "tiny-model"))
