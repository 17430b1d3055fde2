"""The app's shared query cache: least recently used out first, and safe when sessions evict at once."""

from __future__ import annotations

import sys
import threading

from clipret.ui.query_cache import SharedLRU


def test_least_recently_used_goes_first():
    cache = SharedLRU(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3)
    assert (cache.get("b"), cache.get("a"), cache.get("c"), len(cache)) == (None, 1, 3, 2)
    cache.put("a", 10)  # replacing keeps one entry
    assert (cache.get("a"), len(cache)) == (10, 2)


def test_sessions_evicting_at_once_never_raise():
    """Eight threads (Streamlit runs a session per thread) put and get over a cache that must evict on
    nearly every put; switching threads every microsecond makes the interleavings that break a dict."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    cache, errors, seen = SharedLRU(4), [], []

    def session(n: int) -> None:
        try:
            for i in range(3000):
                key = (n * 7 + i) % 13
                cache.put(key, key * 2)
                value = cache.get((key + 1) % 13)
                if value is not None:
                    seen.append(value == ((key + 1) % 13) * 2)
        except Exception as exc:  # noqa: BLE001 - any exception is the failure under test
            errors.append(repr(exc))

    try:
        threads = [threading.Thread(target=session, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert errors == []
    assert len(cache) == 4 and seen and all(seen)  # bounded, and every hit is the value put for its key
