"""The library's text encoder is used from the model worker and the I/O worker at once."""

import threading

import numpy as np
import pytest

from rfm_studio.core.library import embed as E


def test_concurrent_embeds_match_serial_ones():
    try:
        E.load_encoder()
    except E.EncoderUnavailable:
        pytest.skip("encoder package not installed")
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
    assert errors == []
    for k in (0, 1):
        assert len(results[k]) == 30
        for v in results[k]:
            np.testing.assert_allclose(v, want[k], atol=1e-5)
