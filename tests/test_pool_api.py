"""The Python surface of EnvPool: shapes and types of results, episode rules, async send/recv,
errors as exception classes, captured output, and the GIL being released while stepping."""

from __future__ import annotations

import threading
import time

import codegym
import numpy as np
import pytest
from codegym import errors

from .conftest import action, source

MAX = source("max_env")


def spec(nums: list[int], **kw: object) -> codegym.EnvSpec:
    return codegym.EnvSpec(MAX, f"MaxEnv@{{'nums': {nums}}}", **kw)  # type: ignore[arg-type]


def test_spec_takes_the_class_name_from_the_task_string() -> None:
    s = codegym.EnvSpec("src", "FooEnv@{'a': 1}", max_steps=5, seed=3)
    assert (s.class_name, s.env_str, s.max_steps, s.seed, s.source) == (
        "FooEnv",
        "FooEnv@{'a': 1}",
        5,
        3,
        "src",
    )


@pytest.mark.parametrize("bad", ["@{}", "1Env@{}", "Foo Env@{}", ""])
def test_spec_refuses_task_strings_without_a_class_name(bad: str) -> None:
    with pytest.raises(errors.ConfigError):
        codegym.EnvSpec("src", bad)


def test_limits_are_validated_and_readable() -> None:
    limits = codegym.Limits(fuel_per_step=123, max_obs_bytes=1000)
    assert limits.fuel_per_step == 123 and limits.max_obs_bytes == 1000
    assert limits.memory_bytes == codegym.Limits().memory_bytes
    with pytest.raises(errors.ConfigError):
        codegym.Limits(memory_bytes=1 << 20)
    with pytest.raises(errors.ConfigError):
        codegym.Limits(fuel_per_step=0)
    assert isinstance(errors.ConfigError("x"), ValueError)


def test_results_have_numpy_columns_in_env_id_order() -> None:
    with codegym.EnvPool([spec([1, 5]), spec([7])]) as pool:
        assert len(pool) == 2
        r = pool.reset()
        assert r.obs == ["", ""] and r.error == [None, None]
        out = pool.step([action("Observe")] * 2)
        assert out.obs == ["[1, 5]", "[7]"]
        assert out.reward.dtype == np.float32 and out.done.dtype == np.bool_
        assert out.env_ids.tolist() == [0, 1]
        assert out.step_count.tolist() == [1, 1]
        out = pool.step([action("Done", answer=7)], env_ids=[1])
        assert out.env_ids.tolist() == [1] and out.reward.tolist() == [1.0] and out.done.tolist() == [True]
        assert len(out) == 1


def test_stepping_before_reset_or_after_done_needs_a_reset() -> None:
    with codegym.EnvPool([spec([2])]) as pool:
        out = pool.step([action("Observe")])
        assert out.error_kind == ["needs_reset"] and out.done[0]
        with pytest.raises(errors.NeedsResetError):
            out.raise_for_error()
        pool.reset()
        pool.step([action("Done", answer=2)])
        after = pool.step([action("Observe")])
        assert after.error_kind == ["needs_reset"]
        pool.reset()
        assert pool.step([action("Observe")]).obs == ["[2]"]


def test_auto_reset_resets_a_finished_env_on_its_next_step() -> None:
    with codegym.EnvPool([spec([3])], auto_reset=True) as pool:
        assert pool.auto_reset
        pool.reset()
        assert pool.step([action("Done", answer=3)]).done[0]
        again = pool.step([action("Observe")])
        assert again.error == [None] and again.obs == [""] and not again.done[0]
        assert again.step_count[0] == 0
        assert pool.step([action("Observe")]).obs == ["[3]"]


def test_max_steps_truncates_the_episode() -> None:
    with codegym.EnvPool([spec([1], max_steps=2)]) as pool:
        pool.reset()
        first = pool.step([action("Observe")])
        assert not first.done[0]
        second = pool.step([action("Observe")])
        assert second.done[0] and second.truncated[0] and second.error == [None]


