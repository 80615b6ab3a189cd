"""Reading third-party checkpoints safely, and the "unavailable" outcome of a metric.

Every network checkpoint is read with ``torch.load(weights_only=True)``: tensors, dicts,
lists and numbers only, never arbitrary pickled objects. Some public files also hold
plain numpy arrays (the VGGish PCA file; training-state entries of some checkpoints);
for those the load is retried, still with ``weights_only=True``, with numpy's array
reconstruction functions allow-listed, which builds arrays and nothing else.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


class MetricUnavailable(Exception):
    """A metric cannot be computed (weights, package or data missing); carries the reason."""


def unavailable(reason: str) -> dict:
    """The report entry of a metric that was not computed: never a number."""
    return {"available": False, "reason": str(reason)}


def sha256_of(path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def hub_hash_prefix(path) -> str | None:
    """torch.hub file names end in ``-<first 8+ hex digits of the sha256>``; that prefix, if any."""
    stem = Path(path).stem
    if "-" not in stem:
        return None
    tail = stem.rsplit("-", 1)[1]
    if len(tail) >= 8 and all(c in "0123456789abcdef" for c in tail.lower()):
        return tail.lower()
    return None


def file_record(path) -> dict:
    """What the report records about a checkpoint file: path, size, sha256."""
    p = Path(path)
    rec = {"path": str(p), "bytes": p.stat().st_size, "sha256": sha256_of(p)}
    pref = hub_hash_prefix(p)
    if pref is not None:
        rec["hash_prefix_in_name"] = pref
        rec["hash_matches_name"] = rec["sha256"].startswith(pref)
    return rec


def _numpy_globals():
    import numpy as np

    out = [np.ndarray, np.dtype]
    for mod in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            m = __import__(mod, fromlist=["_reconstruct", "scalar"])
            out += [m._reconstruct, m.scalar]
        except (ImportError, AttributeError):
            pass
    # the dtype classes numpy pickles (numpy.dtypes.Float32DType, ...)
    try:
        import numpy.dtypes as nd

        out += [getattr(nd, n) for n in dir(nd) if n.endswith("DType")]
    except ImportError:
        pass
    return out


def load_torch_file(path, what: str = "checkpoint"):
    """``torch.load(path, map_location='cpu', weights_only=True)``; numpy arrays allowed.

    Raises MetricUnavailable with one sentence if the file is missing or unreadable.
    """
    import pickle

    import torch

    p = Path(path).expanduser()
    if not p.exists():
        raise MetricUnavailable(f"{what} not found: {p}")
    if p.is_dir():
        raise MetricUnavailable(f"{what} is a folder, expected a file: {p}")
    try:
        return torch.load(str(p), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as first:
        msg = str(first)
        if "Unsupported global" not in msg:
            raise MetricUnavailable(f"Cannot read {what} {p.name}: it is not a PyTorch checkpoint "
                                    f"or it is damaged.") from None
        if "numpy" not in msg:
            raise MetricUnavailable(f"{what} {p.name} holds objects other than weights and was not loaded "
                                    f"(weights_only=True).") from None
    except Exception as exc:  # zip/pickle corruption, truncated downloads, ...
        raise MetricUnavailable(f"Cannot read {what} {p.name} ({_short(exc)}).") from None
    try:
        with torch.serialization.safe_globals(_numpy_globals()):
            return torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise MetricUnavailable(f"{what} {p.name} holds objects other than weights and was not loaded "
                                f"(weights_only=True: {_short(exc)}).") from None


def to_tensor_dict(d: dict, what: str) -> dict:
    """Values as float/int torch tensors (numpy arrays converted); non-tensor entries dropped."""
    import numpy as np
    import torch

    out = {}
    for k, v in d.items():
        if torch.is_tensor(v):
            out[k] = v
        elif isinstance(v, np.ndarray) and v.dtype.kind in "fiub":
            out[k] = torch.from_numpy(np.ascontiguousarray(v))
    if not out:
        raise MetricUnavailable(f"{what} holds no weight tensors.")
    return out


def state_dict_in(ckpt, key: str, what: str) -> dict:
    """The weights of a checkpoint: ``ckpt[key]`` (or a bare state dict), 'module.' stripped."""
    if isinstance(ckpt, dict) and isinstance(ckpt.get(key), dict):
        sd = ckpt[key]
    elif isinstance(ckpt, dict):
        sd = ckpt
    else:
        raise MetricUnavailable(f"The {what} is not a dict of weights.")
    sd = to_tensor_dict(sd, f"The {what}")
    return {k[7:] if k.startswith("module.") else k: v for k, v in sd.items()}


def _short(exc: Exception) -> str:
    s = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return s[:160].rstrip(".")
