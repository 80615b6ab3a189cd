"""The library's text encoder is used from the model worker and the I/O worker at once."""

import threading
import time

import numpy as np
import pytest

from rfm_studio.core.library import embed as E


def test_concurrent_embeds_match_serial_ones(monkeypatch):
    try:
        E.load_encoder()
    except E.EncoderUnavailable:
        pytest.skip("encoder package not installed")
    tok, model = E._loaded
    inside, most, guard = [0], [0], threading.Lock()

    def watched(*a, **k):  # the tokenizer, counting how many calls are inside it at once
        with guard:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        try:
            time.sleep(0.002)  # widen the window two unlocked calls would overlap in
            return tok(*a, **k)
        finally:
            with guard:
                inside[0] -= 1

    monkeypatch.setattr(E, "_loaded", (watched, model))
    texts = [["a dog barking in a yard", "rain on a tin roof"], ["car horn", "birds singing at dawn", "phone ringing"]]
    want = [E.embed(t) for t in texts]
    errors, results = [], {0: [], 1: []}

    def work(k):
        try:
            for _ in range(30):
                results[k].append(E.embed(texts[k]))
        except Exception as exc:  # noqa: BLE001 - the test reports any
            errors.append(repr(exc))

    threads = [threading.Thread(target=work, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and most[0] == 1  # never two threads in the tokenizer at once
    for k in (0, 1):
        assert len(results[k]) == 30
        for v in results[k]:
            np.testing.assert_allclose(v, want[k], atol=1e-5)
