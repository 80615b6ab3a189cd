from .io import audio_info, load_audio, resample, save_audio, to_mono  # noqa: F401
