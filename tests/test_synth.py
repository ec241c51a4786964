"""The synthesis pipeline driven end to end by recorded model outputs (tests/fixtures/synth):
exactly which problems survive each stage, and why the others do not."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import codegym
import httpx
import pytest
from codegym import datasets, synth
from codegym.cli import main
from codegym.synth import sandbox
from codegym.synth.llm import CachedLLM, OpenAIChatLLM, cache_key
from codegym.synth.static import Rejected, inspect_env
from codegym.verify import verify

FIXTURES = Path(__file__).parent / "fixtures" / "synth"
PROBLEMS = FIXTURES / "problems.jsonl"
RESPONSES = FIXTURES / "responses"

# Small budgets: the hostile fixtures (a load that never ends, a memory bomb, a solver that
# loops) fail in a fraction of a second.
ENV_LIMITS = codegym.Limits(
    memory_bytes=64 << 20,
    fuel_per_load=300_000_000,
    fuel_per_step=100_000_000,
    fuel_per_solve=300_000_000,
    wall_time_ms=10_000,
)
SOLVER_LIMITS = codegym.Limits(
    memory_bytes=64 << 20,
    fuel_per_load=300_000_000,
    fuel_per_step=300_000_000,
    wall_time_ms=10_000,
    max_obs_bytes=512 << 10,
)

# Stage by stage: problem id -> rejection reason ("" = kept). A problem absent from a stage
# was rejected before it.
EXPECTED = {
    "generated": {
        "collatz": "",
        "digit_sum": "",
        "count_zeros": "",
        "fib": "",
        "prefix_sums": "",
        "second_largest": "",
        "count_vowels": "",
        "list_max": "",
        "reverse_words": "",
        "gcd": "unparsable",  # no <env> block
    },
    "checked": {
        "collatz": "",
        "digit_sum": "syntax_error",
        "count_zeros": "missing_docstring",  # IsZero has neither Args: nor Returns:
        "fib": "load:fuel_exhausted",  # __init__ loops forever
        "prefix_sums": "load:memory_limit",  # module-level allocation loop
        "second_largest": "solve:wrong_answer",  # get_ref_answer() gives the largest value
        "count_vowels": "",
        "list_max": "",
        "reverse_words": "",
    },
    "configs": {
        "collatz": "",
        "count_vowels": "",
        "list_max": "",
        "reverse_words": "no_valid_configs",  # every proposed configuration fails to load
    },
    "solvers": {
        "collatz": "",
        "count_vowels": "no_passing_solver",  # one solver cheats, the other loops
        "list_max": "",  # the first solver is wrong on all-negative lists, the second passes
    },
    "exported": {"collatz": "", "list_max": ""},
}


def _config(out: Path, **kw: Any) -> synth.SynthConfig:
    settings: dict[str, Any] = {
        "problems": PROBLEMS,
        "k": 1,
        "solver_samples": 2,
        "env_limits": ENV_LIMITS,
        "solver_limits": SOLVER_LIMITS,
        "progress": False,
    }
    settings.update(kw)
    return synth.SynthConfig(out, **settings)


def _records(out: Path, stage: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / f"{stage}.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[synth.StageReport], int]:
    out = tmp_path_factory.mktemp("synth")
    llm = synth.RecordedLLM(RESPONSES)
    reports = synth.run(_config(out), llm)
    return out, reports, llm.calls


@pytest.mark.parametrize("stage", list(EXPECTED))
def test_each_stage_keeps_exactly_the_expected_problems(run_dir: Any, stage: str) -> None:
    out, _, _ = run_dir
    got = {r["question_id"]: r["reason"] for r in _records(out, stage)}
    assert got == EXPECTED[stage]
    for r in _records(out, stage):
        assert r["ok"] == (r["reason"] == "")
        assert bool(r["error"]) == (r["reason"] != "")


def test_reports_count_in_out_and_reasons(run_dir: Any) -> None:
    out, reports, calls = run_dir
    table = {r.stage: (r.inputs, r.outputs, dict(r.rejected)) for r in reports}
    assert table == {
        "generate": (10, 9, {"unparsable": 1}),
        "check": (9, 4, {r: 1 for r in EXPECTED["checked"].values() if r}),
        "configs": (4, 3, {"no_valid_configs": 1}),
        "solvers": (3, 2, {"no_passing_solver": 1}),
        "export": (2, 2, {}),
    }
    # generate: one call per problem; configs: one per checked env; solvers: one per env.
    assert calls == 10 + 4 + 3
    saved = json.loads((out / "report_check.json").read_text())
    assert saved["in"] == 9 and saved["out"] == 4 and saved["rejected"]["load:memory_limit"] == 1
    assert any("SyntaxError" in e["error"] for e in saved["top_errors"])


def test_configurations_are_loaded_and_their_reference_answers_computed(run_dir: Any) -> None:
    out, _, _ = run_dir
    by_id = {r["question_id"]: r for r in _records(out, "configs")}
    collatz = by_id["collatz"]
    assert [(c["options"], c["ref_answer"]) for c in collatz["configs"]] == [
        ('{"n": 1}', "0"),
        ('{"n": 6}', "8"),
        ('{"n": 7}', "16"),
        ('{"n": 27}', "111"),
    ]
    # n = 0 makes get_ref_answer() loop forever: that configuration alone is dropped.
    assert sorted((c["options"], c["reason"]) for c in collatz["rejected_configs"]) == [
        ("[97]", "bad_options"),
        ('{"n": 0}', "ref:fuel_exhausted"),
        ('{"n": 6}', "duplicate"),
    ]
    words = by_id["reverse_words"]
    assert sorted(c["reason"] for c in words["rejected_configs"]) == [
        "bad_options",
        "load:load_error",
        "load:load_error",
    ]


def test_solvers_are_judged_per_configuration(run_dir: Any) -> None:
    out, _, _ = run_dir
    by_id = {r["question_id"]: r for r in _records(out, "solvers")}
    runs = {qid: [(s["index"], s["reason"], s["rounds"]) for s in r["solvers"]] for qid, r in by_id.items()}
    assert runs == {
        # The second recorded solver is missing: an empty completion.
        "collatz": [(0, "", [2, 10, 18, 113]), (1, "unparsable", [])],
        # Solver 0 reads the word with Observe and counts vowels itself; solver 1 never returns.
        "count_vowels": [(0, "cheat:no_tools", [2, 2, 2]), (1, "solver:fuel_exhausted", [None, None, None])],
        # Solver 0 starts from 0: wrong on the all-negative list (configuration 1).
        "list_max": [(0, "wrong_answer", [13, None, 22]), (1, "", [12, 13, 21])],
    }
    assert by_id["list_max"]["solver_index"] == 1
    assert by_id["list_max"]["solvers"][0]["config"].startswith('{"nums": [-7')
    assert [c["rounds"] for c in by_id["list_max"]["configs"]] == [12, 13, 21]


def test_export_writes_a_dataset_that_verifies(run_dir: Any) -> None:
    out, _, _ = run_dir
    data = datasets.load(out / "dataset")
    cid = synth.code_id("collatz")
    assert sorted(data.sources) == sorted(
        [f"{cid}__CollatzStepsEnv", f"{synth.code_id('list_max')}__ListMaxEnv"]
    )
    # n = 1 takes 2 tool calls: outside the default 10-256 range.
    assert [(i.env_str, i.solve_fc_round) for i in data.instances] == [
        ('CollatzStepsEnv@{"n": 6}', 10),
        ('CollatzStepsEnv@{"n": 7}', 18),
        ('CollatzStepsEnv@{"n": 27}', 113),
        ('ListMaxEnv@{"nums": [5, 1, 4, 2, 8, 3, 9, 7, 6, 0, 2]}', 12),
        ('ListMaxEnv@{"nums": [-7, -3, -9, -4, -8, -5, -6, -2, -11, -10, -12, -13]}', 13),
        (
            'ListMaxEnv@{"nums": [12, 40, 7, 33, 18, 25, 3, 39, 41, 8, 16, 22, 5, 30, 11, 2, 37, 29, 14, 1]}',
            21,
        ),
    ]
    first = data.instances[0]
    assert first.plugin_call_max_round == 20 and "Collatz" in first.prompt[1].content
    assert [t.name for t in data.tools(first)] == ["Observe", "Next", "Done"]
    # The exported env's solve() is the verified solver: verify reproduces its step counts.
    report = verify(data, limits=ENV_LIMITS)
    assert report.ok and report.verified == 6, report.summary()


def test_a_second_run_makes_no_llm_calls_and_redoes_nothing(run_dir: Any) -> None:
    out, first, _ = run_dir
    before = {p.name: p.read_bytes() for p in out.glob("*.jsonl")}
    llm = synth.RecordedLLM(RESPONSES)
    again = synth.run(_config(out), llm)
    assert llm.calls == 0
    for report in again[:-1]:  # export is recomputed from solvers.jsonl, cheaply
        assert report.reused == report.inputs and report.llm_calls == 0
    assert [(r.inputs, r.outputs) for r in again] == [(r.inputs, r.outputs) for r in first]
    assert {p.name: p.read_bytes() for p in out.glob("*.jsonl")} == before


def test_an_interrupted_stage_resumes(run_dir: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(run_dir[0], out)
    lines = (out / "solvers.jsonl").read_text().splitlines()
    (out / "solvers.jsonl").write_text("\n".join(lines[:1]) + "\n" + lines[1][:40])  # cut mid-record
    llm = synth.RecordedLLM(RESPONSES)
    (report,) = synth.run(_config(out), llm, ["solvers"])
    assert (report.inputs, report.reused, report.outputs) == (3, 1, 2)
    assert llm.calls == 0  # the LLM answers come from the cache
    assert (out / "solvers.jsonl").read_text().splitlines() == lines


def test_stages_run_one_by_one_from_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    common = [
        "--out",
        str(out),
        "--k",
        "1",
        "--solvers",
        "2",
        "-q",
        "--fuel",
        "300000000",
        "--memory-mb",
        "64",
    ]
    llm = ["--llm", f"recorded:{RESPONSES}"]
    assert main(["synth", "check", *common]) == 2
    assert "run the 'generate' stage first" in capsys.readouterr().err
    assert main(["synth", "generate", "--problems", str(PROBLEMS), *llm, *common]) == 0
    assert main(["synth", "check", *common]) == 0
    assert "[check] in 9, out 4" in capsys.readouterr().out
    assert main(["synth", "configs", *common]) == 2  # needs --llm
    assert main(["synth", "run", "--stages", "configs,solvers,export", *llm, *common]) == 0
    printed = capsys.readouterr().out
    assert "[solvers] in 3, out 2" in printed and "[export] in 2, out 2" in printed
    assert main(["verify", str(out / "dataset"), "-q"]) == 0
    assert "6/6 task instances verified (100.0%)" in capsys.readouterr().out


def test_dedup_keeps_the_first_verified_sample_per_problem(tmp_path: Path) -> None:
    problems = tmp_path / "one.jsonl"
    problems.write_text(PROBLEMS.read_text().splitlines()[0] + "\n")  # collatz only
    out = tmp_path / "out"
    reports = synth.run(_config(out, problems=problems, k=2), synth.RecordedLLM(RESPONSES))
    assert [(r.stage, r.outputs) for r in reports][-2:] == [("solvers", 2), ("export", 1)]
    exported = {(r["sample"], r["env_name"]): r["reason"] for r in _records(out, "exported")}
    assert exported == {(0, "CollatzStepsEnv"): "", (1, "CollatzLengthEnv"): "duplicate_problem"}
    assert list(datasets.load(out / "dataset").sources) == [f"{synth.code_id('collatz')}__CollatzStepsEnv"]


def test_export_filters_on_solve_fc_round(run_dir: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(run_dir[0], out)
    (report,) = synth.run(_config(out, min_rounds=14, max_rounds=100), None, ["export"])
    assert report.notes["configurations outside the round range"] == 5
    rounds = [i.solve_fc_round for i in datasets.load(out / "dataset").instances]
    assert rounds == [18, 21]
    (report,) = synth.run(_config(out, min_rounds=200, max_rounds=256), None, ["export"])
    assert dict(report.rejected) == {"rounds_out_of_range": 2}


def test_a_solver_holds_nothing_of_the_env() -> None:
    """The solver's sandbox has no object of the env: searching the whole heap for one finds
    nothing, and the env's data reach it only as observations."""
    source = (RESPONSES / "list_max" / "generate.0.txt").read_text().split("<env>")[1].split("</env>")[0]
    spy = (
        "import gc\n\n\ndef solve(env):\n"
        "    found = [o for o in gc.get_objects() if hasattr(o, 'get_ref_answer') or hasattr(o, 'nums')]\n"
        "    raise RuntimeError(f'found {len(found)} env objects; env has {sorted(dir(env))[-1]}')\n"
    )
    (result,) = sandbox.run_solvers([(source, 'ListMaxEnv@{"nums": [1]}', spy)], ENV_LIMITS, SOLVER_LIMITS)
    assert result.failure == "solver_raised"
    assert "found 0 env objects; env has step" in result.error


