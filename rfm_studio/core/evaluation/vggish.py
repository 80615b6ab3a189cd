"""VGGish: the network behind FAD (Hershey et al., 2017; PyTorch port "torchvggish").

Checkpoint: ``vggish-10086976.pth`` from the torchvggish release v0.1,
https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth
(the file audioldm_eval's FAD loads through ``torch.hub.load("harritaylor/torchvggish",
"vggish")``). A flat state dict: ``features.{0,3,6,8,11,13}.{weight,bias}`` (VGG convs)
and ``embeddings.{0,2,4}.{weight,bias}`` (4096, 4096, 128). Optional PCA parameters:
``vggish_pca_params-970ea276.pth`` (same release; keys ``pca_eigen_vectors`` [128, 128]
and ``pca_means`` [128], stored as numpy arrays). torch.hub names files
``<name>-<first 8 hex digits of the file's sha256>.pth``, so the expected sha256 of the
weights starts with ``10086976`` and that of the PCA file with ``970ea276``; the full
hashes: (record when you first download). The loaders check the prefix when the file
keeps its published name and record the result.

FAD follows audioldm_eval (``FrechetAudioDistance(use_pca=False, use_activation=False)``):
the embedding is the 128-d output of the last Linear layer *before* its ReLU, with no PCA;
every 0.96 s example of every clip is one sample of the Gaussian.

Front end (torchvggish ``vggish_input.waveform_to_examples`` / ``mel_features``): mono,
16 kHz, frames of 25 ms (400 samples) every 10 ms (160) without padding, periodic Hann,
|rfft| with 512 points, 64 HTK-mel bands 125-7500 Hz (DC row zeroed), log(mel + 0.01);
non-overlapping examples of 96 frames x 64 bands (0.96 s). Clips shorter than one example
are zero-padded to 0.975 s.
"""

from __future__ import annotations

import numpy as np

from .checkpoints import MetricUnavailable, file_record, load_torch_file, to_tensor_dict

SAMPLE_RATE = 16000
WINDOW_S, HOP_S = 0.025, 0.010
N_MELS = 64
MEL_MIN_HZ, MEL_MAX_HZ = 125.0, 7500.0
LOG_OFFSET = 0.01
EXAMPLE_FRAMES = 96  # 0.96 s
CHECKPOINT_NAME = "vggish-10086976.pth"
PCA_NAME = "vggish_pca_params-970ea276.pth"
CONV_INDICES = (0, 3, 6, 8, 11, 13)
LAYOUT = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M")


# ---- front end (numpy) -------------------------------------------------------------------
def _hz_to_mel_htk(f):
    return 1127.0 * np.log(1.0 + np.asarray(f, np.float64) / 700.0)


def mel_matrix(num_bins: int = 257, sr: int = SAMPLE_RATE, n_mels: int = N_MELS, lo: float = MEL_MIN_HZ,
               hi: float = MEL_MAX_HZ) -> np.ndarray:
    """VGGish's spectrogram -> mel matrix [num_bins, n_mels] (HTK mel, triangular, unnormalised)."""
    bins_mel = _hz_to_mel_htk(np.linspace(0.0, sr / 2.0, num_bins))
    edges = np.linspace(_hz_to_mel_htk(lo), _hz_to_mel_htk(hi), n_mels + 2)
    w = np.empty((num_bins, n_mels))
    for i in range(n_mels):
        lo_m, c_m, hi_m = edges[i: i + 3]
        w[:, i] = np.maximum(0.0, np.minimum((bins_mel - lo_m) / (c_m - lo_m), (hi_m - bins_mel) / (hi_m - c_m)))
    w[0, :] = 0.0
    return w


def _frame(x: np.ndarray, length: int, hop: int) -> np.ndarray:
    n = 1 + int(np.floor((x.shape[0] - length) / hop))
    if n <= 0:
        return np.zeros((0, length) + x.shape[1:], dtype=x.dtype)
    shape = (n, length) + x.shape[1:]
    strides = (x.strides[0] * hop,) + x.strides
    return np.lib.stride_tricks.as_strided(x, shape=shape, strides=strides).copy()


def log_mel(wav16k: np.ndarray) -> np.ndarray:
    """[frames, 64] VGGish log-mel of a 16 kHz mono waveform."""
    win = int(round(SAMPLE_RATE * WINDOW_S))
    hop = int(round(SAMPLE_RATE * HOP_S))
    n_fft = 2 ** int(np.ceil(np.log(win) / np.log(2.0)))
    frames = _frame(np.asarray(wav16k, np.float64), win, hop)
    window = 0.5 - 0.5 * np.cos(2 * np.pi / win * np.arange(win))
    spec = np.abs(np.fft.rfft(frames * window, n_fft))
    return np.log(spec @ mel_matrix(spec.shape[1]) + LOG_OFFSET)


def examples(audio: np.ndarray, sr: int) -> np.ndarray:
    """[n, 96, 64] float32 examples (audio: mono or [samples, channels] at any rate)."""
    from ..audio.io import resample, to_mono

    x = resample(to_mono(np.asarray(audio, np.float32)), int(sr), SAMPLE_RATE)
    min_len = int(round(SAMPLE_RATE * (WINDOW_S + HOP_S * (EXAMPLE_FRAMES - 1))))  # 0.975 s
    if len(x) < min_len:
        x = np.pad(x, (0, min_len - len(x)))
    lm = log_mel(x)
    return _frame(lm, EXAMPLE_FRAMES, EXAMPLE_FRAMES).astype(np.float32)


