from rfm_studio.core.edit_summary import how_text


def test_model_removal_in_some_chunks_says_how_many():
    t = how_text({"engine": "self-prompt", "removal": "model", "chunks": 5, "model_chunks": 2})
    assert "stood in the 2 edited chunks (of 5)" in t and "every chunk" not in t
    t = how_text({"engine": "self-prompt", "removal": "model", "chunks": 3, "model_chunks": 3})
    assert "stood in every chunk" in t
