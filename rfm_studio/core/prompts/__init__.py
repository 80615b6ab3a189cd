"""Audio prompts: example or reference sounds given to an edit alongside the instruction.

One input serves both uses:
- "example": a span of the clip being edited that the user marked ("remove sounds like this");
- "reference": a recording from a library or a file ("add this sound").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PROMPT_KINDS = ("example", "reference")


@dataclass(frozen=True)
class AudioPrompt:
    audio: np.ndarray  # mono float32 at `sample_rate`
    sample_rate: int
    kind: str  # "example" (span of the clip marked by the user) or "reference" (library/file)
    source: str  # human-readable origin, e.g. "clip 2.10-3.40 s" or a file path
