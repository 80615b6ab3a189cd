"""The one seed rule (core/seeding.py): the CLI, the core and the GUI's seed box share MAX_SEED."""

import numpy as np
import pytest
import soundfile as sf

from conftest import run_cli
from rfm_studio.core.errors import OptionError
from rfm_studio.core.seeding import MAX_SEED, check_seed, make_generator, random_seed


def test_check_seed_accepts_the_range_and_refuses_the_rest():
    assert check_seed(0) == 0 and check_seed(MAX_SEED) == MAX_SEED and check_seed(7.0) == 7
    for bad in (-1, MAX_SEED + 1, 1.5, "x", None, float("nan"), 10**30):
        with pytest.raises(OptionError, match=f"between 0 and {MAX_SEED}"):
            check_seed(bad)


def test_drawn_seeds_and_generators_follow_the_rule():
    assert all(0 <= random_seed() <= MAX_SEED for _ in range(50))
    import torch

    a = torch.randn(4, generator=make_generator(MAX_SEED))
    assert torch.equal(a, torch.randn(4, generator=make_generator(MAX_SEED)))


def test_the_gui_seed_box_holds_every_seed_the_core_accepts(qtbot):
    from rfm_studio.gui.edit_panel import EditPanel

    panel = EditPanel()
    qtbot.addWidget(panel)
    assert panel.seed.maximum() == MAX_SEED and panel.seed.minimum() == 0
    panel.seed_dice.click()
    assert 0 <= panel.seed.value() <= MAX_SEED


def test_the_cli_refuses_a_seed_above_the_rule_before_the_model_loads(capsys, tmp_path):
    src = tmp_path / "in.wav"
    sf.write(src, np.zeros(1600, dtype=np.float32), 16000)
    code, _, err = run_cli(capsys, "edit", str(src), "x", "-o", str(tmp_path / "o.wav"),
                           "--model", str(tmp_path / "none"), "--seed", str(MAX_SEED + 1))
    assert code == 2 and f"between 0 and {MAX_SEED}" in err and "Traceback" not in err
