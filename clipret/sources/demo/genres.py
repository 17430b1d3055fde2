"""The per-genre style table: loose, overlapping ranges that the music, visuals and lyrics draw from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GenreStyle:
    """How one genre tends to sound, look and read; every clip draws its own values from these ranges.

    Tuples of names are drawn uniformly, so a name listed twice is twice as likely.
    """

    tempo: tuple[float, float]  # beats per minute
    swing: tuple[float, float]  # 0 = straight, 1 = full triplet feel (applied per groove)
    grooves: tuple[str, ...]  # drum patterns (music.GROOVES)
    progressions: tuple[str, ...]  # roman-numeral chord loops, one chord a bar
    comping: tuple[str, ...]  # how the chords are played (music.COMPING)
    chord_timbres: tuple[str, ...]  # synth.TIMBRES
    lead_timbres: tuple[str, ...]  # "" = no lead line
    bass_lines: tuple[str, ...]  # music.BASS_LINES
    bass_timbres: tuple[str, ...]
    drive: tuple[float, float]  # guitar distortion gain (1 = clean)
    hues: tuple[float, ...]  # palette hue centres in [0, 1)
    saturation: tuple[float, float]
    brightness: tuple[float, float]  # mean value of the palette, 0..1
    motion: tuple[float, float]  # camera pan speed, pixels per frame
    cuts_per_10s: tuple[float, float]
    shapes: tuple[str, ...]  # visuals.SHAPES
    strobe: float  # chance of beat flashes in a clip
    themes: tuple[str, ...]  # lyrics.POOLS
    line_styles: tuple[str, ...]  # lyrics.TEMPLATES


STYLES: dict[str, GenreStyle] = {
    "blues-jazz": GenreStyle(
        tempo=(62, 132), swing=(0.45, 0.9), grooves=("swing_ride", "swing_ride", "shuffle", "ballad"),
        progressions=("I7 I7 I7 I7 IV7 IV7 I7 I7 V7 IV7 I7 V7", "ii7 V7 Imaj7 vi7", "ii7 V7 Imaj7 Imaj7",
                      "I7 IV7 I7 V7", "i7 iv7 i7 V7"),
        comping=("comp", "comp", "sustain", "stabs"),
        chord_timbres=("piano", "organ", "clean_guitar", "piano"),
        lead_timbres=("brass", "brass", "clean_guitar", "organ", ""),
        bass_lines=("walking", "walking", "root_fifth"), bass_timbres=("upright", "upright", "electric"),
        drive=(1.0, 1.6), hues=(0.6, 0.08, 0.75, 0.55), saturation=(0.25, 0.7), brightness=(0.2, 0.55),
        motion=(0.2, 1.5), cuts_per_10s=(0.5, 4), shapes=("bokeh", "bokeh", "waves", "bars"), strobe=0.05,
        themes=("sorrow", "sorrow", "love", "night", "road", "dark"),
        line_styles=("ballad", "ballad", "dark"),
    ),
    "soul": GenreStyle(
        tempo=(66, 118), swing=(0.1, 0.55), grooves=("backbeat", "motown", "boom_bap", "ballad"),
        progressions=("ii7 V7 Imaj7 vi7", "Imaj7 vi7 ii7 V7", "i7 iv7 i7 iv7", "I IV I V", "Imaj7 IVmaj7"),
        comping=("stabs", "sustain", "comp", "arp"),
        chord_timbres=("organ", "piano", "clean_guitar", "pad", "brass"),
        lead_timbres=("brass", "organ", "synth", "clean_guitar", ""),
        bass_lines=("groove", "groove", "walking", "follow_kick"),
        bass_timbres=("electric", "electric", "synth_bass"),
        drive=(1.0, 1.5), hues=(0.08, 0.85, 0.75, 0.12, 0.6), saturation=(0.35, 0.85), brightness=(0.3, 0.7),
        motion=(0.3, 2.0), cuts_per_10s=(1, 5), shapes=("bokeh", "waves", "bokeh", "rings"), strobe=0.1,
        themes=("love", "love", "night", "faith", "sorrow", "party"),
        line_styles=("ballad", "ballad", "anthem"),
    ),
    "country": GenreStyle(
        tempo=(84, 150), swing=(0.0, 0.4), grooves=("boom_chick", "train", "backbeat", "folk_light"),
        progressions=("I IV V I", "I I IV I V V I I", "I IV I V", "I V vi IV", "I IV V IV"),
        comping=("strum", "strum", "sustain", "arp"),
        chord_timbres=("acoustic", "acoustic", "clean_guitar", "piano"),
        lead_timbres=("fiddle", "clean_guitar", "fiddle", "organ", ""),
        bass_lines=("root_fifth", "root_fifth", "walking", "root8"), bass_timbres=("electric", "upright"),
        drive=(1.0, 1.8), hues=(0.1, 0.55, 0.07, 0.3), saturation=(0.3, 0.75), brightness=(0.5, 0.88),
        motion=(0.3, 2.0), cuts_per_10s=(1, 5), shapes=("horizon", "horizon", "bokeh", "bars"), strobe=0.0,
        themes=("road", "road", "love", "sorrow", "nature", "faith"),
        line_styles=("ballad", "ballad", "anthem"),
    ),
    "indie-folk": GenreStyle(
        tempo=(70, 138), swing=(0.0, 0.3),
        grooves=("folk_light", "folk_light", "boom_chick", "none", "half_time"),
        progressions=("I vi IV V", "I iii IV IV", "vi IV I V", "I IV vi V", "i bVII bVI bVII"),
        comping=("strum", "arp", "arp", "sustain"),
        chord_timbres=("acoustic", "acoustic", "piano", "clean_guitar", "pad"),
        lead_timbres=("clean_guitar", "fiddle", "piano", "", ""),
        bass_lines=("root_fifth", "sustained", "root8"), bass_timbres=("upright", "electric", "synth_bass"),
        drive=(1.0, 1.4), hues=(0.25, 0.12, 0.33, 0.55, 0.08), saturation=(0.15, 0.55),
        brightness=(0.45, 0.85),
        motion=(0.2, 1.5), cuts_per_10s=(0.5, 4), shapes=("horizon", "bokeh", "waves", "horizon"), strobe=0.0,
        themes=("nature", "nature", "love", "road", "sorrow", "dark"),
        line_styles=("ballad", "ballad", "dark"),
    ),
    "pop-rock": GenreStyle(
        tempo=(96, 160), swing=(0.0, 0.2), grooves=("backbeat", "rock8", "rock8", "motown", "half_time"),
        progressions=("I V vi IV", "vi IV I V", "I IV V IV", "I bVII IV I", "I V IV IV"),
        comping=("power8", "strum", "sustain", "arp"),
        chord_timbres=("dist_guitar", "clean_guitar", "piano", "dist_guitar", "pad"),
        lead_timbres=("synth", "dist_guitar", "clean_guitar", "organ", ""),
        bass_lines=("root8", "root8", "follow_kick", "groove"),
        bass_timbres=("electric", "electric", "synth_bass"),
        drive=(1.5, 6.0), hues=(0.95, 0.55, 0.15, 0.8, 0.45), saturation=(0.45, 0.95), brightness=(0.45, 0.9),
        motion=(0.8, 3.5), cuts_per_10s=(2, 8), shapes=("bars", "rings", "bokeh", "stripes"), strobe=0.3,
        themes=("love", "love", "party", "night", "road", "rage"), line_styles=("anthem", "ballad", "anthem"),
    ),
    "punk": GenreStyle(
        tempo=(140, 200), swing=(0.0, 0.1), grooves=("punk", "punk", "rock8", "double_kick"),
        progressions=("I IV V IV", "I V vi IV", "I bVII IV I", "I IV I V", "i bVI bVII i"),
        comping=("power8", "power8", "power8", "strum"),
        chord_timbres=("dist_guitar", "dist_guitar", "dist_guitar", "organ"),
        lead_timbres=("dist_guitar", "synth", "", ""),
        bass_lines=("root8", "root8", "riff"), bass_timbres=("distorted", "electric", "electric"),
        drive=(3.0, 10.0), hues=(0.92, 0.15, 0.33, 0.0, 0.8), saturation=(0.5, 1.0), brightness=(0.35, 0.85),
        motion=(2.0, 6.0), cuts_per_10s=(4, 12), shapes=("stripes", "bars", "shards", "stripes"), strobe=0.5,
        themes=("rage", "rage", "street", "party", "dark"), line_styles=("anthem", "anthem", "rap"),
    ),
    "metal": GenreStyle(
        tempo=(90, 200), swing=(0.0, 0.05), grooves=("double_kick", "blast", "half_time", "rock8", "punk"),
        progressions=("i bVI bVII i", "i bII i bII", "i i bVI bVII", "i iv bVI V", "i bVII bVI bVII"),
        comping=("power8", "riff16", "riff16", "sustain"),
        chord_timbres=("dist_guitar", "dist_guitar", "dist_guitar", "organ"),
        lead_timbres=("dist_guitar", "organ", "", ""),
        bass_lines=("riff", "riff", "root8"), bass_timbres=("distorted", "distorted", "electric"),
        drive=(6.0, 16.0), hues=(0.0, 0.03, 0.6, 0.08, 0.75), saturation=(0.1, 0.8), brightness=(0.15, 0.5),
        motion=(1.5, 6.0), cuts_per_10s=(4, 12), shapes=("shards", "stripes", "sparks", "rings"), strobe=0.6,
        themes=("dark", "dark", "rage", "rage", "faith", "nature"), line_styles=("dark", "dark", "anthem"),
    ),
    "hip-hop": GenreStyle(
        tempo=(80, 150), swing=(0.2, 0.6), grooves=("boom_bap", "boom_bap", "trap", "half_time"),
        progressions=("i7 iv7", "vi7 IVmaj7", "i7 bVI bVII i7", "ii7 V7", "i bVI"),
        comping=("stabs", "sustain", "arp", "comp"),
        chord_timbres=("piano", "pad", "organ", "brass", "clean_guitar"),
        lead_timbres=("synth", "brass", "piano", "", ""),
        bass_lines=("follow_kick", "sub", "sub", "groove"), bass_timbres=("808", "808", "808", "synth_bass"),
        drive=(1.0, 2.0), hues=(0.75, 0.12, 0.62, 0.85, 0.5), saturation=(0.3, 0.9), brightness=(0.25, 0.65),
        motion=(0.5, 3.0), cuts_per_10s=(2, 8), shapes=("city", "bokeh", "bars", "rings"), strobe=0.25,
        themes=("street", "money", "money", "party", "night", "love"), line_styles=("rap", "rap", "anthem"),
    ),
    "uk-drill": GenreStyle(
        tempo=(128, 148), swing=(0.0, 0.35), grooves=("drill", "drill", "trap", "half_time"),
        progressions=("i bVI", "i iv", "i bII", "i bVI bVII i", "i7 iv7"),
        comping=("arp", "sustain", "stabs", "arp"),
        chord_timbres=("piano", "pad", "pad", "organ", "brass"),
        lead_timbres=("synth", "piano", "brass", ""),
        bass_lines=("sub", "sub", "follow_kick"), bass_timbres=("808", "808", "synth_bass"),
        drive=(1.0, 2.0), hues=(0.6, 0.66, 0.0, 0.75, 0.5), saturation=(0.05, 0.6), brightness=(0.15, 0.5),
        motion=(0.5, 3.5), cuts_per_10s=(3, 10), shapes=("city", "city", "sparks", "stripes"), strobe=0.4,
        themes=("street", "street", "money", "dark", "night", "rage"), line_styles=("rap", "rap", "dark"),
    ),
}

NEIGHBOURS = (
    ("punk", "pop-rock"), ("punk", "metal"), ("pop-rock", "metal"), ("hip-hop", "uk-drill"),
    ("soul", "blues-jazz"), ("country", "indie-folk"),
)  # pairs that must share tempi, sounds and palettes, so the genre is never given away by one cue


def style_for(genre: str) -> GenreStyle:
    from clipret.errors import CorpusError

    try:
        return STYLES[genre]
    except KeyError:
        choices = ", ".join(sorted(STYLES))
        raise CorpusError(f"No demo style for genre {genre!r}; choose from {choices}.") from None


def artist_style(style: GenreStyle, rng) -> GenreStyle:
    """An artist's narrower take on the genre: a sub-range of tempo and a subset of sounds and looks,
    so clips by one artist resemble each other more than the genre as a whole."""
    from dataclasses import replace

    lo, hi = style.tempo
    centre = rng.uniform(lo, hi)
    half = (hi - lo) * 0.3

    def subset(names: tuple, k: int = 3) -> tuple:
        return tuple(str(x) for x in rng.choice(names, size=min(k, len(names)), replace=False))

    return replace(style, tempo=(max(lo, centre - half), min(hi, centre + half)),
                   grooves=subset(style.grooves), chord_timbres=subset(style.chord_timbres),
                   hues=subset(style.hues, 2), shapes=subset(style.shapes))
