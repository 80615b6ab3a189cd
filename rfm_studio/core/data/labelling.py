"""Name-based labels for the event bank: ordered path rules -> class.

``label(path)`` looks at ``<package>/<path inside the package>`` in lower case:
the first EXCLUDE pattern that matches rejects the file (music, voice acting of
game menus, UI blips, synth waveforms, foreign-language speech...), otherwise the
first RULES entry whose pattern matches gives the class. A file no rule names is
not labelled (quality over quantity). ``rfm-studio data label`` (``write_list``) applies the
rules to the packages' inventories and writes ``resources/bank/event-bank-v2.tsv``,
the committed, reviewable mapping that ``rfm-studio data bank`` builds from.
"""

from __future__ import annotations

import re

# never labelled
EXCLUDE = [
    r"music|/mus_|soundtrack|jingle|fanfare|/intro|credits|theme|gamestart|lostrace|wonrace|race\d|/menu",
    r"/voices/|taunt|reload|/weapons/[a-z]+/(transit|power)\d*\.|rocket_mode|codriver|countdown|proxmessages|vtoltalk|trnsppil|coltive|sequenceaudio|memressp|/extra/",
    r"click|button|checkbox|slider|highlight|/interfce/|/ui/|beep|blip|chat|message|notify|oxygen-",
    r"_desc|/symbols/|silence|tutorial|announcer",
    r"tuxpaint.*_[a-z]{2}(_[a-z]{2})?\.ogg$",                       # stamp names spoken in other languages
    r"lmms-common/.*/(waveforms|effects|stringsnpads|bassloops|beats|instruments/.*synth)",
    r"lfo_|w2_|/10(saw|sine|sqr|tri)|synth|techno|rave_|_acid|juno|moog|korg|nord_|analog|chroma|fmsaw|fmsine",
    r"sonic-pi.*/(loop_|glitch|elec_|mehackit|bass_|ambi_|vinyl|misc_cineboom|guit_)",
    r"rubberduck|birdy|ufo|tardis|portal|warp|teleport|telein|teleout|respawn|powerup|invisib|quaddamage|regen|",
]
EXCLUDE = [p for p in EXCLUDE if p]
EXCLUDE_RE = re.compile("|".join(f"(?:{p.rstrip('|')})" for p in EXCLUDE))

