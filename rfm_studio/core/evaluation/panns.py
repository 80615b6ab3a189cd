"""PANNs CNN14 at 16 kHz: the network behind FD, KL and IS (audioldm_eval's ``Cnn14``).

Checkpoint: ``Cnn14_16k_mAP=0.438.pth`` from the PANNs release (Kong et al., 2020),
https://zenodo.org/record/3987831 (file ``Cnn14_16k_mAP=0.438.pth``; audioldm_eval
downloads the same file to ``~/.cache/audioldm_eval/ckpt/``). A dict whose ``"model"``
entry is the state dict; read here with ``torch.load(weights_only=True)``.
Expected sha256: (record when you first download).

The module below is a self-contained definition with the checkpoint's keys:
``spectrogram_extractor.stft.conv_{real,imag}.weight`` (torchlibrosa's STFT as Conv1d,
n_fft 512), ``logmel_extractor.melW`` (librosa Slaney mel, 64 bands, 50-8000 Hz),
``bn0``, ``conv_block1..6.{conv1,conv2,bn1,bn2}``, ``fc1``, ``fc_audioset``. Channel widths,
embedding size and class count are read from the checkpoint's shapes (the public file:
64..2048, 2048, 527). The forward pass is audioldm_eval's in eval mode:
power spectrogram (hop 160, centred, reflect), 10 log10(clamp(mel, 1e-10)), bn0 over mel
bins, six conv blocks (avg-pool 2x2, the last 1x1), mean over frequency, max + mean over
time, ``fc1``; outputs ``embedding`` = relu(fc1) (audioldm_eval's "2048" feature),
``logits`` = fc_audioset(relu(fc1)) (its "logits", used for KL and IS) and
``clipwise_output`` = sigmoid(logits) (527 AudioSet class probabilities).

Audio goes in as audioldm_eval's WaveDataset prepares it: mono, DC removed
(x - mean), 16 kHz, zero-padded to at least 2 s.
"""

from __future__ import annotations


import numpy as np

from .checkpoints import MetricUnavailable, file_record, load_torch_file, state_dict_in

SAMPLE_RATE = 16000
N_FFT = 512
HOP = 160
N_MELS = 64
F_MIN, F_MAX = 50.0, 8000.0
MIN_SAMPLES = 32000
CHECKPOINT_NAME = "Cnn14_16k_mAP=0.438.pth"
DEFAULT_WIDTHS = (64, 128, 256, 512, 1024, 2048)


def _torch():
    import torch

    return torch


def build_cnn14(widths=DEFAULT_WIDTHS, embed_dim: int = 2048, classes: int = 527, n_fft: int = N_FFT,
                hop: int = HOP, n_mels: int = N_MELS, sample_rate: int = SAMPLE_RATE, fmin: float = F_MIN,
                fmax: float = F_MAX):
    """A Cnn14_16k module (random conv weights, analytic front end) with the PANNs key layout."""
    torch = _torch()
    from torch import nn
    from torch.nn import functional as F

    from ..features.mel import mel_filterbank

    class _STFT(nn.Module):
        def __init__(self):
            super().__init__()
            nf = n_fft // 2 + 1
            self.n_fft, self.hop = n_fft, hop
            self.conv_real = nn.Conv1d(1, nf, n_fft, stride=hop, bias=False)
            self.conv_imag = nn.Conv1d(1, nf, n_fft, stride=hop, bias=False)
            n = np.arange(n_fft)
            k = np.arange(nf)
            win = 0.5 - 0.5 * np.cos(2 * np.pi * n / n_fft)  # periodic Hann (librosa fftbins=True)
            ang = 2 * np.pi * np.outer(k, n) / n_fft
            with torch.no_grad():
                self.conv_real.weight.copy_(torch.from_numpy((np.cos(ang) * win)[:, None, :]).float())
                self.conv_imag.weight.copy_(torch.from_numpy((-np.sin(ang) * win)[:, None, :]).float())
            for p in self.parameters():
                p.requires_grad_(False)

        def forward(self, x):  # [B, samples] -> real, imag [B, 1, T, F]
            x = F.pad(x[:, None, :], (self.n_fft // 2, self.n_fft // 2), mode="reflect")
            return self.conv_real(x)[:, None].transpose(2, 3), self.conv_imag(x)[:, None].transpose(2, 3)

    class _Spectrogram(nn.Module):
        def __init__(self):
            super().__init__()
            self.stft = _STFT()

        def forward(self, x):
            re, im = self.stft(x)
            return re ** 2 + im ** 2

    class _LogMel(nn.Module):
        def __init__(self):
            super().__init__()
            fb = mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax).T.copy()  # [F, mels]
            self.melW = nn.Parameter(torch.from_numpy(fb).float(), requires_grad=False)

        def forward(self, x):
            mel = torch.matmul(x, self.melW)
            return 10.0 * torch.log10(torch.clamp(mel, min=1e-10))  # ref 1.0, amin 1e-10, no top_db

    class _ConvBlock(nn.Module):
        def __init__(self, cin, cout):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1, bias=False)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.bn2 = nn.BatchNorm2d(cout)

        def forward(self, x, pool):
            x = F.relu(self.bn1(self.conv1(x)))
            x = F.relu(self.bn2(self.conv2(x)))
            return F.avg_pool2d(x, kernel_size=pool)

    class Cnn14_16k(nn.Module):
        def __init__(self):
            super().__init__()
            self.spectrogram_extractor = _Spectrogram()
            self.logmel_extractor = _LogMel()
            self.bn0 = nn.BatchNorm2d(n_mels)
            chans = (1,) + tuple(widths)
            for i in range(6):
                setattr(self, f"conv_block{i + 1}", _ConvBlock(chans[i], chans[i + 1]))
            self.fc1 = nn.Linear(widths[-1], embed_dim, bias=True)
            self.fc_audioset = nn.Linear(embed_dim, classes, bias=True)

        def forward(self, wav):
            x = self.logmel_extractor(self.spectrogram_extractor(wav))  # [B, 1, T, mels]
            x = self.bn0(x.transpose(1, 3)).transpose(1, 3)
            for i in range(6):
                x = getattr(self, f"conv_block{i + 1}")(x, (2, 2) if i < 5 else (1, 1))
            x = torch.mean(x, dim=3)
            x = torch.max(x, dim=2)[0] + torch.mean(x, dim=2)
            h = F.relu(self.fc1(x))
            logits = self.fc_audioset(h)
            return {"embedding": h, "logits": logits, "clipwise_output": torch.sigmoid(logits)}

    return Cnn14_16k()