# ---- network ---------------------------------------------------------------------------
def build_vggish(channels=(64, 128, 256, 256, 512, 512), hidden=(4096, 4096), out_dim: int = 128):
    """torchvggish's VGG (features + embeddings) with the same module indices."""
    import torch
    from torch import nn

    layers, cin, ci = [], 1, 0
    for v in LAYOUT:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(cin, channels[ci], kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            cin = channels[ci]
            ci += 1

    class VGG(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(*layers)
            self.embeddings = nn.Sequential(
                nn.Linear(cin * 4 * 6, hidden[0]), nn.ReLU(True),
                nn.Linear(hidden[0], hidden[1]), nn.ReLU(True),
                nn.Linear(hidden[1], out_dim), nn.ReLU(True))

        def forward(self, x, final_relu: bool = True):
            x = self.features(x)  # [N, C, 6, 4]
            x = torch.transpose(x, 1, 3)
            x = torch.transpose(x, 1, 2)
            x = x.contiguous().view(x.size(0), -1)
            mods = list(self.embeddings.children())
            for m in mods if final_relu else mods[:-1]:
                x = m(x)
            return x

    return VGG()


def infer_config(sd: dict) -> dict:
    try:
        chans = tuple(int(sd[f"features.{i}.weight"].shape[0]) for i in CONV_INDICES)
        h0 = int(sd["embeddings.0.weight"].shape[0])
        h1 = int(sd["embeddings.2.weight"].shape[0])
        out = int(sd["embeddings.4.weight"].shape[0])
        flat = int(sd["embeddings.0.weight"].shape[1])
    except KeyError as exc:
        raise MetricUnavailable(f"The checkpoint is not VGGish (no '{exc.args[0]}' weight).") from None
    if flat != chans[-1] * 24 or int(sd["features.0.weight"].shape[1]) != 1:
        raise MetricUnavailable("The checkpoint's layer shapes do not match VGGish.")
    return {"channels": chans, "hidden": (h0, h1), "out_dim": out}


class VGGish:
    """Loaded VGGish with ``embed(list of (audio, sr)) -> [n_examples_total, 128]``."""

    name = "VGGish"

    def __init__(self, net, config, record, pca=None, device="cpu"):
        self.net = net.eval().to(device)
        self.config = config
        self.record = record
        self.pca = pca  # (matrix [128, 128], means [128, 1]) torch tensors, or None
        self.device = device

    @classmethod
    def load(cls, path, pca_path=None, device="cpu") -> "VGGish":
        ckpt = load_torch_file(path, "VGGish checkpoint")
        if not isinstance(ckpt, dict):
            raise MetricUnavailable("The VGGish checkpoint is not a dict of weights.")
        sd = ckpt.get("state_dict", ckpt) if isinstance(ckpt.get("state_dict"), dict) else ckpt
        sd = to_tensor_dict(sd, "The VGGish checkpoint")
        if all(k.startswith("module.") for k in sd):
            sd = {k[7:]: v for k, v in sd.items()}
        cfg = infer_config(sd)
        net = build_vggish(cfg["channels"], cfg["hidden"], cfg["out_dim"])
        try:
            net.load_state_dict(sd, strict=True)
        except RuntimeError as exc:
            raise MetricUnavailable(f"The VGGish checkpoint does not match the network "
                                    f"({str(exc).splitlines()[0][:120]}).") from None
        rec = file_record(path)
        rec.update({"network": "VGGish", "channels": list(cfg["channels"]), "hidden": list(cfg["hidden"]),
                    "embedding_dim": cfg["out_dim"]})
        pca = None
        if pca_path is not None:
            pca = load_pca(pca_path, cfg["out_dim"])
            rec["pca"] = file_record(pca_path)
        return cls(net, cfg, rec, pca, device)

    def embed(self, clips, *, final_relu: bool = False, postprocess: bool = False) -> np.ndarray:
        """All 0.96 s examples of all clips -> [N, 128] float64.

        Defaults match audioldm_eval's FAD (no final ReLU, no PCA). ``postprocess`` applies
        torchvggish's PCA + 8-bit quantisation (needs the PCA file; implies the final ReLU).
        """
        import torch

        if postprocess and self.pca is None:
            raise MetricUnavailable("VGGish post-processing needs the PCA parameters file.")
        outs = []
        with torch.no_grad():
            for audio, sr in clips:
                ex = examples(audio, sr)
                if len(ex) == 0:
                    continue
                x = torch.from_numpy(ex)[:, None].to(self.device)
                e = self.net(x, final_relu=final_relu or postprocess)
                if postprocess:
                    m, mu = self.pca
                    e = torch.mm(m.to(e), (e.T - mu.to(e))).T
                    e = torch.round((torch.clamp(e, -2.0, 2.0) + 2.0) * (255.0 / 4.0))
                outs.append(e.double().cpu().numpy())
        return np.concatenate(outs, axis=0) if outs else np.zeros((0, self.config["out_dim"]))


def load_pca(path, dim: int = 128):
    import torch

    d = load_torch_file(path, "VGGish PCA parameters")
    if not isinstance(d, dict) or "pca_eigen_vectors" not in d or "pca_means" not in d:
        raise MetricUnavailable("The VGGish PCA file has no 'pca_eigen_vectors' / 'pca_means' entries.")
    m = torch.as_tensor(np.asarray(d["pca_eigen_vectors"]), dtype=torch.float32)
    mu = torch.as_tensor(np.asarray(d["pca_means"]), dtype=torch.float32).reshape(-1, 1)
    if tuple(m.shape) != (dim, dim) or tuple(mu.shape) != (dim, 1):
        raise MetricUnavailable(f"The VGGish PCA parameters have shapes {tuple(m.shape)} / {tuple(mu.shape)}, "
                                f"expected ({dim}, {dim}) / ({dim},).")
    return m, mu
