"""Distributed data parallel training: 2 CPU processes (gloo) vs one process."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

WORKER = Path(__file__).with_name("ddp_worker.py")
ROOT = Path(__file__).resolve().parent.parent
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]


def _run(launcher: list[str], out: Path, batch_size: int) -> dict:
    """Run the worker; return its recorded losses (rank 0) and world size."""
    out.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([*launcher, str(WORKER), str(out), str(batch_size)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return json.loads((out / "losses.json").read_text())


@pytest.mark.slow
def test_two_ranks_match_one_process_with_the_same_global_batch(tmp_path):
    ddp = _run(TORCHRUN, tmp_path / "ddp", batch_size=4)
    single = _run([sys.executable], tmp_path / "single", batch_size=8)

    assert ddp["world"] == 2 and single["world"] == 1
    rank0 = load_file(str(tmp_path / "ddp" / "rank0.safetensors"))
    rank1 = load_file(str(tmp_path / "ddp" / "rank1.safetensors"))
    for name in rank0:
        assert torch.equal(rank0[name], rank1[name]), f"ranks differ in {name}"

    assert len(ddp["losses"]) == len(single["losses"]) == 6
    assert ddp["losses"] == pytest.approx(single["losses"], abs=1e-4)
    alone = load_file(str(tmp_path / "single" / "rank0.safetensors"))
    for name in rank0:
        torch.testing.assert_close(rank0[name], alone[name], atol=1e-4, rtol=1e-4)
