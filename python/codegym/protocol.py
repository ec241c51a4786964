"""Trajectories: what a rollout records and a trainer consumes, without re-tokenization.

A :class:`Trajectory` holds one episode as a single token list — the chat-templated prompt,
then per turn the generated response tokens (``loss_mask`` 1, with the sampler's logprobs)
and the observation tokens (``loss_mask`` 0) — plus per-turn boundaries and texts for
debugging, the tool calls, reward, finish reason, the policy's weight version and timings.

On disk, trajectories are a stream of frames: an 8-byte header (payload length and CRC-32,
both little-endian u32) then the msgpack payload. A frame is written with one ``write`` on a
file opened for appending and flushed, so a crash loses at most the trajectory being written;
the reader stops at a torn or corrupt last frame, and :class:`TrajectoryWriter` cuts such a
tail off before appending again. ``SCHEMA_VERSION`` is in every record.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import msgspec

from .errors import ConfigError

__all__ = [
    "SCHEMA_VERSION",
    "TaskRef",
    "Trajectory",
    "TrajectoryWriter",
    "TurnRecord",
    "read_trajectories",
]

SCHEMA_VERSION = 1
_HEADER = struct.Struct("<II")
_MAX_FRAME = 1 << 30


class TaskRef(msgspec.Struct, frozen=True):
    """Which task an episode played: the instance's ``ability`` and dataset index, the group
    (one per task per rollout run) and the sample within the group."""

    ability: str
    index: int
    group: int
    sample: int
    dataset: str = ""


class TurnRecord(msgspec.Struct):
    """One turn: token spans into the trajectory's ``token_ids`` (``[start, start + len)``),
    the texts, the tool call and what came back."""

    response_start: int
    response_len: int
    observation_start: int
    observation_len: int
    response_text: str
    observation_text: str
    action: str | None  # env action JSON that was stepped, None on a parse failure
    parse_error: bool
    finish_reason: str  # the policy's: "stop", "length" or "abort"
    policy_seconds: float = 0.0
    env_seconds: float = 0.0


class Trajectory(msgspec.Struct):
    """One episode, token-level."""

    task: TaskRef
    token_ids: list[int]
    loss_mask: list[int]
    logprobs: list[float]  # per token; 0.0 where loss_mask is 0
    prompt_len: int
    prompt_text: str
    turns: list[TurnRecord]
    reward: float
    finish_reason: str  # done, max_rounds, max_tokens, parse_failures, env_error, policy_error
    error: str | None = None
    policy: str = ""
    weight_version: int = 0
    seconds: float = 0.0
    schema: int = SCHEMA_VERSION

    @property
    def num_turns(self) -> int:
        return len(self.turns)

    @property
    def num_generated(self) -> int:
        return sum(self.loss_mask)

    @property
    def key(self) -> tuple[int, int]:
        """(group, sample): unique within one rollout run; what ``--resume`` skips."""
        return (self.task.group, self.task.sample)


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Trajectory)


def _frames(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(end offset, payload) of every complete, intact frame from the start of ``data``."""
    pos = 0
    while pos + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, pos)
        end = pos + _HEADER.size + length
        if length > _MAX_FRAME or end > len(data):
            return
        payload = data[pos + _HEADER.size : end]
        if zlib.crc32(payload) != crc:
            return
        yield end, payload
        pos = end


def read_trajectories(path: str | os.PathLike[str]) -> Iterator[Trajectory]:
    """Stream the trajectories of a file, oldest first; a torn last frame is ignored."""
    with open(path, "rb") as f:
        buffer = b""
        while chunk := f.read(1 << 20):
            buffer += chunk
            consumed = 0
            for end, payload in _frames(buffer):
                consumed = end
                yield _decode(payload)
            buffer = buffer[consumed:]


def _decode(payload: bytes) -> Trajectory:
    try:
        return _decoder.decode(payload)
    except msgspec.DecodeError as e:
        raise ConfigError(f"not a codegym trajectory (schema {SCHEMA_VERSION}): {e}") from None


class TrajectoryWriter:
    """Appends trajectories to a stream file, one atomic frame each.

    Opening an existing file keeps its intact frames and truncates a torn tail (left by a
    crash), so a resumed run appends after the last complete trajectory. ``keys()`` gives the
    ``(group, sample)`` pairs already written."""

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = False) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._keys: set[tuple[int, int]] = set()
        if self.path.exists():
            data = self.path.read_bytes()
            good = 0
            for end, payload in _frames(data):
                good = end
                self._keys.add(_decode(payload).key)
            if good != len(data):
                with open(self.path, "r+b") as f:
                    f.truncate(good)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def keys(self) -> set[tuple[int, int]]:
        return set(self._keys)

    def write(self, trajectory: Trajectory) -> None:
        payload = _encoder.encode(trajectory)
        frame = _HEADER.pack(len(payload), zlib.crc32(payload)) + payload
        written = os.write(self._fd, frame)
        while written < len(frame):  # regular files write fully; be exact anyway
            written += os.write(self._fd, frame[written:])
        if self.fsync:
            os.fsync(self._fd)
        self._keys.add(trajectory.key)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> TrajectoryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
