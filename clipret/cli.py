"""The `clipret` command (also `python -m clipret`, `python -m indexer`): one library call per sub-command."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from dataclasses import replace
from pathlib import Path

from clipret.config import Settings
from clipret.errors import ClipretError


def run() -> None:
    """The console script: SIGTERM stops like Ctrl-C, so every `finally` runs and the extraction workers
    (and whatever they started) stop with the command instead of being left behind; finished clips stay cached."""
    signal.signal(signal.SIGTERM, _stop)
    sys.exit(main())


def _stop(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = _settings(args)
    try:
        return int(args.handler(args, settings) or 0)
    except ClipretError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: finished clips stay cached; run the command again to resume.", file=sys.stderr)
        return 130


# -- commands ------------------------------------------------------------------------------------
def cmd_demo_corpus(args, settings):
    from clipret.sources.demo import generate_demo_corpus

    records = generate_demo_corpus(args.out, per_genre=args.per_genre, seconds=args.seconds, seed=args.seed,
                                   workers=args.workers, progress=not args.quiet)
    print(f"Wrote {len(records)} demo clips to {args.out}")


def cmd_download(args, settings):
    from clipret.sources.playlists import download_playlists

    print(download_playlists(args.playlists, args.out, progress=not args.quiet))


def cmd_from_folder(args, settings):
    from clipret.sources.folder import corpus_from_folder

    corpus = corpus_from_folder(args.folder, args.out, copy=args.copy)
    print(f"Wrote {len(corpus.records)} clips to {Path(args.out) / 'clips.jsonl'}")
    for path, why in corpus.ignored:
        print(f"  ignored {path}: {why}")


def cmd_extract(args, settings):
    from clipret.indexing.engines import extract_with_engine
    from clipret.indexing.extract import parse_shard
    from clipret.sources.corpus import read_clips

    report = extract_with_engine(args.engine, read_clips(args.corpus), args.corpus, settings,
                                 ray_address=args.ray_address, workers=args.workers, timeout_s=args.timeout,
                                 shard=parse_shard(args.shard), progress=not args.quiet)
    print(f"Features ({report.profile}): {len(report.computed)} extracted, {len(report.cached)} cached, "
          f"{len(report.failed)} failed, in {report.seconds:.1f} s")
    for clip_id, why in sorted(report.failed.items()):
        print(f"  failed {clip_id}: {why}")
    return 0 if report.ready else 1


def cmd_train(args, settings):
    from clipret.indexing.train import train_index
    from clipret.sources.corpus import read_clips

    trained = train_index(settings, read_clips(args.corpus), args.corpus, options=_train_options(args),
                          progress=not args.quiet)
    print(f"Trained {trained.collection}: {trained.manifest['n_clips']} clips in {trained.directory}")
    print("Next: clipret push")


def cmd_push(args, settings):
    from clipret.indexing.push import push_index
    from clipret.store import ClipStore

    if args.to_server is not None:
        return _push_to_server(args, settings)
    with ClipStore(settings) as store:
        name = push_index(store, settings, args.name, progress=not args.quiet)
    print(f"'{settings.collection}' now serves {name}")


def _push_to_server(args, settings):
    from clipret.indexing.push import push_to_server
    from clipret.store import ClipStore

    url = args.to_server or settings.qdrant_url
    if not url:
        raise ClipretError("push --to-server needs a server: give its URL or set QDRANT_URL.")
    with ClipStore(replace(settings, qdrant_url=None), replica=True) as source, \
            ClipStore(replace(settings, qdrant_url=url)) as target:
        name, n = push_to_server(source, target, settings.collection, progress=not args.quiet)
    print(f"'{settings.collection}' on {url} now serves {name} ({n} clips)")


def cmd_build(args, settings):
    from clipret.indexing.build import build_index, format_summary

    summary = build_index(settings, args.source, args.path, per_genre=args.per_genre, seconds=args.seconds,
                          workers=args.workers, options=_train_options(args), progress=not args.quiet,
                          engine=getattr(args, "engine", "local"), ray_address=getattr(args, "ray_address", None))
    print(format_summary(summary))


def cmd_ensure_demo(args, settings):
    from clipret.embedding.artifacts import artifact_dir
    from clipret.store import ClipStore

    with ClipStore(settings, replica=True) as store:  # a reader: never waits for a writer
        serving = store.serving_collection(settings.collection)
    if serving and (artifact_dir(settings, serving) / "manifest.json").is_file():
        print(f"'{settings.collection}' serves {serving}: nothing to build.")
        return 0
    print(f"No index serving '{settings.collection}': building the demo index (once).")
    return cmd_build(args, settings)


def cmd_evaluate(args, settings):
    from clipret.indexing.evaluate import evaluate_serving, format_table, headline
    from clipret.store import ClipStore

    with ClipStore(settings, replica=True) as store:  # a reader: never waits for a writer
        result = evaluate_serving(store, settings, exclude_same_artist=args.exclude_same_artist,
                                  exclude_same_group=args.exclude_same_group)
    if args.json:
        print(json.dumps(headline(result, per_genre=args.per_genre), indent=2))
        return
    print(f"{result['collection']}: {result['n_clips']} clips, leave-one-out, relevant = same genre")
    print(format_table(result["spaces"]))
    for genre, spaces in (result["per_genre"].items() if args.per_genre else ()):
        print(f"\n{genre}\n{format_table(spaces)}")


def cmd_add(args, settings):
    from clipret.indexing.add import add_clip
    from clipret.store import ClipStore

    with ClipStore(settings) as store:
        added = add_clip(store, settings, args.source, genre=args.genre, title=args.title,
                         lyrics_file=args.lyrics)
    print(f"Added {added.clip_id} ('{added.title}', {added.genre}) to {added.collection}")


def cmd_search(args, settings):
    from clipret.search.engine import SearchEngine
    from clipret.search.format import format_matches, format_results, results_json
    from clipret.search.spaces import parse_weights
    from clipret.store import ClipStore

    with ClipStore(settings, replica=True) as store:  # a reader: never waits for a writer
        engine = SearchEngine(settings, store=store)
        if args.text is not None:
            query = engine.query_from_text(args.text)
        elif args.clip:
            query = engine.query_from_clip(args.clip)
        elif args.source.startswith(("http://", "https://")):
            query = engine.query_from_url(args.source)
        else:
            query = engine.query_from_file(args.source)
        weights = dict(parse_weights(args.weights)) or None
        results = engine.search(query, args.k, args.genre, args.space, weights,
                                collapse_versions=not args.all_versions)  # all versions: the query's own too
    if args.json:
        print(json.dumps(results_json(query, results), indent=2))
        return
    print(f"Query: {query.title}")
    for line in format_matches(query.matches):
        print(f"  {line}")
    print(format_results(results) if results else "No clip matches (widen the genre filter).")


def cmd_info(args, settings):
    from clipret.indexing.info import format_info, index_info
    from clipret.store import ClipStore

    with ClipStore(settings, replica=True) as store:  # a reader: never waits for a writer
        info = index_info(store, settings)
    print(json.dumps(info, indent=2) if args.json else format_info(info))


# -- parsing -------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    from clipret.indexing.build import DEMO_PER_GENRE, DEMO_SECONDS, SOURCES
    from clipret.search.spaces import SPACES

    common = _common_options()
    parser = argparse.ArgumentParser(prog="clipret", parents=[common],
                                     description="Build, evaluate and grow clipret's Qdrant index.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")

    def command(name, handler, help_text):
        p = sub.add_parser(name, help=help_text, description=help_text, parents=[common])
        p.set_defaults(handler=handler)
        return p

    p = command("demo-corpus", cmd_demo_corpus, "generate the synthetic demo corpus")
    p.add_argument("--out", required=True, type=Path)
    _demo_options(p, DEMO_PER_GENRE, DEMO_SECONDS)
    _workers(p)
    p = command("download", cmd_download, "download YouTube playlists (CSV rows: genre,url) into a corpus")
    p.add_argument("--playlists", required=True, type=Path, help="CSV with rows genre,url")
    p.add_argument("--out", required=True, type=Path)
    p = command("from-folder", cmd_from_folder, "a corpus from DIR/<genre>/<clip> (+ .txt/.lrc lyrics)")
    p.add_argument("folder", type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--copy", action="store_true", help="copy the media into OUT/media (default: reference)")
    p = command("extract", cmd_extract, "extract and cache every clip's features (resumable)")
    p.add_argument("--corpus", required=True, type=Path)
    p.add_argument("--timeout", type=float, default=None, help="seconds allowed to decode one clip")
    p.add_argument("--shard", default=None, help="i/n: extract only records[i::n]")
    _workers(p)
    _engine(p)
    p = command("train", cmd_train, "fusion, autoencoder, PCA, KMeans, maps → artifacts")
    p.add_argument("--corpus", required=True, type=Path)
    _training_options(p)
    p = command("push", cmd_push, "store a trained index in a new collection and move the alias")
    p.add_argument("--name", default=None, help="the trained collection (default: the newest)")
    p.add_argument("--to-server", nargs="?", const="", default=None, metavar="URL",
                   help="copy the embedded store's serving collection to a Qdrant server (default $QDRANT_URL)")
    p = command("build", cmd_build, "corpus → extract → train → push → evaluate")
    p.add_argument("--from", dest="source", choices=SOURCES, default="demo")
    p.add_argument("--path", default=None, help="folder, playlists CSV or corpus folder (not for demo)")
    _engine(p)
    _demo_options(p, DEMO_PER_GENRE, DEMO_SECONDS)
    _training_options(p)
    _workers(p)
    p = command("ensure-demo", cmd_ensure_demo, "build the demo index only when nothing is serving")
    p.set_defaults(source="demo", path=None)
    _demo_options(p, DEMO_PER_GENRE, DEMO_SECONDS)
    _training_options(p)
    _workers(p)
    p = command("evaluate", cmd_evaluate, "leave-one-out evaluation of the serving index")
    p.add_argument("--json", action="store_true")
    p.add_argument("--per-genre", action="store_true")
    p.add_argument("--exclude-same-artist", action="store_true")
    p.add_argument("--exclude-same-group", action="store_true",
                   help="leave a song's other versions (its version group) out of its ranking")
    p = command("add", cmd_add, "embed one clip (file or YouTube URL) into the serving index")
    p.add_argument("source", help="a media file or a YouTube URL")
    p.add_argument("--genre", default="")
    p.add_argument("--title", default="")
    p.add_argument("--lyrics", default=None, type=Path, help="a .txt or .lrc lyrics file")
    p = command("search", cmd_search, "the clips most similar to a description, a clip, a file or a URL")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", metavar="WORDS", help='a description: "a slow piano ballad about leaving home"')
    what.add_argument("--clip", metavar="CLIP_ID", help="a clip of the collection")
    what.add_argument("source", nargs="?", help="a media file or a YouTube URL")
    p.add_argument("-k", type=int, default=10, help="how many results (default 10)")
    p.add_argument("--genre", action="append", default=None, help="keep this genre only (repeatable)")
    p.add_argument("--space", choices=SPACES, default="fused", help="the space to rank in (default fused)")
    p.add_argument("--weights", default="", metavar="M:W,...",
                   help="rank by weighted modalities instead, e.g. audio:1,lyrics:0.5")
    p.add_argument("--all-versions", action="store_true",
                   help="every clip, the query's other versions too (default: one result per song)")
    p.add_argument("--json", action="store_true")
    p = command("info", cmd_info, "describe the serving index")
    p.add_argument("--json", action="store_true")
    return parser


def _common_options() -> argparse.ArgumentParser:
    """Options accepted before or after the command (SUPPRESS: an absent one keeps the other's value)."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS,
                   help="data folder (default: $CLIPRET_DATA_DIR or ./data)")
    p.add_argument("--profile", default=argparse.SUPPRESS, help="extractor profile: portable | paper")
    p.add_argument("--collection", default=argparse.SUPPRESS, help="the alias to build or serve")
    p.add_argument("--seed", type=int, default=argparse.SUPPRESS)
    p.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress bars")
    return p


