"""Search results and a description's matches as text and JSON (the CLI's output; the app reuses the lines)."""

from __future__ import annotations

import math
from typing import Any


def format_match(match) -> str:
    """ "“piano” → video: grand piano (0.81)", "“calm” → audio: calm, i.e. low spectral_flux_mean (1.00)"."""
    if match.similarity is None:
        return f"“{match.part}” → lyrics (the lyrics model, on the whole description)"
    steers = f", i.e. {'high' if match.sign > 0 else 'low'} {match.measure}" if match.measure else ""
    return f"“{match.part}” → {match.modality}: {match.phrase}{steers} ({match.similarity:.2f})"


def format_matches(matches) -> list[str]:
    return [format_match(m) for m in matches]


def format_results(results) -> str:
    """A table: rank, score, genre, title (with "+N versions" where other versions of the song were
    found), then the cosine per modality ("—" where a side lacks it)."""
    modalities = list(results[0].modality_scores) if results else []
    header = f"{'#':>3} {'score':>6}  {'genre':14s} {'title':40s} " + " ".join(f"{m:>7s}" for m in modalities)
    lines = [header]
    for i, r in enumerate(results, 1):
        cosines = " ".join(f"{_cell(r.modality_scores.get(m)):>7s}" for m in modalities)
        lines.append(f"{i:>3} {r.score:6.3f}  {r.genre[:14]:14s} {title_cell(r, 40):40s} {cosines}")
    return "\n".join(lines)


def versions_label(n: int) -> str:
    """ "+1 version", "+3 versions": the other versions of a result's song."""
    return f"+{n} version{'' if n == 1 else 's'}"


def title_cell(result, width: int) -> str:
    """The title cut to `width`, the versions label kept whole after it."""
    if not result.versions:
        return result.title[:width]
    label = " " + versions_label(len(result.versions))
    return result.title[:max(width - len(label), 1)] + label


def results_json(query, results) -> dict[str, Any]:
    return {"query": {"title": query.title, "source": query.source, "clip_id": query.clip_id,
                      "matches": [{"part": m.part, "modality": m.modality, "name": m.phrase,
                                   "similarity": m.similarity, "sign": m.sign} for m in query.matches]},
            "results": [{"clip_id": r.clip_id, "title": r.title, "genre": r.genre, "score": r.score,
                         "modality_scores": r.modality_scores,
                         "versions": [{"clip_id": v.clip_id, "title": v.title, "score": v.score}
                                      for v in r.versions]} for r in results]}


def _cell(value: float | None) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"