def test_a_solver_that_swallows_the_stop_still_gets_answers() -> None:
    source = (RESPONSES / "list_max" / "generate.0.txt").read_text().split("<env>")[1].split("</env>")[0]
    stubborn = (
        "import json\n\n\ndef solve(env):\n"
        "    try:\n"
        "        nums = json.loads(env.step({'name': 'Observe', 'parameters': {}}))\n"
        "    except BaseException:\n"
        "        nums = [0]\n"
        "    best = nums[0]\n"
        "    for x in nums[1:]:\n"
        "        best = int(env.step({'name': 'Max', 'parameters': {'a': best, 'b': x}}))\n"
        "    return env.step({'name': 'Done', 'parameters': {'answer': best}})\n"
    )
    (result,) = sandbox.run_solvers(
        [(source, 'ListMaxEnv@{"nums": [3, 9, 4]}', stubborn)], ENV_LIMITS, SOLVER_LIMITS
    )
    assert (result.failure, result.steps, result.tools) == (None, 4, {"Observe", "Max", "Done"})


GOOD = (RESPONSES / "collatz" / "generate.0.txt").read_text().split("```python\n")[1].split("```")[0]


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (("    @property\n    def finished(self):\n        return self._done\n", ""), "missing_member"),
        (('"Next": self.Next, ', ""), "missing_member"),  # only Observe and Done left
        (("            value (int): the current number, positive.\n", ""), "missing_docstring"),
        (("'CollatzStepsEnv@{\"n\": 6}', 'CollatzStepsEnv@{\"n\": 1}'", "'x'"), "no_examples"),
        (("class CollatzStepsEnv(gymnasium.Env):", "class CollatzStepsEnv(gymnasium.Env)"), "syntax_error"),
        (("def from_env_str", "def make"), "no_env_class"),
    ],
)
def test_static_check_reasons(edit: tuple[str, str], reason: str) -> None:
    assert inspect_env(GOOD).examples == ['CollatzStepsEnv@{"n": 6}', 'CollatzStepsEnv@{"n": 1}']
    bad = GOOD.replace(*edit)
    assert bad != GOOD
    with pytest.raises(Rejected) as info:
        inspect_env(bad)
    assert info.value.reason == reason


