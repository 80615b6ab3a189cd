"""Fault injection over every code path that swaps or replaces files (tests/faultinject.py):
each file-system call of a clean run in turn fails (OSError) or kills the process, and the
previous good state must be intact and a rerun must complete."""

import pytest

import faultinject as fi


def _check(rep):
    assert rep.problems == []
    assert rep.calls >= 1 and rep.injected == 2 * rep.calls
    assert rep.killed == rep.calls  # every kill point was reached


@pytest.mark.parametrize("make", [fi.atomic_write_scenario, fi.audio_save_scenario, fi.checkpoint_scenario,
                                  fi.adapter_scenario, fi.batch_scenario],
                         ids=["atomic", "audio", "checkpoint", "adapter", "batch"])
def test_fault_at_every_call(make, tmp_path):
    _check(fi.run_scenario(make(), tmp_path))


@pytest.mark.parametrize("make", [fi.models_import_scenario, fi.models_remove_scenario, fi.ship_scenario],
                         ids=["import", "remove", "ship"])
def test_fault_at_every_call_with_a_bundle(make, tiny_bundle, tmp_path):
    _check(fi.run_scenario(make(tiny_bundle), tmp_path))
