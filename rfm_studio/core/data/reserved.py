"""Debian packages kept for independent evaluation: never used for training, tuning or the
project's own benchmarks. The bank, the outside set and the starter library all exclude them."""

RESERVED_PACKAGES = frozenset({
    "gcompris-qt-data", "widelands-data", "7kaa-data", "flare-game", "supertux-data", "heroes-sound-effects",
    "sound-theme-freedesktop", "freedink-data", "tuxmath-data",
})
