"""Where tensors live: CUDA when present, Apple MPS only on request, else CPU."""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

import torch

ENV_VAR = "GLMLIB_DEVICE"


def pick_device(requested: str | None = None) -> torch.device:
    """``requested`` (or ``$GLMLIB_DEVICE``) wins; otherwise CUDA if available, else CPU.

    MPS is opt-in (``GLMLIB_DEVICE=mps``) because some kernels differ there.
    """
    name = requested or os.environ.get(ENV_VAR) or ("cuda" if torch.cuda.is_available() else "cpu")
    if name not in {"cpu", "cuda", "mps"} and not name.startswith("cuda:"):
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'mps', got {name!r}")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but CUDA is not available")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device 'mps' requested but Apple MPS is not available")
    return torch.device(name)


@contextmanager
def cpu_threads(n: int | None) -> Iterator[None]:
    """PyTorch's intra-op CPU thread count is ``n`` inside the block (``None``: unchanged),
    and what it was afterwards, also after an error."""
    if n is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
