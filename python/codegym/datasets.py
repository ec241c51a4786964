"""Task datasets in the CodeGym training-instance layout: load, filter, export.

A dataset is a set of env sources plus task instances. On disk (what ``codegym tasks export``
writes, and what a CodeGym dataset made elsewhere looks like)::

    DIR/envs/{code_id}__{EnvName}.py     one env class per file
    DIR/instances.jsonl                  one TaskInstance per line (or instances.parquet)

Each instance names its env and options in ``ability = "codegym_v1@{code_id}__{EnvName}@{options}"``
and carries the ``prompt`` (system message with the tool docs, user message with rules and the
task), ``extra_info`` (``index``, ``solve_fc_round``: the oracle's step count, ``split``) and
``plugin_call_max_round`` (the turn budget).

``load("builtin")`` is the bundled suite (the default everywhere); ``load(DIR)`` reads a
directory of the shape above, ``load(FILE.jsonl | FILE.parquet)`` an instance file whose sources
are in ``envs/`` next to it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import msgspec

from . import builtin
from ._core import EnvSpec
from .errors import ConfigError
from .prompts import Message, build_prompt, default_max_rounds
from .tools import Tool, extract_tools

__all__ = [
    "ABILITY_PREFIX",
    "Dataset",
    "ExtraInfo",
    "Message",
    "TaskInstance",
    "export",
    "load",
]

ABILITY_PREFIX = "codegym_v1"


class ExtraInfo(msgspec.Struct, frozen=True, omit_defaults=False):
    """Per-instance metadata: position in its dataset, the oracle's step count (``None`` when
    unknown), and the split (``"train"`` or ``"test"``)."""

    index: int = 0
    solve_fc_round: int | None = None
    split: str = "train"


class TaskInstance(msgspec.Struct, frozen=True):
    """One task instance in the CodeGym training layout."""

    ability: str
    prompt: list[Message]
    extra_info: ExtraInfo = ExtraInfo()
    plugin_call_max_round: int = 64
    data_source: str = ABILITY_PREFIX

    @property
    def stem(self) -> str:
        """``{code_id}__{EnvName}``: the env source file's name without ``.py``."""
        return _split_ability(self.ability)[0]

    @property
    def code_id(self) -> str:
        return self.stem.split("__", 1)[0]

    @property
    def env_name(self) -> str:
        return self.stem.split("__", 1)[-1]

    @property
    def env_str(self) -> str:
        """The task string the env's ``from_env_str`` takes: ``{EnvName}@{options}``."""
        return f"{self.env_name}@{_split_ability(self.ability)[1]}"

    @property
    def split(self) -> str:
        return self.extra_info.split

    @property
    def solve_fc_round(self) -> int | None:
        return self.extra_info.solve_fc_round


def _split_ability(ability: str) -> tuple[str, str]:
    prefix, sep, rest = ability.partition("@")
    stem, sep2, options = rest.partition("@")
    if not sep or not sep2 or "__" not in stem:
        raise ConfigError(
            f"ability {ability[:120]!r} is not of the form "
            f"'{ABILITY_PREFIX}@{{code_id}}__{{EnvName}}@{{options}}'"
        )
    return stem, options


def make_ability(stem: str, options: str) -> str:
    return f"{ABILITY_PREFIX}@{stem}@{options}"


