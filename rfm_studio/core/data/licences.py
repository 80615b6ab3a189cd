"""Per-file licence lookup in a Debian package's ``usr/share/doc/<pkg>/copyright``.

Machine-readable (DEP-5) files are parsed into (globs, licence) stanzas and the
last matching stanza wins, as the format prescribes. DEP-5 globs name paths in
the upstream source tree, so installed paths are mapped back to it with a small
per-package prefix table. Free-form files fall back to a known short name.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

# installed-path prefix -> upstream-source prefix, per package
SOURCE_PREFIXES = {
    "minetest-data": {"usr/share/games/minetest/games/minetest_game/": "mtg/"},
    "sonic-pi-samples": {"usr/share/sonic-pi/": "etc/"},
    "scratch": {"usr/share/scratch/": ""},
    "lmms-common": {"usr/share/lmms/": "data/"},
    "lincity-ng-data": {"usr/share/games/lincity-ng/": "data/"},
    "openttd-opensfx": {"opensfx/": "src/wav/"},
    # packages of the outside-recordings test set (benchmarks/outside_set.py)
    "scorched3d-data": {"usr/share/games/scorched3d/": ""},
    "lugaru-data": {"usr/share/games/lugaru/": "Data/"},
    # packages of event bank v2 (resources/bank/event-bank-v2.tsv)
    "supertuxkart-data": {"usr/share/games/supertuxkart/data/": "data/"},
    "redeclipse-data": {"usr/share/games/redeclipse/": ""},
    "naev-data": {"usr/share/naev/": "./"},
    "cube2-data": {"usr/share/games/cube2/": ""},
}
# installed folder -> the single upstream file it was unpacked from (the folder's files take its stanza)
SOURCE_ARCHIVES = {
    "hydrogen-drumkits": {f"usr/share/hydrogen/data/drumkits/{d}/": f"drumkits/{a}.h2drumkit" for d, a in (
        ("Audiophob", "Audiophob"), ("BJA_Pacific", "BJA_Pacific"), ("ColomboAcousticDrumkit", "ColomboAcousticDrumkit"),
        ("ElectricEmpireKit", "ElectricEmpireKit"), ("ForzeeStereo", "ForzeeStereo"), ("Gimme A Hand 1.0", "Gimme A Hand 1.0"),
        ("HardElectro1", "HardElectro1"), ("Millo-Drums_v.1", "Millo-Drums_v.1"), ("Millo_MultiLayered2", "Millo_MultiLayered2"),
        ("Millo_MultiLayered3", "Millo_MultiLayered3"), ("The Black Pearl 1.0", "The Black Pearl 1.0"),
        ("VariBreaks", "VariBreaks"), ("circAfrique v4", "circAfrique"), ("rumpf_kit_z01_h2", "rumpf_kit_z01_h2"))},
}
# packages whose copyright file is not machine-readable: licence read by hand
FREEFORM_LICENCES = {
    "wesnoth-1.16-data": "GPL-2+",
    "fluid-soundfont-gm": "MIT",
    "espeak-ng-data": "GPL-3+",
    "nexuiz-data": "GPL-2+",
    "pingus-data": "GPL-2+",
}
# licences that allow redistributing derived example clips (with attribution)
REDISTRIBUTABLE = ("CC0", "CC-BY", "MIT", "GPL", "LGPL", "Artistic", "Expat", "BSD")


@dataclass(frozen=True)
class Stanza:
    globs: tuple
    licence: str


def parse_dep5(text: str) -> list[Stanza] | None:
    """Stanzas of a DEP-5 copyright file, or None when it is not machine-readable."""
    if not re.match(r"\s*Format:\s*\S*(copyright-format|dep5)", text, flags=re.I):
        return None
    stanzas = []
    for para in re.split(r"\n\s*\n", text):
        fields = _fields(para)
        if "files" in fields and "license" in fields:
            globs = tuple(fields["files"].split())
            lic = fields["license"].splitlines()[0].strip() if fields["license"] else ""
            stanzas.append(Stanza(globs, lic))
    return stanzas


def _fields(para: str) -> dict:
    out, key = {}, None
    for line in para.splitlines():
        m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
        if m and not line[0].isspace():
            key = m.group(1).lower()
            out[key] = m.group(2)
        elif key is not None and line[:1].isspace():
            out[key] += "\n" + line.strip()
    return out


def upstream_path(package: str, installed: str) -> str:
    for pre, up in SOURCE_ARCHIVES.get(package, {}).items():
        if installed.startswith(pre):
            return up
    for pre, up in SOURCE_PREFIXES.get(package, {}).items():
        if installed.startswith(pre):
            return up + installed[len(pre):]
    return installed


def licence_for(package: str, installed: str, copyright_text: str | None) -> str:
    """Short licence name of ``installed`` (a path inside the unpacked package)."""
    if package in FREEFORM_LICENCES:
        return FREEFORM_LICENCES[package]
    stanzas = parse_dep5(copyright_text) if copyright_text else None
    if not stanzas:
        return "unknown"
    cand = (upstream_path(package, installed), installed)
    found = "unknown"
    for st in stanzas:
        if any(fnmatch.fnmatchcase(c, g) for g in st.globs for c in cand):
            found = st.licence
    return found


def copyright_path(package: str) -> str:
    return f"usr/share/doc/{package}/copyright"


def read_copyright(pkg_root) -> str | None:
    p = Path(pkg_root) / copyright_path(Path(pkg_root).name)
    return p.read_text(errors="replace") if p.exists() else None


def redistributable(licence: str) -> bool:
    return any(licence.startswith(x) for x in REDISTRIBUTABLE)
