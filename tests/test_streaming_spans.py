from rfm_studio.core.runs import merge_runs
from rfm_studio.core.streaming import _removal_summary


def test_spans_from_overlapping_chunks_are_reported_once():
    done = [{"removal": "dictionary", "templates": None, "spans": [[50.0, 61.0], [10.0, 12.0]]},
            {"removal": "dictionary", "templates": None, "spans": [[55.0, 62.5], [62.5, 63.0], [70.0, 71.0]]}]
    assert _removal_summary("self-prompt", done)["spans"] == [[10.0, 12.0], [50.0, 63.0], [70.0, 71.0]]
    assert merge_runs([], 0.0) == []
