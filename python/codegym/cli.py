"""The ``codegym`` command line."""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from . import __version__, builtin
from ._core import EnvPool, EnvSpec, Limits


def _oracle(args: argparse.Namespace) -> int:
    """Run every bundled task's ``solve()`` oracle in one pool; print success and steps/s."""
    tasks = builtin.tasks()
    specs = [EnvSpec(t.source, t.env_str, seed=i) for i, t in enumerate(tasks)] * args.repeat
    limits = Limits()
    start = time.perf_counter()
    with EnvPool(specs, num_threads=args.threads, limits=limits) as pool:
        threads = pool.num_threads
        loaded = time.perf_counter()
        result = pool.solve()
    end = time.perf_counter()

    per_family: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # tasks, solved, steps
    for i, spec in enumerate(specs):
        row = per_family[spec.class_name]
        row[0] += 1
        row[1] += int(result.reward[i] == 1.0 and result.error[i] is None)
        row[2] += int(result.steps[i])
    total_steps = int(result.steps.sum())
    solved = sum(r[1] for r in per_family.values())
    width = max(len(name) for name in per_family)
    print(f"{'env':<{width}}  tasks  solved  steps")
    for name in sorted(per_family):
        n, ok, steps = per_family[name]
        print(f"{name:<{width}}  {n:>5}  {ok:>6}  {steps:>5}")
    for i, error in enumerate(result.error):
        if error is not None:
            print(f"task {i} ({specs[i].env_str[:60]}): {error.splitlines()[0]}", file=sys.stderr)
    elapsed = end - loaded
    print(
        f"\n{solved}/{len(specs)} tasks solved ({100.0 * solved / len(specs):.1f}%), "
        f"{total_steps} oracle steps in {elapsed:.2f} s on {threads} threads: "
        f"{total_steps / elapsed:,.0f} steps/s (engine start {loaded - start:.2f} s)"
    )
    return 0 if solved == len(specs) else 1


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
        "oracle", help="run every bundled env's solve() oracle in one sandboxed pool"
    )
    oracle.add_argument("--threads", type=int, default=None, help="worker threads (default: all cores)")
    oracle.add_argument("--repeat", type=int, default=1, help="run every task this many times")
    oracle.set_defaults(run=_oracle)
    bench = commands.add_parser(
        "bench", help="measure codegym beside its baselines (in-process, process per env, HTTP, ...)"
    )
    bench.add_argument("--path", default=None, help="the benches/ directory (default: ./benches)")
    bench.add_argument("-k", default=None, help="only benchmarks matching this pytest -k expression")
    bench.set_defaults(run=_bench)
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    raise SystemExit(main())
