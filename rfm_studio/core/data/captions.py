"""Natural captions per bank class and instruction templates (canonical + paraphrases).

The first caption of a class is its canonical caption. ``make_instruction(...,
paraphrase=False)`` gives the paper's canonical form ("Add {a}", "Remove {a}",
"Replace {a} with {b}"); with ``paraphrase=True`` a paraphrase template is drawn.
Both stay semantically identical to the canonical edit.
"""

from __future__ import annotations

import numpy as np

TASKS = ("add", "remove", "replace")

CAPTIONS: dict[str, tuple[str, ...]] = {
    "aircraft_jet_or_prop": ("an airplane taking off", "a jet engine roaring", "an aircraft flying overhead", "a plane engine"),
    "applause": ("people applauding", "applause", "a crowd clapping", "hands clapping"),
    "baby_cry": ("a baby crying", "an infant crying", "a crying baby", "a baby wailing"),
    "bee_buzz": ("bees buzzing", "a buzzing insect", "a bee buzzing", "insects buzzing"),
    "bell_gong": ("a bell ringing", "a bell tolling", "a ringing bell", "a gong being struck"),
    "bird_chirp": ("birds chirping", "a bird singing", "birds tweeting", "chirping birds"),
    "bus_truck_engine": ("a truck engine running", "a bus engine idling", "a large engine revving", "a truck pulling away"),
    "car_horn": ("a car horn honking", "a car honking", "a honking horn", "a car horn"),
    "car_passing": ("a car passing by", "traffic going past", "vehicles driving by", "a car driving past"),
    "cat_meow": ("a cat meowing", "a cat meows", "a meowing cat", "a kitten mewing"),
    "chainsaw_saw": ("a chainsaw running", "a saw cutting wood", "a buzzing saw", "a power saw"),
    "chicken_cluck": ("chickens clucking", "a hen clucking", "clucking chickens", "a chicken"),
    "cough": ("someone coughing", "a person coughs", "a cough", "coughing"),
    "cow_moo": ("a cow mooing", "a cow moos", "cattle mooing", "a mooing cow"),
    "crickets_insects": ("crickets chirping", "insects chirping", "chirping crickets", "crickets"),
    "crow_caw": ("a crow cawing", "crows cawing", "a cawing crow", "a crow calls"),
    "crowd_cheer": ("a crowd cheering", "people cheering", "a cheering crowd", "crowd noise"),
    "dog_bark": ("a dog barking", "dog barks", "a barking dog", "a dog barks"),
    "door": ("a door closing", "a door opening and closing", "a door creaking", "a door"),
    "drums": ("drums playing", "a drum beat", "someone playing drums", "percussion"),
    "duck_quack": ("a duck quacking", "ducks quacking", "quacking ducks", "a duck quacks"),
    "explosion": ("an explosion", "a loud blast", "something exploding", "a bomb exploding"),
    "fire_crackle": ("a fire crackling", "crackling fire", "flames crackling", "a burning fire"),
    "fireworks": ("fireworks exploding", "fireworks popping", "fireworks going off", "fireworks"),
    "flute_woodwind": ("a flute playing", "a woodwind instrument", "someone playing the flute", "flute music"),
    "footsteps": ("footsteps", "someone walking", "footsteps walking by", "a person walking"),
    "frog_croak": ("a frog croaking", "frogs croaking", "a croaking frog", "a frog"),
    "glass_break": ("glass breaking", "glass shattering", "a glass smashing", "breaking glass"),
    "goose_honk": ("a goose honking", "geese honking", "a honking goose", "a goose"),
    "guitar": ("a guitar playing", "someone strumming a guitar", "acoustic guitar music", "a guitar"),
    "gunshot": ("gunshots", "a gun firing", "a gunshot", "shots being fired"),
    "hammering": ("hammering", "someone hammering metal", "a hammer striking", "metal being hammered"),
    "helicopter": ("a helicopter flying", "helicopter blades whirring", "a helicopter", "a helicopter hovering"),
    "horse_gallop": ("a horse galloping", "hooves clopping", "a galloping horse", "horse hooves"),
    "horse_neigh": ("a horse neighing", "a horse whinnying", "a neighing horse", "a horse neighs"),
    "jackhammer": ("a jackhammer drilling", "a jackhammer", "a pneumatic drill", "drilling"),
    "laughter": ("someone laughing", "people laughing", "laughter", "a person laughs"),
    "lion_roar": ("a lion roaring", "a big cat roaring", "a roaring lion", "a lion roars"),
    "ocean_waves": ("ocean waves crashing", "waves on the shore", "the sea", "waves crashing"),
    "organ": ("an organ playing", "church organ music", "organ music", "someone playing an organ"),
    "owl_hoot": ("an owl hooting", "an owl hoots", "a hooting owl", "an owl"),
    "piano": ("a piano playing", "piano music", "someone playing the piano", "a piano"),
    "pig_oink": ("a pig oinking", "pigs grunting", "a grunting pig", "a pig"),
    "rain": ("rain falling", "rain", "heavy rain", "rainfall"),
    "rooster_crow": ("a rooster crowing", "a rooster crows", "a crowing rooster", "a cockerel crowing"),
    "scream": ("someone screaming", "a person screams", "a scream", "a loud scream"),
    "seagull": ("seagulls calling", "seagulls squawking", "gulls crying", "a seagull"),
    "sheep_bleat": ("a sheep bleating", "sheep baaing", "a bleating sheep", "a sheep"),
    "ship_horn": ("a ship horn blowing", "a boat horn", "a foghorn", "a ship's horn sounding"),
    "siren_firetruck": ("a siren wailing", "a fire truck siren", "an emergency siren", "a siren"),
    "sneeze": ("someone sneezing", "a person sneezes", "a sneeze", "sneezing"),
    "speech": ("a person speaking", "someone talking", "speech", "a voice speaking"),
    "telephone_ring": ("a telephone ringing", "a phone ringing", "a ringing phone", "a phone rings"),
    "thunder": ("thunder rumbling", "a thunderclap", "thunder", "rolling thunder"),
    "toilet_flush": ("a toilet flushing", "a toilet flush", "a flushing toilet", "a toilet being flushed"),
    "train": ("a train passing", "a train moving", "a train departing", "a locomotive"),
    "train_horn_or_crossing": ("a railroad crossing bell", "a level crossing signal", "a train crossing alarm", "a crossing bell ringing"),
    "tree_falling": ("a tree falling", "a tree crashing down", "wood cracking as a tree falls", "a falling tree"),
    "trumpet_brass": ("a trumpet playing", "brass instruments playing", "a trumpet", "someone playing the trumpet"),
    "typing": ("typing on a keyboard", "keyboard typing", "someone typing", "keys clicking"),
    "vacuum_cleaner": ("a vacuum cleaner running", "a vacuum cleaner", "vacuuming", "a hoover running"),
    "violin_cello": ("a violin playing", "string instruments playing", "a cello playing", "a bowed string instrument"),
    "water_stream": ("water flowing", "a stream trickling", "running water", "a babbling brook"),
    "wind": ("wind blowing", "wind", "strong wind gusting", "a gusty wind"),
    "wolf_howl": ("a wolf howling", "wolves howling", "a howling wolf", "a wolf howls"),
}

