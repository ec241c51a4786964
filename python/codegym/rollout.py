"""The rollout loop: many episodes in flight between a token policy and the env pool.

For every task, one env is reset and forked into ``n`` clones (a GRPO group: ``n`` rollouts
from one start). The chat template is applied once per episode; afterwards each turn appends
the generated tokens (loss mask 1, with logprobs) and the observation tokens (loss mask 0) to
the episode's one token list — nothing is re-rendered or re-tokenized.

Scheduling: episodes that wait for the policy are gathered into batches of up to
``max_batch`` prompts, with up to ``max_generations`` batches generating at once; as a batch
comes back its replies are parsed in one call to the Rust parser, valid calls go to the pool
with ``send``, and a pump collects finished steps with ``recv`` as they complete — a slow env
holds back no other episode. At most ``max_episodes`` episodes are live; a new group starts as
soon as there is room. Each finished episode is written at once (see
:class:`~codegym.protocol.TrajectoryWriter`); with ``resume``, groups/samples already in the
output are skipped.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import msgspec

from ._core import EnvPool, Limits, parse_actions
from .chat import ChatCodec
from .datasets import Dataset, TaskInstance
from .policy import Generation, SamplingParams, TokenPolicy
from .protocol import TaskRef, Trajectory, TrajectoryWriter, TurnRecord

__all__ = ["RolloutConfig", "RolloutStats", "rollout"]


@dataclass(frozen=True)
class RolloutConfig:
    """Rollout settings."""

    n: int = 4
    """Rollouts per task (one GRPO group, forked from one reset env)."""
    sampling: SamplingParams = SamplingParams()
    """Sampling parameters; the chat template's end-of-turn token is always a stop token."""
    max_turns: int | None = None
    """Turn limit; ``None`` uses each instance's ``plugin_call_max_round``."""
    max_total_tokens: int = 8192
    """Prompt + all turns; an episode that reaches it ends with ``max_tokens``."""
    max_parse_failures: int = 3
    """Replies in a row without a valid tool call before the episode ends."""
    max_episodes: int = 256
    """Episodes in flight at once."""
    max_batch: int = 64
    """Prompts per ``generate`` call."""
    max_generations: int = 4
    """``generate`` calls in flight at once."""
    call_format: str = "auto"
    """Tool-call format the parser accepts."""
    seed: int = 0
    """Env seed of group ``g`` is ``seed + g``."""


@dataclass
class RolloutStats:
    """What a rollout run did, for reports and the overhead benchmark."""

    episodes: int = 0
    turns: int = 0
    policy_seconds: float = 0.0
    # parse + send + observation tokens + time in recv, which includes waiting for env results
    # while generations run (so it overlaps policy time); benches/test_rollout.py times the
    # engine's own share of a turn
    engine_seconds: float = 0.0
    wall_seconds: float = 0.0
    finish: dict[str, int] = field(default_factory=dict)
    rewards: list[float] = field(default_factory=list)


@dataclass
class _Live:
    ref: TaskRef
    instance: TaskInstance
    env_id: int
    max_turns: int
    token_ids: list[int]
    prompt_text: str
    loss_mask: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    turns: list[TurnRecord] = field(default_factory=list)
    parse_failures: int = 0
    reward: float = 0.0
    finish: str | None = None
    error: str | None = None
    started: float = field(default_factory=time.perf_counter)
    pending: tuple[Generation, str, float, int] | None = None  # reply, its text, policy s, start
    action: str | None = None  # the action being stepped

    @property
    def key(self) -> str:
        return f"g{self.ref.group}s{self.ref.sample}"


async def rollout(
    dataset: Dataset,
    policy: TokenPolicy,
    codec: ChatCodec,
    config: RolloutConfig = RolloutConfig(),
    *,
    writer: TrajectoryWriter | None = None,
    instances: Sequence[TaskInstance] | None = None,
    limits: Limits | None = None,
    num_threads: int | None = None,
    on_episode: Callable[[Trajectory], None] | None = None,
) -> tuple[list[Trajectory], RolloutStats]:
    """Play ``config.n`` episodes of every instance; return the trajectories in (group,
    sample) order, whatever order they finished in (those written by earlier runs of a resumed
    ``writer`` are not repeated), and run statistics."""
    runner = _Rollout(dataset, policy, codec, config, writer, instances, limits, num_threads, on_episode)
    try:
        return await runner.run()
    finally:
        runner.pool.close()


