"""The flow settings in three typed parts (path, sampler, training) read from and written to
the flat "flow" JSON object that bundles and training recipes have always used."""

import json
from pathlib import Path

import pytest

from rfm_studio.core.flow.config import FlowConfig, FlowTrainingConfig, PathConfig, SamplerConfig

ROOT = Path(__file__).resolve().parents[1]
# a complete flat "flow" object as bundles write it (every key, the embedded model's values)
LEGACY = {"sigma_min": 0.0001, "source": "original", "source_noise": 0.5, "prediction": "sample", "t_start": 0.01,
          "steps": 1, "guidance": 1.0, "draws": 8, "cond_dropout": 0.1, "changed_weight": 1.0,
          "changed_threshold": 0.5, "loss": "l1", "timestep_scale": 1000.0, "timestep_convention": "rfm",
          "t_low_fraction": 0.5, "t_low_max": 0.05}
PART_KEYS = {"path": {"sigma_min", "source", "source_noise", "prediction", "timestep_scale", "timestep_convention"},
             "sampler": {"t_start", "steps", "guidance", "draws"},
             "training": {"cond_dropout", "changed_weight", "changed_threshold", "loss", "t_low_fraction",
                          "t_low_max"}}


def test_flat_dict_round_trips_through_the_three_parts():
    f = FlowConfig.from_dict(LEGACY)
    assert type(f.path) is PathConfig and type(f.sampler) is SamplerConfig and type(f.training) is FlowTrainingConfig
    for part, keys in PART_KEYS.items():
        assert set(getattr(f, part).to_dict()) == keys
        assert all(getattr(getattr(f, part), k) == LEGACY[k] for k in keys)
    assert f.to_dict() == LEGACY and list(f.to_dict()) == list(LEGACY)  # same keys, same order
    assert FlowConfig.from_dict(f.to_dict()) == f
    assert set(FlowConfig.KEYS) == set(LEGACY)


def test_defaults_and_partial_or_unknown_keys():
    """A missing key takes its default (older bundles have no timestep_convention); an unknown
    key is ignored on reading, as before."""
    assert FlowConfig().to_dict() == {**PathConfig().to_dict(), **SamplerConfig().to_dict(),
                                      **FlowTrainingConfig().to_dict()}
    old = {k: v for k, v in LEGACY.items() if k != "timestep_convention"}
    f = FlowConfig.from_dict({**old, "something_else": 3})
    assert f.path.timestep_convention == "rfm" and f.to_dict() == LEGACY


def test_flat_names_live_on_their_part():
    """Each flat setting is a field of exactly one part; a flat keyword (as in the JSON object)
    writes that part's field, and values are read from the parts only."""
    import dataclasses

    f = FlowConfig.from_dict(LEGACY)
    assert (f.sampler.steps, f.sampler.draws, f.training.loss, f.path.prediction) == (1, 8, "l1", "sample")
    for part, keys in PART_KEYS.items():
        others = set(FlowConfig.KEYS) - keys
        assert not others & set(getattr(f, part).to_dict())
        for k in keys:
            with pytest.raises(AttributeError):
                getattr(f, k)  # one way to read a setting: from its part
    with pytest.raises(AttributeError):
        f.steps = 3  # frozen
    g = f.replace(steps=4, loss="mse", source="noise")
    assert (g.sampler.steps, g.training.loss, g.path.source) == (4, "mse", "noise") and f.sampler.steps == 1
    assert g.path.source_noise == f.path.source_noise and g.training.t_low_fraction == f.training.t_low_fraction
    assert dataclasses.replace(f, cond_dropout=0.5).training == dataclasses.replace(f.training, cond_dropout=0.5)
    assert FlowConfig(steps=3) == FlowConfig(sampler=SamplerConfig(steps=3))
    assert FlowConfig(PathConfig(sigma_min=0.1), steps=2).path.sigma_min == 0.1
    with pytest.raises(TypeError, match="nope"):
        f.replace(nope=1)
    with pytest.raises(TypeError, match="must be a PathConfig"):
        FlowConfig(path=SamplerConfig())


@pytest.mark.parametrize("key, value, message", [
    ("source", "x", "unknown flow source"), ("prediction", "eps", "unknown prediction"),
    ("timestep_convention", "edm", "timestep convention"), ("loss", "huber", "unknown loss"),
    ("draws", 0, "draws"), ("draws", 65, "draws"), ("sigma_min", 1.0, "sigma_min")])
def test_each_part_refuses_its_bad_values(key, value, message):
    with pytest.raises(ValueError, match=message):
        FlowConfig.from_dict({**LEGACY, key: value})


def _bundle_indexes():
    return sorted(ROOT.glob("models/**/model_index.json"))


def _recipes():
    return sorted(ROOT.glob("models/*.train.json"))


def test_every_bundle_in_the_repo_reads_its_flow_unchanged():
    """Each model_index.json's flat "flow" maps onto the parts and writes back the same values
    (a key the file lacks takes its default)."""
    indexes = _bundle_indexes()
    assert indexes, "no model bundle found under models/"
    for p in indexes:
        flat = json.loads(p.read_text())["flow"]
        f = FlowConfig.from_dict(flat)
        out = f.to_dict()
        assert {k: out[k] for k in flat} == flat, p
        assert all(out[k] == v for k, v in FlowConfig().to_dict().items() if k not in flat)


def test_every_training_recipe_in_the_repo_loads():
    """models/*.train.json: accepted by TrainConfig (flow keys known, values in range) and their
    flow overrides land on the right parts of the model they train."""
    from rfm_studio.core.model.factory import SMALL_FLOW
    from rfm_studio.core.training.loop import TrainConfig

    recipes = _recipes()
    assert recipes, "no training recipe found under models/"
    for p in recipes:
        recipe = json.loads(p.read_text())
        TrainConfig(data="bank:x", out="out", **recipe).check()  # every section (unknown keys are refused)
        over = recipe.get("flow") or {}
        f = FlowConfig.from_dict({**SMALL_FLOW.to_dict(), **over})
        for k, v in over.items():
            part = next(name for name, keys in PART_KEYS.items() if k in keys)
            assert getattr(getattr(f, part), k) == v, (p, k)


def test_training_config_refuses_an_unknown_flow_key():
    from rfm_studio.core.errors import OptionError
    from rfm_studio.core.training.loop import TrainConfig

    with pytest.raises(OptionError, match="unknown key 'path'"):
        TrainConfig(data="bank:x", out="out", flow={"path": {"sigma_min": 0.1}}).check()
    with pytest.raises(OptionError, match="out of range"):
        TrainConfig(data="bank:x", out="out", flow={"draws": 0}).check()
    TrainConfig(data="bank:x", out="out", flow=dict(LEGACY)).check()
