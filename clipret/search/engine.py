"""Similar-clip search: a query clip (from the collection, a file or a YouTube URL) or a description in
words → ranked results.

A collection clip is looked up, never extracted again; a file or URL goes decode → extract → embed
with the models of the index it searches; a description is embedded in the modality spaces it reaches
(clipret.search.text). Each result carries its cosine per modality, so the app can show why it matched.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from clipret.config import Settings
from clipret.errors import ClipNotFound, ClipretError
from clipret.search.spaces import MODALITIES, SPACES
from clipret.store.groups import ROLE_FIELD, HitGroup, collapse, group_of

Step = Callable[[str], None]  # reports a step of a slow query ("Downloading …") to whoever shows progress
_EPS = 1e-8


@dataclass
class QueryClip:
    """A clip embedded in every named vector of the index, ready to search with."""

    vectors: dict[str, np.ndarray]  # vector name ("fused", "raw", "pca", "audio", …) → (d,)
    title: str
    source: str  # "collection" | "file" | "url" | "text"
    clip_id: str = ""  # set when the clip is in the collection: it is left out of its own results
    payload: dict[str, Any] = field(default_factory=dict)
    matches: tuple = ()  # a description's TextMatch list: which words reached which modality

    @property
    def reached(self) -> tuple[str, ...]:
        """The modalities this query has a vector in (a description reaches only some)."""
        return tuple(m for m in self.modalities if _present(self.vectors[m]))

    @property
    def genre(self) -> str:
        return str(self.payload.get("genre", ""))

    @property
    def version_group(self) -> str:
        """The song of a collection clip (its version group); "" for a file, URL or description."""
        return group_of(self.payload, self.clip_id) if self.clip_id else ""

    @property
    def modalities(self) -> tuple[str, ...]:
        """The per-modality vector names this query has (present or not): audio, video, lyrics first."""
        names = [n for n in self.vectors if n not in SPACES]
        known = {m: i for i, m in enumerate(MODALITIES)}
        return tuple(sorted(names, key=lambda n: (known.get(n, len(known)), n)))


@dataclass(frozen=True)
class Version:
    """Another version of a result's song (a lyric video, a live cut, a re-upload) this query also found."""

    clip_id: str
    title: str
    score: float  # its own score for the query, as the result's: lower or equal


@dataclass(frozen=True)
class SearchResult:
    """One similar clip: its score in the searched space and its cosine per modality; with versions
    collapsed, the best-scoring clip of its song, the song's other versions found in `versions`."""

    clip_id: str
    title: str
    genre: str
    score: float  # cosine in the searched space, or the weighted modality combination
    modality_scores: dict[str, float | None]  # modality → cosine; None where the query or clip lacks it
    payload: dict[str, Any]
    versions: tuple[Version, ...] = ()  # the song's other versions for this query, best first


