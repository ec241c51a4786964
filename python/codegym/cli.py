"""The ``codegym`` command line."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import msgspec
from tqdm import tqdm

from . import __version__, datasets
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


def _pick(data: datasets.Dataset, ref: str) -> datasets.TaskInstance:
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
    inst = _pick(data, args.task)
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
    inst = _pick(data, args.task)
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
    play = commands.add_parser("play", help="play one task yourself, typing tool calls")
    play.add_argument("task", help="index, task string EnvName@{...}, ability or env name")
    play.add_argument("--dataset", default="builtin")
    play.set_defaults(run=_play)
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
