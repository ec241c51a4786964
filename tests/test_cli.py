"""The ``codegym`` command line: tasks list/show/export, play, oracle."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from codegym import datasets
from codegym.cli import main


def test_tasks_list_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks", "list", "--split", "test"]) == 0
    out = capsys.readouterr().out
    assert "cg0005__GroupAnagramsEnv" in out and "cg0001__" not in out and "78 tasks in 8 envs" in out
    assert main(["tasks", "show", "EditDistanceEnv"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# codegym_v1@cg0002__EditDistanceEnv@") and "[system]" in out and "[user]" in out
    assert main(["tasks", "show", "3", "--format", "openai"]) == 0
    tools = json.loads(capsys.readouterr().out)
    assert tools[0]["type"] == "function" and tools[-1]["function"]["name"] == "Done"
    assert main(["tasks", "show", "NoSuchEnv"]) == 2
    assert "no task 'NoSuchEnv'" in capsys.readouterr().err


def test_tasks_export_writes_the_codegym_layout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks", "export", "builtin", "--out", str(tmp_path), "--format", "both"]) == 0
    assert (tmp_path / "envs" / "cg0002__EditDistanceEnv.py").is_file()
    lines = (tmp_path / "instances.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["ability"].startswith("codegym_v1@cg0001__")
    assert datasets.load(tmp_path / "instances.parquet").instances == datasets.load("builtin").instances
    capsys.readouterr()
    assert main(["tasks", "list", str(tmp_path), "--env", "EditDistanceEnv"]) == 0
    assert "1 envs" in capsys.readouterr().out


def test_play_reads_calls_from_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = datasets.load("builtin", envs=["EditDistanceEnv"])
    first = data[0]  # word1 "" -> word2 "abc": distance 3
    assert json.loads(first.env_str.split("@", 1)[1]) == {"word1": "", "word2": "abc"}
    typed = ["Observe", "not a call", '{"name": "Done", "parameters": {"answer": 3}}']
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(typed) + "\n"))
    assert main(["play", first.env_str]) == 0
    out = capsys.readouterr().out
    assert "[system]" in out and '{"word1": "", "word2": "abc"}' in out
    assert "Error: no tool call found" in out
    assert "finish reason: done, reward: 1.0" in out


def test_oracle_command_on_a_subset(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["oracle", "--split", "test", "--format", "hermes", "--paraphrase", "-q"]) == 0
    out = capsys.readouterr().out
    assert "tasks solved (100.0%)" in out and "GroupAnagramsEnv" in out and "turns/s" in out