class _Rollout:
    def __init__(
        self,
        dataset: Dataset,
        policy: TokenPolicy,
        codec: ChatCodec,
        config: RolloutConfig,
        writer: TrajectoryWriter | None,
        instances: Sequence[TaskInstance] | None,
        limits: Limits | None,
        num_threads: int | None,
        on_episode: Callable[[Trajectory], None] | None,
    ) -> None:
        self.dataset, self.policy, self.codec, self.config = dataset, policy, codec, config
        self.writer, self.on_episode = writer, on_episode
        self.instances = list(dataset.instances if instances is None else instances)
        done = writer.keys() if writer is not None else set()
        # (group, samples still to play) for every task
        self.todo: deque[tuple[int, list[int]]] = deque()
        for g in range(len(self.instances)):
            samples = [s for s in range(config.n) if (g, s) not in done]
            if samples:
                self.todo.append((g, samples))
        specs = [dataset.spec(inst, config.seed + g) for g, inst in enumerate(self.instances)]
        self.pool = EnvPool(specs, num_threads=num_threads, limits=limits)
        stop_ids = sorted(set(config.sampling.stop_token_ids) | set(codec.stop_token_ids))
        self.sampling = msgspec.structs.replace(config.sampling, stop_token_ids=stop_ids)
        self.ready: deque[_Live] = deque()
        self.live = 0
        self.in_env: dict[int, _Live] = {}  # registered before their send() so no result is orphaned
        self.sent = 0  # actions whose send() returned and whose result was not received yet
        self.stats = RolloutStats()
        self.out: list[Trajectory] = []

    async def run(self) -> tuple[list[Trajectory], RolloutStats]:
        t0 = time.perf_counter()
        generations: set[asyncio.Task[None]] = set()
        pump: asyncio.Task[None] | None = None
        while self.todo or self.live:
            await self._admit()
            while self.ready and len(generations) < self.config.max_generations:
                batch = [self.ready.popleft() for _ in range(min(self.config.max_batch, len(self.ready)))]
                generations.add(asyncio.create_task(self._generate(batch)))
            if self.in_env and pump is None:
                pump = asyncio.create_task(self._pump())
            waiting: set[asyncio.Task[None]] = set(generations)
            if pump is not None:
                waiting.add(pump)
            if not waiting:
                if self.todo or self.live:
                    continue
                break
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # surface bugs; per-episode failures are handled inside
                if task is pump:
                    pump = None
                else:
                    generations.discard(task)
        if pump is not None:
            await pump
        self.stats.wall_seconds = time.perf_counter() - t0
        self.out.sort(key=lambda t: t.key)  # episodes finish in an order that depends on timing
        return self.out, self.stats

    async def _admit(self) -> None:
        """Start groups while there is room: reset the group's env, fork it, build prompts."""
        while self.todo and (self.live == 0 or self.live + len(self.todo[0][1]) <= self.config.max_episodes):
            g, samples = self.todo.popleft()
            inst = self.instances[g]
            t0 = time.perf_counter()
            reset = await asyncio.to_thread(self.pool.reset, [g])
            env_ids = [g]
            error = reset.error[0]
            if error is None and len(samples) > 1:
                try:
                    clones = await asyncio.to_thread(self.pool.fork, g, len(samples) - 1)
                    env_ids.extend(int(i) for i in clones)
                except Exception as e:  # a refused fork fails the group, not the run
                    error = f"fork failed: {e}"
            ids, text = self.codec.prompt(inst.prompt)
            self.stats.engine_seconds += time.perf_counter() - t0
            max_turns = self.config.max_turns or inst.plugin_call_max_round
            for k, s in enumerate(samples):
                ref = TaskRef(inst.ability, inst.extra_info.index, g, s, self.dataset.name)
                ep = _Live(ref, inst, env_ids[k] if k < len(env_ids) else g, max_turns, list(ids), text)
                self.live += 1
                if error is not None:
                    self._finish(ep, "env_error", error)
                elif len(ids) >= self.config.max_total_tokens:
                    self._finish(ep, "max_tokens")
                else:
                    self.ready.append(ep)

    async def _generate(self, batch: list[_Live]) -> None:
        budget = [self.config.max_total_tokens - len(ep.token_ids) for ep in batch]
        params = self.sampling
        if min(budget) < params.max_new_tokens:
            params = msgspec.structs.replace(params, max_new_tokens=max(1, min(budget)))
        t0 = time.perf_counter()
        try:
            gens = await self.policy.generate(
                [ep.token_ids for ep in batch], params, keys=[ep.key for ep in batch]
            )
        except Exception as e:
            for ep in batch:
                self._finish(ep, "policy_error", f"{type(e).__name__}: {e}")
            return
        policy_seconds = time.perf_counter() - t0
        self.stats.policy_seconds += policy_seconds
        t1 = time.perf_counter()
        replies = []
        for ep, gen in zip(batch, gens, strict=True):
            start = len(ep.token_ids)
            ep.token_ids.extend(gen.token_ids)
            ep.loss_mask.extend([1] * len(gen.token_ids))
            ep.logprobs.extend(gen.logprobs)
            text = self.codec.decode(gen.token_ids)
            ep.pending = (gen, text, policy_seconds, start)
            stop = self.codec.stop_text
            replies.append(text[: -len(stop)] if stop and text.endswith(stop) else text)
        parsed = parse_actions(replies, self.config.call_format)
        to_send: list[tuple[_Live, str]] = []
        for ep, action, error in zip(batch, parsed.action, parsed.error, strict=True):
            if action is None:
                ep.parse_failures += 1
                self._observe(ep, None, error or "Error: no tool call", 0.0, parse_error=True)
            else:
                ep.parse_failures = 0
                to_send.append((ep, action))
        if to_send:
            for ep, action in to_send:
                ep.action = action
                self.in_env[ep.env_id] = ep
            await asyncio.to_thread(self.pool.send, [a for _, a in to_send], [ep.env_id for ep, _ in to_send])
            self.sent += len(to_send)
        self.stats.engine_seconds += time.perf_counter() - t1

    async def _pump(self) -> None:
        """Collect finished env steps until none are in flight."""
        while self.in_env:
            if self.sent == 0:  # registered, but the send() is still on its way
                await asyncio.sleep(0.0005)
                continue
            t0 = time.perf_counter()
            out = await asyncio.to_thread(self.pool.recv, 1, self.sent, 0.005)
            self.sent -= len(out.env_ids)
            for k, env_id in enumerate(out.env_ids):
                ep = self.in_env.pop(int(env_id))
                action, ep.action = ep.action, None
                if out.error[k] is not None:
                    self._observe(ep, action, "", 0.0, env_error=out.error[k])
                    continue
                ep.reward = float(out.reward[k])
                self._observe(ep, action, out.obs[k], time.perf_counter() - t0, done=bool(out.done[k]))
            self.stats.engine_seconds += time.perf_counter() - t0

    def _observe(
        self,
        ep: _Live,
        action: str | None,
        obs: str,
        env_seconds: float,
        *,
        parse_error: bool = False,
        done: bool = False,
        env_error: str | None = None,
    ) -> None:
        assert ep.pending is not None
        gen, reply_text, policy_seconds, start = ep.pending
        ep.pending = None
        obs_start = len(ep.token_ids)
        obs_text = ""
        if env_error is None and not done:
            ids, obs_text = self.codec.observation(obs, reply_text)
            ep.token_ids.extend(ids)
            ep.loss_mask.extend([0] * len(ids))
            ep.logprobs.extend([0.0] * len(ids))
        ep.turns.append(
            TurnRecord(
                response_start=start,
                response_len=len(gen.token_ids),
                observation_start=obs_start,
                observation_len=len(ep.token_ids) - obs_start,
                response_text=reply_text,
                observation_text=obs_text if obs_text else obs,
                action=action,
                parse_error=parse_error,
                finish_reason=gen.finish_reason,
                policy_seconds=policy_seconds,
                env_seconds=env_seconds,
            )
        )
        self.stats.turns += 1
        if env_error is not None:
            self._finish(ep, "env_error", env_error)
        elif done:
            self._finish(ep, "done")
        elif ep.parse_failures >= self.config.max_parse_failures:
            self._finish(ep, "parse_failures")
        elif len(ep.turns) >= ep.max_turns:
            self._finish(ep, "max_rounds")
        elif len(ep.token_ids) >= self.config.max_total_tokens:
            self._finish(ep, "max_tokens")
        else:
            self.ready.append(ep)

    def _finish(self, ep: _Live, reason: str, error: str | None = None) -> None:
        ep.finish = reason
        self.live -= 1
        prompt_len = len(ep.token_ids) - len(ep.loss_mask)  # loss_mask starts after the prompt
        traj = Trajectory(
            task=ep.ref,
            token_ids=ep.token_ids,
            loss_mask=[0] * prompt_len + ep.loss_mask,
            logprobs=[0.0] * prompt_len + ep.logprobs,
            prompt_len=prompt_len,
            prompt_text=ep.prompt_text,
            turns=ep.turns,
            reward=ep.reward if reason == "done" else 0.0,
            finish_reason=reason,
            error=error,
            policy=self.policy.name,
            weight_version=self.policy.weight_version,
            seconds=time.perf_counter() - ep.started,
        )
        if self.writer is not None:
            self.writer.write(traj)
        self.out.append(traj)
        self.stats.episodes += 1
        self.stats.finish[reason] = self.stats.finish.get(reason, 0) + 1
        self.stats.rewards.append(traj.reward)
        if self.on_episode is not None:
            self.on_episode(traj)