FRONT_END_KEYS = ("spectrogram_extractor.stft.conv_real.weight", "spectrogram_extractor.stft.conv_imag.weight",
                  "logmel_extractor.melW")


def state_dict_from_checkpoint(ckpt) -> dict:
    """The weights of a PANNs checkpoint: ``ckpt["model"]`` (or a bare state dict); 'module.' stripped."""
    return state_dict_in(ckpt, "model", "PANNs checkpoint")


def infer_config(sd: dict) -> dict:
    try:
        widths = tuple(int(sd[f"conv_block{i}.conv1.weight"].shape[0]) for i in range(1, 7))
        embed_dim, w_last = (int(s) for s in sd["fc1.weight"].shape)
        classes = int(sd["fc_audioset.weight"].shape[0])
        n_mels = int(sd["bn0.weight"].shape[0])
    except KeyError as exc:
        raise MetricUnavailable(f"The checkpoint is not a PANNs CNN14 (no '{exc.args[0]}' weight).") from None
    if int(sd["conv_block1.conv1.weight"].shape[1]) != 1 or w_last != widths[-1]:
        raise MetricUnavailable("The checkpoint's layer shapes do not match CNN14.")
    cfg = {"widths": widths, "embed_dim": embed_dim, "classes": classes, "n_mels": n_mels}
    if "spectrogram_extractor.stft.conv_real.weight" in sd:
        cfg["n_fft"] = int(sd["spectrogram_extractor.stft.conv_real.weight"].shape[-1])
    return cfg


class PannsCnn14:
    """Loaded CNN14 with ``embed(list of (audio, sr)) -> {"embedding", "logits", "clipwise_output"}``."""

    name = "PANNs CNN14 16 kHz"

    def __init__(self, net, config: dict, record: dict, device="cpu"):
        self.net = net.eval().to(device)
        self.config = config
        self.record = record
        self.device = device

    @classmethod
    def load(cls, path, device="cpu") -> "PannsCnn14":
        ckpt = load_torch_file(path, "PANNs checkpoint")
        sd = state_dict_from_checkpoint(ckpt)
        cfg = infer_config(sd)
        if cfg.get("n_fft", N_FFT) != N_FFT or cfg["n_mels"] != N_MELS:
            raise MetricUnavailable(f"{path} is not the 16 kHz CNN14 (n_fft {cfg.get('n_fft')}, "
                                    f"{cfg['n_mels']} mel bands); use {CHECKPOINT_NAME}.")
        net = build_cnn14(cfg["widths"], cfg["embed_dim"], cfg["classes"])
        res = net.load_state_dict(sd, strict=False)
        missing = [k for k in res.missing_keys if k not in FRONT_END_KEYS and not k.endswith("num_batches_tracked")]
        if missing or res.unexpected_keys:
            bad = (missing or res.unexpected_keys)[:3]
            raise MetricUnavailable(f"The PANNs checkpoint does not match CNN14 "
                                    f"({'missing' if missing else 'unexpected'} weights: {', '.join(bad)}).")
        rec = file_record(path)
        rec.update({"network": "Cnn14_16k", **{k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()}})
        return cls(net, cfg, rec, device)

    @staticmethod
    def prepare(audio: np.ndarray, sr: int) -> np.ndarray:
        from ..audio.io import resample, to_mono

        x = to_mono(np.asarray(audio, np.float32))
        x = x - x.mean()
        x = resample(x, int(sr), SAMPLE_RATE)
        if len(x) < MIN_SAMPLES:
            x = np.pad(x, (0, MIN_SAMPLES - len(x)))
        return x.astype(np.float32)

    def embed(self, clips) -> dict:
        """clips: iterable of (audio, sample_rate). Returns float64 arrays [N, dim]."""
        torch = _torch()
        out = {"embedding": [], "logits": [], "clipwise_output": []}
        with torch.no_grad():
            for audio, sr in clips:
                x = torch.from_numpy(self.prepare(audio, sr))[None].to(self.device)
                r = self.net(x)
                for k in out:
                    out[k].append(r[k][0].double().cpu().numpy())
        return {k: np.stack(v) if v else np.zeros((0, 0)) for k, v in out.items()}