# (class, pattern): first match wins
RULES: list[tuple[str, str]] = [
    # speech (many speakers: unit replies of an RTS, tutorial narration, phone prompts)
    ("speech", r"^megaglest.*/[a-z_]+_(ack|select|selec)\d*\.(wav|ogg)$"),
    ("speech", r"^asterisk-core-sounds-en-wav::"),
    ("speech", r"^nexuiz-data::coms/"),
    # human non-speech
    ("laughter", r"(?<!s)laugh|laugh(?!t)|hahaha|haha\d"),  # (not onslaught, slaughter)
    ("scream", r"scream"),
    ("baby_cry", r"babycry|baby_cry"),
    ("cough", r"cough"),
    ("sneeze", r"sneeze"),
    ("snoring", r"snore"),
    ("kiss", r"/kiss\."),
    ("pain_cry", r"^wesnoth.*/(human|human-female|human-old|dwarf|elf|orc|orc-small|troll|ogre|goblin)-(hit|die)"),
    ("pain_cry", r"^megaglest.*/(swordman|archer|spearman|horseman|guard|initiate|technician|axe_thrower|battlemage"
                 r"|archmage|cudgel|princess|valkyrie|stickfighter|summoner|shaman|ab|dr)_die"),
    ("pain_cry", r"^(nexuiz-data|cube2-data|redeclipse-data)::[^/]*/(pain\d*|death\d*|die\d*|grunt\d*)\.(wav|ogg)$"),
    ("pain_cry", r"^0ad-data::death/(male_death|female_death|death)[_\d]|^supertuxkart-data::sfx/ugh\."),
    ("speech", r"^0ad-data::.*/civ_(male|female)_"),
    ("scream", r"wilhelmscream"),
    ("cow_moo", r"^0ad-data::animal/cattle|^supertuxkart-data::.*/cow\."),
    ("goat_bleat", r"^0ad-data::death/goat"),
    ("horse_gallop", r"^0ad-data::movement/hstep"),
    ("horse_neigh", r"^0ad-data::animal/horse"),
    ("lion_roar", r"^0ad-data::animal/lion"),
    ("elephant_trumpet", r"^0ad-data::animal/elephant"),
    ("dog_bark", r"civ_dog_bark"),
    ("chainsaw_saw", r"^0ad-data::construction/con_saw"),
    ("hammering", r"^0ad-data::construction/con_wood"),
    ("digging", r"^0ad-data::farming/hoe"),
    ("rustling_leaves", r"^0ad-data::foraging/leaves|windleaves"),
    ("wood_chop", r"^0ad-data::lumbering/lumber_tree[_\d]"),
    ("pickaxe_rock", r"^0ad-data::mining/mine_(stone|metal)[_\d]"),
    ("metal_clang", r"^0ad-data::impact/(shield|sling)_metal|metal_clang"),
    ("bow_arrow", r"^0ad-data::(impact/arrow|weapon/(arrowfly|bow_attack))"),
    ("sword_clash", r"^0ad-data::weapon/(sword_attack|swordhit)"),
    ("explosion", r"^redeclipse-data::[a-z]+/explode"),
    ("gunshot", r"^0ad-data::weapon/musket|^redeclipse-data::(pistol|rifle|shotgun)/primary"),
    ("machine_gun", r"^redeclipse-data::smg/(primary|secondary)|gatling"),
    ("laser_zap", r"^redeclipse-data::(plasma|zapper)/(primary|secondary)"),
    ("rocket_launch", r"^redeclipse-data::rocket/primary"),
    ("sword_clash", r"^redeclipse-data::sword/(primary|secondary)"),
    ("fire_crackle", r"^0ad-data::fire/"),
    ("footsteps", r"^0ad-data::(singlesteps/fs_|footsteps/)|concstep"),
    ("splash", r"swimstep|splashin|splashout|splosh"),
    ("ocean_waves", r"^0ad-data::water/wave|^flightgear-data-base::.*/wave\."),
    ("water_stream", r"^0ad-data::water/(river|waterfall)|river_loop|waterfall_loop|water-fast"),
    ("crickets_insects", r"nightcrickets|cycadas|cricket_loop"),
    ("water_drip", r"cavedrip|waterdrip"),
    ("car_passing", r"distant_cars"),
    ("thunder", r"stormbolts"),
    ("rain", r"stormrain|rain-windshield"),
    ("helicopter", r"^flightgear-data-base::.*/(helicopter|rotor)"),
    ("aircraft_jet_or_prop", r"^flightgear-data-base::sounds/(engine|prop|jet|turbine|turbojet|turboprop|p51d|r-1535)"),
    ("aircraft_jet_or_prop", r"airplane_jetengine"),
    ("car_engine", r"^supertuxkart-data::.*(engine_(large|small)|car_accel|car_revup)"),
    ("train", r"steamlocomotive"),
    ("tyre_skid", r"tires-screech|^supertuxkart-data::.*/skid"),
    ("car_crash", r"^supertuxkart-data::sfx/crash|^flightgear-data-base::sounds/crash"),
    ("car_horn", r"^supertuxkart-data::sfx/horn"),
    ("bird_chirp", r"exotic-birds"),
    ("flute_woodwind", r"gnu_flute"),
    ("pain_cry", r"^openarena.*/(pain\d+_|death\d)|hell_(ooff|ow|ugh)"),
    ("applause", r"applause|handclapping"),
    ("crowd_cheer", r"crowd|croud|partynoise|cheer|yipee|hogchant"),
    # animals
    ("dog_bark", r"/dogs?\d*\.|dogs/dog|dog_bark|/bark"),
    ("cat_meow", r"meow|kitten|blackcat|/cat\d*\.(wav|ogg)"),
    ("cow_moo", r"/cow(_white)?\.|megaglest.*/cow_|mudchute_cow|/bull\.|bull_(ack|select)|/bison"),
    ("horse_gallop", r"gallop|canter"),
    ("horse_neigh", r"equines/horse|/horse\d*\.(wav|ogg)$|wesnoth.*horse-(hit|die)|scratch.*/horse\.|donkey"),
    ("sheep_bleat", r"sheep|lamb\.|/ram\."),
    ("goat_bleat", r"goat"),
    ("pig_oink", r"/pig(_golden2?)?\.|megaglest.*/pig_"),
    ("rooster_crow", r"rooster"),
    ("chicken_cluck", r"chicken|birds/hen\.|turkey"),
    ("duck_quack", r"/duck\.|quack|birds/drake\."),
    ("goose_honk", r"goose|gander"),
    ("owl_hoot", r"/owl"),
    ("crow_caw", r"/crow\.|misc_crow|crow_caw"),
    ("seagull", r"gull"),
    ("eagle_screech", r"eagle_|/hawk|gryphon-shriek|vulture"),
    ("bird_chirp", r"bird|chirp|blackbird|/lark|cuckoo|tucan|quetzal|nandou"),
    ("frog_croak", r"frog"),
    ("crickets_insects", r"cricket|grasshopper"),
    ("bee_buzz", r"/bee\d*\.|hornet|mosquito|beehive"),
    ("wolf_howl", r"wolfhowl|wolf_howl|wolf-howl|/howl"),
    ("growl", r"growl|wolf-hit|/bear\.|bears/bear"),
    ("lion_roar", r"/lion\.|tiger|cats/lion"),
    ("elephant_trumpet", r"elephant|megaglest.*/ele\d*\.(wav|ogg)|eleattack"),
    ("monkey_chatter", r"chimp|monkey|gorilla"),
    ("snake_hiss", r"wesnoth.*/hiss|snake"),
    # weapons and blasts
    ("machine_gun", r"machinegun|machgf|mgbar|mgheavy|mgtower|minigun|vulcan|asltmg|chaingun"),
    ("gunshot", r"gunshot(?!.*reload)|shotgunfire|sshotf|pistol|rifle|thunderstick|musket|/gun\d*\.|hedgewars.*/gun\."),
    ("cannon_fire", r"(lrg|med|sml|rapd)can|cannon|/mortar"),
    ("ricochet", r"/ric\d|richet|ricochet"),
    ("laser_zap", r"laser|lsr|/zap|plasma|railgf|lg_fire|bfg_fire|gaussgun|sinegun|hyprbf|lasfly"),
    ("explosion", r"rocket[-_/]?(expl|impact|det(onat|\d*\.))"),
    ("rocket_launch", r"rocket|missile|rockfly|rocklf|mlaunch"),
    ("explosion", r"expl|boom|blast|bomb|grenade(?![-_]?(bounce|fire))|hgrenb|mineimpact|tnt_explode|bldfall|cave-in"),
    ("bow_arrow", r"/bow(?!ling)|crossbow|arrow"),
    ("sword_clash", r"sword|dagger|/knife|throwing-knife|hatchet|/axe\.|swordman_attack"),
    ("whip_crack", r"whip"),
    ("punch", r"(?<!bass_)punch|/fist|club\.|mace\.|baseballbat|/hit\d*\.(wav|ogg)$"),
    # fire and water
    ("fireworks", r"firework"),
    # (not a weapon's "fire": weapon folders, the portal gun, bzflag's shot, a car's backfire, "gun_fire")
    ("fire_crackle", r"^(?!.*::weapons?/|nexuiz-data::porto/|bzflag-data::|.*backfire)"
                     r".*(?:(?<![a-z])fire(?!arrow|punch|station|truck|works|_flint)|flame(?!thrower|r/)|campfire"
                     r"|burnfire|torch\.|burning|lava_amb)"),
    ("splash", r"^(?!hydrogen)(?!.*drum_splash).*(splash|plunge|watr_(in|out)|/plop|water-blast)"),
    ("water_drip", r"drip|droplet|waterdrop|/drops\."),
    ("bubbles", r"/bubbles?\d*\.|gurp|blubber"),
    ("water_stream", r"waterrunning|waterfall|river|stream|creek|brook|fountain|env_sounds_water|/water\d*\.(wav|ogg)$"),
    ("rain", r"(?<![a-z])rain\d*\.|/rain(?!bow)|(heavy|light)rain"),
    ("thunder", r"thunder|lightningbolt"),
    ("wind", r"wind(?!ow|mill|_chimes)"),
    ("ocean_waves", r"ocean|seashore|/waves|/surf\."),
    # vehicles and machines
    ("helicopter", r"helicopter|/heli"),
    ("aircraft_jet_or_prop", r"(?<!parkland)plane(?!water)|/jet|aircraft|airship_fly|cessna|propeller|comet-jet|vtol|tflight"),
    ("train", r"railtrain|/train|locomotive|simutrans.*/steam\."),
    ("train_horn_or_crossing", r"crossing"),
    ("car_passing", r"carpassing|trafic|traffic"),
    ("motorcycle", r"motorcycle|motorbike"),
    ("bus_truck_engine", r"truck|/bus\.|diesel"),
    ("car_engine", r"trigger-rally.*engine|car_engine|/engine\d*\.|^torcs-data::.*(engine|alpha-romeo|corolla|ferrari|ford"
                   r"|lamborghini|lotus|mclaren|nsx|porsche|renault|viper|/xj|/gt\.)"),
    ("car_crash", r"^torcs-data::.*crash"),
    ("tyre_skid", r"^torcs-data::.*skid"),
    ("ship_horn", r"boat-horn|foghorn|ship.*horn"),
    ("war_horn", r"wesnoth.*/horn\d*\."),
    ("siren_firetruck", r"siren|firetruck"),
    ("tank_treads", r"tread|tank_move"),
    ("jackhammer", r"jackhammer|pickhammer|/drill"),
    ("chainsaw_saw", r"chainsaw|buzzsaw|tree-cutting|tools/saw|/saw\."),
    ("hammering", r"hammer|anvil|blacksmith|mallet|gavel"),
    ("vacuum_cleaner", r"vacuum"),
    ("washing_machine", r"washing-machine|washing_machine"),
    ("sewing_machine", r"sewing"),
    ("toilet_flush", r"toilet"),
    ("kettle_whistle", r"kettle"),
    ("electric_buzz", r"electro\.|powerhum|neonhum|powerspk|/shock(?!wave)|electric_ping|sparks?\."),
    ("steam_hiss", r"steam(?![-_]?roller)|cool_lava|fire_extinguish"),
    ("machinery", r"machinerydrone|tim_machine|tim_pump|oilpump|/fan\d*\.|industry(high|light)|coalmine|oremine|/mill\d"),
    # household and objects
    ("door", r"(?<!out)(?<!in)door|dr1_(strt|end)"),
    ("glass_break", r"break_glass|shatter|glass_?break"),
    ("footsteps", r"footstep|/steps?\d*\.|/boot\d|walking"),
    ("digging", r"dig_crumbly|gravel_dig|/digger|burrow|shovel"),
    ("wood_chop", r"dig_choppy|chop|tree_hit|woodchop"),
    ("coins", r"coin|cash|/chink|/gold\."),
    ("camera_shutter", r"shutter|camera_35mm"),
    ("scissors", r"scissors"),
    ("typing", r"typing|typewriter|keyboard"),
    ("clock_tick", r"clock|/tick\d*\.|metronome|minetick"),
    ("telephone_ring", r"phone|phone_ring"),
    ("cowbell", r"cowbell"),
    ("bell_gong", r"^(?!hydrogen).*(bell(?!_choir)|gong|belltoll|wind_chimes|/ting\.)"),
    ("whistle", r"whistle"),
    ("whoosh", r"^(?!hydrogen).*(swoosh|woosh|whoosh|swish|swash|/throw\d*\.|throwrelease)"),
    # musical instruments (real samples)
    ("kick_drum", r"kick|bassdrum|/bd_|/bd\.|drum_bass|drum_heavy_kick"),
    ("snare_drum", r"snare|/sn_|sidestick"),
    ("hihat", r"hihat|hi-hat|/hh|cymbal_(closed|open|pedal)"),
    ("cymbal", r"crash\d|cymbal|/ride\d|splash_(hard|soft)"),
    ("tom_drum", r"/tom|tomtom|drum_tom"),
    ("hand_clap", r"clap|fingersnap|perc_snap"),
    ("cowbell", r"cowbell"),
    ("shaker", r"shaker|maraca|/rattle\."),
    ("tambourine", r"tambourine|tamb"),
    ("tabla", r"tabla"),
    ("drums", r"^hydrogen-drumkits::varibreaks/|^(?!hydrogen).*(drumkit|drumset|drum_roll|wardrums|drummachine|drum\.(wav|ogg))"),
    ("xylophone_marimba", r"xylo|marimba"),
    ("violin_cello", r"violin|cello|fiddle|string/"),
    ("guitar", r"guitar|guit"),
    ("trumpet_brass", r"trumpet|latin_brass"),
    ("flute_woodwind", r"flute|bassoon|clarinet|oboe"),
    ("piano", r"piano"),
    ("organ", r"organ(?!ic)"),
    ("harpsichord", r"harpsichord"),
    ("choir", r"choir"),
]
RULES_RE = [(cls, re.compile(p)) for cls, p in RULES]


