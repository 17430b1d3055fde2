"""Lyrics encoders: MiniLM's known neighbours, missing lyrics, chunking, and bert_cls's offline rule."""

from __future__ import annotations

import numpy as np
import pytest

from clipret.errors import ModelUnavailable
from clipret.features import lyrics
from clipret.features.lyrics import BertCLS, MiniLM


@pytest.fixture(scope="module")
def minilm():
    return MiniLM()


def test_minilm_puts_love_near_adore(minilm):
    love, adore, tax = minilm.extract_batch(["I love you", "I adore you", "quarterly tax report"])
    assert love.shape == (384,) and love.dtype == np.float32
    assert np.linalg.norm(love) == pytest.approx(1.0, abs=1e-5)
    assert love @ adore > love @ tax + 0.3


def test_empty_lyrics_are_missing(minilm):
    assert minilm.extract("") is None
    assert minilm.extract_batch(["  \n\t", "", "la la la"])[:2] == [None, None]


def test_batched_equals_one_by_one(minilm):
    texts = ["I love you", "", "Rain falls on the empty street tonight"]
    for batched, text in zip(minilm.extract_batch(texts), texts, strict=True):
        single = minilm.extract(text)
        assert (batched is None and single is None) or np.allclose(batched, single, atol=1e-5)


def test_long_lyrics_are_chunked_and_averaged(minilm):
    verse = "you are the sunshine of my life and I will always love you"
    long = " ".join([verse] * 60)  # ~840 tokens: past the model's 512 positions, so it must be chunked
    vector = minilm.extract(long)
    assert vector.shape == (384,) and np.isfinite(vector).all()
    assert vector @ minilm.extract(verse) > 0.8
    assert vector @ minilm.extract("quarterly tax report") < 0.3


def test_bert_cls_offline_raises_with_instructions(monkeypatch):
    def no_cache(*args, local_files_only, **kwargs):
        assert local_files_only, "must not try to download when offline"
        raise OSError("not in the cache")

    monkeypatch.delenv(lyrics.BERT_ENV, raising=False)
    monkeypatch.setattr(lyrics, "_load_pretrained", no_cache)
    monkeypatch.setattr(lyrics, "host_reachable", lambda *a, **k: False)
    lyrics.load_bert.cache_clear()
    with pytest.raises(ModelUnavailable, match="CLIPRET_BERT_PATH") as info:
        BertCLS().extract("hello")
    assert "internet" in str(info.value)
    assert BertCLS().extract("   ") is None  # missing lyrics need no model


def test_bert_cls_bad_local_path_raises(monkeypatch, tmp_path):
    monkeypatch.setenv(lyrics.BERT_ENV, str(tmp_path))
    lyrics.load_bert.cache_clear()
    with pytest.raises(ModelUnavailable, match="does not hold bert-base-uncased"):
        BertCLS().extract("hello")
