"""Datasets in the CodeGym layout: the bundled suite, export → load round trips (JSONL and
parquet), directories written by someone else, and filters."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import codegym
import pytest
from codegym import datasets
from codegym.errors import ConfigError


@pytest.fixture(scope="module")
def builtin() -> datasets.Dataset:
    return datasets.load("builtin")


def test_builtin_suite_shape(builtin: datasets.Dataset) -> None:
    per_env = Counter(i.stem for i in builtin)
    assert len(per_env) >= 40
    assert min(per_env.values()) >= 8
    for inst in builtin:
        assert inst.ability == f"codegym_v1@{inst.stem}@{inst.env_str.split('@', 1)[1]}"
        assert [m.role for m in inst.prompt] == ["system", "user"]
        assert "<|FunctionCallBegin|>" in inst.prompt[0].content
        assert inst.prompt[1].content.startswith("Task: ")
        assert "Solve the environment's task" not in inst.prompt[1].content, inst.stem  # has a statement
        assert inst.solve_fc_round is not None and inst.solve_fc_round >= 2
        assert inst.plugin_call_max_round >= inst.solve_fc_round
    assert [i.extra_info.index for i in builtin] == list(range(len(builtin)))


def test_builtin_round_counts_span_difficulties(builtin: datasets.Dataset) -> None:
    rounds: dict[str, list[int]] = {}
    for inst in builtin:
        assert inst.solve_fc_round is not None
        rounds.setdefault(inst.env_name, []).append(inst.solve_fc_round)
    spread = [name for name, r in rounds.items() if max(r) >= 2 * min(r) and max(r) >= 20]
    assert len(spread) >= len(rounds) - 2, sorted(set(rounds) - set(spread))


def test_held_out_split_is_a_fifth_of_the_envs(builtin: datasets.Dataset) -> None:
    test_envs = set(builtin.filter(split="test").env_names)
    train_envs = set(builtin.filter(split="train").env_names)
    assert not test_envs & train_envs
    assert 0.15 <= len(test_envs) / len(builtin.env_names) <= 0.25
    assert datasets.load("builtin", split="test").env_names == sorted(test_envs)


def test_filters(builtin: datasets.Dataset) -> None:
    some = builtin.filter(min_rounds=10, max_rounds=40)
    assert len(some) > 0 and all(10 <= (i.solve_fc_round or 0) <= 40 for i in some)
    one = builtin.filter(envs=["EditDistanceEnv"])
    assert {i.env_name for i in one} == {"EditDistanceEnv"} and set(one.sources) == {one[0].stem}
    assert len(builtin.filter(envs=["cg0002__EditDistanceEnv"])) == len(one)
    with pytest.raises(ConfigError, match="no env named"):
        builtin.filter(envs=["NoSuchEnv"])


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_export_then_load_gives_identical_instances(
    builtin: datasets.Dataset, tmp_path: Path, fmt: str
) -> None:
    out = datasets.export(builtin, tmp_path, formats=[fmt])
    assert sorted(p.name for p in (out / "envs").iterdir()) == sorted(f"{s}.py" for s in builtin.sources)
    loaded = datasets.load(out / f"instances.{fmt}")
    assert loaded.instances == builtin.instances
    assert loaded.sources == builtin.sources
    if fmt == "jsonl":
        lines = (out / "instances.jsonl").read_text().splitlines()
        assert len(lines) == len(builtin)
        first = json.loads(lines[0])
        assert first["ability"].startswith("codegym_v1@cg0001__")
        assert set(first) >= {"ability", "prompt", "extra_info", "plugin_call_max_round"}
        assert datasets.load(out).instances == builtin.instances  # the directory works too


def test_directory_written_elsewhere_loads(tmp_path: Path) -> None:
    """Minimal foreign layout: env files, a JSONL with extra keys, a string prompt, missing
    metadata, JSON-encoded extra_info."""
    source = codegym.builtin.sources()["cg0002__EditDistanceEnv"]
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "x17__EditDistanceEnv.py").write_text(source)
    rows = [
        {
            "data_source": "someone_else",
            "ability": 'codegym_v1@x17__EditDistanceEnv@{"word1": "ab", "word2": "b"}',
            "prompt": [{"role": "user", "content": "solve it"}],
            "extra_info": {"index": 7, "solve_fc_round": 5, "origin": "their pipeline"},
            "reward_model": {"style": "rule"},
        },
        {
            "ability": 'codegym_v1@x17__EditDistanceEnv@{"word1": "", "word2": "b"}',
            "prompt": "a plain string prompt",
            "extra_info": json.dumps({"split": "test"}),
        },
    ]
    (tmp_path / "train.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    data = datasets.load(tmp_path)
    assert len(data) == 2
    a, b = data
    assert a.env_name == "EditDistanceEnv" and a.code_id == "x17"
    assert a.extra_info.index == 7 and a.solve_fc_round == 5 and a.data_source == "someone_else"
    assert b.prompt[0].role == "user" and b.prompt[0].content == "a plain string prompt"
    assert b.split == "test" and b.extra_info.index == 1 and b.solve_fc_round is None
    with codegym.EnvPool(data.specs()) as pool:
        out = pool.solve()
    assert list(out.reward) == [1.0, 1.0]


def test_broken_datasets_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such"):
        datasets.load(tmp_path / "missing")
    with pytest.raises(ConfigError, match="no instances"):
        datasets.load(tmp_path)
    (tmp_path / "instances.jsonl").write_text('{"ability": "codegym_v1@x__A@{}", "prompt": []}\n')
    with pytest.raises(ConfigError, match="no env source for x__A"):
        datasets.load(tmp_path)
    (tmp_path / "instances.jsonl").write_text('{"ability": "not-an-ability"}\n')
    with pytest.raises(ConfigError, match="is not of the form"):
        datasets.load(tmp_path)
    (tmp_path / "instances.jsonl").write_text("{oops\n")
    with pytest.raises(ConfigError, match="instances.jsonl:1"):
        datasets.load(tmp_path)
