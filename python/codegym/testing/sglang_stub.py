"""An HTTP server that speaks SGLang's native API, backed by a local transformers model.

It is the CPU stand-in that lets the real :class:`~codegym.policy.sglang.SGLangPolicy` client be
tested end to end without a GPU: same endpoints, same request and response schemas
(``/generate`` with ``input_ids``, ``sampling_params``, ``return_logprob``, ``rid``;
``meta_info.output_token_logprobs`` as ``[logprob, token_id, text]`` and
``meta_info.finish_reason``), micro-batching of concurrent requests like a real server's
scheduler (much simplified), ``/health_generate``, ``/model_info``, ``/flush_cache`` (refused
while requests run), ``/abort_request``, ``/update_weights_from_disk``,
``/pause_generation``, ``/continue_generation``, and ``/v1/chat/completions`` (text).
``fail_first`` answers that many requests with 503 first, to exercise client retries. It is
not SGLang: no paged KV cache, no radix cache, no CUDA graphs — a real server needs a GPU
(docs/rollout.md).

``python -m codegym.testing.sglang_stub --model PATH [--port 30000]``
"""

from __future__ import annotations

import argparse
import json
import queue
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import msgspec

from ..policy import SamplingParams
from ..policy.local import LocalPolicy

__all__ = ["SGLangStub"]


@dataclass
class _Job:
    prompt: list[int]
    params: SamplingParams
    rid: str
    done: threading.Event = field(default_factory=threading.Event)
    result: dict[str, Any] | None = None


