"""Helpers of the Fine-tuning tab: pairing files into triplets (pairing.py) and the
worker-side jobs that stage, train and preview (work.py). Torch-free at import."""
