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
# The generation explorer and the surprise view on the shipped model, for the browser tests.

# %%
from glmlib.model import load_pretrained
from glmlib.widgets import generation_explorer, surprise_view

model, tokenizer = load_pretrained()

# %%
generation_explorer(model, tokenizer, prompt="ROMEO:\n", top_k=20, seed=0)

# %%
surprise_view(model, tokenizer, examples={"shuffled": "EMROO:\nhatW ghilt si hist?"})
