"""One reader of instructions (core/instructions.py) serves the dictionary engine's
"Remove X" and the library's "Add X" / "Replace A with B"."""

import pytest

from rfm_studio.core.data.captions import PARAPHRASES, TEMPLATES
from rfm_studio.core.instructions import match_instruction, placed_sounds, removed_sound


@pytest.mark.parametrize("task", ["add", "remove", "replace"])
def test_every_training_form_is_read_as_its_task(task):
    for tpl in TEMPLATES[task] + PARAPHRASES[task]:
        got, names = match_instruction(tpl.format(a="the dog barking", b="a cat meowing"))
        assert got == task, tpl
        assert names["a"] == "the dog barking"
        assert names.get("b") == ("a cat meowing" if task == "replace" else None)


def test_remove_and_placed_readers_keep_to_their_tasks():
    assert removed_sound("please Mute the car horn!") == "car horn"
    assert removed_sound("Get rid of the sound of an engine") == "engine"
    assert removed_sound("Add a dog barking") is None
    assert placed_sounds("Remove the dog barking") == (None, None, None)
    assert placed_sounds("Swap the dog with a cat.") == ("replace", "the dog", "a cat")
    # the most specific form wins: not "Remove {a}" with a = "the sound of rain"
    assert removed_sound("Remove the sound of rain") == "rain"
    assert match_instruction("Make it louder") == (None, {})
    assert match_instruction(None) == (None, {})


def test_a_replace_phrased_with_remove_is_not_a_removal():
    from rfm_studio.core.instructions import match_instruction, removed_sound

    assert removed_sound("Remove the dog barking and add rain") is None
    assert match_instruction("Remove the dog barking and add rain")[0] == "replace"
    assert removed_sound("Remove the dog barking") == "dog barking"
