"""The vector store: one ClipStore over Qdrant Edge (embedded) or a Qdrant server, and its points."""

from clipret.store.clip_store import ClipStore
from clipret.store.points import ClipPoint, Hit, point_id

__all__ = ["ClipPoint", "ClipStore", "Hit", "point_id"]
