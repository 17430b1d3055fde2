"""The app's cross-session cache of embedded queries: a bounded LRU that concurrent sessions share."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

Key = TypeVar("Key")
Value = TypeVar("Value")


class SharedLRU(Generic[Key, Value]):
    """At most `maxsize` entries, the least recently used evicted first. Every read and write holds one
    lock: Streamlit runs each session in its own thread, and a plain dict evicted by two of them at once
    raises (KeyError, or "dictionary changed size during iteration")."""

    def __init__(self, maxsize: int):
        self.maxsize = int(maxsize)
        self._items: OrderedDict[Key, Value] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Key) -> Value | None:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: Key, value: Value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._items
