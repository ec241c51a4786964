"""The synthesis pipeline: coding problems in, verified environments and tasks out.

Five stages, each runnable alone and resumable (see :mod:`codegym.synth.records`):

1. ``generate`` — per problem, ``k`` LLM samples of ``<task>`` + ``<env>`` → ``generated.jsonl``;
2. ``check`` — static checks (:func:`~codegym.synth.static.inspect_env`), then in the sandbox:
   each example task loads and the env's own ``solve()`` reaches reward 1 → ``checked.jsonl``;
3. ``configs`` — the LLM proposes configurations; each must load and ``get_ref_answer()`` must
   finish within the solve budget → ``configs.jsonl``;
4. ``solvers`` — the LLM writes ``solver_samples`` tool-only ``solve(env)`` functions; every
   (solver, configuration) pair is played with solver and env in separate sandboxes; an env is
   kept with the first solver (by sample order) that ends every configuration with reward 1
   and calls at least one helper tool → ``solvers.jsonl``;
5. ``export`` — configurations with ``min_rounds <= solve_fc_round <= max_rounds``, one env per
   problem (the first verified sample) → ``OUT/dataset`` in the CodeGym layout.

Every LLM call goes through a content-addressed cache in ``OUT/cache``; a finished stage run
again does no LLM call and no sandbox work.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from tqdm import tqdm

from .. import datasets
from .._core import Limits
from ..errors import ConfigError
from ..prompts import build_prompt, default_max_rounds
from ..tools import extract_tools
from . import prompts, sandbox
from .llm import LLM, CachedLLM
from .records import Candidate, Config, SolverRun, StageFile, StageReport, digest, read_problems
from .static import Rejected, helper_tools, inspect_env, inspect_solver

__all__ = [
    "STAGES",
    "SynthConfig",
    "code_id",
    "default_env_limits",
    "default_solver_limits",
    "run",
    "run_stage",
]

STAGES = ("generate", "check", "configs", "solvers", "export")


def default_env_limits() -> Limits:
    """Env sandboxes: 256 MiB, 5·10⁹ fuel to load, 10⁹ per step, 2·10¹⁰ per solve()."""
    return Limits(
        memory_bytes=256 << 20,
        fuel_per_load=5_000_000_000,
        fuel_per_step=1_000_000_000,
        fuel_per_solve=20_000_000_000,
        wall_time_ms=30_000,
    )


def default_solver_limits() -> Limits:
    """Solver sandboxes: 256 MiB, 4·10⁹ fuel per replay of the solver."""
    # A solver step replays the solver from its start: its budget covers the whole replay.
    # Observations it answers carry an env action (up to the env's max_action_bytes).
    return Limits(
        memory_bytes=256 << 20,
        fuel_per_load=2_000_000_000,
        fuel_per_step=4_000_000_000,
        wall_time_ms=30_000,
        max_obs_bytes=512 << 10,
    )


@dataclass
class SynthConfig:
    """Settings of a pipeline run."""

    out: Path
    """Output directory: stage files, reports, ``cache/`` and ``dataset/``."""
    problems: Path | None = None
    """Problems file (``.jsonl``/``.parquet``); only the generate stage reads it."""
    k: int = 4
    """Env samples per problem."""
    solver_samples: int = 4
    """Solver samples per env."""
    temperature: float = 0.8
    """Sampling temperature of every LLM call."""
    max_tokens: int = 8192
    """Completion budget of every LLM call."""
    max_examples: int = 4
    """At most this many ``__main__`` example tasks are checked per env."""
    max_configs: int = 12
    """At most this many configurations are kept per env (the first valid ones)."""
    max_solver_steps: int = 512
    """A solver that has not finished after this many tool calls fails the configuration."""
    min_rounds: int = 10
    """Export keeps configurations whose ``solve_fc_round`` is at least this..."""
    max_rounds: int = 256
    """...and at most this."""
    env_limits: Limits = field(default_factory=default_env_limits)
    """Limits of env sandboxes (load, ``solve()``, ``get_ref_answer()``, steps)."""
    solver_limits: Limits = field(default_factory=default_solver_limits)
    """Limits of solver sandboxes (``fuel_per_step`` bounds one replay of the solver)."""
    threads: int | None = None
    """Pool threads (default: all cores)."""
    chunk: int = 64
    """Candidates per LLM wave and sandbox batch; results are saved after each chunk."""
    progress: bool = True
    """Show progress bars."""
    dataset_dir: Path | None = None
    """Where export writes (default ``OUT/dataset``)."""

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        if self.k < 1 or self.solver_samples < 1:
            raise ConfigError("k and solver_samples must be at least 1")
        if self.min_rounds > self.max_rounds:
            raise ConfigError(f"min_rounds {self.min_rounds} > max_rounds {self.max_rounds}")


def _limits_key(limits: Limits) -> list[int]:
    return [
        limits.memory_bytes,
        limits.fuel_per_step,
        limits.fuel_per_load,
        limits.fuel_per_solve,
        limits.wall_time_ms,
        limits.stack_bytes,
        limits.max_obs_bytes,
        limits.max_action_bytes,
    ]


def code_id(question_id: str) -> str:
    """The exported code id of a problem: ``s`` + 8 hex digits of its id's sha256 (stable
    whatever the order or subset of problems)."""
    return "s" + hashlib.sha256(question_id.encode()).hexdigest()[:8]


def _short(error: str, limit: int = 2000) -> str:
    return error if len(error) <= limit else error[: limit // 2] + "\n...\n" + error[-limit // 2 :]


class _Stage:
    """Shared bookkeeping of a stage over its inputs: reuse recorded results, process the rest
    in chunks, save after each chunk, rewrite the file in input order at the end."""

    def __init__(self, cfg: SynthConfig, name: str, inputs: int, file: str) -> None:
        self.cfg = cfg
        self.file = StageFile(cfg.out, file)
        self.done = self.file.by_key()
        self.report = StageReport(name, inputs=inputs)
        self.start = time.perf_counter()

    def finish(self, records: Sequence[Candidate], cached: CachedLLM | None) -> StageReport:
        self.file.write(records)
        for r in records:
            if r.ok:
                self.report.outputs += 1
            else:
                self.report.reject(r.reason, r.error)
        if cached is not None:
            self.report.llm_calls = cached.calls
        self.report.seconds = time.perf_counter() - self.start
        self.report.save(self.cfg.out)
        return self.report


# The file each stage writes, by stage name.
_FILES = {"generate": "generated", "check": "checked", "configs": "configs", "solvers": "solvers"}


def _upstream(cfg: SynthConfig, stage: str) -> list[Candidate]:
    """The records ``stage`` kept (``ok``), in its file's order."""
    file = StageFile(cfg.out, _FILES[stage])
    if not file.path.is_file():
        raise ConfigError(f"{file.path} does not exist: run the {stage!r} stage first")
    return [c for c in file.read() if c.ok]


