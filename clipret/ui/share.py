"""Page state ↔ URL query parameters, so that a copied link reopens the same view."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from urllib.parse import urlencode

from clipret.search.spaces import SPACES, parse_weights
from clipret.search.text import MAX_CHARS

MAPS = ("umap", "tsne", "pca", "raw_pca", "pca_pca")  # payload keys map_<name> (the first three: fused)
COLOURS = ("genre", "cluster")
K_MIN, K_MAX = 1, 50

# Page url paths as app.py registers them; the search is the home page ("").
PAGE_PATHS = {"search": "", "map": "map", "baselines": "baselines", "index": "index"}

Params = Mapping[str, "str | Sequence[str]"]  # st.query_params.to_dict(), AppTest.query_params, parse_qs


@dataclass(frozen=True)
class SearchState:
    """The search page: what is queried and how; a link with these parameters reruns the search."""

    clip: str = ""  # clip id of a collection clip used as the query
    url: str = ""  # a YouTube URL used as the query (when clip is empty)
    q: str = ""  # a description in words used as the query (when clip and url are empty)
    k: int = 10  # how many results, K_MIN..K_MAX
    genres: tuple[str, ...] = ()  # keep results of these genres only; () = all genres
    space: str = "fused"  # fused | raw | pca; ignored when weights are set
    weights: tuple[tuple[str, float], ...] = ()  # (modality, weight ≥ 0) pairs; () = search one space
    all_versions: bool = False  # every clip, a song's versions apart (link: versions=all); else one per song

    def to_params(self) -> dict[str, str]:
        params = _non_default_params(self)
        if self.weights:
            params.pop("space", None)  # weights replace the space: don't put both in a link
            params["weights"] = ",".join(f"{m}:{_number(w)}" for m, w in self.weights)
        if params.pop("all_versions", None):
            params["versions"] = "all"
        return params

    @classmethod
    def from_params(cls, params: Params) -> SearchState:
        get = _getter(params)
        clip = get("clip")
        url = "" if clip else get("url")
        return cls(clip=clip, url=url, q="" if clip or url else " ".join(get("q").split())[:MAX_CHARS],
                   k=_k(get("k"), cls.k),
                   genres=_names(get("genres")), space=_choice(get("space"), SPACES, cls.space),
                   weights=parse_weights(get("weights")), all_versions=get("versions") == "all")

    @property
    def weights_dict(self) -> dict[str, float]:
        return dict(self.weights)


@dataclass(frozen=True)
class MapState:
    """The latent-map page: which 2-D map, what colours the points, which genres are drawn."""

    map: str = "umap"  # one of MAPS
    color: str = "genre"  # genre | cluster
    genres: tuple[str, ...] = ()  # draw only these genres; () = all

    def to_params(self) -> dict[str, str]:
        return _non_default_params(self)

    @classmethod
    def from_params(cls, params: Params) -> MapState:
        get = _getter(params)
        return cls(map=_choice(get("map"), MAPS, cls.map), color=_choice(get("color"), COLOURS, cls.color),
                   genres=_names(get("genres")))


@dataclass(frozen=True)
class BaselinesState:
    """The baselines page: one collection clip queried in every space, k results each."""

    clip: str = ""
    k: int = 10

    def to_params(self) -> dict[str, str]:
        return _non_default_params(self)

    @classmethod
    def from_params(cls, params: Params) -> BaselinesState:
        get = _getter(params)
        return cls(clip=get("clip"), k=_k(get("k"), cls.k))


def share_link(base_url: str | None, page: str, params: Mapping[str, str]) -> str:
    """The absolute (or, without a base, root-relative) link to `page` ("search", "map", …) with `params`."""
    path = "/" + PAGE_PATHS[page]
    query = ("?" + urlencode(params, safe=":,")) if params else ""
    base = (base_url or "").rstrip("/")
    return f"{base}{path}{query}"


def base_from_page_url(page_url: str | None) -> str:
    """scheme://host[:port] of the URL the browser shows (st.context.url), "" when unknown."""
    match = re.match(r"^(https?://[^/?#]+)", page_url or "")
    return match.group(1) if match else ""


# -- parsing helpers: a hand-edited link must never crash a page, so bad values fall back to defaults --
def _getter(params: Params):
    def get(name: str) -> str:
        value = params.get(name, "")
        if not isinstance(value, str):  # a repeated parameter: the last one wins, as in st.query_params
            value = value[-1] if len(value) else ""
        return value.strip()

    return get


def _k(text: str, default: int) -> int:
    try:
        return min(max(int(text), K_MIN), K_MAX)
    except ValueError:
        return default


def _choice(text: str, allowed: Sequence[str], default: str) -> str:
    return text if text in allowed else default


def _names(text: str) -> tuple[str, ...]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    return tuple(dict.fromkeys(names))  # drop repeats, keep order


def _number(x: float) -> str:
    return f"{x:g}"


def _non_default_params(state) -> dict[str, str]:
    """Each field that differs from its default, as text; tuples joined by commas."""
    params = {}
    for f in fields(state):
        value = getattr(state, f.name)
        if value == f.default or f.name == "weights":
            continue
        params[f.name] = ",".join(value) if isinstance(value, tuple) else str(value)
    return params
