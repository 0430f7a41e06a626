"""glmlib: the small library behind the course on generative language models.

One module per idea, in course order: ``data`` (corpus, tokenizer, batches),
``ngram`` (bigram model), ``masks``, ``attention``, ``model`` (the GPT),
``train``, ``sampling``, ``widgets`` and ``exercises``.
"""
__version__ = "0.1.0"