def test_bad_batches_raise_config_error() -> None:
    with codegym.EnvPool([spec([1]), spec([2])]) as pool:
        pool.reset()
        with pytest.raises(errors.ConfigError, match="twice"):
            pool.step([action("Observe")] * 2, env_ids=[0, 0])
        with pytest.raises(errors.ConfigError, match="out of range"):
            pool.step([action("Observe")], env_ids=[2])
        with pytest.raises(errors.ConfigError, match="actions for"):
            pool.step([action("Observe")])
        with pytest.raises(TypeError):
            pool.step([{"name": "Observe"}, "x"])  # type: ignore[list-item]
        with pytest.raises(TypeError):
            pool.step("not a list")
    with pytest.raises(errors.ConfigError):
        codegym.EnvPool([])


def test_closed_pool_raises() -> None:
    pool = codegym.EnvPool([spec([1])])
    pool.close()
    with pytest.raises(errors.ConfigError, match="closed"):
        pool.reset()


def test_load_errors_carry_the_guest_traceback() -> None:
    specs = [codegym.EnvSpec(source("broken_ctor"), "BrokenCtorEnv@{}"), spec([1])]
    with codegym.EnvPool(specs) as pool:
        out = pool.reset()
        assert out.error_kind == ["load_error", None]
        with pytest.raises(errors.EnvLoadError) as info:
            out.raise_for_error()
        assert info.value.env_id == 0
        assert "KeyError: 'size'" in info.value.traceback
        assert "BrokenCtorEnv.py" in info.value.traceback


def test_syntax_errors_and_missing_classes_are_load_errors() -> None:
    specs = [
        codegym.EnvSpec("def broken(:\n", "AEnv@{}"),
        codegym.EnvSpec("class Other:\n    pass\n", "AEnv@{}"),
        codegym.EnvSpec("class AEnv:\n    pass\n", "AEnv@{}"),
    ]
    with codegym.EnvPool(specs) as pool:
        out = pool.reset()
    assert out.error_kind == ["load_error"] * 3
    assert "SyntaxError" in (out.error[0] or "")
    assert "no class named 'AEnv'" in (out.error[1] or "")
    assert "from_env_str" in (out.error[2] or "")


def test_send_recv_returns_results_as_they_finish() -> None:
    specs = [spec([i, i + 1]) for i in range(8)]
    with codegym.EnvPool(specs, num_threads=2) as pool:
        pool.reset()
        pool.send([action("Observe")] * 8, list(range(8)))
        assert pool.in_flight == 8
        with pytest.raises(errors.ConfigError, match="pending"):
            pool.step([action("Observe")], env_ids=[3])
        first = pool.recv(min_batch=3)
        assert len(first) == 3
        rest = pool.recv()
        assert len(rest) == 5 and pool.in_flight == 0
        ids = first.env_ids.tolist() + rest.env_ids.tolist()
        assert sorted(ids) == list(range(8))
        obs = dict(zip(ids, first.obs + rest.obs, strict=True))
        assert all(obs[i] == f"[{i}, {i + 1}]" for i in range(8))
        with pytest.raises(errors.ConfigError, match="in flight"):
            pool.recv(min_batch=1)


def test_recv_max_batch_and_timeout() -> None:
    with codegym.EnvPool([spec([1]), spec([2])]) as pool:
        pool.reset()
        pool.send([action("Observe")] * 2, [0, 1])
        time.sleep(0.5)
        got = pool.recv(min_batch=1, max_batch=2)
        assert len(got) == 2
        empty_wait = time.monotonic()
        pool.send([action("Observe")], [0])
        pool.recv(min_batch=1, timeout=5.0)
        assert time.monotonic() - empty_wait < 5.0


def test_solve_reports_reward_steps_and_answer() -> None:
    with codegym.EnvPool([spec([4, 2]), codegym.EnvSpec(source("broken_ctor"), "BrokenCtorEnv@{}")]) as pool:
        out = pool.solve()
    assert out.reward.tolist() == [1.0, 0.0]
    assert out.steps.tolist() == [2, 0]
    assert out.answer[0] == "answer=4, ref=4, correct"
    assert out.error_kind == [None, "load_error"]
    with pytest.raises(errors.EnvLoadError):
        out.raise_for_error()