@dataclass
class Dataset:
    """Task instances and the env sources they need (``stem -> source``)."""

    instances: list[TaskInstance]
    sources: dict[str, str]
    name: str = ""
    _tools: dict[str, list[Tool]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        missing = sorted({i.stem for i in self.instances} - self.sources.keys())
        if missing:
            raise ConfigError(f"dataset {self.name!r}: no env source for {', '.join(missing[:5])}")

    def __len__(self) -> int:
        return len(self.instances)

    def __iter__(self) -> Iterator[TaskInstance]:
        return iter(self.instances)

    def __getitem__(self, i: int) -> TaskInstance:
        return self.instances[i]

    def source(self, instance: TaskInstance) -> str:
        return self.sources[instance.stem]

    def spec(self, instance: TaskInstance, seed: int = 0) -> EnvSpec:
        """The sandbox spec that runs ``instance``."""
        return EnvSpec(self.sources[instance.stem], instance.env_str, seed=seed)

    def specs(self, seed: int = 0) -> list[EnvSpec]:
        """One spec per instance, seeded ``seed + index``."""
        return [self.spec(inst, seed + i) for i, inst in enumerate(self.instances)]

    def tools(self, instance: TaskInstance) -> list[Tool]:
        """The tools of ``instance``'s env (read from its source, cached per env)."""
        stem = instance.stem
        if stem not in self._tools:
            self._tools[stem] = extract_tools(self.sources[stem], instance.env_name)
        return self._tools[stem]

    @cached_property
    def env_names(self) -> list[str]:
        return sorted({i.env_name for i in self.instances})

    def filter(
        self,
        *,
        split: str | None = None,
        envs: Iterable[str] | None = None,
        min_rounds: int | None = None,
        max_rounds: int | None = None,
    ) -> Dataset:
        """The instances matching every given filter: ``split`` (``"train"``/``"test"``), env
        names (``EnvName`` or ``{code_id}__{EnvName}``), and an inclusive ``solve_fc_round``
        range (instances with an unknown round count fail a range filter)."""
        wanted = set(envs) if envs is not None else None
        if wanted is not None:
            unknown = wanted - {i.env_name for i in self.instances} - {i.stem for i in self.instances}
            if unknown:
                raise ConfigError(f"no env named {', '.join(sorted(unknown))} in {self.name!r}")

        def keep(inst: TaskInstance) -> bool:
            if split is not None and inst.split != split:
                return False
            if wanted is not None and inst.env_name not in wanted and inst.stem not in wanted:
                return False
            rounds = inst.solve_fc_round
            if min_rounds is not None and (rounds is None or rounds < min_rounds):
                return False
            return max_rounds is None or (rounds is not None and rounds <= max_rounds)

        kept = [i for i in self.instances if keep(i)]
        stems = {i.stem for i in kept}
        return Dataset(kept, {s: src for s, src in self.sources.items() if s in stems}, self.name)


def load(
    name: str | os.PathLike[str] = "builtin",
    *,
    split: str | None = None,
    envs: Iterable[str] | None = None,
    min_rounds: int | None = None,
    max_rounds: int | None = None,
) -> Dataset:
    """Load ``"builtin"`` (the bundled suite), a dataset directory, or an instance file
    (``.jsonl``/``.parquet``), then apply the filters of :meth:`Dataset.filter`."""
    if str(name) == "builtin":
        data = _builtin()
    else:
        data = _load_path(Path(name))
    if split is None and envs is None and min_rounds is None and max_rounds is None:
        return data
    return data.filter(split=split, envs=envs, min_rounds=min_rounds, max_rounds=max_rounds)


def _builtin() -> Dataset:
    """The bundled suite, its prompts rendered from each env's tool docs."""
    instances: list[TaskInstance] = []
    sources = builtin.sources()
    tools: dict[str, list[Tool]] = {}
    for task in builtin.tasks():
        stem = f"{task.code_id}__{task.env_name}"
        if stem not in tools:
            tools[stem] = extract_tools(task.source, task.env_name)
        max_rounds = default_max_rounds(task.solve_fc_round)
        instances.append(
            TaskInstance(
                ability=make_ability(stem, task.options),
                prompt=build_prompt(tools[stem], task.description, max_rounds),
                extra_info=ExtraInfo(len(instances), task.solve_fc_round, task.split),
                plugin_call_max_round=max_rounds,
            )
        )
    return Dataset(instances, dict(sources), "builtin", _tools=tools)


def _load_path(path: Path) -> Dataset:
    if path.is_dir():
        root = path
        files = [root / "instances.jsonl", root / "instances.parquet"]
        found = [f for f in files if f.is_file()]
        if not found:
            found = sorted(root.glob("*.jsonl")) + sorted(root.glob("*.parquet"))
        if not found:
            raise ConfigError(f"{path}: no instances.jsonl, instances.parquet or *.jsonl in it")
        instance_file = found[0]
    elif path.is_file():
        root, instance_file = path.parent, path
    else:
        raise ConfigError(f"{path}: no such dataset file or directory")
    env_dir = root / "envs" if (root / "envs").is_dir() else root
    sources = {p.stem: p.read_text(encoding="utf-8") for p in sorted(env_dir.glob("*__*.py"))}
    if instance_file.suffix == ".parquet":
        rows = _read_parquet(instance_file)
    else:
        rows = _read_jsonl(instance_file)
    instances = [_instance(row, index) for index, row in enumerate(rows)]
    return Dataset(instances, sources, str(path))


def _read_jsonl(path: Path) -> list[Any]:
    rows = []
    with path.open("rb") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                rows.append(msgspec.json.decode(line))
            except msgspec.DecodeError as e:
                raise ConfigError(f"{path}:{n}: not a JSON object: {e}") from None
    return rows


def _read_parquet(path: Path) -> list[Any]:
    pq = _pyarrow_parquet()
    return list(pq.read_table(path).to_pylist())


def _instance(row: Any, index: int) -> TaskInstance:
    """A TaskInstance from a decoded row written by us or by another CodeGym pipeline:
    unknown keys are ignored, a string prompt becomes one user message, missing metadata gets
    defaults (``index`` = row number)."""
    if not isinstance(row, dict) or not isinstance(row.get("ability"), str):
        raise ConfigError(f"instance {index}: needs a string 'ability'")
    _split_ability(row["ability"])
    prompt = row.get("prompt") or []
    if isinstance(prompt, str):
        prompt = [{"role": "user", "content": prompt}]
    if isinstance(prompt, str | bytes) or not isinstance(prompt, Sequence):
        raise ConfigError(f"instance {index}: 'prompt' must be a list of messages")
    extra = row.get("extra_info") or {}
    if isinstance(extra, str):
        extra = json.loads(extra)
    extra = {k: v for k, v in extra.items() if k in ExtraInfo.__struct_fields__ and v is not None}
    extra.setdefault("index", index)
    clean = {
        "ability": row["ability"],
        "prompt": [{"role": m.get("role"), "content": m.get("content")} for m in prompt],
        "extra_info": extra,
    }
    rounds = row.get("plugin_call_max_round")
    if rounds is not None:
        clean["plugin_call_max_round"] = rounds
    else:
        clean["plugin_call_max_round"] = default_max_rounds(extra.get("solve_fc_round"))
    if row.get("data_source") is not None:
        clean["data_source"] = row["data_source"]
    try:
        return msgspec.convert(clean, TaskInstance)
    except msgspec.ValidationError as e:
        raise ConfigError(f"instance {index}: {e}") from None


def export(dataset: Dataset, out: str | os.PathLike[str], *, formats: Sequence[str] = ("jsonl",)) -> Path:
    """Write ``dataset`` in the CodeGym layout under ``out`` (``envs/`` + ``instances.jsonl``
    and/or ``instances.parquet``); return the directory."""
    root = Path(out)
    unknown = set(formats) - {"jsonl", "parquet"}
    if unknown or not formats:
        raise ConfigError(f"formats must be among 'jsonl', 'parquet', got {list(formats)}")
    (root / "envs").mkdir(parents=True, exist_ok=True)
    for stem, source in sorted(dataset.sources.items()):
        (root / "envs" / f"{stem}.py").write_text(source, encoding="utf-8")
    if "jsonl" in formats:
        encoder = msgspec.json.Encoder()
        with (root / "instances.jsonl").open("wb") as f:
            for inst in dataset.instances:
                f.write(encoder.encode(inst) + b"\n")
    if "parquet" in formats:
        pq = _pyarrow_parquet()
        import pyarrow as pa

        rows = msgspec.to_builtins(dataset.instances)
        pq.write_table(pa.Table.from_pylist(rows, schema=_parquet_schema(pa)), root / "instances.parquet")
    return root


def _parquet_schema(pa: Any) -> Any:
    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    extra = pa.struct([("index", pa.int64()), ("solve_fc_round", pa.int64()), ("split", pa.string())])
    return pa.schema(
        [
            ("ability", pa.string()),
            ("prompt", pa.list_(message)),
            ("extra_info", extra),
            ("plugin_call_max_round", pa.int64()),
            ("data_source", pa.string()),
        ]
    )


def _pyarrow_parquet() -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ConfigError("parquet needs pyarrow: pip install 'codegym[parquet]'") from None
    return pq
