"""Captions and instruction templates."""

import numpy as np
import pytest

from rfm_studio.core.data.captions import (CAPTIONS, PARAPHRASES, TASKS, compose_caption, make_instruction)


def test_every_class_has_several_captions():
    for cls, caps in CAPTIONS.items():
        assert len(caps) >= 3 and len(set(caps)) == len(caps), cls
        assert all(c == c.strip() and c[0].islower() for c in caps), cls


def test_canonical_templates():
    rng = np.random.default_rng(0)
    assert make_instruction("add", "a dog barking", None, rng, False) == "Add a dog barking"
    assert make_instruction("remove", "rain", None, rng, False) == "Remove rain"
    assert make_instruction("replace", "a dog barking", "a cat meowing", rng, False) == \
        "Replace a dog barking with a cat meowing"


def test_paraphrases_keep_both_events():
    rng = np.random.default_rng(0)
    seen = set()
    for task in TASKS:
        for _ in range(60):
            s = make_instruction(task, "a dog barking", "a cat meowing", rng, True)
            seen.add(s)
            assert "dog barking" in s
            assert ("cat meowing" in s) == (task == "replace")
            assert s[0].isupper()
    assert len(seen) >= 25
    for task, pool in PARAPHRASES.items():
        assert len(pool) >= 8


def test_compose_and_errors():
    assert compose_caption([]) == "silence"
    assert compose_caption(["rain falling"]) == "rain falling"
    assert compose_caption(["a", "b", "c"]) == "a, b and c"
    with pytest.raises(ValueError):
        make_instruction("replace", "x", None, np.random.default_rng(0), False)
    with pytest.raises(ValueError):
        make_instruction("louder", "x", None, np.random.default_rng(0), False)


def test_add_instructions_are_recognised_and_the_others_are_not():
    from rfm_studio.core.data.captions import PARAPHRASES, TEMPLATES, is_add_instruction

    for task in ("add", "remove", "replace"):
        for t in TEMPLATES[task] + PARAPHRASES[task]:
            text = t.format(a="a dog barking", b="a cat meowing")
            assert is_add_instruction(text) == (task == "add"), text
    assert not is_add_instruction("Add") and not is_add_instruction("Adding reverb") and is_add_instruction("  ADD  rain")
