"""Planning an unchanged extract re-run: seconds, bytes read and media files opened, stamp check vs full digest.

    python -m bench extract_replan                                # the demo corpus: 24 per genre x 20 s
    python -m bench extract_replan --per-genre 1 --seconds 2      # a quick run

The corpus and its feature cache are kept under artifacts/bench/replan/ for reruns (the first run
extracts every clip). "digest" is what every plan did before stamps: a SHA-256 of each media file
(cache.fingerprint) and the cache file's key; "stamp" is plan_extraction now (cache.is_current).
Bytes are /proc/self/io rchar (read by this process, page cache hits included: what network storage
would send); opened counts the media files Python opened (an audit hook).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from bench.common import ARTIFACTS, best_of, write_results

_opened: list[str] | None = None  # media paths opened while recording


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench extract_replan")
    p.add_argument("--per-genre", type=int, default=24, help="demo clips of each of the 9 genres")
    p.add_argument("--seconds", type=float, default=20.0, help="length of each clip")
    p.add_argument("--workers", type=int, default=None, help="extraction processes (default: as `extract`)")
    return p.parse_args(argv or [])


def rchar() -> int:
    with open("/proc/self/io") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("rchar:"))


def measured(fn, media_dir: Path) -> dict:
    """One run of fn(): seconds, bytes read, media files opened; plus the best of 3 runs' seconds."""
    global _opened
    _opened = []
    before, start = rchar(), time.perf_counter()
    fn()
    seconds, read = time.perf_counter() - start, rchar() - before
    opened = sum(1 for path in _opened if path.startswith(str(media_dir)))
    _opened = None
    return {"seconds": round(seconds, 4), "best_of_3_s": round(best_of(fn, 3), 4), "bytes_read": read,
            "media_opened": opened}


def main(argv: list[str] | None = None) -> None:
    from clipret.config import Settings
    from clipret.indexing.cache import cache_path, cached_key, fingerprint
    from clipret.indexing.extract import default_workers, extract_corpus, plan_extraction
    from clipret.sources.corpus import read_clips
    from clipret.sources.demo import generate_demo_corpus

    args = parse(argv)
    folder = (ARTIFACTS / "replan" / f"demo-{args.per_genre}x{args.seconds:g}s").resolve()
    corpus, settings = folder / "corpus", Settings(data_dir=folder / "data")
    workers = args.workers or default_workers()
    try:
        records = read_clips(corpus)
    except Exception:  # noqa: BLE001 - absent or half-written: render it (again)
        records = generate_demo_corpus(corpus, per_genre=args.per_genre, seconds=args.seconds, workers=workers,
                                       progress=False)
    media_dir = (corpus / "media").resolve()
    media_bytes = sum(r.media_path(corpus).stat().st_size for r in records)
    # a file changed in the last 2 s gets no stamp (cache.SETTLE_NS); a real corpus is older than that
    newest = max(max(p.stat().st_mtime_ns, p.stat().st_ctime_ns) for p in media_dir.iterdir())
    time.sleep(max(0.0, (newest + 2_100_000_000 - time.time_ns()) / 1e9))

    start = time.perf_counter()
    first = extract_corpus(records, corpus, settings, workers=workers, progress=False)
    extract_s = time.perf_counter() - start
    if first.failed:
        print(f"{len(first.failed)} clips failed: {first.failed}", file=sys.stderr)

    def digest_plan() -> None:  # the plan before stamps: every media byte, then the cache file's key
        for record in records:
            path = cache_path(settings.features_dir, settings.profile, record.clip_id)
            assert cached_key(path) == fingerprint(record.media_path(corpus), record.lyrics, settings.profile)

    def stamp_plan() -> None:
        report, tasks = plan_extraction(records, corpus, settings)
        assert not tasks and len(report.cached) == len(records), (len(tasks), report.failed)

    sys.addaudithook(_audit)
    rows = {"digest (before)": measured(digest_plan, media_dir), "stamp (after)": measured(stamp_plan, media_dir)}
    print(f"\n{len(records)} clips, {media_bytes / 2**20:.1f} MiB of media; first extract {extract_s:.1f} s "
          f"({len(first.computed)} computed, {len(first.cached)} cached)")
    print(f"{'re-plan':<16} {'seconds':>9} {'best of 3':>10} {'bytes read':>14} {'media opened':>13}")
    for name, row in rows.items():
        print(f"{name:<16} {row['seconds']:>9.4f} {row['best_of_3_s']:>10.4f} {row['bytes_read']:>14,} "
              f"{row['media_opened']:>13}")
    write_results("extract_replan", {
        "clips": len(records), "per_genre": args.per_genre, "seconds_per_clip": args.seconds,
        "media_bytes": media_bytes, "workers": workers, "first_extract_s": round(extract_s, 1),
        "first_extract_computed": len(first.computed), "replan": rows,
    })


def _audit(event: str, args: tuple) -> None:
    if event == "open" and _opened is not None and isinstance(args[0], str | bytes | os.PathLike):
        _opened.append(os.path.realpath(os.fsdecode(args[0])))


if __name__ == "__main__":
    main(sys.argv[1:])