# -- the scoring math (pure numpy) --------------------------------------------------------------
def cosine_to_many(query: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """(d,), (n, d) → (n,) cosine similarities; NaN for a zero vector (a missing modality)."""
    query = np.asarray(query, dtype=np.float64).ravel()
    candidates = np.atleast_2d(np.asarray(candidates, dtype=np.float64))
    if candidates.shape[1] != query.shape[0]:
        raise ValueError(f"query has {query.shape[0]} dims but candidates have {candidates.shape[1]}")
    norms = np.linalg.norm(candidates, axis=1) * np.linalg.norm(query)
    with np.errstate(invalid="ignore", divide="ignore"):
        sims = candidates @ query / norms
    return np.where(norms > _EPS, sims, np.nan)


def modality_cosines(query: Mapping[str, np.ndarray], candidates: Mapping[str, np.ndarray],
                     modalities: Sequence[str]) -> dict[str, np.ndarray]:
    """Per modality, the cosine of each candidate (n, d_m) to the query (d_m,): {m: (n,)}, NaN = missing."""
    return {m: cosine_to_many(query[m], candidates[m]) for m in modalities}


def combine_modalities(cosines: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    """score = Σ_m w_m·cos_m / Σ_m w_m over the modalities the query has, a candidate's missing
    modality counting as cosine 0 (its standardised mean pulls nowhere). Dividing by Σ w keeps the
    score a cosine-like number in [-1, 1] and does not change the ranking."""
    n = len(next(iter(cosines.values()))) if cosines else 0
    total, weight_sum = np.zeros(n), 0.0
    for m, w in weights.items():
        sims = cosines.get(m)
        if w <= 0 or sims is None or np.all(np.isnan(sims)):  # weight off, or the query lacks m
            continue
        total += w * np.nan_to_num(sims, nan=0.0)
        weight_sum += w
    if weight_sum == 0:
        raise ClipretError("Every weighted modality is missing from the query clip (or all weights are 0): "
                           "give weight to a modality it has, or search one space instead.")
    return total / weight_sum


def rank(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best scores, best first; ties keep the input order."""
    return np.argsort(-np.asarray(scores), kind="stable")[:k]


# -- the engine ------------------------------------------------------------------------------------
class SearchEngine:
    """Searches one serving collection; the models that embed new clips load on the first file/URL."""

    def __init__(self, settings: Settings, store=None, collection: str | None = None):
        from clipret.store import ClipStore

        self.settings = settings
        self.store = store if store is not None else ClipStore(settings, replica=True)  # never waits for a writer
        self.collection = collection or self.store.resolve(settings.collection)  # IndexNotFound when none
        self._index = None
        self._index_lock = threading.Lock()  # one load, whichever session (or the warm-up) asks first
        self._manifest: dict[str, Any] | None = None

    @property
    def index(self):
        """The LoadedIndex (profile, fusion, autoencoder, PCA) of this collection, loaded once."""
        with self._index_lock:
            if self._index is None:
                from clipret.embedding.artifacts import LoadedIndex

                self._index = LoadedIndex.load(self.settings, self.collection, store=self.store)
        return self._index

    @property
    def manifest(self) -> dict[str, Any]:
        """The collection's manifest.json (profile, counts, evaluation), without loading any model."""
        if self._manifest is None:
            from clipret.embedding.artifacts import read_manifest

            self._manifest = read_manifest(self.settings, self.collection)
        return self._manifest

    # -- the query workers ---------------------------------------------------------------------
    def warm_up(self, wait: bool = False) -> None:
        """Get the first query by a file or URL ready before it comes: start the query workers for this
        index's profile (they load its models below this process's CPU priority), and in a background
        thread load the index's encoders and the store's vectors here. `wait` blocks until all is warm.
        Nothing to do when the manifest names no usable profile."""
        from clipret.features.profiles import get_profile
        from clipret.runtime.query_pool import shared_pool

        try:
            profile = get_profile(self.manifest["profile"])
        except (ClipretError, KeyError):
            return  # no usable index: its page says so, and nothing is worth warming
        pool = shared_pool()
        pool.prestart(profile.name, profile.decode_options)
        here = threading.Thread(target=self._warm_here, name="engine-warm-up", daemon=True)
        here.start()
        if wait:
            here.join()
            pool.wait_warm()

    def _warm_here(self) -> None:
        """This process's part of a first query: the encoders (torch's import, a second or more) and a
        first search of each space (the embedded store reads its vectors then)."""
        try:
            _ = self.index
            for name, dim in self.store.vector_sizes(self.collection).items():
                self.store.search(self.collection, name, np.ones(dim, np.float32), 1)
        except ClipretError:  # the first real query meets the same problem and says it
            pass

    @staticmethod
    def workers_status() -> tuple[int, int]:
        """(query workers warm, query workers started) of this process."""
        from clipret.runtime.query_pool import shared_pool

        return shared_pool().status()

    # -- queries ---------------------------------------------------------------------------------
    def query_from_clip(self, clip_id: str) -> QueryClip:
        return _query_from_hit(self._clip(clip_id, with_vectors=True))

    def _clip(self, clip_id: str, with_vectors: bool):
        hit = self.store.get_clip(self.collection, clip_id, with_vectors=with_vectors)
        if hit is None:
            raise ClipNotFound(f"No clip '{clip_id}' in the index '{self.settings.collection}': "
                               "pick one from the list (the link may come from an older index).")
        return hit

    def query_from_file(self, path: str | Path, lyrics: str = "", title: str = "",
                        on_step: Step | None = None, source: str = "file") -> QueryClip:
        """Decode → extract (the index's profile) → embed; MediaError for an unreadable file."""
        step = on_step or (lambda _: None)
        step("Loading the index's models")
        index = self.index
        step(f"Decoding and extracting features ({index.profile.name} profile)")
        features, _ = index.extract_file(path, lyrics)
        step("Embedding into the index's spaces")
        vectors = {name: np.asarray(v[0], dtype=np.float32) for name, v in index.embed([features]).items()}
        return QueryClip(vectors=vectors, title=title or Path(path).name, source=source)

    def query_from_url(self, url: str, on_step: Step | None = None) -> QueryClip:
        """A YouTube URL: looked up when its video is in the collection, else downloaded and embedded."""
        from clipret.sources.urls import validate_youtube_url, youtube_id

        step = on_step or (lambda _: None)
        step("Checking the URL")
        url = validate_youtube_url(url)  # UnsupportedURL before anything is fetched
        video_id = youtube_id(url)
        if video_id:
            hit = self.store.find_by_youtube_id(self.collection, video_id, with_vectors=True)
            if hit is not None:
                step("Already in the collection: using its stored vectors")
                return _query_from_hit(hit)
        from clipret.sources.youtube import download_video

        with tempfile.TemporaryDirectory(prefix="clipret-query-") as tmp:
            step("Downloading the video")
            video = download_video(url, tmp)
            info = video.info
            query = self.query_from_file(video.path, lyrics=video.lyrics, title=info.get("title") or url,
                                         on_step=step, source="url")
        query.payload = {"source_url": url, "youtube_id": video_id or "", "title": query.title,
                         "thumbnail_url": info.get("thumbnail") or ""}
        return query

    def query_from_text(self, text: str) -> QueryClip:
        """A description in words, embedded in the modality spaces it reaches (clipret.search.text);
        InvalidDescription when empty or too long, ClipretError when it reaches none."""
        from clipret.runtime.query_pool import embed_text
        from clipret.search.text import clean_description, text_query_vectors

        text = clean_description(text)
        vectors, matches = text_query_vectors(self.index, text, embed_text)
        query = QueryClip(vectors=vectors, title=text, source="text", matches=tuple(matches))
        if not query.reached:
            raise ClipretError("These words match nothing this index can search by (it has no lyrics, and no "
                               "picture or sound it can name is close to them): describe what is seen or "
                               "heard, e.g. 'fast drums and a grand piano'.")
        return query

    # -- searching -------------------------------------------------------------------------------
    def search(self, query: QueryClip, k: int = 10, genres: Sequence[str] | None = None,
               space: str = "fused", weights: Mapping[str, float] | None = None, collapse_versions: bool = True,
               include_own_versions: bool | None = None) -> list[SearchResult]:
        """The k clips most similar to `query`: by cosine in `space`, or — with `weights` — by the
        weighted per-modality cosine over the candidates each weighted modality's vector finds.

        `collapse_versions`: k different songs, each the best clip of its version group, with the song's
        other versions this query found in `versions`. The query's own song (its other versions) is left
        out unless `include_own_versions`, which by default is on exactly when versions are not collapsed:
        `collapse_versions=False` alone searches every clip but the query, as before versions existed."""
        own_versions = not collapse_versions if include_own_versions is None else include_own_versions
        scope = _Scope(genres=list(genres) if genres else None,
                       exclude_clip_ids=(query.clip_id,) if query.clip_id else (),
                       exclude_groups=(query.version_group,) if query.version_group and not own_versions else (),
                       collapse=collapse_versions)
        modalities = query.modalities
        if space not in query.vectors and not (weights and any(w > 0 for w in weights.values())):
            weights = {m: 1.0 for m in query.reached}  # a description has no fused vector: its modalities rank
        if weights and any(w > 0 for w in weights.values()):
            return self._search_weighted(query, k, scope, dict(weights))
        if space not in SPACES:
            raise ClipretError(f"Unknown space '{space}': choose one of {', '.join(SPACES)}.")
        groups = self._nearest(space, query.vectors[space], k, scope, list(modalities))
        if not groups:
            return []
        cosines = _hit_cosines(query, [g.best for g in groups], modalities)
        return [_result(g.best, g.best.score, {m: cosines[m][i] for m in modalities}, g.versions)
                for i, g in enumerate(groups)]

    def _search_weighted(self, query: QueryClip, k: int, scope: _Scope, weights) -> list[SearchResult]:
        modalities = query.modalities
        unknown = sorted(set(weights) - set(modalities))
        if unknown:
            raise ClipretError(f"This index has no modality {', '.join(unknown)}: "
                               f"weights apply to {', '.join(modalities)}.")
        n_candidates = max(4 * k, 40)  # enough that the weighted top-k is, in practice, the exact one
        candidates: dict[str, Any] = {}
        for m, w in weights.items():
            if w > 0 and _present(query.vectors[m]):
                for group in self._nearest(m, query.vectors[m], n_candidates, scope, list(modalities)):
                    for h in group.hits:  # a song's versions too: they are ranked by the weights as well
                        candidates.setdefault(h.clip_id, h)
        hits = list(candidates.values())
        if not hits:
            return []
        cosines = _hit_cosines(query, hits, modalities)
        weighted = [m for m, w in weights.items() if w > 0 and _present(query.vectors[m])]
        has_one = ~np.all(np.isnan(np.stack([cosines[m] for m in weighted])), axis=0)  # e.g. lyrics at all
        hits = [h for h, keep in zip(hits, has_one, strict=True) if keep]
        cosines = {m: c[has_one] for m, c in cosines.items()}
        if not hits:
            return []
        scores = combine_modalities(cosines, weights)
        row = {h.clip_id: i for i, h in enumerate(hits)}
        ranked = [replace(hits[i], score=float(scores[i])) for i in rank(scores, len(hits))]
        groups = collapse(ranked, k) if scope.collapse else [HitGroup(h.clip_id, [h]) for h in ranked[:k]]
        return [_result(g.best, g.best.score, {m: cosines[m][row[g.best.clip_id]] for m in modalities}, g.versions)
                for g in groups]

    def _nearest(self, vector_name: str, vector: np.ndarray, k: int, scope: _Scope,
                 with_vectors: list[str]) -> list[HitGroup]:
        """The k nearest songs in one named space (collapsing), else the k nearest clips, a group each."""
        options = dict(genres=scope.genres, exclude_clip_ids=scope.exclude_clip_ids,
                       exclude_groups=scope.exclude_groups, with_vectors=with_vectors)
        if scope.collapse:
            return self.store.search_groups(self.collection, vector_name, vector, k, **options)
        return [HitGroup(h.clip_id, [h]) for h in self.store.search(self.collection, vector_name, vector, k, **options)]

    def search_by_clip(self, clip_id: str, k: int = 10, genres=None, space: str = "fused",
                       weights=None, collapse_versions: bool = True) -> list[SearchResult]:
        return self.search(self.query_from_clip(clip_id), k, genres, space, weights, collapse_versions)

    def search_by_file(self, path, k: int = 10, genres=None, space: str = "fused", weights=None,
                       lyrics: str = "", on_step: Step | None = None, collapse_versions: bool = True
                       ) -> list[SearchResult]:
        return self.search(self.query_from_file(path, lyrics, on_step=on_step), k, genres, space, weights,
                           collapse_versions)

    def search_by_url(self, url: str, k: int = 10, genres=None, space: str = "fused", weights=None,
                      on_step: Step | None = None, collapse_versions: bool = True) -> list[SearchResult]:
        return self.search(self.query_from_url(url, on_step=on_step), k, genres, space, weights, collapse_versions)

    def search_by_text(self, text: str, k: int = 10, genres=None, weights=None,
                       collapse_versions: bool = True) -> list[SearchResult]:
        """The k clips that best match a description: by the modalities it reaches, equally weighted
        unless `weights` says otherwise."""
        return self.search(self.query_from_text(text), k, genres, weights=weights,
                           collapse_versions=collapse_versions)

    # -- what the pages list ---------------------------------------------------------------------
    def clips(self) -> list[dict[str, Any]]:
        """Every clip's payload, in clip-id order."""
        return self.store.all_payloads(self.collection)

    def versions_of(self, clip_id: str) -> list[dict[str, Any]]:
        """The payloads of the other versions of a collection clip's song: its representative first, then
        by title; [] when it has none (always, in an index built before versions were detected)."""
        hit = self._clip(clip_id, with_vectors=False)
        members = self.store.clips_in_group(self.collection, group_of(hit.payload, clip_id))
        others = [h.payload for h in members if h.clip_id != clip_id]
        return sorted(others, key=lambda p: (p.get(ROLE_FIELD) != "representative",
                                             str(p.get("title", "")).lower(), str(p.get("clip_id", ""))))


@dataclass(frozen=True)
class _Scope:
    """Which clips one search may return, and whether a song's versions make one result."""

    genres: list[str] | None  # keep these genres only; None = all
    exclude_clip_ids: tuple[str, ...]  # the query itself
    exclude_groups: tuple[str, ...]  # the query's own song
    collapse: bool  # one result per version group


def _present(vector: np.ndarray) -> bool:
    return bool(np.linalg.norm(vector) > _EPS)


def _query_from_hit(hit) -> QueryClip:
    return QueryClip(vectors=dict(hit.vectors or {}), title=str(hit.payload.get("title", hit.clip_id)),
                     source="collection", clip_id=hit.clip_id, payload=dict(hit.payload))


def _hit_cosines(query: QueryClip, hits, modalities) -> dict[str, np.ndarray]:
    """{m: (n,)} cosine of each hit's modality vector to the query's (NaN where either lacks m)."""
    stacked = {m: np.stack([_vector(h, m, query.vectors[m].shape[0]) for h in hits]) for m in modalities}
    return modality_cosines(query.vectors, stacked, modalities)


def _vector(hit, name: str, dim: int) -> np.ndarray:
    vectors = hit.vectors or {}
    return np.asarray(vectors[name], dtype=np.float32) if name in vectors else np.zeros(dim, np.float32)


def _result(hit, score: float, cosines: Mapping[str, float], versions: Sequence = ()) -> SearchResult:
    breakdown = {m: (None if np.isnan(c) else float(c)) for m, c in cosines.items()}
    return SearchResult(clip_id=hit.clip_id, title=_title(hit), genre=str(hit.payload.get("genre", "")),
                        score=float(score), modality_scores=breakdown, payload=dict(hit.payload),
                        versions=tuple(Version(v.clip_id, _title(v), float(v.score)) for v in versions))


def _title(hit) -> str:
    return str(hit.payload.get("title", hit.clip_id))
