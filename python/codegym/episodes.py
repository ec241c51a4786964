"""Episodes: model text in, observations out, over a pool of sandboxed envs.

Each turn an episode takes the policy's reply, parses the one tool call in it (the Rust parser,
batched over every episode of the turn), maps a paraphrased tool name back to the env's own,
steps its env, and appends the reply and the observation to its messages. A reply without a
valid call is answered with the parse error as the observation: it costs a turn, nothing more.

An episode ends with a finish reason:

``done``            the env reported ``finished`` (the answer was submitted; ``reward`` says how it went)
``max_rounds``      ``plugin_call_max_round`` turns were used without finishing
``parse_failures``  ``max_parse_failures`` replies in a row had no valid call
``env_error``       the env failed (exception in ``step``, budget, memory, trap); ``error`` says why

:class:`OraclePolicy` replays each task's ``solve()`` oracle as model text through this whole
path (render → parse → step) — the end-to-end check of the suite and of the protocol.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from ._core import EnvPool, Limits, parse_actions
from .datasets import Dataset, TaskInstance
from .errors import ConfigError
from .prompts import Message, build_prompt, render_call, render_observation
from .tools import Tool, ToolNames, paraphrase

__all__ = [
    "Episode",
    "EpisodeRunner",
    "FinishReason",
    "OraclePolicy",
    "Policy",
    "Turn",
]

FinishReason = Literal["done", "max_rounds", "parse_failures", "env_error"]


@dataclass
class Turn:
    """One policy reply and what came back."""

    reply: str
    action: str | None  # the env action that was stepped (env's own tool names), or None
    observation: str
    parse_error: bool = False


@dataclass
class Episode:
    """One task being played: its messages so far, turns, reward and finish reason."""

    index: int
    instance: TaskInstance
    env_id: int
    tools: list[Tool]
    names: ToolNames
    messages: list[Message]
    turns: list[Turn] = field(default_factory=list)
    reward: float = 0.0
    finish_reason: FinishReason | None = None
    error: str | None = None
    consecutive_parse_failures: int = 0
    env_steps: int = 0

    @property
    def finished(self) -> bool:
        return self.finish_reason is not None

    @property
    def max_rounds(self) -> int:
        return self.instance.plugin_call_max_round

    @property
    def family(self) -> str:
        return self.instance.env_name


class Policy(Protocol):
    """Anything that writes one reply per waiting episode, given their messages."""

    def __call__(self, episodes: Sequence[Episode]) -> Sequence[str]: ...


class EpisodeRunner:
    """Plays task instances of a dataset in one :class:`EnvPool`, one env per episode.

    ``call_format`` is the parser's format (``"auto"`` accepts CodeGym, Hermes and OpenAI
    calls). ``obs_role`` is the role of observation messages (``"tool"``, or ``"user"`` for chat
    templates without a tool role). ``paraphrase_tools`` renames ``Observe``/``Done`` per episode
    (seeded by ``seed`` and the episode index) in the prompt and maps the names back before each
    step.
    """

    def __init__(
        self,
        dataset: Dataset,
        instances: Sequence[TaskInstance] | None = None,
        *,
        pool: EnvPool | None = None,
        num_threads: int | None = None,
        limits: Limits | None = None,
        call_format: str = "auto",
        obs_role: str = "tool",
        max_parse_failures: int = 3,
        paraphrase_tools: bool = False,
        seed: int = 0,
    ) -> None:
        if max_parse_failures < 1:
            raise ConfigError("max_parse_failures must be at least 1")
        self.dataset = dataset
        self.instances = list(dataset.instances if instances is None else instances)
        if not self.instances:
            raise ConfigError("no task instances to play")
        self.call_format = call_format
        self.obs_role = obs_role
        self.max_parse_failures = max_parse_failures
        self.paraphrase_tools = paraphrase_tools
        self.seed = seed
        self.specs = [dataset.spec(inst, seed + i) for i, inst in enumerate(self.instances)]
        if pool is not None and len(pool) != len(self.specs):
            raise ConfigError(f"the pool has {len(pool)} envs for {len(self.specs)} instances")
        self.pool = pool if pool is not None else EnvPool(self.specs, num_threads=num_threads, limits=limits)
        self.episodes: list[Episode] = []
        self.env_seconds = 0.0

    def __enter__(self) -> EpisodeRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.pool.close()

    def start(self) -> list[Episode]:
        """Reset every env and build each episode's opening messages."""
        t0 = time.perf_counter()
        reset = self.pool.reset()
        self.env_seconds += time.perf_counter() - t0
        self.episodes = []
        for i, inst in enumerate(self.instances):
            tools = self.dataset.tools(inst)
            names = ToolNames()
            messages = list(inst.prompt)
            if self.paraphrase_tools:
                tools, names = paraphrase(tools, self.seed * 1_000_003 + i)
                messages = build_prompt(tools, _task_text(inst), inst.plugin_call_max_round)
            ep = Episode(i, inst, i, tools, names, messages)
            if reset.error[i] is not None:
                ep.finish_reason, ep.error = "env_error", reset.error[i]
            self.episodes.append(ep)
        return self.episodes

    def waiting(self) -> list[Episode]:
        """Episodes that expect a reply."""
        return [ep for ep in self.episodes if not ep.finished]

    def feed(self, episodes: Sequence[Episode], replies: Sequence[str]) -> None:
        """Apply one reply to each of ``episodes`` (all unfinished): parse, step, observe."""
        if len(episodes) != len(replies):
            raise ConfigError(f"{len(replies)} replies for {len(episodes)} episodes")
        if any(ep.finished for ep in episodes):
            raise ConfigError("a reply was fed to a finished episode")
        parsed = parse_actions(list(replies), self.call_format)
        to_step: list[tuple[Episode, str, str]] = []
        for ep, reply, action, error in zip(episodes, replies, parsed.action, parsed.error, strict=True):
            ep.messages.append(Message("assistant", reply))
            if action is None:
                self._observe(ep, Turn(reply, None, error or "Error: no tool call", parse_error=True))
                continue
            to_step.append((ep, reply, self._to_env(ep, action)))
        if to_step:
            t0 = time.perf_counter()
            out = self.pool.step([a for _, _, a in to_step], [ep.env_id for ep, _, _ in to_step])
            self.env_seconds += time.perf_counter() - t0
            for k, (ep, reply, action) in enumerate(to_step):
                ep.env_steps += 1
                if out.error[k] is not None:
                    ep.error = out.error[k]
                    ep.turns.append(Turn(reply, action, ""))
                    ep.finish_reason = "env_error"
                    continue
                ep.reward = float(out.reward[k])
                self._observe(ep, Turn(reply, action, out.obs[k]))
                if out.done[k]:
                    ep.finish_reason = "done"

    def _to_env(self, ep: Episode, action: str) -> str:
        """The parsed action with a paraphrased tool name mapped back to the env's own."""
        if not ep.names:
            return action
        call = json.loads(action)
        call["name"] = ep.names.to_real(call["name"])
        return json.dumps(call)

    def _observe(self, ep: Episode, turn: Turn) -> None:
        ep.turns.append(turn)
        ep.messages.append(render_observation(turn.observation, self.obs_role))
        ep.consecutive_parse_failures = ep.consecutive_parse_failures + 1 if turn.parse_error else 0
        if ep.consecutive_parse_failures >= self.max_parse_failures:
            ep.finish_reason = "parse_failures"
        elif len(ep.turns) >= ep.max_rounds:
            ep.finish_reason = "max_rounds"

    def run(
        self, policy: Policy, on_turn: Callable[[Sequence[Episode]], None] | None = None
    ) -> list[Episode]:
        """Start, then give every waiting episode a reply per turn until all have finished.
        ``on_turn`` is called after each turn with the episodes that finished in it."""
        self.start()
        finished_before = [ep for ep in self.episodes if ep.finished]
        if on_turn is not None and finished_before:
            on_turn(finished_before)
        while waiting := self.waiting():
            replies = policy(waiting)
            self.feed(waiting, replies)
            if on_turn is not None:
                on_turn([ep for ep in waiting if ep.finished])
        return self.episodes


