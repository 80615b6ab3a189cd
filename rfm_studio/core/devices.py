"""One rule for where and in what precision a bundle runs (CLI, GUI, training, evaluation).

    device = resolve_device("cuda:1")          # "cuda:1", or OptionError: one sentence
    dtype = resolve_dtype("bfloat16", device)  # torch.bfloat16, or OptionError

``auto`` is the first usable of CUDA, Metal (mps) and the CPU. A device that was asked for
by name and is not usable is an error, never a silent fall-back to the CPU. A precision is
usable on a device when the operations a bundle needs (convolution, normalisation, attention,
matrix products) run there in it; the CPU is probed, not assumed.
"""

from __future__ import annotations

from .errors import OptionError

DTYPES = ("float32", "float16", "bfloat16")
DEVICE_HELP = "auto | cpu | cuda | cuda:N | mps"


def mps_available() -> bool:
    import torch

    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


def resolve_device(spec: str | None) -> str:
    """'auto', 'cpu', 'cuda', 'cuda:N' or 'mps' -> a usable torch device string."""
    import torch

    name = (spec or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if mps_available() else "cpu"
    if name == "cpu":
        return "cpu"
    if name == "mps":
        if not mps_available():
            raise OptionError("Device 'mps' was requested but Metal (MPS) is not available on this machine; "
                              "use --device cpu or auto.")
        return "mps"
    if name == "cuda" or name.startswith("cuda:"):
        index = name[5:] if name.startswith("cuda:") else None
        if index is not None and not index.isdigit():
            raise OptionError(f"Unknown device '{spec}': use {DEVICE_HELP}.")
        if not torch.cuda.is_available():
            raise OptionError(f"Device '{spec}' was requested but no usable CUDA GPU is available "
                              f"(torch {torch.__version__}); use --device cpu or auto.")
        if index is not None and int(index) >= torch.cuda.device_count():
            n = torch.cuda.device_count()
            raise OptionError(f"Device '{spec}' was requested but this machine has {n} CUDA GPU{'s' * (n != 1)} "
                              f"(cuda:0 to cuda:{n - 1}).")
        return name
    raise OptionError(f"Unknown device '{spec}': use {DEVICE_HELP}.")


_PROBED: dict = {}


def _probe(device: str, dtype) -> str | None:
    """None when a bundle's operations run on ``device`` in ``dtype``; else the error's first line."""
    import torch
    import torch.nn.functional as F

    key = (device, dtype)
    if key not in _PROBED:
        try:
            kw = dict(device=device, dtype=dtype)
            x = torch.randn(1, 4, 8, 8, **kw)
            y = F.conv2d(x, torch.randn(8, 4, 3, 3, **kw), padding=1)
            y = F.group_norm(y, 4)
            F.conv1d(y.flatten(2), torch.randn(4, 8, 3, **kw))
            F.conv_transpose1d(y.flatten(2), torch.randn(8, 4, 4, **kw), stride=2)
            q = torch.randn(1, 2, 5, 8, **kw)
            F.scaled_dot_product_attention(q, q, q)
            F.layer_norm(q, (8,)) @ q.transpose(-1, -2)
            _PROBED[key] = None
        except (RuntimeError, TypeError, NotImplementedError) as exc:
            _PROBED[key] = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
    return _PROBED[key]


def resolve_dtype(spec, device: str = "cpu"):
    """'float32' | 'float16' | 'bfloat16' (or a torch dtype; None: float32) -> torch dtype usable on
    ``device`` (a resolved device string)."""
    import torch

    if spec is None:
        return torch.float32
    if isinstance(spec, torch.dtype):
        name = str(spec).replace("torch.", "")
    else:
        name = str(spec).strip().lower().replace("torch.", "")
    name = {"fp32": "float32", "fp16": "float16", "half": "float16", "bf16": "bfloat16"}.get(name, name)
    if name not in DTYPES:
        raise OptionError(f"Unknown precision '{spec}': use float32, float16 or bfloat16.")
    dtype = getattr(torch, name)
    if dtype == torch.float32:
        return dtype
    if str(device).startswith("cuda") and dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
        raise OptionError(f"Precision bfloat16 was requested but the GPU {device} does not support it; "
                          f"use float16 or float32.")
    err = _probe(str(device), dtype)
    if err is not None:
        raise OptionError(f"Precision {name} was requested but {device} cannot run this model's operations in it "
                          f"({err}); use float32.")
    return dtype


def dtype_name(dtype) -> str:
    return str(dtype).replace("torch.", "")


def add_device_arguments(p, dtype: bool = True, dtype_help: str | None = None) -> None:
    """``--device`` and ``--dtype`` for a command, with one wording everywhere."""
    p.add_argument("--device", default="auto", help=f"{DEVICE_HELP} (a device asked for by name must be usable)")
    if dtype:
        p.add_argument("--dtype", default="float32", choices=list(DTYPES),
                       help=dtype_help or "precision of every network of the model (U-Net, VAE, text encoder, "
                                          "vocoder); mels, latents and the sampler stay float32")