def test_cache_keys_ignore_the_endpoint_and_fill_missing_samples(tmp_path: Path) -> None:
    messages = [{"role": "user", "content": "Problem id: collatz\nRequest: generate\n"}]
    assert cache_key("generate", messages, 0, 0.8) != cache_key("generate", messages, 1, 0.8)
    assert cache_key("generate", messages, 0, 0.8) != cache_key("configs", messages, 0, 0.8)
    recorded = synth.RecordedLLM(RESPONSES)
    cached = CachedLLM(recorded, tmp_path)
    one = asyncio.run(cached.samples("generate", messages, k=1, temperature=0.8, max_tokens=10))
    two = asyncio.run(cached.samples("generate", messages, k=2, temperature=0.8, max_tokens=10))
    assert two[0] == one[0] and "CollatzLengthEnv" in two[1] and recorded.calls == 2
    asyncio.run(cached.samples("generate", messages, k=2, temperature=0.8, max_tokens=10))
    assert recorded.calls == 2


def test_llm_uris() -> None:
    assert isinstance(synth.from_uri(f"recorded:{RESPONSES}"), synth.RecordedLLM)
    openai = synth.from_uri("openai://127.0.0.1:8000/v1#my-model")
    assert isinstance(openai, OpenAIChatLLM)
    assert (openai.base_url, openai.model) == ("http://127.0.0.1:8000/v1", "my-model")
    sglang = synth.from_uri("sglang://10.0.0.2:30000")
    assert isinstance(sglang, OpenAIChatLLM) and sglang.base_url == "http://10.0.0.2:30000/v1"
    with pytest.raises(codegym.errors.ConfigError):
        synth.from_uri("ftp://x")


def test_openai_client_retries_and_returns_n_samples(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append({"body": json.loads(request.content), "auth": request.headers.get("authorization")})
        if len(seen) == 1:
            return httpx.Response(429, text="slow down")
        n = json.loads(request.content)["n"]
        return httpx.Response(200, json={"choices": [{"message": {"content": f"s{i}"}} for i in range(n)]})

    async def go() -> list[str]:
        llm = OpenAIChatLLM(
            "http://x/v1", "m", api_key="k", transport=httpx.MockTransport(handler), retries=2
        )
        monkeypatch.setattr(asyncio, "sleep", _no_sleep)
        try:
            return await llm.complete([{"role": "user", "content": "hi"}], n=3, temperature=0.5, max_tokens=9)
        finally:
            await llm.aclose()

    assert asyncio.run(go()) == ["s0", "s1", "s2"]
    assert len(seen) == 2 and seen[1]["auth"] == "Bearer k"
    assert seen[1]["body"]["n"] == 3 and seen[1]["body"]["model"] == "m"


async def _no_sleep(_seconds: float) -> None:
    return None
