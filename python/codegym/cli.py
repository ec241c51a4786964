"""The ``codegym`` command line."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
from tqdm import tqdm

from . import __version__, datasets
from ._core import Limits
from .episodes import EpisodeRunner, OraclePolicy
from .errors import CodegymError, ConfigError
from .prompts import render_call
from .tools import openai_tools


def _load(args: argparse.Namespace) -> datasets.Dataset:
    return datasets.load(
        args.dataset,
        split=args.split,
        envs=args.env or None,
        min_rounds=args.min_rounds,
        max_rounds=args.max_rounds,
    )


def _add_dataset_args(p: argparse.ArgumentParser, positional: bool = False) -> None:
    if positional:
        p.add_argument("dataset", nargs="?", default="builtin", help="builtin (default), a directory or file")
    else:
        p.add_argument("--dataset", default="builtin", help="builtin (default), a directory or file")
    p.add_argument("--split", choices=["train", "test"], default=None, help="only this split")
    p.add_argument("--env", action="append", help="only this env (EnvName or code_id__EnvName); repeatable")
    p.add_argument("--min-rounds", type=int, default=None, help="only tasks with solve_fc_round >= N")
    p.add_argument("--max-rounds", type=int, default=None, help="only tasks with solve_fc_round <= N")


def _oracle(args: argparse.Namespace) -> int:
    """Play every task with the oracle policy through the full text path (render → parse →
    step); print success rate, steps/s and per-family stats."""
    data = _load(args)
    instances = list(data.instances) * args.repeat
    start = time.perf_counter()
    with EpisodeRunner(data, instances, num_threads=args.threads, paraphrase_tools=args.paraphrase) as runner:
        policy = OraclePolicy(runner, call_format=args.format)
        recorded = time.perf_counter()
        with tqdm(total=len(instances), unit="task", desc="oracle episodes", disable=args.quiet) as bar:
            episodes = runner.run(policy, on_turn=lambda done: bar.update(len(done)))
        threads = runner.pool.num_threads
        env_seconds = runner.env_seconds
    end = time.perf_counter()

    per_family: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # tasks, solved, turns, steps
    for ep in episodes:
        row = per_family[ep.family]
        row[0] += 1
        row[1] += int(ep.finish_reason == "done" and ep.reward == 1.0)
        row[2] += len(ep.turns)
        row[3] += ep.env_steps
    width = max(len(name) for name in per_family)
    print(f"{'env family':<{width}}  split  tasks  solved  turns/task")
    splits = {i.env_name: i.split for i in data.instances}
    for name in sorted(per_family):
        n, ok, turns, _ = per_family[name]
        print(f"{name:<{width}}  {splits[name]:<5}  {n:>5}  {ok:>6}  {turns / n:>10.1f}")
    for ep in episodes:
        if ep.reward != 1.0:
            why = (
                ep.error.splitlines()[0] if ep.error else (ep.turns[-1].observation[:120] if ep.turns else "")
            )
            print(f"unsolved: {ep.instance.env_str[:70]} ({ep.finish_reason}): {why}", file=sys.stderr)
    solved = sum(r[1] for r in per_family.values())
    total_steps = sum(r[3] for r in per_family.values())
    total_turns = sum(r[2] for r in per_family.values())
    elapsed = end - recorded
    print(
        f"\n{solved}/{len(episodes)} tasks solved ({100.0 * solved / len(episodes):.1f}%) by the oracle "
        f"policy through render → parse → step; {total_turns} turns in {elapsed:.2f} s on {threads} "
        f"threads: {total_turns / elapsed:,.0f} turns/s end to end, {total_steps / env_seconds:,.0f} "
        f"env-steps/s in the pool (engine start + oracle recording {recorded - start:.2f} s)"
    )
    return 0 if solved == len(episodes) else 1


def _tasks_list(args: argparse.Namespace) -> int:
    data = _load(args)
    rows: dict[str, list[datasets.TaskInstance]] = defaultdict(list)
    for inst in data.instances:
        rows[inst.stem].append(inst)
    width = max((len(s) for s in rows), default=10)
    print(f"{'env':<{width}}  split  tasks  rounds    tools")
    for stem in sorted(rows):
        insts = rows[stem]
        known = [i.solve_fc_round for i in insts if i.solve_fc_round is not None]
        span = f"{min(known)}-{max(known)}" if known else "?"
        tools = ", ".join(t.name for t in data.tools(insts[0]))
        print(f"{stem:<{width}}  {insts[0].split:<5}  {len(insts):>5}  {span:<8}  {tools}")
    print(f"\n{len(data)} tasks in {len(rows)} envs")
    return 0


def _find_task(data: datasets.Dataset, ref: str) -> datasets.TaskInstance:
    """A task by index, by ability / task string, or the first task of an env."""
    if ref.isdigit():
        index = int(ref)
        if index >= len(data):
            raise ConfigError(f"task index {index} out of range: the dataset has {len(data)} tasks")
        return data[index]
    for inst in data.instances:
        if ref in (inst.ability, inst.env_str, inst.env_name, inst.stem):
            return inst
    raise ConfigError(f"no task {ref!r}: give an index, a task string EnvName@{{...}} or an env name")


def _tasks_show(args: argparse.Namespace) -> int:
    data = datasets.load(args.dataset)
    inst = _find_task(data, args.task)
    if args.format == "json":
        print(msgspec.json.format(msgspec.json.encode(inst)).decode())
    elif args.format == "openai":
        print(json.dumps(openai_tools(data.tools(inst)), indent=2))
    else:
        print(f"# {inst.ability}")
        rounds = f"solve_fc_round={inst.solve_fc_round} max_rounds={inst.plugin_call_max_round}"
        print(f"# split={inst.split} {rounds}")
        for m in inst.prompt:
            print(f"\n[{m.role}]\n{m.content}")
    return 0


def _tasks_export(args: argparse.Namespace) -> int:
    data = _load(args)
    formats = ["jsonl", "parquet"] if args.format == "both" else [args.format]
    out = datasets.export(data, args.out, formats=formats)
    print(f"wrote {len(data)} task instances of {len(data.sources)} envs to {out} ({', '.join(formats)})")
    return 0


def _play(args: argparse.Namespace) -> int:
    """A human plays one task: type a tool call per turn (model text, a JSON action, or the short
    form ``Name {"arg": 1}``); the transcript is printed as the model would see it."""
    data = datasets.load(args.dataset)
    inst = _find_task(data, args.task)
    with EpisodeRunner(data, [inst], num_threads=1) as runner:
        (ep,) = runner.start()
        for m in ep.messages:
            print(f"[{m.role}]\n{m.content}\n")
        while not ep.finished:
            try:
                line = input(f"[assistant, turn {len(ep.turns) + 1}/{ep.max_rounds}] > ")
            except EOFError:
                print()
                break
            reply = _shorthand(line.strip())
            runner.feed([ep], [reply])
            if reply != line.strip():
                print(f"[assistant]\n{reply}")
            if ep.turns and ep.turns[-1].observation:
                print(f"[{runner.obs_role}]\n{ep.turns[-1].observation}\n")
        print(
            f"finish reason: {ep.finish_reason}, reward: {ep.reward}"
            + (f", error: {ep.error}" if ep.error else "")
        )
    return 0


def _shorthand(line: str) -> str:
    """``Name`` or ``Name {json}`` or a bare JSON action becomes a CodeGym call; anything else
    is passed on as model text."""
    if line.startswith("{"):
        try:
            call = json.loads(line)
        except ValueError:
            return line
        return render_call(call) if isinstance(call, dict) and "name" in call else line
    name, _, rest = line.partition(" ")
    if name.isidentifier():
        try:
            params = json.loads(rest) if rest.strip() else {}
        except ValueError:
            return line
        if isinstance(params, dict):
            return render_call({"name": name, "parameters": params})
    return line


def _rollout(args: argparse.Namespace) -> int:
    """Play ``--n`` episodes of every task with a token policy; write trajectories."""
    import asyncio

    from . import policy as policies
    from .chat import ChatCodec
    from .protocol import TrajectoryWriter
    from .rollout import RolloutConfig, rollout

    data = _load(args)
    instances = data.instances[: args.limit] if args.limit else data.instances
    out = Path(args.out)
    if out.exists() and not args.resume:
        raise ConfigError(f"{out} exists: pass --resume to complete it, or choose another --out")
    config = RolloutConfig(
        n=args.n,
        sampling=policies.SamplingParams(
            max_new_tokens=args.max_new_tokens,
            temperature=args.temperature,
            top_p=args.top_p,
            seed=args.seed,
        ),
        max_turns=args.max_turns,
        max_total_tokens=args.max_total_tokens,
        max_episodes=args.max_episodes,
        max_batch=args.max_batch,
        seed=args.seed,
    )

    async def run() -> tuple[int, int, float]:
        policy = policies.from_uri(args.policy)
        try:
            tokenizer = getattr(policy, "tokenizer", None)
            if tokenizer is None:
                from transformers import AutoTokenizer

                path = args.tokenizer
                if path is None and hasattr(policy, "model_info"):
                    path = (await policy.model_info()).get("tokenizer_path")
                if path is None:
                    raise ConfigError("pass --tokenizer PATH (the policy's tokenizer)")
                tokenizer = AutoTokenizer.from_pretrained(path)
            codec = ChatCodec(tokenizer)
            with TrajectoryWriter(out) as writer:
                before = len(writer.keys())
                total = len(instances) * args.n
                with tqdm(total=total, initial=before, unit="episode", disable=args.quiet) as bar:
                    trajs, stats = await rollout(
                        data,
                        policy,
                        codec,
                        config,
                        writer=writer,
                        instances=instances,
                        num_threads=args.threads,
                        on_episode=lambda _t: bar.update(1),
                    )
            solved = sum(t.reward == 1.0 for t in trajs)
            print(
                f"{len(trajs)} new trajectories ({before} already in {out}); success {solved}/{len(trajs)}; "
                f"{stats.turns} turns in {stats.wall_seconds:.1f} s; policy {stats.policy_seconds:.1f} s, "
                f"engine incl. waits for env results {stats.engine_seconds:.2f} s; "
                f"finish: {dict(sorted(stats.finish.items()))}"
            )
            return len(trajs), solved, stats.wall_seconds
        finally:
            await policy.aclose()

    asyncio.run(run())
    return 0


def _traj_show(args: argparse.Namespace) -> int:
    from .traj import show

    print(show(args.file, args.index, tokens=args.tokens))
    return 0


def _traj_stats(args: argparse.Namespace) -> int:
    from .traj import stats

    print(stats(args.files, plot=args.plot))
    return 0


def _train(args: argparse.Namespace) -> int:
    """GRPO: alternate rollouts and updates (the trainer package: pip install ./trainer)."""
    try:
        from codegym_trainer.loop import load_config, train
    except ImportError:
        raise ConfigError("codegym train needs the trainer: pip install './trainer'") from None
    train(load_config(args.config))
    return 0


def _serve(args: argparse.Namespace) -> int:
    """Launch a real SGLang server (GPU machines) with the flags codegym relies on."""
    import importlib.util
    import os

    if importlib.util.find_spec("sglang") is None:
        print(
            "codegym serve needs SGLang and a GPU: pip install 'sglang[all]' on a CUDA machine. "
            "For CPU tests use: python -m codegym.testing.sglang_stub --model PATH",
            file=sys.stderr,
        )
        return 2
    argv = [sys.executable, "-m", "sglang.launch_server", "--model-path", args.model]
    argv += ["--host", args.host, "--port", str(args.port), "--tp-size", str(args.tp)]
    argv += ["--mem-fraction-static", str(args.mem_fraction)]
    argv += list(args.extra)
    print(" ".join(argv), file=sys.stderr)
    os.execv(sys.executable, argv)
    return 0  # not reached


def _synth(args: argparse.Namespace) -> int:
    """Run synthesis stages (each resumes from what OUT already holds); print their reports."""
    from . import synth

    stages = list(synth.STAGES) if args.stage == "run" else [args.stage]
    if args.stage == "run" and args.stages:
        stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    limits: dict[str, Any] = {}
    if args.fuel is not None or args.memory_mb is not None:
        # One budget for every sandboxed call (env load/step/solve, one solver replay).
        env_limits, solver_limits = synth.default_env_limits(), synth.default_solver_limits()
        fuel = args.fuel
        memory = args.memory_mb << 20 if args.memory_mb is not None else env_limits.memory_bytes
        limits["env_limits"] = Limits(
            memory_bytes=memory,
            fuel_per_load=fuel or env_limits.fuel_per_load,
            fuel_per_step=fuel or env_limits.fuel_per_step,
            fuel_per_solve=fuel or env_limits.fuel_per_solve,
            wall_time_ms=env_limits.wall_time_ms,
        )
        limits["solver_limits"] = Limits(
            memory_bytes=memory,
            fuel_per_load=fuel or solver_limits.fuel_per_load,
            fuel_per_step=fuel or solver_limits.fuel_per_step,
            wall_time_ms=solver_limits.wall_time_ms,
            max_obs_bytes=solver_limits.max_obs_bytes,
        )
    config = synth.SynthConfig(
        Path(args.out),
        problems=Path(args.problems) if args.problems else None,
        k=args.k,
        solver_samples=args.solvers,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        min_rounds=args.min_rounds,
        max_rounds=args.max_rounds,
        threads=args.threads,
        progress=not args.quiet,
        **limits,
    )
    needs_llm = any(s in ("generate", "configs", "solvers") for s in stages)
    if needs_llm and not args.llm:
        raise ConfigError(
            f"stage(s) {', '.join(stages)} need --llm (openai://..., sglang://... or recorded:DIR)"
        )
    llm = synth.from_uri(args.llm, max_concurrency=args.concurrency) if args.llm else None
    reports = synth.run(config, llm, stages, on_report=lambda r: print(r.render(), flush=True))
    if "export" in stages:
        print(f"dataset: {config.dataset_dir or config.out / 'dataset'}")
    return 0 if reports else 1


def _verify(args: argparse.Namespace) -> int:
    """Run every task's solve() in the sandbox; exit 1 if any task fails to verify."""
    from .verify import verify

    data = datasets.load(args.dataset)
    with tqdm(total=len(data), unit="task", desc="verify", disable=args.quiet) as bar:
        report = verify(
            data, threads=args.threads, check_rounds=not args.no_check_rounds, on_batch=bar.update
        )
    print(report.summary())
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
    return 0 if report.ok else 1


