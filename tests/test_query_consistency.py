"""A collection clip's own media file, queried as an upload, gives back the vectors stored for it: the
query path (decode in a worker, extract, fuse, encode) is the indexing path, not a look-alike."""

from __future__ import annotations

import numpy as np
import pytest

from clipret.config import Settings
from clipret.search.engine import SearchEngine
from clipret.sources.corpus import read_clips
from clipret.store import ClipStore


def lyrics_by_clip(settings: Settings) -> dict[str, str]:
    """{clip_id: lyrics} of every corpus the index was built from."""
    return {record.clip_id: record.lyrics for clips in sorted(settings.corpora_dir.glob("*/clips.jsonl"))
            for record in read_clips(clips.parent)}


def unit(vector: np.ndarray) -> np.ndarray:
    """The vector's direction; a missing modality's zero vector stays zero."""
    norm = np.linalg.norm(vector)
    return vector / norm if norm > 0 else vector


@pytest.mark.slow
def test_a_collection_clip_queried_as_an_upload_gives_its_stored_vectors_back(index_dir):
    settings = Settings(data_dir=index_dir)
    engine = SearchEngine(settings, store=ClipStore(settings, replica=True))
    try:
        lyrics = lyrics_by_clip(settings)
        payloads = engine.clips()
        with_lyrics = [p for p in payloads if lyrics.get(p["clip_id"])]
        without = [p for p in payloads if not lyrics.get(p["clip_id"])]
        assert with_lyrics and without  # both kinds of clip are checked
        for payload in (with_lyrics[0], with_lyrics[-1], without[0]):
            stored = engine.query_from_clip(payload["clip_id"]).vectors
            uploaded = engine.query_from_file(settings.media_file(payload["media_path"]),
                                              lyrics[payload["clip_id"]]).vectors
            assert sorted(uploaded) == sorted(stored) and len(stored) >= 4  # fused, raw, pca and each modality
            for name, vector in stored.items():  # the store is cosine: it keeps each vector's direction
                np.testing.assert_allclose(unit(uploaded[name]), unit(vector), rtol=0, atol=1e-5, equal_nan=False,
                                           err_msg=f"{payload['clip_id']}: vector {name!r}")
            hits = engine.search_by_file(settings.media_file(payload["media_path"]), k=1,
                                         lyrics=lyrics[payload["clip_id"]])
            assert hits[0].clip_id == payload["clip_id"] and hits[0].score == pytest.approx(1.0, abs=1e-4)
    finally:
        engine.store.close()