async def _chunked(
    stage: _Stage,
    items: Sequence[tuple[str, Any]],
    work: Callable[[list[tuple[str, Any]]], Awaitable[list[Candidate]]],
    unit: str,
) -> list[Candidate]:
    """Run ``work`` on the items whose key has no record yet, chunk by chunk; return every
    record in item order (flattened: an item may give several records)."""
    todo = [(k, x) for k, x in items if k not in stage.done]
    stage.report.reused = len(items) - len(todo)
    with tqdm(total=len(todo), unit=unit, desc=stage.report.stage, disable=not stage.cfg.progress) as bar:
        for i in range(0, len(todo), stage.cfg.chunk):
            part = todo[i : i + stage.cfg.chunk]
            records = await work(part)
            stage.file.append(records)
            stage.done.update((r.key, r) for r in records)
            bar.update(len(part))
    return [stage.done[k] for k, _ in items if k in stage.done]


# --- 1. generate ---------------------------------------------------------------------------


async def generate(cfg: SynthConfig, llm: CachedLLM) -> StageReport:
    """Problems → ``k`` env samples each (``generated.jsonl``)."""
    if cfg.problems is None:
        raise ConfigError("the generate stage needs a problems file (--problems)")
    problems = read_problems(cfg.problems)
    stage = _Stage(cfg, "generate", len(problems) * cfg.k, "generated")
    items: list[tuple[str, Any]] = []
    for p in problems:
        messages = prompts.generate_messages(p.question_id, p.question, p.solution, p.tests)
        for s in range(cfg.k):
            items.append((digest("generate", messages, s, cfg.temperature), (p, messages, s)))

    async def work(part: list[tuple[str, Any]]) -> list[Candidate]:
        # One request per problem for all its missing samples.
        groups: dict[str, list[tuple[str, Any]]] = {}
        for key, item in part:
            groups.setdefault(item[0].question_id, []).append((key, item))

        async def one(group: list[tuple[str, Any]]) -> list[Candidate]:
            messages = group[0][1][1]
            texts = await llm.samples(
                "generate", messages, k=cfg.k, temperature=cfg.temperature, max_tokens=cfg.max_tokens
            )
            out = []
            for key, (p, _, s) in group:
                rec = Candidate(key=key, question_id=p.question_id, sample=s)
                try:
                    rec.description, rec.source = prompts.parse_generation(texts[s])
                except prompts.ParseError as e:
                    rec.ok, rec.reason, rec.error = False, e.reason, str(e)
                out.append(rec)
            return out

        done = await asyncio.gather(*(one(g) for g in groups.values()))
        return [r for group in done for r in group]

    records = await _chunked(stage, items, work, "sample")
    return stage.finish(records, llm)