def test_output_is_captured_per_env() -> None:
    printing = MAX.replace(
        "        return json.dumps(self.nums)",
        '        print("observed", self.nums)\n        return json.dumps(self.nums)',
    )
    specs = [codegym.EnvSpec(printing, "MaxEnv@{'nums': [9]}"), spec([1])]
    with codegym.EnvPool(specs) as pool:
        pool.reset()
        pool.step([action("Observe")] * 2)
        assert pool.output(0) == ("observed [9]\n", "")
        assert pool.output(1) == ("", "")
        pool.reset([0])
        assert pool.output(0) == ("", "")


def test_output_of_a_stream_the_env_put_in_place_is_flushed_after_each_step() -> None:
    """The guest flushes stdio after every call only when something was written, which it
    knows for its own streams; a stream the env installed is flushed every time."""
    rewrapping = """
import io, sys

class Env:
    @staticmethod
    def from_env_str(s):
        sys.stdout = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", write_through=False)
        return Env()

    def step(self, action):
        print("step", action)
        return "ok"
"""
    with codegym.EnvPool([codegym.EnvSpec(rewrapping, "Env@{}")]) as pool:
        pool.reset().raise_for_error()
        pool.step(["a"]).raise_for_error()
        assert pool.output(0) == ("step a\n", "")
        pool.step(["b"]).raise_for_error()
        assert pool.output(0) == ("step a\nstep b\n", "")


def test_the_gil_is_released_while_stepping() -> None:
    slow = MAX.replace(
        "    def Noise(self):",
        "    def Spin(self):\n        return str(sum(range(300_000)))\n\n    def Noise(self):",
    )
    slow = slow.replace('"Noise": self.Noise}', '"Noise": self.Noise, "Spin": self.Spin}')
    ticks = 0
    stop = threading.Event()

    def count() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0.001)

    with codegym.EnvPool([codegym.EnvSpec(slow, "MaxEnv@{'nums': [1]}")], num_threads=1) as pool:
        pool.reset()
        thread = threading.Thread(target=count)
        thread.start()
        before = ticks
        out = pool.step([action("Spin")])
        during = ticks - before
        stop.set()
        thread.join()
    assert out.error == [None] and out.obs == [str(sum(range(300_000)))]
    assert during > 5  # the counter thread ran while the env was stepping


ODD = """
class OddEnv:
    @staticmethod
    def from_env_str(env_str):
        return OddEnv()

    def step(self, action):
        self.reward, self.finished, self.step_count, obs = eval(action)
        return obs
"""

# (what the env sets: reward, finished, step_count, observation) -> what the pool reports
ODD_CASES = [
    ("(1.5, True, 3, 'ok')", "ok", 1.5, True, 3),
    ("(-0.0, False, 0, 'z')", "z", 0.0, False, 0),
    ("(1, 1, -3, 42)", "42", 1.0, True, 0),
    ("(True, [], 2.7, 'x')", "x", 1.0, False, 2),
    ("(None, '', True, 'y')", "y", 0.0, False, 1),
    ("(float('nan'), 0.0, None, 'n')", "n", float("nan"), False, 0),
    ("(2.5, 'yes', 7, type('S', (str,), {})('sub'))", "sub", 2.5, True, 7),
    ("(0.25, False, 4, 'é' * 3)", "é" * 3, 0.25, False, 4),
    # A str subclass is reported by its characters, not by what its own methods make of them.
    (
        "(0.5, 0, 1, type('T', (str,), {'__str__': lambda s: 'b', '__format__': lambda s, f: 'b'})('own'))",
        "own",
        0.5,
        False,
        1,
    ),
    # The reply's header is one line: an observation may hold newlines and look like a header.
    ("(2.0**60, True, 2**62, 'E\\nO1.0 1 1\\n')", "E\nO1.0 1 1\n", 2.0**60, True, 2**62),
    ("(2.0**-149, False, 9, '')", "", 2.0**-149, False, 9),
    ("(float('inf'), False, 1, 'i')", "i", float("inf"), False, 1),
    # Counts below 1024 are written from a table of their texts, larger ones formatted.
    ("(0.0, False, 1023, 'c')", "c", 0.0, False, 1023),
    ("(0.0, False, 1024, 'd')", "d", 0.0, False, 1024),
    # An int subclass is reported by its value, not by what its own methods make of it.
    (
        "(0.0, False, type('I', (int,), {'__format__': lambda s, f: '9', '__str__': lambda s: '9'})(5), 'j')",
        "j",
        0.0,
        False,
        5,
    ),
]


