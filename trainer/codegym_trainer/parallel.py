"""Data parallelism and FSDP2 sharding under torch.distributed, and full (unsharded) state.

Two ways to spread a GRPO step over ranks, chosen by how the model is prepared:

- data parallel ("ddp"): every rank holds the whole model; :func:`grpo.train_step` all-reduces
  the gradients itself after the backward passes.
- FSDP2 ("fsdp"): :func:`shard_model` applies ``torch.distributed.fsdp.fully_shard`` to every
  block and then to the root, so parameters, gradients and optimiser state are sharded
  (``DTensor``); FSDP all-gathers parameters for each block's forward/backward and
  reduce-scatters its gradients; ``train_step`` sees ``is_sharded(model)`` and leaves the
  reduction to FSDP.

Either way each rank takes rows ``rank::world`` of the batch and the loss is normalised by the
*global* token (or row) count, so each rank's gradient is its share of the batch mean and the
shares must be **summed**, not averaged: :func:`shard_model` sets a gradient divide factor of 1
on every FSDP module and forces plain ``SUM`` collectives (a divide factor other than the world
size would otherwise use ``PREMUL_SUM``, which NCCL has and gloo has not).

State crosses the boundary in one format: :func:`full_state` gathers the full model and
optimiser state to rank 0 on CPU with ``torch.distributed.checkpoint.state_dict``
(parameter-name keys), and :func:`load_full_state` shards it again, so a checkpoint written by
an FSDP run loads into a single process and the other way round.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict, set_state_dict
from torch.distributed.fsdp import FSDPModule, fully_shard

PARALLEL = ("ddp", "fsdp")


def world() -> tuple[int, int]:
    """(rank, world size); (0, 1) without an initialised process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_from_env() -> torch.device:
    """Join the process group that ``torchrun`` describes in the environment (``WORLD_SIZE``,
    ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT``): NCCL with one GPU per local rank
    when CUDA is available, gloo on CPU. Without ``RANK`` (not under torchrun) nothing is
    initialised. Returns the device this rank trains on."""
    cuda = torch.cuda.is_available()
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0"))) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if "RANK" in os.environ and not dist.is_initialized():
        # generous: in the training loop the other ranks wait in a broadcast while rank 0 rolls
        # out and evaluates
        dist.init_process_group("nccl" if cuda else "gloo", timeout=datetime.timedelta(hours=2))
    return device


def shutdown() -> None:
    """Destroy the default process group, if there is one. Call it before the process exits:
    gloo's worker threads still alive at interpreter exit abort the process ("terminate called
    without an active exception", SIGABRT) now and then, failing the whole torchrun job after
    its work is done. It still happened once in about ten CI runs after this, so
    ``python -m codegym_trainer.loop`` under torchrun also skips the interpreter's teardown."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def is_sharded(model: torch.nn.Module) -> bool:
    """Whether :func:`shard_model` (or ``fully_shard``) was applied to ``model``."""
    return isinstance(model, FSDPModule)


def shard_model(model: torch.nn.Module, blocks: Iterable[torch.nn.Module] | None = None) -> torch.nn.Module:
    """Apply FSDP2 to ``model`` in place over all ranks of the default process group: one
    ``fully_shard`` unit per block, then the root (embeddings, final norm, LM head and whatever
    else is left). ``blocks`` defaults to the children of the first ``nn.ModuleList`` in
    ``model.modules()`` order, which for Hugging Face causal LMs is the decoder layers
    (``model.model.layers``). Gradients are reduced by sum (see the module docstring).

    The optimiser must be made *after* this call: the parameters become ``DTensor`` shards.
    """
    if blocks is None:
        layers = next((m for m in model.modules() if isinstance(m, torch.nn.ModuleList)), None)
        blocks = list(layers) if layers is not None else []
    for block in blocks:
        fully_shard(block)
    fully_shard(model)
    for module in model.modules():
        if isinstance(module, FSDPModule):
            module.set_gradient_divide_factor(1.0)
            module.set_force_sum_reduction_for_comms(True)
    return model


def full_state(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Full (unsharded) model and optimiser state dicts on CPU, keyed by parameter name. A
    collective under torch.distributed: every rank must call it; rank 0 gets the state, the
    other ranks get empty dicts."""
    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    return get_state_dict(model, optimizer if optimizer is not None else (), options=options)


def load_full_state(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None,
    model_state: dict[str, Any],
    optimizer_state: dict[str, Any] | None = None,
) -> None:
    """Load full state dicts from :func:`full_state` into a sharded or a plain model (and its
    optimiser); every rank passes the full state and keeps its own shard."""
    set_state_dict(
        model,
        optimizer if optimizer is not None else (),
        model_state_dict=model_state,
        optim_state_dict=optimizer_state or {},
        options=StateDictOptions(full_state_dict=True),
    )


def save_pretrained(model: Any, path: str | Path, tokenizer: Any = None) -> None:
    """``model.save_pretrained(path)`` (and the tokenizer's) with the full weights, written by
    rank 0 only; a collective under torch.distributed (every rank must call it)."""
    state, _ = full_state(model)
    rank, world_size = world()
    if rank == 0:
        model.save_pretrained(path, state_dict=state)
        if tokenizer is not None:
            tokenizer.save_pretrained(path)
    if world_size > 1:
        dist.barrier()
