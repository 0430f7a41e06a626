# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# Every explorer of `glmlib.widgets` on the shipped model, for the browser tests.

# %%
import torch

from glmlib.model import load_pretrained
from glmlib.widgets import (TrainingDashboard, attention_explorer, chain_rule_view, mask_explorer,
                            sampling_explorer)

model, tokenizer = load_pretrained()

# %%
sampling_explorer(model, tokenizer, top_k=20)

# %%
attention_explorer(model, tokenizer)

# %%
mask_explorer(T=8, lengths="8, 5")

# %%
chain_rule_view(model, tokenizer, "ROMEO:\nWhat light is this?")

# %%
dash = TrainingDashboard(max_iters=40, min_interval=0.0)
display(dash)
for step in range(40):
    dash("step", {"step": step, "loss": 4.3 - step / 20, "lr": 1e-3, "max_iters": 40})
    if step % 20 == 0:
        dash("eval", {"step": step, "train": 4.3 - step / 20, "val": 4.35 - step / 20,
                      "sample": "ROMEO:\nhello", "seconds": step / 10})
dash("eval", {"step": 40, "train": 2.3, "val": 2.35, "sample": "JULIET:\ngood night", "seconds": 4.0})