def _demo_options(p, per_genre: int, seconds: float) -> None:
    p.add_argument("--per-genre", type=int, default=per_genre)
    p.add_argument("--seconds", type=float, default=seconds)


def _training_options(p) -> None:
    from clipret.indexing.train import DEFAULT_ENCODER, DEFAULT_EPOCHS, DEFAULT_MODALITY_DROPOUT, DEMO_EPOCHS, ENCODERS

    p.add_argument("--epochs", type=int, default=None,
                   help=f"autoencoder epochs (default: {DEMO_EPOCHS} for the demo corpus, else the paper's "
                        f"{DEFAULT_EPOCHS})")
    p.add_argument("--modality-dropout", type=float, default=None,
                   help=f"probability of blanking one block of a sample (default {DEFAULT_MODALITY_DROPOUT}; "
                        "0 with --encoder paper)")
    p.add_argument("--encoder", choices=ENCODERS, default=DEFAULT_ENCODER,
                   help="neighbours: keeps each clip's input-space neighbours (default); contrastive: ties each "
                        "clip's excerpts to one another, without labels; paper: the paper's reconstruction "
                        "autoencoder on the unweighted features")


def _engine(p) -> None:
    from clipret.indexing.engines import ENGINES

    p.add_argument("--engine", choices=ENGINES, default="local",
                   help="local: a process pool here (default); ray: a Ray Data pipeline on --ray-address, "
                        "or on a Ray started here")
    p.add_argument("--ray-address", default=None, metavar="ADDR",
                   help="a running Ray cluster (e.g. auto, ray://head:10001); default: start Ray here")


def _workers(p) -> None:
    from clipret.indexing.extract import default_workers

    p.add_argument("--workers", type=int, default=default_workers(),
                   help=f"processes generating and extracting clips (default {default_workers()})")


def _train_options(args):
    from clipret.indexing.build import default_epochs
    from clipret.indexing.train import TrainOptions

    if args.epochs is not None:
        epochs, reason = args.epochs, "--epochs"
    else:
        epochs, reason = default_epochs(getattr(args, "source", None))
    return TrainOptions(epochs=epochs, seed=args.seed, modality_dropout=args.modality_dropout,
                        encoder=args.encoder, epochs_reason=reason)


def _settings(args) -> Settings:
    settings = Settings.from_env()
    args.seed = getattr(args, "seed", 0)
    args.quiet = getattr(args, "quiet", False)
    changes = {k: getattr(args, a) for k, a in (("data_dir", "data_dir"), ("profile", "profile"),
                                               ("collection", "collection")) if hasattr(args, a)}
    return replace(settings, **changes)
