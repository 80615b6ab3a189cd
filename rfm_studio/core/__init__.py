"""Headless core: audio, features, model, flow, editing, training, data, evaluation.

Never imports PySide6, pyqtgraph or sounddevice (tests/test_headless.py enforces it).
"""
