"""Search by words: a description → query vectors in an index's modality spaces.

Lyrics: the description is embedded with the index's own lyrics model and searched against the clips'
lyrics. Picture and sound: no package ships a model that puts words and pictures (or sounds) in one
space, so the words are bridged through what the profile's columns are named for: the video network's
class names ("grand piano", "stage") and plain descriptions of the columns that have a meaning ("fast
tempo", "fast cuts"). Each part of the description is matched (MiniLM cosine) to those names; a matched
name asks for clips high (or low) on its column, in the standardised space the clips are stored in.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from clipret.errors import ClipretError

MAX_CHARS = 300  # a description longer than this is refused (it is untrusted input, embedded per query)
MAX_PARTS = 24  # the description and its phrases and words matched to the names, at most
MIN_SIMILARITY = 0.55  # MiniLM cosine a part needs to a name for that name to count ...
NEAR_BEST = 0.8  # ... and at least this share of that part's best cosine (single words sit close to
# many names: "drums" is 0.87 from "drum" but still 0.53 from "flute")
NAMES_PER_BLOCK = 4  # the best-matching names kept per block: a few clear asks, not a blur of weak ones
LANGUAGES = "English"  # all-MiniLM-L6-v2 was trained on English text; other languages match weakly
# words that name nothing on their own: never matched alone (they stay in the phrases they are part of)
_STOPWORDS = frozenset("""a an the and or but with without about of in on at to for from by as is are was be
it its this that these those some any very really so song songs music video videos clip clips track like
one two me my i you your we our they their he she his her him them who where when what which how""".split())
_NEGATED = re.compile(r"\b(no|not|without|never|non)\s+([^\W\d_][\w'-]*)", re.I)  # never matched alone
_SPLIT = re.compile(r"[,;.!?/()\[\]\"]+|\s+(?:and|with|about|but|or|while|then|over|under)\s+", re.I)


class InvalidDescription(ClipretError):
    """A description that cannot be searched (empty, too long): the message says what to change."""


@dataclass(frozen=True)
class NamedColumn:
    """A name a description can match: one column of one block of the profile."""

    block: str  # the profile's block ("video", "audio", "dynamics")
    modality: str  # the block's modality, the vector the name steers
    phrase: str  # "grand piano", "fast tempo, a quick beat"
    column: int  # the column within the block
    sign: float  # +1: clips high on the column; -1: clips low on it
    measure: str = ""  # the column's name when the phrase describes a measurement; "" for a class name


@dataclass(frozen=True)
class TextMatch:
    """Which part of the description matched which name, and how closely (MiniLM cosine)."""

    part: str
    modality: str
    phrase: str  # the name it matched; "lyrics" for the lyrics model's part (the whole description)
    similarity: float | None  # None for the lyrics part: its cosine is per clip, in the results
    sign: float
    measure: str = ""  # the measured column it steers ("bpm"), "" for a class name or the lyrics


def clean_description(text: str) -> str:
    """`text` with control characters removed and whitespace collapsed; InvalidDescription when there is
    nothing to search or more than MAX_CHARS characters."""
    text = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in str(text or ""))
    text = " ".join(text.split())
    if not text:
        raise InvalidDescription("Type a few words to search by: what the song is about, how it sounds or "
                                 "what its video shows.")
    if len(text) > MAX_CHARS:
        raise InvalidDescription(f"A description is at most {MAX_CHARS} characters and this one has "
                                 f"{len(text)}: shorten it to what matters most.")
    return text


def description_parts(text: str) -> list[str]:
    """The parts matched to the names: the whole description, its phrases (split at punctuation and at
    words like "and", "with", "about"), its negations ("without drums"), then its content words (a
    negated word never alone: "drums" would ask for drums); each once, at most MAX_PARTS."""
    phrases = [p.strip() for p in _SPLIT.split(text) if p and p.strip()]
    negated = [m.group(0) for p in phrases for m in _NEGATED.finditer(p)]  # "without drums" stays whole
    unwanted = {m.group(2).lower() for p in phrases for m in _NEGATED.finditer(p)}
    words = [w for p in phrases for w in re.findall(r"[^\W\d_][\w'-]*", p)
             if len(w) > 2 and w.lower() not in _STOPWORDS and w.lower() not in unwanted]
    unique = dict.fromkeys(x.lower() for x in [text, *phrases, *negated, *words])
    return list(unique)[:MAX_PARTS]


def named_columns(profile) -> tuple[NamedColumn, ...]:
    """Every name the profile's extractors give their columns, in block order."""
    from clipret.features.profiles import layout
    from clipret.features.registry import EXTRACTORS

    names = []
    for block, extractor in layout(profile.name):
        cls = EXTRACTORS[extractor]
        names += [NamedColumn(block, cls.modality, c.phrase, c.column, c.sign, c.measure) for c in cls.concepts()]
    return tuple(names)