class SGLangStub:
    """The server; ``start()`` serves on a background thread, ``url`` says where."""

    def __init__(
        self,
        model_path: str,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        fail_first: int = 0,
        max_batch: int = 64,
    ) -> None:
        self.policy = LocalPolicy(model_path, max_batch=max_batch)
        self.model_path = model_path
        self.max_batch = max_batch
        self.fail_first = fail_first
        self.requests = 0
        self.jobs: queue.Queue[_Job] = queue.Queue()
        self.running = 0
        self.aborted: set[str] = set()
        self.abort_all = False
        self.unpaused = threading.Event()
        self.unpaused.set()
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer((host, port), self._handler())
        self.httpd.daemon_threads = True
        self.worker = threading.Thread(target=self._work, daemon=True)
        self.server_thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else str(host)
        return f"http://{name}:{port}"

    def start(self) -> SGLangStub:
        self.worker.start()
        self.server_thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # --- scheduler ----------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            first = self.jobs.get()
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    job = self.jobs.get(timeout=0.002)
                except queue.Empty:
                    break
                batch.append(job)
            self.unpaused.wait()
            groups: dict[bytes, list[_Job]] = {}
            for job in batch:  # one forward batch per distinct set of sampling parameters
                groups.setdefault(msgspec.json.encode(job.params), []).append(job)
            for jobs in groups.values():
                live = [j for j in jobs if not (self.abort_all or j.rid in self.aborted)]
                for j in jobs:
                    if j not in live:
                        j.result = _response(j, [], [], {"type": "abort", "message": "aborted"}, self)
                        j.done.set()
                if not live:
                    continue
                gens = self.policy.generate_sync([j.prompt for j in live], live[0].params)
                for j, gen in zip(live, gens, strict=True):
                    if gen.finish_reason == "stop":
                        reason: dict[str, Any] = {"type": "stop", "matched": gen.token_ids[-1]}
                    else:
                        reason = {"type": "length", "length": len(gen.token_ids)}
                    j.result = _response(j, gen.token_ids, gen.logprobs, reason, self)
                    j.done.set()

    def _generate(self, body: dict[str, Any]) -> Any:
        ids = body.get("input_ids")
        if not isinstance(ids, list) or not ids:
            raise ValueError("input_ids must be a non-empty list")
        batched = isinstance(ids[0], list)
        prompts = ids if batched else [ids]
        raw = body.get("sampling_params") or {}
        raws = raw if isinstance(raw, list) else [raw] * len(prompts)
        rids = body.get("rid")
        rids = rids if isinstance(rids, list) else [rids or f"req{id(body)}_{i}" for i in range(len(prompts))]
        jobs = [
            _Job([int(t) for t in p], _params(r), str(rid))
            for p, r, rid in zip(prompts, raws, rids, strict=True)
        ]
        with self.lock:
            self.running += len(jobs)
        try:
            for job in jobs:
                self.jobs.put(job)
            for job in jobs:
                job.done.wait()
        finally:
            with self.lock:
                self.running -= len(jobs)
        results = [job.result for job in jobs]
        if not body.get("return_logprob"):
            for r in results:
                assert r is not None
                r["meta_info"].pop("output_token_logprobs", None)
        return results if batched else results[0]

    def _chat(self, body: dict[str, Any]) -> dict[str, Any]:
        """OpenAI-compatible chat completion: template the messages, generate, detokenize."""
        tok = self.policy.tokenizer
        text = tok.apply_chat_template(body["messages"], tokenize=False, add_generation_prompt=True)
        prompt = tok.encode(text, add_special_tokens=False)
        raw = {
            "max_new_tokens": body.get("max_tokens", 128),
            "temperature": body.get("temperature", 1.0),
            "stop_token_ids": [tok.eos_token_id],
        }
        result = self._generate({"input_ids": prompt, "sampling_params": raw})
        ids = result["output_ids"]
        if ids and ids[-1] == tok.eos_token_id:
            ids = ids[:-1]
        reason = "stop" if result["meta_info"]["finish_reason"]["type"] == "stop" else "length"
        return {
            "object": "chat.completion",
            "model": body.get("model", self.model_path),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": tok.decode(ids, skip_special_tokens=False)},
                    "finish_reason": reason,
                }
            ],
            "usage": {"prompt_tokens": len(prompt), "completion_tokens": len(result["output_ids"])},
        }

    # --- HTTP ---------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def _send(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode() if payload is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length) or b"{}")

            def do_GET(self) -> None:
                if self.path == "/health_generate":
                    self._send(200, None)
                elif self.path == "/model_info":
                    self._send(
                        200,
                        {
                            "model_path": stub.model_path,
                            "tokenizer_path": stub.model_path,
                            "is_generation": True,
                            "weight_version": str(stub.policy.weight_version),
                        },
                    )
                else:
                    self._send(404, {"error": f"no route {self.path}"})

            def do_POST(self) -> None:
                body = self._body()
                with stub.lock:
                    stub.requests += 1
                    fail = stub.requests <= stub.fail_first
                if fail:
                    self._send(503, {"error": "server busy (injected)"})
                    return
                try:
                    if self.path == "/generate":
                        self._send(200, stub._generate(body))
                    elif self.path == "/v1/chat/completions":
                        self._send(200, stub._chat(body))
                    elif self.path == "/flush_cache":
                        if stub.running:
                            self._send(400, {"error": "Cache not flushed: requests are running"})
                        else:
                            self._send(200, None)
                    elif self.path == "/abort_request":
                        stub.abort_all = bool(body.get("abort_all"))
                        if body.get("rid"):
                            stub.aborted.add(str(body["rid"]))
                        self._send(200, None)
                    elif self.path == "/update_weights_from_disk":
                        stub.policy.load_weights(body["model_path"])
                        stub.model_path = body["model_path"]
                        self._send(200, {"success": True, "message": "Succeeded", "num_paused_requests": 0})
                    elif self.path == "/pause_generation":
                        stub.unpaused.clear()
                        self._send(200, None)
                    elif self.path == "/continue_generation":
                        stub.unpaused.set()
                        self._send(200, None)
                    else:
                        self._send(404, {"error": f"no route {self.path}"})
                except (ValueError, KeyError, TypeError) as e:
                    self._send(400, {"error": str(e)})

        return Handler


def _params(raw: dict[str, Any]) -> SamplingParams:
    return SamplingParams(
        max_new_tokens=int(raw.get("max_new_tokens", 128)),
        temperature=float(raw.get("temperature", 1.0)),
        top_p=float(raw.get("top_p", 1.0)),
        top_k=int(raw.get("top_k", -1)),
        stop=list(raw.get("stop") or []),
        stop_token_ids=[int(t) for t in raw.get("stop_token_ids") or []],
    )


def _response(
    job: _Job, ids: list[int], logprobs: list[float], reason: dict[str, Any], stub: SGLangStub
) -> dict[str, Any]:
    tok = stub.policy.tokenizer
    return {
        "text": tok.decode(ids, skip_special_tokens=False),
        "output_ids": ids,
        "meta_info": {
            "id": job.rid,
            "finish_reason": reason,
            "prompt_tokens": len(job.prompt),
            "completion_tokens": len(ids),
            "weight_version": str(stub.policy.weight_version),
            "output_token_logprobs": [
                [lp, t, tok.decode([t], skip_special_tokens=False)]
                for lp, t in zip(logprobs, ids, strict=True)
            ],
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m codegym.testing.sglang_stub")
    parser.add_argument("--model", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=30000)
    args = parser.parse_args()
    stub = SGLangStub(args.model, args.host, args.port).start()
    print(f"SGLang API stub on {stub.url}", flush=True)
    stub.server_thread.join()


if __name__ == "__main__":
    main()
