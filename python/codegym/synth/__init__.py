"""Synthesis: coding problems in, verified CodeGym environments and tasks out.

``codegym synth`` runs :func:`codegym.synth.run` (stages in :mod:`codegym.synth.pipeline`);
LLM clients are in :mod:`codegym.synth.llm`; everything LLM-written runs only in sandboxes
(:mod:`codegym.synth.sandbox`) or is read with :mod:`ast` (:mod:`codegym.synth.static`).
docs/synthesis.md describes the stages, the rejection reasons and the cost per problem.
"""

from __future__ import annotations

from .llm import LLM, CachedLLM, OpenAIChatLLM, RecordedLLM, from_uri
from .pipeline import STAGES, SynthConfig, code_id, default_env_limits, default_solver_limits, run, run_stage
from .records import Candidate, Config, Problem, SolverRun, StageReport, read_problems

__all__ = [
    "LLM",
    "STAGES",
    "CachedLLM",
    "Candidate",
    "Config",
    "OpenAIChatLLM",
    "Problem",
    "RecordedLLM",
    "SolverRun",
    "StageReport",
    "SynthConfig",
    "code_id",
    "default_env_limits",
    "default_solver_limits",
    "from_uri",
    "read_problems",
    "run",
    "run_stage",
]
