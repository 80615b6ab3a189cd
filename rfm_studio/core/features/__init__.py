from .mel import MelConfig, MelFrontEnd, mel_filterbank  # noqa: F401