from .vocab import CAPTIONS as _V2_CAPTIONS  # noqa: E402  (classes of event bank v2)

for _k, _v in _V2_CAPTIONS.items():
    CAPTIONS.setdefault(_k, _v)

# captions for synthetic noise beds used as (part of) the background X
NOISE_CAPTIONS = {
    "white": ("a faint hiss", "soft background noise", "a quiet static hiss"),
    "pink": ("quiet background noise", "a low background rumble of noise", "soft ambient noise"),
    "brown": ("a low rumble", "a distant low rumble", "a deep background rumble"),
    "hum": ("a faint electrical hum", "a low hum", "a humming noise"),
}

TEMPLATES = {
    "add": ("Add {a}",),
    "remove": ("Remove {a}",),
    "replace": ("Replace {a} with {b}",),
}
PARAPHRASES = {
    "add": ("Add the sound of {a}", "Insert {a}", "Insert the sound of {a}", "Mix in {a}", "Include {a}",
            "Overlay {a}", "Add {a} to the recording", "Layer in {a}", "Bring in {a}", "Put in {a}",
            "Add some {a}", "Also add {a}"),
    "remove": ("Get rid of {a}", "Take out {a}", "Erase {a}", "Delete {a}", "Eliminate {a}",
               "Remove the sound of {a}", "Cut out {a}", "Mute {a}", "Filter out {a}",
               "Remove {a} from the recording", "Silence {a}", "Take away {a}"),
    "replace": ("Swap {a} for {b}", "Change {a} into {b}", "Turn {a} into {b}", "Substitute {b} for {a}",
                "Replace the sound of {a} with {b}", "Exchange {a} for {b}", "Swap out {a} for {b}",
                "Change {a} to {b}", "Instead of {a}, use {b}", "Put {b} in place of {a}",
                "Remove {a} and add {b}", "Switch {a} to {b}"),
}


_ADD_OPENERS = tuple({t.split("{a}")[0].strip().lower() + " " for t in TEMPLATES["add"] + PARAPHRASES["add"]})


def is_add_instruction(text: str) -> bool:
    """True for instructions phrased like the training data's "add" ones ("Add ...",
    "Insert ...", "Mix in ..."): the model must then guess *when* unless given a region."""
    t = " ".join(text.lower().split())
    return any(t.startswith(o) and len(t) > len(o) for o in _ADD_OPENERS)


def canonical_caption(cls: str) -> str:
    return CAPTIONS[cls][0] if cls in CAPTIONS else cls.replace("_", " ")


def caption_for(cls: str, rng: np.random.Generator | None = None) -> str:
    caps = CAPTIONS.get(cls) or (cls.replace("_", " "),)
    return caps[0] if rng is None else caps[int(rng.integers(len(caps)))]


def make_instruction(task: str, a_caption: str, b_caption: str | None, rng: np.random.Generator,
                     paraphrase: bool) -> str:
    """Instruction text for ``task``; ``b_caption`` is needed only for 'replace'."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}")
    if task == "replace" and not b_caption:
        raise ValueError("replace needs a second caption")
    pool = PARAPHRASES[task] if paraphrase else TEMPLATES[task]
    tpl = pool[int(rng.integers(len(pool)))]
    text = tpl.format(a=_strip_article(a_caption) if tpl.startswith("Add some") else a_caption, b=b_caption)
    return text[0].upper() + text[1:]


def _strip_article(c: str) -> str:
    for art in ("a ", "an ", "the "):
        if c.startswith(art):
            return c[len(art):]
    return c


def compose_caption(parts: list[str]) -> str:
    """Scene caption from event captions: 'rain falling and a dog barking'."""
    parts = [p for p in parts if p]
    if not parts:
        return "silence"
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " and " + parts[-1]
