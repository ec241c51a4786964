"""A token policy that replays each task's ``solve()`` oracle: the source of supervised
warm-start data and of end-to-end checks of the token path.

The oracle's actions are recorded once per task in a sandbox of the same spec and seed as the
rollout's env (group ``g`` of a rollout with seed ``s`` runs with seed ``s + g``), so the replay
sees the same observations; each turn the episode's next recorded call is written as a tool
call in the CodeGym format, followed by the chat template's end-of-turn token.
"""

from __future__ import annotations

from collections.abc import Sequence

from .._core import EnvPool
from ..chat import ChatCodec
from ..datasets import Dataset
from ..errors import ConfigError
from ..prompts import render_call
from . import Generation, SamplingParams

__all__ = ["OracleTokenPolicy"]


class OracleTokenPolicy:
    """Replays recorded oracle calls as generated tokens (``keys`` are required: they say which
    group, i.e. dataset instance, an episode belongs to)."""

    name = "oracle"

    def __init__(
        self,
        dataset: Dataset,
        codec: ChatCodec,
        *,
        seed: int = 0,
        weight_version: int = 0,
        logprob: float = 0.0,
    ) -> None:
        with EnvPool(dataset.specs(seed)) as pool:
            solved = pool.solve(record=True)
        self.actions = list(solved.actions)
        self.codec = codec
        self.weight_version = weight_version
        self.logprob = logprob
        self._turn: dict[str, int] = {}

    async def generate(
        self, prompts: Sequence[Sequence[int]], params: SamplingParams, keys: Sequence[str] | None = None
    ) -> list[Generation]:
        if keys is None or len(keys) != len(prompts):
            raise ConfigError("OracleTokenPolicy needs one rollout key per prompt")
        out = []
        for key in keys:
            group = int(key[1:].split("s", 1)[0])
            n = self._turn.get(key, 0)
            self._turn[key] = n + 1
            trace = self.actions[group]
            if trace is not None and n < len(trace):
                text = render_call(trace[n])
            else:  # past the oracle's last call: a reply with no call, parsed as a failure
                text = "I have no call to make."
            ids = self.codec.encode(text) + self.codec.stop_token_ids
            out.append(Generation(ids, [self.logprob] * len(ids), "stop", text))
        return out

    async def aclose(self) -> None:
        return None