# --- 2. check ------------------------------------------------------------------------------


async def check(cfg: SynthConfig) -> StageReport:
    """Static checks, then examples loaded and solved in the sandbox (``checked.jsonl``)."""
    inputs = _upstream(cfg, "generate")
    stage = _Stage(cfg, "check", len(inputs), "checked")
    sig = [_limits_key(cfg.env_limits), cfg.max_examples]
    items = [(digest("check", c.key, sig), c) for c in inputs]

    async def work(part: list[tuple[str, Any]]) -> list[Candidate]:
        records: list[Candidate] = []
        jobs: list[tuple[str, str]] = []
        owners: list[int] = []
        for key, c in part:
            rec = msgspec.structs.replace(c, key=key)
            try:
                info = inspect_env(c.source, cfg.max_examples)
            except Rejected as e:
                rec.ok, rec.reason, rec.error = False, e.reason, str(e)
            else:
                rec.env_name, rec.examples = info.env_name, info.examples
                for env_str in info.examples:
                    jobs.append((c.source, env_str))
                    owners.append(len(records))
            records.append(rec)
        outcomes = sandbox.run_examples(jobs, cfg.env_limits, threads=cfg.threads)
        for owner, (_, env_str), o in zip(owners, jobs, outcomes, strict=True):
            rec = records[owner]
            if not rec.ok:
                continue  # the first failing example gives the reason
            if o.failure is not None:
                rec.ok, rec.reason, rec.error = False, o.failure, f"{env_str}: {_short(o.error)}"
            elif o.reward != 1.0:
                rec.ok, rec.reason = False, "solve:wrong_answer"
                rec.error = f"{env_str}: solve() ended with reward {o.reward}: {o.answer[:300]}"
        return records

    records = await _chunked(stage, items, work, "env")
    return stage.finish(records, None)


# --- 3. configs ----------------------------------------------------------------------------


async def configs(cfg: SynthConfig, llm: CachedLLM) -> StageReport:
    """Proposed configurations, each loaded and its reference answer computed in the sandbox
    (``configs.jsonl``)."""
    inputs = _upstream(cfg, "check")
    stage = _Stage(cfg, "configs", len(inputs), "configs")
    sig = [_limits_key(cfg.env_limits), cfg.max_configs, cfg.temperature]
    items = [(digest("configs", c.key, sig), c) for c in inputs]

    async def work(part: list[tuple[str, Any]]) -> list[Candidate]:
        async def ask(c: Candidate) -> str:
            messages = prompts.configs_messages(c.question_id, c.env_name, c.description, c.source)
            texts = await llm.samples(
                "configs", messages, k=1, temperature=cfg.temperature, max_tokens=cfg.max_tokens
            )
            return texts[0]

        answers = await asyncio.gather(*(ask(c) for _, c in part))
        records: list[Candidate] = []
        jobs: list[tuple[str, str, str]] = []
        owners: list[tuple[int, Config]] = []
        for (key, c), text in zip(part, answers, strict=True):
            rec = msgspec.structs.replace(c, key=key, configs=[], rejected_configs=[])
            records.append(rec)
            try:
                proposed = prompts.parse_configs(text)
            except prompts.ParseError as e:
                rec.ok, rec.reason, rec.error = False, e.reason, str(e)
                continue
            seen: set[str] = set()
            for level, options in proposed:
                text_options = json.dumps(options, sort_keys=True) if isinstance(options, dict) else ""
                if not text_options:
                    what = json.dumps(options)[:200]
                    rec.rejected_configs.append(
                        Config(level, what, reason="bad_options", error="not an object")
                    )
                elif text_options in seen:
                    rec.rejected_configs.append(Config(level, text_options, reason="duplicate"))
                else:
                    seen.add(text_options)
                    jobs.append((c.source, c.env_name, text_options))
                    owners.append((len(records) - 1, Config(level, text_options)))
        outcomes = sandbox.run_ref_answers(jobs, cfg.env_limits, threads=cfg.threads)
        for (owner, conf), o in zip(owners, outcomes, strict=True):
            rec = records[owner]
            if o.failure is not None:
                failure = o.failure.replace("solve:", "ref:")
                rec.rejected_configs.append(
                    msgspec.structs.replace(conf, reason=failure, error=_short(o.error))
                )
            elif o.answer == "None":
                rec.rejected_configs.append(msgspec.structs.replace(conf, reason="ref:none"))
            elif len(rec.configs) < cfg.max_configs:
                rec.configs.append(msgspec.structs.replace(conf, ref_answer=o.answer[:1000]))
        for rec in records:
            if rec.ok and not rec.configs:
                rec.ok, rec.reason = False, "no_valid_configs"
                rec.error = "; ".join(f"{x.options[:60]}: {x.reason}" for x in rec.rejected_configs[:4])
            stage.report.notes.update(f"config rejected: {x.reason}" for x in rec.rejected_configs)
        return records

    records = await _chunked(stage, items, work, "env")
    return stage.finish(records, llm)


