"""Search by words, measured: P@10 of described queries against the clips' labels, beside random.

    python -m bench text_queries [--demo-data-dir data] [--real-data-dir data/realdev]

Each query is a description a person might type for one label, written down before any was run. A result
is relevant when its label is the query's label; random is the label's share of the collection (the
expected P@10 of a random ranking). Every query runs three ways: its lyrics part alone, its named part
alone (picture and sound, through the names of what the columns measure), and both (the default). A way
that the words do not reach returns nothing, and is counted apart ("reached").

The demo index is `make index` (or `make run`); the real-music index is `make real-music-eval` (audio
only: no video, no lyrics). A set whose index is missing is skipped with the command that builds it.
Writes artifacts/bench/text_queries.json.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.common import write_results

DEMO_QUERIES = {  # the demo's nine genres: their subjects, sounds and looks in everyday words
    "blues-jazz": ("a sad jazz ballad with piano and brass about tears and rain",
                   "a slow blues about a broken heart and a lonesome night"),
    "soul": ("a soulful love song with organ and horns", "a tender ballad about a kiss and a promise"),
    "country": ("a country song about the highway and a dusty town, acoustic guitar and fiddle",
                "a road song about a truck, a train and coming home"),
    "indie-folk": ("a quiet folk song about mountains, rivers and winter",
                   "gentle acoustic guitar, a song about fields and the wild"),
    "pop-rock": ("an upbeat rock anthem about love and the weekend", "a catchy pop song, electric guitars, "
                                                                     "colourful lights and a crowd"),
    "punk": ("fast angry punk, shouting about a riot and smashing the system",
             "loud distorted guitars and fast cuts, we fight and break the walls"),
    "metal": ("dark heavy metal about blood, storms and a cursed throne",
              "distorted guitars in a dark picture, screaming from the abyss"),
    "hip-hop": ("a rap song about money, cash and chains", "hip hop beats about the block and the crew"),
    "uk-drill": ("uk drill about the estate and the ends, cold and dark", "a drill track about the streets "
                                                                          "and the gang pulling up"),
}
REAL_QUERIES = {  # the real-music dev set's five soundtracks: what a listener hears in them
    "adventure-drascula": ("a dark, mellow, slow orchestral score", "moody adventure music, quiet strings"),
    "ambient-hyperrogue": ("calm ambient music, slow and peaceful", "still, atmospheric pads without drums"),
    "midi-planetblupi": ("a cheerful little synthesizer tune", "bright, simple electronic melody"),
    "eclectic-hedgewars": ("energetic music with drums and a quick beat", "lively, loud, busy rhythm"),
    "platformer-supertux": ("upbeat, fast and bouncy game music", "a happy tune with a quick beat and drums"),
}
WAYS = {"lyrics": ("lyrics",), "named": ("audio", "video"), "both": ("audio", "video", "lyrics")}
K = 10


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench text_queries")
    p.add_argument("--demo-data-dir", type=Path, default=Path("data"))
    p.add_argument("--real-data-dir", type=Path, default=Path("data/realdev"))
    p.add_argument("--real-collection", default="realdev")
    return p.parse_known_args(argv)[0]


def engine_for(data_dir: Path, collection: str | None):
    from clipret.config import Settings
    from clipret.errors import ClipretError
    from clipret.search.engine import SearchEngine

    settings = replace(Settings.from_env(), data_dir=data_dir, qdrant_url=None,
                       **({"collection": collection} if collection else {}))
    try:
        return SearchEngine(settings)
    except ClipretError:
        return None


def measure_set(engine, queries: dict[str, tuple[str, ...]]) -> dict:
    """{way: {p@10, reached, per_query}, random, clips, seconds_per_query} over every query of the set."""
    labels = [str(p.get("genre", "")) for p in engine.clips()]
    share = Counter(labels)
    out: dict = {"clips": len(labels), "labels": dict(share), "ways": {}}
    out["random"] = float(np.mean([share[g] / len(labels) for g, texts in queries.items() for _ in texts]))
    times = []
    embedded = []
    for genre, texts in queries.items():
        for text in texts:
            start = time.perf_counter()
            embedded.append((genre, text, engine.query_from_text(text)))
            times.append(time.perf_counter() - start)
    out["seconds_per_query"] = {"first": times[0], "median_after": float(np.median(times[1:]))}
    for way, modalities in WAYS.items():
        rows = []
        for genre, text, query in embedded:
            weights = {m: 1.0 for m in modalities if m in query.reached}
            results = engine.search(query, K, weights=weights) if weights else []
            hits = sum(r.genre == genre for r in results)
            rows.append({"label": genre, "text": text, "reached": bool(results), "p@10": hits / K,
                         "matched": [f"{m.part}→{m.phrase}" for m in query.matches
                                     if m.modality in modalities]})
        reached = [r for r in rows if r["reached"]]
        out["ways"][way] = {"p@10": float(np.mean([r["p@10"] for r in reached])) if reached else None,
                            "reached": f"{len(reached)}/{len(rows)}", "per_query": rows}
    return out


def print_set(name: str, result: dict) -> None:
    print(f"\n{name}: {result['clips']} clips, {len(result['labels'])} labels; random P@10 "
          f"{result['random']:.3f}; a query took {result['seconds_per_query']['median_after']:.2f} s "
          f"(the first {result['seconds_per_query']['first']:.1f} s, starting the query worker)")
    print(f"{'way':8s} {'P@10':>6s} {'reached':>8s}")
    for way, row in result["ways"].items():
        p = "—" if row["p@10"] is None else f"{row['p@10']:.3f}"
        print(f"{way:8s} {p:>6s} {row['reached']:>8s}")
    for row in result["ways"]["both"]["per_query"]:
        print(f"  {row['p@10']:.1f}  {row['label']:20s} {row['text']}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv or [])
    results = {}
    for name, data_dir, collection, queries, build in (
            ("demo", args.demo_data_dir, None, DEMO_QUERIES, "make index"),
            ("real-music", args.real_data_dir, args.real_collection, REAL_QUERIES, "make real-music-eval")):
        engine = engine_for(data_dir, collection)
        if engine is None:
            print(f"\n{name}: no index in {data_dir} (build it with `{build}`): skipped")
            continue
        results[name] = measure_set(engine, queries)
        print_set(name, results[name])
    print(f"\nwrote {write_results('text_queries', results)}")
