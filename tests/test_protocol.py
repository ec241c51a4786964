"""Trajectory streams: round trip, a torn or corrupt tail loses only itself, resume keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from codegym.protocol import TaskRef, Trajectory, TrajectoryWriter, TurnRecord, read_trajectories


def _traj(group: int, sample: int, n_tokens: int = 5) -> Trajectory:
    turn = TurnRecord(3, 1, 4, 1, "<call>", "obs", '{"name": "Observe", "parameters": {}}', False, "stop")
    return Trajectory(
        task=TaskRef("codegym_v1@cg1__E@{}", group, group, sample),
        token_ids=list(range(n_tokens)),
        loss_mask=[0, 0, 0, 1, 0][:n_tokens],
        logprobs=[0.0, 0.0, 0.0, -0.7, 0.0][:n_tokens],
        prompt_len=3,
        prompt_text="abc",
        turns=[turn],
        reward=1.0,
        finish_reason="done",
    )


def test_round_trip_and_keys(tmp_path: Path) -> None:
    path = tmp_path / "run.msgpack"
    written = [_traj(g, s) for g in range(3) for s in range(2)]
    with TrajectoryWriter(path) as w:
        for t in written:
            w.write(t)
    assert list(read_trajectories(path)) == written
    with TrajectoryWriter(path) as w:
        assert w.keys() == {(g, s) for g in range(3) for s in range(2)}


@pytest.mark.parametrize("damage", ["torn", "corrupt"])
def test_a_damaged_tail_loses_only_itself_and_is_cut_before_appending(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "run.msgpack"
    with TrajectoryWriter(path) as w:
        w.write(_traj(0, 0))
        w.write(_traj(0, 1))
    data = path.read_bytes()
    if damage == "torn":  # a crash in the middle of writing the second frame
        path.write_bytes(data[: len(data) - 7])
    else:  # a flipped byte in the second frame's payload
        path.write_bytes(data[:-3] + bytes([data[-3] ^ 0xFF]) + data[-2:])
    assert [t.key for t in read_trajectories(path)] == [(0, 0)]
    with TrajectoryWriter(path) as w:
        assert w.keys() == {(0, 0)}
        w.write(_traj(1, 0))
    assert [t.key for t in read_trajectories(path)] == [(0, 0), (1, 0)]


def test_large_streams_read_incrementally(tmp_path: Path) -> None:
    path = tmp_path / "big.msgpack"
    with TrajectoryWriter(path) as w:
        for g in range(50):
            w.write(_traj(g, 0, n_tokens=5) if g % 2 else _traj(g, 0, n_tokens=3))
    assert path.stat().st_size > 0
    assert [t.task.group for t in read_trajectories(path)] == list(range(50))