# --- 4. solvers ----------------------------------------------------------------------------


async def solvers(cfg: SynthConfig, llm: CachedLLM) -> StageReport:
    """Tool-only solvers played against every configuration, isolated from the env
    (``solvers.jsonl``)."""
    inputs = _upstream(cfg, "configs")
    stage = _Stage(cfg, "solvers", len(inputs), "solvers")
    sig = [
        _limits_key(cfg.env_limits),
        _limits_key(cfg.solver_limits),
        cfg.solver_samples,
        cfg.temperature,
        cfg.max_solver_steps,
    ]
    items = [(digest("solvers", c.key, sig), c) for c in inputs]

    async def work(part: list[tuple[str, Any]]) -> list[Candidate]:
        infos = [inspect_env(c.source, cfg.max_examples) for _, c in part]

        async def ask(c: Candidate, tools: Any) -> list[str]:
            example = f"{c.env_name}@{c.configs[0].options}"
            messages = prompts.solvers_messages(c.question_id, c.env_name, c.description, tools, example)
            return await llm.samples(
                "solvers",
                messages,
                k=cfg.solver_samples,
                temperature=cfg.temperature,
                max_tokens=cfg.max_tokens,
            )

        answers = await asyncio.gather(
            *(ask(c, info.tools) for (_, c), info in zip(part, infos, strict=True))
        )
        runs: list[dict[int, SolverRun]] = []
        codes: list[dict[int, str]] = []
        jobs: list[tuple[str, str, str]] = []
        owners: list[tuple[int, int, int]] = []  # candidate, solver, config
        for n, ((_, c), texts) in enumerate(zip(part, answers, strict=True)):
            runs.append({})
            codes.append({})
            for s, text in enumerate(texts):
                try:
                    code = prompts.parse_solver(text)
                    inspect_solver(code)
                except (prompts.ParseError, Rejected) as e:
                    runs[n][s] = SolverRun(s, e.reason, str(e))
                    continue
                codes[n][s] = code
                for j, conf in enumerate(c.configs):
                    jobs.append((c.source, f"{c.env_name}@{conf.options}", code))
                    owners.append((n, s, j))
        results = sandbox.run_solvers(
            jobs,
            cfg.env_limits,
            cfg.solver_limits,
            max_steps=cfg.max_solver_steps,
            threads=cfg.threads,
            chunk=max(cfg.chunk * 4, 64),
        )
        per: dict[tuple[int, int], list[sandbox.PairResult]] = {}
        for (n, s, _), r in zip(owners, results, strict=True):
            per.setdefault((n, s), []).append(r)
        records = []
        for n, (key, c) in enumerate(part):
            info = infos[n]
            for s in codes[n]:
                pairs = per[(n, s)]
                rounds: list[int | None] = [r.steps if r.failure is None else None for r in pairs]
                failed = next(((j, r) for j, r in enumerate(pairs) if r.failure is not None), None)
                if failed is not None:
                    j, r = failed
                    runs[n][s] = SolverRun(s, r.failure or "", _short(r.error), c.configs[j].options, rounds)
                elif not set().union(*(r.tools for r in pairs)) & helper_tools(info):
                    runs[n][s] = SolverRun(
                        s,
                        "cheat:no_tools",
                        f"the solver called only {info.observe} and {info.done}, never a helper tool",
                        rounds=rounds,
                    )
                else:
                    runs[n][s] = SolverRun(s, rounds=rounds)
            ordered = [runs[n][s] for s in sorted(runs[n])]
            rec = msgspec.structs.replace(c, key=key, solvers=ordered)
            winner = next((r for r in ordered if not r.reason), None)
            if winner is None:
                rec.ok, rec.reason = False, "no_passing_solver"
                rec.error = "; ".join(f"solver {r.index}: {r.reason}" for r in ordered)
            else:
                rec.solver_index, rec.solver = winner.index, codes[n][winner.index]
                rec.configs = [
                    msgspec.structs.replace(conf, rounds=steps)
                    for conf, steps in zip(c.configs, winner.rounds, strict=True)
                ]
            stage.report.notes.update(f"solver rejected: {r.reason}" for r in ordered if r.reason)
            records.append(rec)
        return records

    records = await _chunked(stage, items, work, "env")
    return stage.finish(records, llm)


