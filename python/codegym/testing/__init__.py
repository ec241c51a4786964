"""Test and CPU stand-ins: a tiny model with a locally trained tokenizer (:mod:`.tiny`) and an
HTTP server speaking SGLang's API backed by it (:mod:`.sglang_stub`). Nothing here downloads."""