def match_names(parts: list[str], similarities: np.ndarray, names: tuple[NamedColumn, ...]) -> list[TextMatch]:
    """similarities (n_parts, n_names) → the names the description asks for: per name its best part;
    kept when that cosine is at least MIN_SIMILARITY and NEAR_BEST of the part's best match,
    NAMES_PER_BLOCK per block at most, and one sign per
    column (the closer one: "slow" and "fast" cannot both steer the tempo). Best first."""
    similarities = np.asarray(similarities, dtype=np.float64)
    if similarities.shape != (len(parts), len(names)):
        raise ValueError(f"similarities must be ({len(parts)}, {len(names)}), got {similarities.shape}")
    if not names:
        return []
    best_part = similarities.argmax(axis=0)  # (n_names,)
    best = similarities[best_part, np.arange(len(names))]
    best[best < NEAR_BEST * similarities.max(axis=1)[best_part]] = -1.0  # far from what its part meant
    kept: dict[tuple[str, int], int] = {}  # (block, column) → name index
    per_block: dict[str, int] = {}
    for i in np.argsort(-best, kind="stable"):
        if best[i] < MIN_SIMILARITY:
            break
        name = names[i]
        if (name.block, name.column) in kept or per_block.get(name.block, 0) >= NAMES_PER_BLOCK:
            continue
        kept[(name.block, name.column)] = i
        per_block[name.block] = per_block.get(name.block, 0) + 1
    return [TextMatch(parts[best_part[i]], names[i].modality, names[i].phrase, float(best[i]), names[i].sign,
                      names[i].measure) for i in kept.values()]


def named_vectors(matches: list[TextMatch], names: tuple[NamedColumn, ...], fusion) -> dict[str, np.ndarray]:
    """{modality: (d_m,)} query vectors in the fused (standardised, weighted) layout: each matched name
    puts sign × similarity on its column, divided by its block's weight so that a column of a wide block
    counts as much as one of a narrow block. Zero where nothing matched (that modality is not searched)."""
    by_phrase = {(n.modality, n.phrase): n for n in names}
    fused = np.zeros(fusion.dim, np.float64)
    for match in matches:
        name = by_phrase[(match.modality, match.phrase)]
        column = fusion.block_slices_[name.block].start + name.column
        fused[column] += match.sign * match.similarity / fusion.block_weights_[name.block]
    return {m: v[0].astype(np.float32) for m, v in fusion.modality_vectors(fused[None, :]).items()}


def lyrics_vector(features: dict, fusion) -> np.ndarray | None:
    """The description's lyrics-model vector, standardised as the clips' lyrics are; None without one."""
    blocks = [b for b in fusion.blocks if b.modality == "lyrics"]
    if not blocks or all(features.get(b.name) is None for b in blocks):
        return None
    row = fusion.transform([{b.name: features.get(b.name) for b in blocks}])
    return fusion.modality_vectors(row)["lyrics"][0].astype(np.float32)


@dataclass(frozen=True)
class EmbeddedText:
    """What a query worker returns for a description: its lyrics-model blocks and its parts' cosines."""

    lyrics_features: dict  # {lyrics block: (dim,) | None}
    similarities: np.ndarray  # (n_parts, n_names) MiniLM cosine of each part to each name


def embed_description(text: str, parts: list[str], profile_name: str) -> EmbeddedText:
    """In the process that runs it (a query worker): the index's lyrics model on `text`, MiniLM on
    `parts` against the profile's names."""
    from clipret.features.profiles import extract_clip, get_profile

    profile = get_profile(profile_name)
    lyrics = extract_clip(None, text, profile, modalities=("lyrics",))
    names = name_embeddings(profile_name)  # (n_names, 384), unit rows
    similarities = sentence_vectors(tuple(parts)) @ names.T if len(names) else np.zeros((len(parts), 0))
    return EmbeddedText(lyrics_features=lyrics, similarities=similarities.astype(np.float32))


@functools.cache  # once per process and profile: about 1,400 short phrases
def name_embeddings(profile_name: str) -> np.ndarray:
    from clipret.features.profiles import get_profile

    phrases = tuple(n.phrase for n in named_columns(get_profile(profile_name)))
    return sentence_vectors(phrases) if phrases else np.zeros((0, 384), np.float32)


def sentence_vectors(texts: tuple[str, ...]) -> np.ndarray:
    """(n, 384) unit MiniLM vectors: the model that ships in a package, whatever the index's lyrics model."""
    from clipret.features.lyrics import MiniLM

    return np.stack(MiniLM(batch_size=128).extract_batch(list(texts)))


def text_query_vectors(index, text: str, embed: Callable[[str, list[str], str], EmbeddedText]
                       ) -> tuple[dict[str, np.ndarray], list[TextMatch]]:
    """({modality: (d_m,)}, matches) of a description for `index` (a LoadedIndex); `embed` runs
    embed_description (in a query worker)."""
    text = clean_description(text)
    parts = description_parts(text)
    names = named_columns(index.profile)
    embedded = embed(text, parts, index.profile.name)
    searchable = np.array([index.fusion.n_present_.get(n.block, 0) > 0 for n in names], bool)
    names_here = tuple(n for n, ok in zip(names, searchable, strict=True) if ok)  # blocks the clips have
    matches = match_names(parts, embedded.similarities[:, searchable], names_here)
    vectors = named_vectors(matches, names, index.fusion)
    lyrics = lyrics_vector(embedded.lyrics_features, index.fusion)
    if lyrics is not None and index.fusion.n_present_.get(_lyrics_block(index.fusion), 0):
        vectors["lyrics"] = lyrics
        matches = [TextMatch(text, "lyrics", "lyrics", None, 1.0), *matches]
    return vectors, matches


def _lyrics_block(fusion) -> str:
    return next((b.name for b in fusion.blocks if b.modality == "lyrics"), "")
