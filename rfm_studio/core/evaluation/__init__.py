"""Evaluation suite: the paper's Tables 1-3 (CLAP, FD, FAD, KL, IS, editing time) plus
model-free figures (log-mel gain, keep error, success rate, LSD, SI-SDR).

Modules (none imports torch, transformers or matplotlib at import time):

- ``frechet``     Fréchet distance between Gaussians (FD, FAD), audioldm_eval's numerics
- ``kl_is``       paired KL and Inception Score on PANNs logits (audioldm_eval)
- ``clap``        CLAP score; LAION-CLAP (original .pt or Hugging Face folder) and MS-CLAP
- ``panns``       self-contained PANNs CNN14 16 kHz (``Cnn14_16k_mAP=0.438.pth``)
- ``vggish``      self-contained VGGish + its log-mel front end (``vggish-10086976.pth``)
- ``spectral``    model-free figures
- ``testset``     the evaluation manifest
- ``runner``      the job (generator of EvalEvent + blocking ``evaluate``)
- ``report``      report.json, report.md, PNG plots
- ``checkpoints`` weights_only loading, sha256 records, the "unavailable" entry

Where to get each checkpoint, file names and hashes: docs/evaluation.md.
"""
