"""Fetching Debian packages without installing them: ``apt-get download`` + ``dpkg -x``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ..errors import OptionError


def find_deb(debs: Path, package: str) -> Path | None:
    hits = sorted(debs.glob(f"{package}_*.deb"))
    return hits[-1] if hits else None


def download(package: str, debs: Path) -> Path:
    """The .deb of ``package`` in ``debs`` (downloaded with apt-get when missing); never one of the
    packages reserved for independent evaluation."""
    from .reserved import RESERVED_PACKAGES

    if package in RESERVED_PACKAGES:
        raise OptionError(f"{package} is reserved for independent evaluation; it is never used for training, "
                          "tuning or the project's benchmarks.")
    debs.mkdir(parents=True, exist_ok=True)
    deb = find_deb(debs, package)
    if deb is not None:
        return deb
    if shutil.which("apt-get") is None:
        raise OptionError(f"Cannot download {package}: apt-get is not available; put {package}_*.deb in {debs}.")
    proc = subprocess.run(["apt-get", "download", package], cwd=debs, capture_output=True, text=True)
    deb = find_deb(debs, package)
    if proc.returncode != 0 or deb is None:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise OptionError(f"apt-get download {package} failed ({last[:160]}).")
    return deb


def unpack(deb: Path, root: Path) -> Path:
    """``dpkg -x deb root`` unless ``root`` already holds an unpacked tree."""
    if root.is_dir() and any(root.iterdir()):
        return root
    root.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["dpkg", "-x", str(deb), str(root)], capture_output=True, text=True)
    if proc.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise OptionError(f"dpkg -x could not unpack {deb.name} ({proc.stderr.strip()[:160]}).")
    return root


def fetch(package: str, work: Path) -> Path:
    """Unpacked root of ``package`` under ``work/unpacked/<package>``."""
    root = work / "unpacked" / package
    if root.is_dir() and any(root.iterdir()):
        return root
    return unpack(download(package, work / "debs"), root)
