"""Original lyric text, titles and artist names from themed word pools that several genres share."""

from __future__ import annotations

import numpy as np

POOLS: dict[str, dict[str, tuple[str, ...]]] = {  # every pool is used by two or more genres
    "love": dict(n=("heart", "kiss", "arms", "eyes", "darling", "promise", "flame", "hand", "smile"),
                 v=("hold", "need", "call", "miss", "want", "touch", "keep"),
                 a=("sweet", "tender", "golden", "true")),
    "sorrow": dict(n=("tears", "rain", "grave", "letter", "bottle", "ashes", "empty room", "old song"),
                   v=("cry", "lose", "wait", "drown", "forget", "bleed"),
                   a=("lonesome", "blue", "broken", "weary")),
    "night": dict(n=("moon", "neon", "midnight", "city lights", "shadows", "stars", "streetlamp"),
                  v=("dance", "glow", "wander", "drive", "burn"),
                  a=("electric", "silver", "late", "velvet")),
    "road": dict(n=("highway", "train", "dust", "town", "river", "porch", "truck", "county line"),
                 v=("ride", "roll", "leave", "run", "come home"),
                 a=("long", "dusty", "southern", "restless")),
    "nature": dict(n=("pines", "mountain", "field", "sparrow", "winter", "harvest", "creek", "thunder"),
                   v=("grow", "fall", "bloom", "follow", "breathe"),
                   a=("wild", "quiet", "green", "frozen")),
    "dark": dict(n=("void", "storm", "serpent", "throne", "blood", "ruin", "abyss", "chains"),
                 v=("rise", "devour", "crush", "summon", "shatter"),
                 a=("black", "cold", "endless", "cursed")),
    "rage": dict(n=("fire", "noise", "fist", "system", "walls", "riot", "scream", "machine"),
                 v=("smash", "fight", "break", "shout", "tear down"),
                 a=("loud", "angry", "wasted", "raw")),
    "street": dict(n=("block", "corner", "ends", "hood", "gang", "estate", "bando", "crew"),
                   v=("slide", "step", "move", "pull up", "hustle"),
                   a=("cold", "real", "mad", "hard")),
    "money": dict(n=("cash", "chain", "bag", "racks", "whip", "drip", "bands", "deal"),
                  v=("stack", "flip", "spend", "count", "get"),
                  a=("rich", "iced", "fresh", "heavy")),
    "party": dict(n=("weekend", "crowd", "floor", "speakers", "summer", "lights", "radio"),
                  v=("jump", "shake", "turn up", "sing", "party"),
                  a=("crazy", "bright", "wild", "young")),
    "faith": dict(n=("heaven", "prayer", "angel", "sinner", "glory", "church", "soul"),
                  v=("pray", "believe", "save", "shine", "carry"),
                  a=("holy", "blessed", "fallen", "free")),
}
TEMPLATES: dict[str, tuple[str, ...]] = {
    "ballad": ("I {v} your {n} like a {a} {n2}", "oh the {n} is {a} tonight", "don't {v} me now, my {a} {n}",
               "we were {a} and the {n} was {n2}", "every {n} I {v} comes back to you",
               "down by the {n}, I {v} alone", "tell me why the {n} feels so {a}"),
    "anthem": ("hey! {v} the {n}!", "we are the {a} {n}", "{v} it up, {v} it down",
               "no more {n}, no more {n2}", "all the {a} kids {v} tonight", "{a} {n}, {a} {n2}, {v}!",
               "we gonna {v} the {n} again"),
    "rap": ("{v} through the {n} with the {a} {n2}", "yeah, {a} {n}, I {v} that", "man I {v}, {v}, no {n}",
            "from the {n} to the {n2}, we {v}", "they know the {n} {a}, they know",
            "{a} {n} on me, {v} with the crew", "ten toes in the {n}, {a} and I {v}"),
    "dark": ("from the {a} {n} we {v}", "{n} and {n2} forever {a}", "I {v} beneath the {a} {n}",
             "the {n} will {v} the {n2}", "{a}, {a}, the {n} remains"),
}
FIRST = ("Ada", "Ben", "Cleo", "Dev", "Edie", "Finn", "Gus", "Hal", "Iris", "Jude", "Kai", "Lou", "Mae",
         "Nico", "Otis", "Pearl", "Quinn", "Ray", "Sal", "Tess", "Uma", "Vic", "Wren", "Zed")
LAST = ("Ashby", "Brook", "Carver", "Dale", "Ellis", "Fenn", "Graves", "Hollis", "Ives", "Jett", "Kane",
        "Lowe", "Marsh", "Nolan", "Orr", "Pike", "Reed", "Stone", "Tate", "Vance", "Wilde", "York")
BAND = ("{The} {A} {N}s", "{F} & the {N}s", "{F} {L}", "{L}", "{A} {N}", "Lil {F}", "{F} {L} Band", "DJ {L}",
        "{N} Club", "MC {F}")


def _words(themes: list[str], rng) -> dict[str, list[str]]:
    return {pos: [w for t in themes for w in POOLS[t][pos]] for pos in ("n", "v", "a")}


def _fill(template: str, words: dict[str, list[str]], rng) -> str:
    pick = {k: str(rng.choice(words[k[0]])) for k in ("n", "n2", "v", "a")}
    return template.format(**pick)


def write_lyrics(themes: tuple[str, ...], line_styles: tuple[str, ...], rng: np.random.Generator) -> str:
    """A verse and a repeated chorus, lines joined by newlines."""
    chosen = [str(t) for t in rng.choice(themes, size=3)]
    words = _words(chosen, rng)
    style = TEMPLATES[str(rng.choice(line_styles))]
    verse = [_fill(str(rng.choice(style)), words, rng) for _ in range(int(rng.integers(2, 7)))]
    chorus = [_fill(str(rng.choice(style)), words, rng) for _ in range(int(rng.integers(1, 3)))]
    lines = verse + chorus * int(rng.integers(1, 3))
    return "\n".join(line[0].upper() + line[1:] for line in lines)


def make_title(themes: tuple[str, ...], rng: np.random.Generator) -> str:
    words = _words([str(t) for t in rng.choice(themes, size=2)], rng)
    n, n2 = (str(w) for w in rng.choice(sorted(set(words["n"])), size=2, replace=False))
    a = str(rng.choice(words["a"]))
    forms = (f"{a} {n}", f"{n} of {n2}", f"The {n}", f"{a} {n} ({n2})", f"{n} & {n2}", f"{a}")
    return str(rng.choice(forms)).title()


def make_artist(themes: tuple[str, ...], rng: np.random.Generator) -> str:
    words = _words([str(t) for t in themes], rng)
    fill = dict(The=str(rng.choice(["The", "The", ""])), A=str(rng.choice(words["a"])).title(),
                N=str(rng.choice(words["n"])).split()[-1].title(), F=str(rng.choice(FIRST)),
                L=str(rng.choice(LAST)))
    return str(rng.choice(BAND)).format(**fill).strip()
