"""Interactive explorers for the notebooks, built on ipywidgets and matplotlib.

Each explorer is an object with a root ``widget`` (which a notebook shows when
the object is the last expression of a cell; the root carries a CSS class such
as ``glm-sampling-explorer``), public controls, and a ``state`` dict holding
what was last drawn, so tests can check the numbers behind each picture.
Figures are rendered to PNG in the kernel: no browser-side plotting library,
nothing fetched from the network, no figures left open in pyplot.
"""
from .attention_explorer import AttentionExplorer, attention_explorer
from .chain_rule import ChainRuleView, chain_rule_view, token_log_probs
from .dashboard import TrainingDashboard
from .generation_explorer import GenerationExplorer, generation_explorer
from .mask_explorer import MaskExplorer, mask_explorer
from .sampling_explorer import SamplingExplorer, sampling_explorer
from .surprise_view import SurpriseView, TextScore, score_text, surprise_view
from .tokenizer_explorer import TokenizerExplorer, tokenizer_explorer

__all__ = [
    "AttentionExplorer", "ChainRuleView", "GenerationExplorer", "MaskExplorer", "SamplingExplorer",
    "SurpriseView", "TextScore", "TokenizerExplorer", "TrainingDashboard", "attention_explorer",
    "chain_rule_view", "generation_explorer", "mask_explorer", "sampling_explorer", "score_text", "surprise_view",
    "token_log_probs", "tokenizer_explorer",
]