ATTRS = """
class AttrEnv:
    reads = 0
    mode = "ok"

    @staticmethod
    def from_env_str(env_str):
        return AttrEnv()

    def step(self, action):
        self.mode = action
        return f"{action} {AttrEnv.reads}"

    def _read(self, value):
        AttrEnv.reads += 1
        if self.mode == "missing":
            raise AttributeError("not there")
        if self.mode == "broken":
            raise KeyError("broken")
        return value

    reward = property(lambda self: self._read(0.5))
    finished = property(lambda self: self._read(True))
    step_count = property(lambda self: self._read(7))
"""


def test_missing_reward_finished_and_step_count_take_their_defaults() -> None:
    """Read as ``getattr(env, name, default)`` would: an ``AttributeError`` (no attribute, or a
    property raising it) gives reward 0.0, not finished and the wrapper's own step count; any
    other exception is the env's error; each attribute is read once per step."""
    with codegym.EnvPool([codegym.EnvSpec(ATTRS, "AttrEnv@{}")] * 3) as pool:
        pool.reset().raise_for_error()
        out = pool.step(["ok", "missing", "broken"])
        assert out.error[:2] == [None, None], out.error
        assert out.obs[:2] == ["ok 0", "missing 0"]
        assert [float(r) for r in out.reward[:2]] == [0.5, 0.0]
        assert [bool(d) for d in out.done[:2]] == [True, False]
        assert [int(c) for c in out.step_count[:2]] == [7, 1]
        assert out.error[2] is not None and "KeyError" in out.error[2], out.error[2]
        again = pool.step(["missing"], [1])  # env 0 finished, env 2 failed
        assert again.obs == ["missing 3"] and int(again.step_count[0]) == 2, again


def test_reward_finished_and_step_count_of_any_type_are_converted() -> None:
    """An env's ``reward``, ``finished`` and ``step_count`` need not have the reported types:
    they are converted as ``float(reward or 0.0)``, ``bool(finished)`` and
    ``max(0, int(step_count or 0))`` (so a ``-0.0`` reward is ``0.0``), the observation with
    ``str()``; a value that does not convert, or a step count past 64 bits, is the env's error.
    Rewards cross as ``repr`` text, which reads back exactly (reported as float32)."""
    actions = [case[0] for case in ODD_CASES] + ["('abc', False, 1, 'e')", "(0.0, False, 2**64, 'e')"]
    with codegym.EnvPool([codegym.EnvSpec(ODD, "OddEnv@{}")] * len(actions)) as pool:
        pool.reset().raise_for_error()
        out = pool.step(actions)
    for i, (_, obs, reward, done, count) in enumerate(ODD_CASES):
        assert out.error[i] is None, out.error[i]
        assert out.obs[i] == obs
        got = float(out.reward[i])
        assert (got == reward or (np.isnan(got) and np.isnan(reward))) and not np.signbit(got), (i, got)
        assert bool(out.done[i]) == done and int(out.step_count[i]) == count, i
    assert out.error[-2] is not None and "could not convert string to float" in out.error[-2]
    assert out.error[-1] is not None and "step_count" in out.error[-1], out.error[-1]
