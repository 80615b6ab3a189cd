"""Audio prompts (core/prompts): the shared input for span examples and library references."""

import dataclasses

import numpy as np
import pytest

from rfm_studio.core.editing import EditRequest
from rfm_studio.core.prompts import AudioPrompt


def test_audio_prompt_is_frozen_and_edit_request_defaults_to_no_prompts():
    p = AudioPrompt(audio=np.zeros(1600, np.float32), sample_rate=16000, kind="example", source="clip 0.00-0.10 s")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.kind = "reference"
    req = EditRequest(np.zeros(16000, np.float32), 16000, "Remove the dog barking")
    assert req.prompts == ()
    req2 = dataclasses.replace(req, prompts=(p,))
    assert req2.prompts[0].source == "clip 0.00-0.10 s"
