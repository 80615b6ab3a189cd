"""Offline sound-event counter for AudioCaps-style captions.

The paper asked an LLM how many sound events a caption describes; this is the
offline stand-in. A caption is split into phrases at connectives ("and", "while",
"as", "with", "followed by", "then", "before", "after", commas...). A phrase is a
new event when it names a sound source (a determiner or subject word, or a word
from the source lexicon); a phrase without one ("then stops", "several times",
"in the distance") continues the previous event. Repeated phrases count once.
"""

from __future__ import annotations

import json
import re
import urllib.request

SPLIT_RE = re.compile(
    r"\s*(?:,|;|\.|\bfollowed by\b|\bas well as\b|\balong with\b|\baccompanied by\b|\band then\b|"
    r"\bwhile\b|\bwhilst\b|\bas\b|\bwith\b|\bthen\b|\bbefore\b|\bafter\b|\band\b|\bamid\b|\bamidst\b|"
    r"\bunderneath\b|\bplus\b)\s*", flags=re.I)
DETERMINERS = {"a", "an", "the", "some", "several", "many", "multiple", "two", "three", "four", "few", "another",
               "someone", "somebody", "people", "person", "he", "she", "they", "it", "something", "other",
               "loud", "soft", "faint", "distant", "muffled", "heavy", "light", "high", "low", "quiet"}
SOURCES = set("""
man men woman women boy girl child children kid kids baby babies infant person people crowd audience adult
speech speaking speaks speak talking talks talk voice voices narrator announcer conversation laughter laughing
laughs laugh singing sings song music melody tune instrument guitar piano drum drums violin trumpet horn horns
siren sirens alarm bell bells beep beeps beeping ring ringing rings telephone phone clock ticking tick
dog dogs puppy bark barks barking cat cats meow bird birds chirp chirps chirping tweet tweeting pigeon pigeons
duck ducks goose geese chicken chickens hen rooster crow crows owl cow cows sheep goat goats horse horses pig
pigs frog frogs insect insects cricket crickets bee bees fly flies mosquito animal animals
engine engines motor motors vehicle vehicles car cars truck trucks bus buses train trains motorcycle motorbike
aircraft airplane plane planes jet helicopter boat boats ship traffic tires brakes horn honk honks honking
water waves wave ocean sea stream river rain raining thunder wind blowing gust gusts storm fire crackling
rustling rustles leaves footsteps steps walking door doors knock knocking tap tapping typing keyboard clicking
clicks click hammer hammering drill drilling saw sawing chainsaw machine machinery power tool tools vacuum
spray spraying hiss hissing whistle whistling whistles gunshot gunshots gun guns explosion explosions fireworks
applause clapping claps cheering cheer cheers scream screaming screams cry crying cries cough coughing
coughs sneeze sneezing snoring breathing burp burping humming hum buzzing buzz whirring beeps static noise
splash splashing dripping drips trickling pouring flowing toilet flush sink faucet dishes glass metal paper
plastic scraping wood
""".split())
FILLER = {"in", "the", "background", "distance", "nearby", "far", "away", "then", "again", "repeatedly",
          "several", "times", "continuously", "briefly", "loudly", "softly", "quietly", "stops", "stop", "ends",
          "fades", "out", "continues", "later", "once", "twice", "at", "on", "off", "of", "to", "and", "by",
          "a", "an", "few", "for", "while", "moments", "seconds", "short", "long", "time", "all", "over"}


def event_phrases(caption: str) -> list[str]:
    """The event phrases of ``caption``, in order, without duplicates."""
    text = re.sub(r"\s+", " ", caption.strip().lower())
    out: list[str] = []
    for raw in SPLIT_RE.split(text):
        ph = raw.strip(" .,;:!?\"'")
        if not ph:
            continue
        words = re.findall(r"[a-z']+", ph)
        if not words or all(w in FILLER for w in words):
            continue
        is_event = words[0] in DETERMINERS or any(w in SOURCES for w in words)
        if is_event and ph not in out:
            out.append(ph)
        elif not is_event and out:
            out[-1] = f"{out[-1]} {ph}"
    return out


def count_events(caption: str) -> int:
    return len(event_phrases(caption))


LLM_PROMPT = ("How many distinct sound events does this audio caption describe? Count each sound source or "
              "sound type once. Answer with a single integer only.\nCaption: {caption}")


def count_events_llm(caption: str, url: str, *, model: str = "deepseek-chat", api_key: str | None = None,
                     timeout: float = 30.0) -> int:
    """Ask an OpenAI-compatible chat endpoint (``url`` is the API base or the full
    /chat/completions address). Raises ValueError when the answer holds no integer."""
    endpoint = url.rstrip("/")
    if not endpoint.endswith("/chat/completions"):
        endpoint += "/chat/completions"
    body = {"model": model, "temperature": 0,
            "messages": [{"role": "user", "content": LLM_PROMPT.format(caption=caption)}]}
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    req = urllib.request.Request(endpoint, data=json.dumps(body).encode(), headers=headers, method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        answer = json.loads(resp.read().decode())["choices"][0]["message"]["content"]
    m = re.search(r"\d+", answer)
    if not m:
        raise ValueError(f"no integer in the LLM answer {answer[:60]!r}")
    return int(m.group())
