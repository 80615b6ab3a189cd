"""rfm_studio imports its commands with importlib (cli.py) and most heavy modules inside
functions: collect every submodule, and the distribution metadata."""

from PyInstaller.utils.hooks import collect_submodules, copy_metadata

hiddenimports = collect_submodules("rfm_studio")
datas = copy_metadata("rfm-studio")