def key(path: str) -> str:
    """``<package>::<parent folder>/<file name>`` in lower case: what the rules see."""
    p = path.lower().replace("#", "/")
    pkg, _, inner = p.partition("/")
    return f"{pkg}::{'/'.join(inner.split('/')[-2:])}"


def label(path: str) -> str | None:
    """Class of ``<package>/<inner path>`` (a zip member as ``archive#member``), or None."""
    if EXCLUDE_RE.search(path.lower()):
        return None
    k = key(path)
    for cls, rx in RULES_RE:
        if rx.search(k):
            return cls
    return None


# packages the bank draws from (each checked: free licence in usr/share/doc/<pkg>/copyright)
BANK_PACKAGES = (
    "megaglest-data", "minetest-data", "tuxpaint-stamps-default", "openttd-opensfx", "lincity-ng-data",
    "wesnoth-1.16-data", "lmms-common", "simutrans-pak64", "sonic-pi-samples", "scratch",
    "asterisk-core-sounds-en-wav", "openarena-data", "warzone2100-data", "hedgewars-data", "xmoto-data",
    "trigger-rally-data", "extremetuxracer-data", "frozen-bubble-data", "pingus-data", "bzflag-data",
    "oxygen-sounds", "naev-data", "torcs-data", "cube2-data", "nexuiz-data", "hydrogen-drumkits",
    "supertuxkart-data", "redeclipse-data", "flightgear-data-base", "0ad-data",
)
CAP_PER_PACKAGE = 30   # clips of one class from one package
CAP_PER_FOLDER = 8     # ... and from one folder (a drum kit, a unit's sound set)


