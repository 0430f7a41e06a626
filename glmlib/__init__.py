"""glmlib: the small library behind the course on generative language models.

One module per idea, in course order: ``data`` (corpus, split, batches),
``tokenizers`` (the Tokenizer interface and the character tokenizer), ``ngram``
(bigram model), ``masks``, ``attention``, ``model`` (the GPT), ``checkpoints``
(saving and loading models, the shipped one), ``train``, ``sampling``,
``widgets`` and ``exercises``.
"""
__version__ = "0.1.0"

from .i18n import get_language, set_language  # noqa: E402  (the language of messages and labels)
