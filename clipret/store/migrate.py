"""Convert an index of the old embedded store (qdrant-client's local mode, `<data dir>/qdrant/`) into
Qdrant Edge shards, once, the first time a ClipStore opens that data dir."""

from __future__ import annotations

from pathlib import Path

from clipret.errors import StoreUnavailable
from clipret.store.write_lock import WRITE_WAIT_S

REBUILD = "clipret build --from demo"  # or `make index`
MIGRATED_SUFFIX = ".local-mode-migrated"  # the old folder is kept under this name, never read again


def has_local_mode_index(old: Path) -> bool:
    return (Path(old) / "meta.json").is_file()


def migrate_local_mode(old: Path, root: Path, lock_timeout_s: float = WRITE_WAIT_S) -> list[str]:
    """Copy every collection (points, payloads, named vectors) and alias of the local-mode store at `old`
    into the Edge store at `root`, then rename `old`; return the collections copied. Nothing to do when
    there is no old store. StoreUnavailable, saying how to rebuild, when it cannot be read."""
    old = Path(old)
    if not has_local_mode_index(old):
        return []
    from clipret.store.edge import EdgeCollections

    edge = EdgeCollections(root, writer=True, lock_timeout_s=lock_timeout_s)
    try:
        with edge.writing("convert the old local-mode index"):
            if not has_local_mode_index(old):  # another process converted it while we waited for the lock
                return []
            copied = _copy_all(old, edge)
    finally:
        edge.close()
    old.rename(old.with_name(old.name + MIGRATED_SUFFIX))
    return copied


def _copy_all(old: Path, edge) -> list[str]:
    try:
        from qdrant_client import QdrantClient

        source = QdrantClient(path=str(old))
    except Exception as exc:  # noqa: BLE001 - locked by an old app, unreadable: the answer is the same
        raise StoreUnavailable(
            f"The index in {old} was built by an older clipret (qdrant-client's local mode) and cannot be "
            f"converted ({str(exc).splitlines()[0][:120]}): stop any process using it and retry, or delete "
            f"that folder and rebuild with `make index` (or `{REBUILD}`).") from None
    try:
        names = sorted(c.name for c in source.get_collections().collections)
        for name in names:
            if name in edge.names():
                edge.delete(name)  # a conversion killed half-way: start this collection again
            vectors = source.get_collection(name).config.params.vectors
            edge.create(name, {n: int(p.size) for n, p in vectors.items()})
            edge.upsert(name, _batches(source, name))
        for alias in source.get_aliases().aliases:
            edge.set_alias(alias.alias_name, alias.collection_name)
    finally:
        source.close()
    return names


def _batches(source, name: str, page: int = 256):
    from qdrant_edge import Point

    offset = None
    while True:
        records, offset = source.scroll(name, limit=page, offset=offset, with_payload=True, with_vectors=True)
        if records:
            yield [Point(str(r.id), {n: list(v) for n, v in r.vector.items()}, r.payload or {}) for r in records]
        if offset is None:
            return