def _rank(path: str) -> str:
    import hashlib

    return hashlib.sha1(path.encode()).hexdigest()


def select(paths, *, cap_package: int = CAP_PER_PACKAGE, cap_folder: int = CAP_PER_FOLDER) -> list[tuple[str, str]]:
    """(class, path) for the labelled ``paths``, capped per (class, package) and (class, folder)
    so that no single source dominates a class; the choice is a stable hash order."""
    labelled = [(label(p), p) for p in paths]
    labelled = sorted(((c, p) for c, p in labelled if c), key=lambda cp: _rank(cp[1]))
    n_pkg: dict = {}
    n_dir: dict = {}
    out = []
    for cls, p in labelled:
        pkg = p.split("/", 1)[0]
        folder = p.replace("#", "/").rsplit("/", 1)[0]
        if n_pkg.get((cls, pkg), 0) >= cap_package or n_dir.get((cls, folder), 0) >= cap_folder:
            continue
        n_pkg[(cls, pkg)] = n_pkg.get((cls, pkg), 0) + 1
        n_dir[(cls, folder)] = n_dir.get((cls, folder), 0) + 1
        out.append((cls, p))
    return sorted(out)


def write_list(work, out_tsv, *, base=None, packages=BANK_PACKAGES, log=print) -> int:
    """Fetch ``packages`` into ``work``, label their audio and write the bank's TSV.

    Rows of ``base`` (an earlier, reviewed list in the same format) are kept first as
    they are; the rules add the other files. Returns the number of rows written."""
    import csv
    from pathlib import Path

    from ..atomic import atomic_write_text
    from .fetch import fetch
    from .inventory import audio_paths

    rows, seen = [], set()
    if base is not None:
        with Path(base).open(newline="", encoding="utf-8") as f:
            for r in csv.DictReader(f, delimiter="\t"):
                rows.append((r["class"], r["package"], r["path"]))
                seen.add(r["path"])
    paths = []
    for pkg in packages:
        root = fetch(pkg, Path(work))
        paths += [f"{pkg}/{p}" for p in audio_paths(root)]
    for cls, p in select([p for p in paths if p not in seen]):
        rows.append((cls, p.split("/", 1)[0], p))
    out = Path(out_tsv)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, "class\tpackage\tpath\n" + "".join(f"{c}\t{k}\t{p}\n" for c, k, p in sorted(rows)))
    log(f"{len(rows)} rows, {len({r[0] for r in rows})} classes, {len({r[1] for r in rows})} packages")
    return len(rows)