def _task_text(inst: TaskInstance) -> str:
    """The task statement inside an instance's user message (used when tools are renamed)."""
    for m in inst.prompt:
        if m.role == "user" and m.content.startswith("Task: "):
            return m.content[len("Task: ") :].split("\n\nRules:", 1)[0]
    return ""


class OraclePolicy:
    """Replays each task's ``solve()`` oracle as model text.

    The oracle's actions are recorded once by running ``solve()`` in a sandbox of its own (the
    same spec and seed as the episode's env, so the replay sees the same observations); each
    turn the next action is written as a tool call in ``call_format`` (with the episode's
    shown tool names), and goes through the runner's parser and dispatch like any model reply.
    """

    def __init__(self, runner: EpisodeRunner, call_format: str = "codegym") -> None:
        self.call_format = call_format
        with EnvPool(runner.specs, num_threads=runner.pool.num_threads, limits=runner.pool.limits) as pool:
            solved = pool.solve(record=True)
        self.actions: list[list[str] | None] = list(solved.actions)
        self.errors = list(solved.error)

    def __call__(self, episodes: Sequence[Episode]) -> list[str]:
        replies = []
        for ep in episodes:
            trace = self.actions[ep.index]
            n = sum(1 for t in ep.turns if not t.parse_error)  # oracle calls already stepped
            if trace is None or n >= len(trace):
                replies.append("I have no further call to make.")  # a parse failure, by design
                continue
            try:
                call = json.loads(trace[n])
            except ValueError:
                call = None
            if isinstance(call, dict) and isinstance(call.get("name"), str):
                call["name"] = ep.names.to_shown(call["name"])
                replies.append(render_call(call, self.call_format))
            else:  # the oracle itself sent a malformed action: send it verbatim
                replies.append(trace[n])
        return replies
