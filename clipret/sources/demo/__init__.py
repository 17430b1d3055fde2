"""The procedural demo corpus: nine genres of short synthetic music videos with lyrics, made on the spot.

Each clip is seeded from (seed, genre, index), so the corpus is identical whatever the number of workers.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from clipret.errors import CorpusError
from clipret.sources.corpus import GENRES, ClipRecord, write_clips

FPS = 24
ARTISTS_PER_GENRE = 6  # fixed, so a genre's artists do not depend on per_genre


def _rng(seed: int, genre: str, *keys: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(genre.encode()), *keys])


def demo_records(per_genre: int = 24, seconds: float = 20.0, seed: int = 0, lyrics_share: float = 0.7,
                 genres: tuple[str, ...] | list[str] = GENRES) -> list[ClipRecord]:
    """The corpus's clip records (titles, artists, lyrics) without rendering any media."""
    from clipret.sources.demo.genres import style_for
    from clipret.sources.demo.lyrics import make_artist, make_title, write_lyrics

    if per_genre < 1 or seconds <= 0 or not 0 <= lyrics_share <= 1 or seed < 0:
        raise CorpusError(f"demo corpus: need per_genre >= 1, seconds > 0, 0 <= lyrics_share <= 1 and "
                          f"seed >= 0 (got {per_genre}, {seconds}, {lyrics_share}, {seed}).")
    records = []
    for genre in genres:
        style = style_for(genre)
        artists = [make_artist(style.themes, _rng(seed, genre, 1, a)) for a in range(ARTISTS_PER_GENRE)]
        n_lyrics = int(round(lyrics_share * per_genre))
        with_lyrics = set(_rng(seed, genre, 2).permutation(per_genre)[:n_lyrics].tolist())
        for index in range(per_genre):
            rng = _rng(seed, genre, 3, index)
            clip_id = f"{genre}-{index:03d}"
            records.append(ClipRecord(
                clip_id=clip_id, title=make_title(style.themes, rng), genre=genre,
                path=f"media/{clip_id}.mp4", artist=artists[int(rng.integers(ARTISTS_PER_GENRE))],
                lyrics=write_lyrics(style.themes, style.line_styles, rng) if index in with_lyrics else "",
                duration_s=round(float(seconds), 3)))
    return records


def synthesise(record: ClipRecord, seconds: float, seed: int = 0) -> tuple[np.ndarray, Iterator[np.ndarray]]:
    """A clip's mono audio ((n,) float32 at 22050 Hz) and its frames ((240, 320, 3) uint8, 24 fps, lazily)."""
    from clipret.sources.demo.genres import artist_style, style_for
    from clipret.sources.demo.music import compose
    from clipret.sources.demo.visuals import render_frames

    genre, index = record.genre, int(record.clip_id.rsplit("-", 1)[1])
    style = style_for(genre)
    if _rng(seed, genre, 4, index).random() < 0.6:  # most clips sound and look like their artist
        style = artist_style(style, _rng(seed, genre, 5, zlib.crc32(record.artist.encode())))
    song = compose(style, seconds, _rng(seed, genre, 6, index), vocals=record.has_lyrics)
    return song.audio, render_frames(style, song, seconds, _rng(seed, genre, 7, index), fps=FPS)


def render_clip(record: ClipRecord, out_path: str | Path, seconds: float, seed: int = 0) -> None:
    """Synthesise and encode one clip (H.264 + AAC, 320x240, 24 fps, 22050 Hz) to out_path."""
    from clipret.media.encode import write_clip
    from clipret.sources.demo.synth import SR

    audio, frames = synthesise(record, seconds, seed)
    write_clip(out_path, frames, audio, fps=FPS, sample_rate=SR)


def _render_task(task: tuple[ClipRecord, str, float, int]) -> str:
    record, path, seconds, seed = task
    render_clip(record, path, seconds, seed)
    return record.clip_id


def generate_demo_corpus(out_dir: str | Path, per_genre: int = 24, seconds: float = 20.0, seed: int = 0,
                         lyrics_share: float = 0.7, genres: tuple[str, ...] | list[str] = GENRES,
                         workers: int = 1, progress: bool = True) -> list[ClipRecord]:
    """Write out_dir/media/<clip_id>.mp4 for per_genre clips of each genre, then out_dir/clips.jsonl.

    Clips are H.264 + AAC, 320x240 at 24 fps with mono 22050 Hz audio, `seconds` long; about
    1 - lyrics_share of them have no lyrics (and no voice). workers > 1 renders in spawned processes
    (call it from a script guarded by ``if __name__ == "__main__"``); the result is the same either way.
    Raises CorpusError for an unknown genre or out-of-range arguments.
    """
    from tqdm import tqdm

    out_dir = Path(out_dir)
    records = demo_records(per_genre, seconds, seed, lyrics_share, genres)
    tasks = [(r, str(r.media_path(out_dir)), float(seconds), seed) for r in records]
    (out_dir / "media").mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=len(tasks), desc="demo corpus", unit="clip", disable=not progress)
    if workers <= 1:
        for task in tasks:
            _render_task(task)
            bar.update()
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        context = multiprocessing.get_context("spawn")  # safe beside threads (torch, x264) in the parent
        pool = ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=context)
        try:
            for done in as_completed([pool.submit(_render_task, t) for t in tasks]):
                done.result()  # a failed clip stops the run with its own error
                bar.update()
        finally:
            pool.shutdown(cancel_futures=True)
    bar.close()
    write_clips(out_dir, records)
    return records


__all__ = ["generate_demo_corpus", "demo_records", "render_clip", "synthesise"]
