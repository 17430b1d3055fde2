"""The one exception hierarchy of clipret: every message says what happened and what to do."""


class ClipretError(Exception):
    """Base class of every error clipret raises on purpose."""


class MediaError(ClipretError):
    """A media file could not be decoded (missing, empty, corrupt, not media, too slow)."""


class UnsupportedURL(ClipretError):
    """A URL that clipret refuses to fetch (not YouTube, a playlist, a trick host, …)."""


class DownloadError(ClipretError):
    """A video could not be downloaded (unavailable, too long, too large, no network)."""


class ModelUnavailable(ClipretError):
    """Model weights cannot be loaded (offline without a cache, missing package, …)."""


class IndexNotFound(ClipretError):
    """There is no index (collection or artifacts) to search: build one first."""


class ClipNotFound(ClipretError):
    """The clip id asked for is not in the index (a stale or hand-edited link)."""


class StoreUnavailable(ClipretError):
    """The Qdrant store cannot be reached or refused the credentials."""


class CorpusError(ClipretError):
    """A corpus folder or clips.jsonl is malformed."""


class ExtractionFailed(ClipretError):
    """The process extracting a clip's features crashed, hung past its limit or ran out of memory."""
