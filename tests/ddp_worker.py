"""Run a few training steps (alone, or as one rank under torchrun) and save what happened.

    python tests/ddp_worker.py OUT_DIR BATCH_SIZE
    torchrun --standalone --nproc_per_node=2 tests/ddp_worker.py OUT_DIR BATCH_SIZE
"""
import json
import sys
from pathlib import Path

import torch.distributed as dist
from safetensors.torch import save_file

from glmlib.train import TrainConfig, train


def main() -> None:
    out, batch_size = Path(sys.argv[1]), int(sys.argv[2])
    cfg = TrainConfig(block_size=16, n_layer=2, n_head=2, n_embd=32, batch_size=batch_size,
                      max_iters=6, warmup_iters=2, lr=3e-3, eval_interval=6, eval_iters=2,
                      sample_chars=0, threads=1, device="cpu")
    losses: list[float] = []
    result = train(cfg, callbacks=[lambda event, s: losses.append(s["loss"]) if event == "step" else None])
    rank = dist.get_rank() if dist.is_initialized() else 0
    world = dist.get_world_size() if dist.is_initialized() else 1
    state = {k: v.contiguous() for k, v in result.model.state_dict().items() if k != "lm_head.weight"}
    save_file(state, str(out / f"rank{rank}.safetensors"))
    if rank == 0:
        (out / "losses.json").write_text(json.dumps({"world": world, "losses": losses}))
    if dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
