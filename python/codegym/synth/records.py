"""What the stages write: one :class:`Candidate` per (problem, env sample) per stage, as JSONL
under the output directory, plus a :class:`StageReport` per stage.

A record's ``key`` is the sha256 of everything the stage's result depends on (the upstream
record's key and the stage's own settings); a stage re-run reuses every record whose key is
already in its file and does the rest, so an interrupted stage resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from ..errors import ConfigError

__all__ = [
    "Candidate",
    "Config",
    "Problem",
    "SolverRun",
    "StageFile",
    "StageReport",
    "digest",
    "read_problems",
]


class Problem(msgspec.Struct, frozen=True):
    """A coding problem: statement, reference solution, optional tests (any JSON)."""

    question_id: str
    question: str
    solution: str
    tests: Any = None


class Config(msgspec.Struct, frozen=True):
    """A task configuration: difficulty level, options (JSON text), ``repr`` of the reference
    answer, and the winning solver's step count (``solve_fc_round``) once known. A rejected
    configuration has its ``reason`` and ``error``."""

    level: str
    options: str
    ref_answer: str = ""
    rounds: int | None = None
    reason: str = ""
    error: str = ""


class SolverRun(msgspec.Struct, frozen=True):
    """One solver sample: passed every configuration (``reason == ""``) or why not, with the
    step count per configuration where it finished."""

    index: int
    reason: str = ""
    error: str = ""
    config: str = ""
    rounds: list[int | None] = []


class Candidate(msgspec.Struct, kw_only=True):
    """One env sample of one problem, as far as it got. ``ok`` is false once a stage rejected
    it; ``reason`` (a short code) and ``error`` (the first lines of the details) say why."""

    key: str
    question_id: str
    sample: int
    ok: bool = True
    reason: str = ""
    error: str = ""
    env_name: str = ""
    description: str = ""
    source: str = ""
    examples: list[str] = []
    configs: list[Config] = []
    rejected_configs: list[Config] = []
    solvers: list[SolverRun] = []
    solver: str = ""
    solver_index: int | None = None


def digest(*parts: Any) -> str:
    """sha256 of the canonical JSON of ``parts``."""
    text = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def read_problems(path: str | os.PathLike[str]) -> list[Problem]:
    """Problems from a ``.jsonl`` or ``.parquet`` file (``question_id``, ``question``,
    ``solution``, optional ``tests``; other keys are ignored)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: no such problems file")
    rows: list[Any]
    if p.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise ConfigError("parquet needs pyarrow: pip install 'codegym[parquet]'") from None
        rows = list(pq.read_table(p).to_pylist())
    else:
        rows = []
        for n, line in enumerate(p.read_bytes().splitlines(), start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except ValueError as e:
                    raise ConfigError(f"{p}:{n}: not JSON: {e}") from None
    out: list[Problem] = []
    seen: set[str] = set()
    for n, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or not all(isinstance(row.get(k), str | int) for k in ("question_id",)):
            raise ConfigError(f"{p}: problem {n} has no question_id")
        qid = str(row["question_id"])
        if qid in seen:
            raise ConfigError(f"{p}: question_id {qid!r} appears twice")
        seen.add(qid)
        if not isinstance(row.get("question"), str) or not isinstance(row.get("solution"), str):
            raise ConfigError(f"{p}: problem {qid!r} needs string 'question' and 'solution'")
        out.append(Problem(qid, row["question"], row["solution"], row.get("tests")))
    return out


class StageFile:
    """``OUT/{name}.jsonl``: the records of one stage."""

    def __init__(self, out: Path, name: str) -> None:
        self.path = out / f"{name}.jsonl"
        self._encoder = msgspec.json.Encoder()

    def read(self) -> list[Candidate]:
        if not self.path.is_file():
            return []
        decoder = msgspec.json.Decoder(Candidate)
        out = []
        for line in self.path.read_bytes().splitlines():
            if not line.strip():
                continue
            try:
                out.append(decoder.decode(line))
            except msgspec.DecodeError:  # a line cut short by an interrupted run: redo it
                continue
        return out

    def by_key(self) -> dict[str, Candidate]:
        return {c.key: c for c in self.read()}

    def append(self, records: Iterable[Candidate]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as f:
            for r in records:
                f.write(self._encoder.encode(r) + b"\n")

    def write(self, records: Iterable[Candidate]) -> None:
        """Replace the file with exactly ``records`` (atomically)."""
        tmp = self.path.with_suffix(".jsonl.tmp")
        with tmp.open("wb") as f:
            for r in records:
                f.write(self._encoder.encode(r) + b"\n")
        tmp.replace(self.path)


@dataclass
class StageReport:
    """Counts in and out of one stage, rejection reasons and the most frequent errors."""

    stage: str
    inputs: int = 0
    outputs: int = 0
    reused: int = 0
    llm_calls: int = 0
    seconds: float = 0.0
    rejected: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    notes: Counter[str] = field(default_factory=Counter)

    def reject(self, reason: str, error: str = "") -> None:
        self.rejected[reason] += 1
        if error:
            self.errors[_first_line(error)] += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "in": self.inputs,
            "out": self.outputs,
            "reused": self.reused,
            "llm_calls": self.llm_calls,
            "seconds": round(self.seconds, 3),
            "rejected": dict(self.rejected.most_common()),
            "top_errors": [{"error": e, "count": n} for e, n in self.errors.most_common(10)],
            "notes": dict(self.notes.most_common()),
        }

    def save(self, out: Path) -> Path:
        path = out / f"report_{self.stage}.json"
        path.write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return path

    def render(self) -> str:
        lines = [
            f"[{self.stage}] in {self.inputs}, out {self.outputs}, reused {self.reused}, "
            f"LLM calls {self.llm_calls}, {self.seconds:.1f} s"
        ]
        for reason, n in self.rejected.most_common():
            lines.append(f"  rejected {n:>5}  {reason}")
        for note, n in self.notes.most_common():
            lines.append(f"  {note}: {n}")
        for error, n in self.errors.most_common(5):
            lines.append(f"  error {n:>5}  {error[:150]}")
        return "\n".join(lines)


def _first_line(error: str) -> str:
    """The line of a guest traceback or message that says what went wrong."""
    lines = [x.strip() for x in error.strip().splitlines() if x.strip()]
    if not lines:
        return ""
    # A traceback's last line names the exception; a plain message is its first line.
    return lines[-1] if len(lines) > 1 and lines[1].startswith("Traceback") else lines[0]
