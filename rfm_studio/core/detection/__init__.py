"""Finding where a named sound plays: a small text-queried sound event detector.

``model.py`` holds its config and network, ``train.py`` trains it on event-bank mixtures,
``find.py`` turns its frame probabilities into spans. Torch is imported lazily.
"""
