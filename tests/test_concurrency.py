"""Two app sessions search while `indexer add` and `indexer push` (a rebuild's alias swap) write the
embedded store from other processes: no search fails, and each result set is one complete collection."""

from __future__ import annotations

import re
import shutil
import threading
import time
import traceback
from collections import Counter

import pytest
from _app_index import tiny_index
from _fault_helpers import start_indexer

from clipret.config import Settings
from clipret.search.engine import SearchEngine
from clipret.sources.corpus import read_clips
from clipret.store import ClipStore

pytestmark = pytest.mark.slow
ALIAS = "clips"
APP_LOCK_TIMEOUT_S = 5.0  # as clipret.ui.resources: a page waits this long for a writer's lock
MAX_SEARCHES = 10_000  # per session: the loops are bounded even if the writers hang
PAGE_RUN_GAP_S = 0.02  # between one session's searches, leaving the two cores to the writers too
WRITERS_TIMEOUT_S = 240


def test_two_sessions_search_through_an_add_and_an_alias_swap(tmp_path, tone_clip):
    from clipret.indexing.train import TrainOptions, train_index

    shutil.copytree(tiny_index(), tmp_path / "data", symlinks=True)
    settings = Settings(data_dir=tmp_path / "data")
    (corpus,) = [p for p in settings.corpora_dir.iterdir() if p.name != "added"]
    records = read_clips(corpus)
    with ClipStore(settings) as store:
        old = store.serving_collection(ALIAS)
        old_ids = frozenset(h.clip_id for h in store.all_clips(ALIAS))
    kept = records[:-5]  # the rebuild leaves 5 clips out, so its result sets differ from the old ones
    new = train_index(settings, kept, corpus, progress=False,
                      options=TrainOptions(epochs=3, map_methods=("pca",), max_k=4)).collection
    new_ids = frozenset(r.clip_id for r in kept)
    queries = [r.clip_id for r in kept[::3]]  # clips both collections hold

    # Like the app: one read-only replica per process, shared by the sessions' threads; each page
    # run resolves the alias and searches the collection it names.
    shared = ClipStore(settings, replica=True, lock_timeout_s=APP_LOCK_TIMEOUT_S)
    stop = threading.Event()
    seen: list[tuple[str, frozenset[str], float]] = []
    errors: list[str] = []

    def session(offset: int) -> None:
        for n in range(MAX_SEARCHES):
            if stop.is_set():
                return
            query = queries[(n + offset) % len(queries)]
            started = time.monotonic()
            try:
                engine = SearchEngine(settings, store=shared, collection=shared.resolve(ALIAS))
                results = engine.search_by_clip(query, k=50)  # k > N: the whole collection comes back
                ids = frozenset(r.clip_id for r in results) | {query}
                seen.append((engine.collection, ids, time.monotonic() - started))
            except Exception:  # noqa: BLE001 - every failure is collected and reported
                errors.append(traceback.format_exc())
            time.sleep(PAGE_RUN_GAP_S)

    # A page run that resolved the alias before the swap and searches after it (an upload's embedding
    # takes seconds) must still get the complete collection it began with.
    begun_before_swap = SearchEngine(settings, store=shared, collection=shared.resolve(ALIAS))
    sessions = [threading.Thread(target=session, args=(i,), daemon=True) for i in range(2)]
    for t in sessions:
        t.start()
    time.sleep(0.5)  # both sessions are searching before the writers start
    add = start_indexer(settings.data_dir, "add", str(tone_clip), "--genre", "soul", "--title", "A tone")
    push = start_indexer(settings.data_dir, "push", "--name", new)
    outputs = {name: p.communicate(timeout=WRITERS_TIMEOUT_S) for name, p in (("add", add), ("push", push))}
    searched_during = len(seen)
    time.sleep(1.0)  # the sessions go on after the writers are done
    stop.set()
    for t in sessions:
        t.join(timeout=120)
    assert add.returncode == 0, outputs["add"]
    assert push.returncode == 0, outputs["push"]
    kinds = Counter(e.strip().splitlines()[-1] for e in errors)
    assert not errors, f"{len(errors)} of {len(seen) + len(errors)} searches failed: {dict(kinds)}\n{errors[0]}"
    slowest = max(s for _, _, s in seen)
    print(f"{len(seen)} searches ({searched_during} while the writers ran), slowest {slowest:.2f} s")

    added = re.search(r"Added (\S+) ", outputs["add"][0]).group(1)
    complete = {old: {old_ids, old_ids | {added}}, new: {new_ids, new_ids | {added}}}
    for collection, ids, _ in seen:
        assert ids in complete[collection], f"a result set from {collection} is no complete collection"
    late = begun_before_swap.search_by_clip(queries[0], k=50)
    assert frozenset(r.clip_id for r in late) | {queries[0]} in complete[old]
    collections = {c for c, _, _ in seen}
    assert collections == {old, new} and searched_during > 0  # the swap happened while they searched
    assert seen[-1][0] == new

    with ClipStore(settings) as store:  # nothing lost: the new build serves, the added clip is stored
        assert store.serving_collection(ALIAS) == new
        assert store.get_clip(new, added) is not None or store.get_clip(old, added) is not None
        assert store.count(old) in (len(old_ids), len(old_ids) + 1)
    shared.close()
