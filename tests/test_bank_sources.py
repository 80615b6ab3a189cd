"""Event bank v2 sources: the committed list, name rules, zip members, package separation."""

import csv
import importlib.util
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rfm_studio.core.data import inventory as INV
from rfm_studio.core.data.captions import CAPTIONS
from rfm_studio.core.data.labelling import BANK_PACKAGES, label, select
from rfm_studio.core.data.renders import DRUM_PIECES, ESPEAK_LICENCE, GM_LICENCE, MELODIC, SFX
from rfm_studio.core.data.triplets import family

ROOT = Path(__file__).resolve().parents[1]
V2 = ROOT / "resources" / "bank" / "event-bank-v2.tsv"
OUTSIDE = ROOT / "benchmarks" / "outside" / "event-bank-outside.tsv"
RESERVED = {"gcompris-qt-data", "widelands-data", "7kaa-data", "flare-game", "supertux-data",
            "heroes-sound-effects", "sound-theme-freedesktop", "freedink-data", "tuxmath-data"}


def _rows(path):
    with path.open(newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def _outside_module():
    spec = importlib.util.spec_from_file_location("outside_set", ROOT / "benchmarks" / "outside_set.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_no_package_is_in_both_the_bank_and_the_outside_set():
    bank = {r["package"] for r in _rows(V2)} | set(BANK_PACKAGES) | {GM_LICENCE[0], ESPEAK_LICENCE[0]}
    outside = {r["package"] for r in _rows(OUTSIDE)}
    assert not bank & outside
    assert not (bank | outside) & RESERVED
    mod = _outside_module()
    assert mod.RESERVED_PACKAGES == RESERVED
    assert bank <= mod.training_packages()
    mod.check_rows(_rows(OUTSIDE))                      # the builder's own guard accepts the list
    assert len({r["class"] for r in _rows(OUTSIDE)}) >= 20


def test_every_listed_or_rendered_class_reads_as_a_caption():
    classes = {r["class"] for r in _rows(V2)} | set(MELODIC) | set(DRUM_PIECES) | set(SFX) | {"speech"}
    assert not classes - set(CAPTIONS)
    assert len(classes) >= 100
    for r in _rows(V2):
        assert r["path"].startswith(r["package"] + "/")
    assert family("snare_drum") == family("piano") == "music"


def test_a_weapons_fire_is_not_a_fire_crackling():
    """Bank v2 filed game weapons' "fire" sounds (shotgun_fire, uzi_fire, a flamethrower, a car's
    backfire) as fire_crackle; the starter library then placed a flamethrower for "Add a fire
    crackling". Burning fires keep the label."""
    for path in ("nexuiz-data/usr/share/games/nexuiz/data/data.pk3#sound/weapons/shotgun_fire.ogg",
                 "nexuiz-data/usr/share/games/nexuiz/data/data.pk3#sound/weapons/uzi_fire.ogg",
                 "nexuiz-data/usr/share/games/nexuiz/data/data.pk3#sound/porto/fire.ogg",
                 "redeclipse-data/usr/share/games/redeclipse/data/sounds/weapons/flamer/power.ogg",
                 "openarena-data/usr/share/games/openarena/missionpack/mp-pak0.pk3#sound/weapons/proxmine/wstbfire.wav",
                 "torcs-data/usr/share/games/torcs/data/sound/backfire_loop.wav",
                 "bzflag-data/usr/share/games/bzflag/fire.wav"):
        assert label(path) != "fire_crackle", path
    for path in ("wesnoth-1.16-data/usr/share/games/wesnoth/1.16/data/core/sounds/ambient/campfire.ogg",
                 "minetest-data/usr/share/games/minetest/games/minetest_game/mods/fire/sounds/fire_fire.1.ogg",
                 "redeclipse-data/usr/share/games/redeclipse/data/sounds/ambience/fire.ogg",
                 "redeclipse-data/usr/share/games/redeclipse/data/sounds/sfx/burnfire.ogg",
                 "openarena-data/usr/share/games/openarena/baseoa/pak0.pk3#sound/world/fire1.wav",
                 "wesnoth-1.16-data/usr/share/games/wesnoth/1.16/data/core/sounds/flame-big.ogg",
                 "cube2-data/usr/share/games/cube2/packages/sounds/sfx/burning.ogg",
                 "x-data/usr/share/sounds/camp_fire.ogg"):  # a name joined by "_" is still a fire
        assert label(path) == "fire_crackle", path


def test_a_word_inside_another_is_not_its_sound():
    """Bank v2's rules matched words inside others: "onslaught" filed eight game sounds as
    laughter, "terrain" a flight warning as rain, "outdoorsignal" as a door, "bowling" as a bow,
    "steamroller" as steam; a rocket's impact was a launch, grenades bouncing explosions, and
    weapons' reload / switch / charge sounds shots. The words themselves keep their class."""
    rd = "redeclipse-data/usr/share/games/redeclipse/data/sounds/"
    nx = "nexuiz-data/usr/share/games/nexuiz/data/data.pk3#sound/"
    wrong = {nx + "onslaught/controlpoint_built.ogg": None, nx + "onslaught/electricity_explode.ogg": "explosion",
             "x-data/usr/share/sounds/slaughter.ogg": None,
             "flightgear-data-base/usr/share/games/flightgear/Sounds/mk-viii/terrain.wav": None,
             rd + "ambience/morph/outdoorsignal.ogg": None,
             "supertuxkart-data/usr/share/games/supertuxkart/data/sfx/bowling_roll.ogg": None,
             "bzflag-data/usr/share/games/bzflag/steamroller.wav": None,
             "lincity-ng-data/usr/share/games/lincity-ng/sounds/RocketExplosion1.wav": "explosion",
             nx + "weapons/rocket_impact.ogg": "explosion", nx + "weapons/rocket_mode.ogg": None,
             nx + "weapons/grenade_bounce1.ogg": None, nx + "weapons/campingrifle_reload.ogg": None,
             rd + "weapons/rifle/reload.ogg": None, rd + "weapons/rifle/transit.ogg": None,
             rd + "weapons/plasma/power.ogg": None, rd + "weapons/rifle/explode.ogg": "explosion",
             nx + "onslaught/shockwave.ogg": None, nx + "weapons/grenade_fire.ogg": None,
             "x-data/usr/share/sounds/grenadebounce.ogg": None, "x-data/usr/share/sounds/steam_roller.wav": None,
             "x-data/usr/share/sounds/indoors_amb.ogg": None, "x-data/usr/share/sounds/rainbow.ogg": None,
             "x-data/usr/share/sounds/rocket_explode.ogg": "explosion", "x-data/usr/share/sounds/rocket_detach.ogg":
             "rocket_launch"}
    for path, cls in wrong.items():
        assert label(path) == cls, path
    right = {"scratch/usr/share/scratch/Media/Sounds/Human/Laugh-female.wav": "laughter",
             "wesnoth-1.16-data/usr/share/games/wesnoth/1.16/data/campaigns/x/sounds/witches-laugh.wav": "laughter",
             "redeclipse-data/usr/share/games/redeclipse/data/sounds/voice/haha2.ogg": "laughter",
             "megaglest-data/usr/share/games/megaglest/tilesets/autumn/sounds/rain.ogg": "rain",
             "nexuiz-data/usr/share/games/nexuiz/data/data.pk3#sound/ambient/rain_1.ogg": "rain",
             rd + "ambience/door.ogg": "door", "scratch/usr/share/scratch/Media/Sounds/Effects/DoorClose.mp3": "door",
             "wesnoth-1.16-data/usr/share/games/wesnoth/1.16/data/core/sounds/bow.ogg": "bow_arrow",
             "hedgewars-data/usr/share/games/hedgewars/Data/Sounds/steam.ogg": "steam_hiss",
             nx + "weapons/rocket_fire.ogg": "rocket_launch", rd + "weapons/rifle/primary.ogg": "gunshot",
             nx + "weapons/grenade_impact.ogg": "explosion", "x-data/usr/share/sounds/kidslaughing.ogg": "laughter",
             "x-data/usr/share/sounds/heavyrain.ogg": "rain", "x-data/usr/share/sounds/raindrops.ogg": "rain"}
    for path, cls in right.items():
        assert label(path) == cls, path


# the packages of the reviewed v1 list, whose rows the label list keeps as they are (``--base``)
V1_PACKAGES = {"megaglest-data", "minetest-data", "tuxpaint-stamps-default", "openttd-opensfx", "lincity-ng-data",
               "wesnoth-1.16-data", "lmms-common", "simutrans-pak64", "sonic-pi-samples", "scratch"}


def test_the_committed_list_follows_the_rules():
    """Every row of resources/bank/event-bank-v2.tsv from a package the v1 list does not hold is
    what the rules give now (the list is written again whenever the rules change; an old list
    still holds nexuiz's "onslaught" sounds as laughter, which the rules no longer name)."""
    with V2.open(newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t") if r["package"] not in V1_PACKAGES]
    assert len(rows) > 900
    wrong = [(r["class"], label(r["path"]), r["path"]) for r in rows if label(r["path"]) != r["class"]]
    assert wrong == []


def test_name_rules():
    assert label("0ad-data/usr/share/games/0ad/mods/public/public.zip#audio/resource/lumbering/lumber_tree_03.ogg") == "wood_chop"
    assert label("torcs-data/usr/share/games/torcs/sound/sound/crash3.wav") == "car_crash"
    assert label("scratch/usr/share/scratch/Media/Sounds/Animal/Dog1.wav") == "dog_bark"
    assert label("hydrogen-drumkits/usr/share/hydrogen/data/drumkits/BJA_Pacific/CB_01.aiff") is None   # no name to go by
    assert label("hedgewars-data/usr/share/games/hedgewars/Data/Music/City.ogg") is None                # music
    assert label("tuxpaint-stamps-default/usr/share/tuxpaint/stamps/animals/birds/duck_fr.ogg") is None  # a spoken name
    assert label("minetest-data/usr/share/games/minetest/games/minetest_game/mods/tnt/sounds/tnt_explode.ogg") == "explosion"
    many = [f"pkg/snd/kit{k}/kick{i}.wav" for k in range(10) for i in range(12)]
    picked = select(many, cap_package=30, cap_folder=8)
    assert len(picked) == 30 and all(c == "kick_drum" for c, _ in picked)
    assert max(sum(p.startswith(f"pkg/snd/kit{k}/") for _, p in picked) for k in range(10)) <= 8
    assert picked == select(list(reversed(many)), cap_package=30, cap_folder=8)


def test_zip_members_are_listed_and_read(tmp_path):
    root = tmp_path / "pkg"
    (root / "data").mkdir(parents=True)
    x = (0.3 * np.sin(2 * np.pi * 440 * np.arange(8000) / 16000)).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, x, 16000, format="WAV")
    with zipfile.ZipFile(root / "data" / "pak0.pk3", "w") as z:
        z.writestr("sound/world/fire1.wav", buf.getvalue())
        z.writestr("textures/wall.png", b"x")
    (root / "data" / "loose.ogg").write_bytes(b"")
    assert INV.audio_paths(root) == ["data/loose.ogg", "data/pak0.pk3#sound/world/fire1.wav"]
    assert INV.exists(root, "data/pak0.pk3#sound/world/fire1.wav")
    assert not INV.exists(root, "data/pak0.pk3#sound/world/none.wav")
    y, sr = INV.decode(INV.read_bytes(root, "data/pak0.pk3#sound/world/fire1.wav"), "fire1.wav")
    assert sr == 16000 and np.allclose(y[:, 0], x, atol=1e-4)


def test_the_core_reserved_list_is_the_developer_guides():
    from rfm_studio.core.data.reserved import RESERVED_PACKAGES

    assert RESERVED_PACKAGES == RESERVED


def test_reserved_packages_are_never_fetched(tmp_path):
    from rfm_studio.core.data.fetch import fetch
    from rfm_studio.core.errors import OptionError

    with pytest.raises(OptionError, match="reserved for independent evaluation"):
        fetch("flare-game", tmp_path)
    assert not any(tmp_path.rglob("*.deb"))