def _find_benches(path: str | None) -> Path | None:
    """The benchmark suite: ``--path``, else ``./benches``, else the source tree of this package."""
    source_tree = Path(__file__).resolve().parents[2]
    candidates = [Path(path)] if path else [Path.cwd() / "benches", source_tree / "benches"]
    return next((c for c in candidates if (c / "conftest.py").is_file()), None)


def _bench(args: argparse.Namespace) -> int:
    """Run the benchmark suite (codegym beside its baselines) and print the comparison table."""
    try:
        import pytest
        import pytest_benchmark  # noqa: F401
    except ImportError:
        print("codegym bench needs pytest and pytest-benchmark: pip install 'codegym[test]'", file=sys.stderr)
        return 2
    benches = _find_benches(args.path)
    if benches is None:
        print(
            "codegym bench: no benchmark suite found; run it from a codegym source checkout "
            "(it holds benches/) or pass --path",
            file=sys.stderr,
        )
        return 2
    argv = [str(benches), "--benchmark-enable", "-q", "-p", "no:cacheprovider"]
    argv += ["--rootdir", str(benches.parent)]
    if args.k:
        argv += ["-k", args.k]
    return int(pytest.main(argv))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="codegym", description=__doc__)
    parser.add_argument("--version", action="version", version=f"codegym {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    oracle = commands.add_parser(
        "oracle",
        help="play every task with its solve() oracle as model text (render -> parse -> step)",
    )
    _add_dataset_args(oracle)
    oracle.add_argument("--threads", type=int, default=None, help="worker threads (default: all cores)")
    oracle.add_argument("--repeat", type=int, default=1, help="play every task this many times")
    oracle.add_argument(
        "--format", choices=["codegym", "hermes", "openai"], default="codegym", help="how calls are written"
    )
    oracle.add_argument("--paraphrase", action="store_true", help="rename Observe/Done per task")
    oracle.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    oracle.set_defaults(run=_oracle)
    tasks = commands.add_parser("tasks", help="list, show and export task datasets")
    task_commands = tasks.add_subparsers(dest="tasks_command", required=True)
    tlist = task_commands.add_parser("list", help="envs of a dataset: split, tasks, round range, tools")
    _add_dataset_args(tlist, positional=True)
    tlist.set_defaults(run=_tasks_list)
    tshow = task_commands.add_parser("show", help="one task's prompt (or its JSON, or OpenAI tools)")
    tshow.add_argument("task", help="index, task string EnvName@{...}, ability or env name")
    tshow.add_argument("--dataset", default="builtin")
    tshow.add_argument("--format", choices=["text", "json", "openai"], default="text")
    tshow.set_defaults(run=_tasks_show)
    texport = task_commands.add_parser("export", help="write DIR/envs/*.py and DIR/instances.jsonl")
    _add_dataset_args(texport, positional=True)
    texport.add_argument("--out", required=True, help="output directory")
    texport.add_argument("--format", choices=["jsonl", "parquet", "both"], default="jsonl")
    texport.set_defaults(run=_tasks_export)
    roll = commands.add_parser("rollout", help="play tasks with a token policy; write msgpack trajectories")
    roll.add_argument("--policy", required=True, help="local:PATH or sglang://HOST:PORT")
    _add_dataset_args(roll)
    roll.add_argument("--n", type=int, default=4, help="rollouts per task (one group, forked)")
    roll.add_argument("--out", required=True, help="trajectory file (length-prefixed msgpack)")
    roll.add_argument("--resume", action="store_true", help="complete an existing --out without duplicates")
    roll.add_argument("--limit", type=int, default=None, help="only the first N tasks")
    roll.add_argument("--tokenizer", default=None, help="tokenizer path (default: the server's)")
    roll.add_argument("--max-new-tokens", type=int, default=256)
    roll.add_argument("--temperature", type=float, default=1.0)
    roll.add_argument("--top-p", type=float, default=1.0)
    roll.add_argument(
        "--max-turns", type=int, default=None, help="default: each task's plugin_call_max_round"
    )
    roll.add_argument("--max-total-tokens", type=int, default=8192)
    roll.add_argument("--max-episodes", type=int, default=256, help="episodes in flight")
    roll.add_argument("--max-batch", type=int, default=64, help="prompts per generate call")
    roll.add_argument("--seed", type=int, default=0)
    roll.add_argument("--threads", type=int, default=None)
    roll.add_argument("-q", "--quiet", action="store_true")
    roll.set_defaults(run=_rollout)
    traj = commands.add_parser("traj", help="inspect trajectory files")
    traj_commands = traj.add_subparsers(dest="traj_command", required=True)
    tshow2 = traj_commands.add_parser("show", help="one trajectory, turn by turn")
    tshow2.add_argument("file")
    tshow2.add_argument("index", type=int, nargs="?", default=0)
    tshow2.add_argument("--tokens", action="store_true", help="also print response token ids")
    tshow2.set_defaults(run=_traj_show)
    tstats = traj_commands.add_parser("stats", help="success, finish reasons, turns, tokens")
    tstats.add_argument("files", nargs="+")
    tstats.add_argument("--plot", default=None, help="write a PNG here")
    tstats.set_defaults(run=_traj_stats)
    trainp = commands.add_parser("train", help="GRPO: rollouts and updates in a loop (needs ./trainer)")
    trainp.add_argument("--config", required=True, help="a TOML file of codegym_trainer.loop.TrainConfig")
    trainp.set_defaults(run=_train)
    serve = commands.add_parser("serve", help="launch a real SGLang server (GPU machines only)")
    serve.add_argument("model")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=30000)
    serve.add_argument("--tp", type=int, default=1, help="tensor parallel size")
    serve.add_argument("--mem-fraction", type=float, default=0.8)
    serve.add_argument("extra", nargs=argparse.REMAINDER, help="more sglang.launch_server flags")
    serve.set_defaults(run=_serve)
    play = commands.add_parser("play", help="play one task yourself, typing tool calls")
    play.add_argument("task", help="index, task string EnvName@{...}, ability or env name")
    play.add_argument("--dataset", default="builtin")
    play.set_defaults(run=_play)
    synthp = commands.add_parser(
        "synth", help="coding problems -> LLM-written envs, checked and verified in the sandbox"
    )
    synthp.add_argument(
        "stage",
        choices=["run", "generate", "check", "configs", "solvers", "export"],
        help="one stage, or run (all, or those in --stages); every stage resumes from OUT",
    )
    synthp.add_argument("--problems", default=None, help="problems .jsonl/.parquet (generate stage)")
    synthp.add_argument(
        "--llm", default=None, help="openai://HOST:PORT/v1[#model], sglang://HOST:PORT, recorded:DIR"
    )
    synthp.add_argument("--out", required=True, help="output directory (stage files, cache, dataset/)")
    synthp.add_argument("--stages", default=None, help="with run: comma-separated stages")
    synthp.add_argument("--k", type=int, default=4, help="env samples per problem")
    synthp.add_argument("--solvers", type=int, default=4, help="solver samples per env")
    synthp.add_argument("--temperature", type=float, default=0.8)
    synthp.add_argument("--max-tokens", type=int, default=8192)
    synthp.add_argument("--concurrency", type=int, default=16, help="LLM requests in flight")
    synthp.add_argument("--min-rounds", type=int, default=10, help="export: solve_fc_round >= N")
    synthp.add_argument("--max-rounds", type=int, default=256, help="export: solve_fc_round <= N")
    synthp.add_argument("--threads", type=int, default=None, help="sandbox threads (default: all cores)")
    synthp.add_argument(
        "--fuel", type=int, default=None, help="fuel of every sandboxed call (default: per-call defaults)"
    )
    synthp.add_argument("--memory-mb", type=int, default=None, help="memory per sandbox (default 256)")
    synthp.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    synthp.set_defaults(run=_synth)
    verifyp = commands.add_parser("verify", help="run every task's solve() oracle in the sandbox")
    verifyp.add_argument("dataset", help="builtin, a dataset directory or an instance file")
    verifyp.add_argument("--json", default=None, help="also write the report as JSON here")
    verifyp.add_argument("--threads", type=int, default=None)
    verifyp.add_argument(
        "--no-check-rounds", action="store_true", help="do not compare solve() steps with solve_fc_round"
    )
    verifyp.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    verifyp.set_defaults(run=_verify)
    bench = commands.add_parser(
        "bench", help="measure codegym beside its baselines (in-process, process per env, HTTP, ...)"
    )
    bench.add_argument("--path", default=None, help="the benches/ directory (default: ./benches)")
    bench.add_argument("-k", default=None, help="only benchmarks matching this pytest -k expression")
    bench.set_defaults(run=_bench)
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except CodegymError as e:
        print(f"codegym: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