# --- 5. export -----------------------------------------------------------------------------


def export(cfg: SynthConfig) -> StageReport:
    """Verified envs and their configurations in ``solve_fc_round`` range, one env per problem,
    written in the CodeGym layout (``OUT/dataset``)."""
    inputs = _upstream(cfg, "solvers")
    stage = _Stage(cfg, "export", len(inputs), "exported")
    records: list[Candidate] = []
    instances: list[datasets.TaskInstance] = []
    sources: dict[str, str] = {}
    taken: set[str] = set()
    for c in inputs:  # in problem order, then sample order: the first verified sample wins
        rec = msgspec.structs.replace(c)
        kept = [x for x in c.configs if x.rounds is not None and cfg.min_rounds <= x.rounds <= cfg.max_rounds]
        stage.report.notes["configurations outside the round range"] += len(c.configs) - len(kept)
        if c.question_id in taken:
            rec.ok, rec.reason = False, "duplicate_problem"
            rec.error = f"problem {c.question_id} already exported from an earlier sample"
        elif not kept:
            rec.ok, rec.reason = False, "rounds_out_of_range"
            rounds = [x.rounds for x in c.configs]
            rec.error = f"solve_fc_round {rounds} all outside [{cfg.min_rounds}, {cfg.max_rounds}]"
        else:
            taken.add(c.question_id)
            stem = f"{code_id(c.question_id)}__{c.env_name}"
            source = sandbox.verified_env_source(c.source, c.env_name, c.solver)
            sources[stem] = source
            tools = extract_tools(source, c.env_name)
            rec.configs = kept
            for x in kept:
                max_rounds = default_max_rounds(x.rounds)
                instances.append(
                    datasets.TaskInstance(
                        ability=datasets.make_ability(stem, x.options),
                        prompt=build_prompt(tools, c.description, max_rounds),
                        extra_info=datasets.ExtraInfo(len(instances), x.rounds, "train"),
                        plugin_call_max_round=max_rounds,
                    )
                )
        records.append(rec)
    target = cfg.dataset_dir or cfg.out / "dataset"
    if target.exists():
        shutil.rmtree(target)
    datasets.export(datasets.Dataset(instances, sources, "synth"), target)
    stage.report.notes["task instances"] = len(instances)
    return stage.finish(records, None)


# --- driver --------------------------------------------------------------------------------


async def run_stage(name: str, cfg: SynthConfig, llm: LLM | None) -> StageReport:
    """Run one stage; ``llm`` is needed by generate, configs and solvers."""
    if name not in STAGES:
        raise ConfigError(f"unknown stage {name!r}: choose from {', '.join(STAGES)}")
    cfg.out.mkdir(parents=True, exist_ok=True)
    if name == "check":
        return await check(cfg)
    if name == "export":
        return export(cfg)
    if llm is None:
        raise ConfigError(f"the {name} stage needs an LLM (--llm)")
    cached = CachedLLM(llm, cfg.out / "cache")
    if name == "generate":
        return await generate(cfg, cached)
    if name == "configs":
        return await configs(cfg, cached)
    return await solvers(cfg, cached)


def run(
    cfg: SynthConfig,
    llm: LLM | None,
    stages: Sequence[str] = STAGES,
    *,
    on_report: Callable[[StageReport], None] | None = None,
) -> list[StageReport]:
    """Run ``stages`` in order (each resumes from its recorded results); return their reports."""
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise ConfigError(f"unknown stage(s) {', '.join(unknown)}: choose from {', '.join(STAGES)}")

    async def main() -> list[StageReport]:
        reports = []
        try:
            for name in STAGES:
                if name in stages:
                    report = await run_stage(name, cfg, llm)
                    reports.append(report)
                    if on_report is not None:
                        on_report(report)
        finally:
            close = getattr(llm, "aclose", None)
            if close is not None:
                await close()
        return reports

    return asyncio.run(main())
