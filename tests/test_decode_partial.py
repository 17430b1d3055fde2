"""Decoding keeps what decodes (a cut or damaged tail) and reads no further than the extractors need."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import SR, sine, solid_frames

from clipret.errors import MediaError
from clipret.media.decode import SAMPLE_RATE, decode
from clipret.media.encode import write_clip

RED, BLUE = (255, 0, 0), (0, 0, 255)


def to_matroska(mp4: Path, mkv: Path) -> list[tuple[float, int, int]]:
    """Remux `mp4` into `mkv` (its header up front, so a cut file still opens); (time, pos, size) per packet."""
    import av

    with av.open(str(mp4)) as source, av.open(str(mkv), "w", format="matroska") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in source.streams}
        for packet in source.demux():
            if packet.dts is None:
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)
    with av.open(str(mkv)) as written:
        return [(float(p.pts * p.time_base), p.pos, p.size) for p in written.demux() if p.dts is not None]


@pytest.fixture(scope="module")
def six_seconds(tmp_path_factory) -> tuple[Path, list[tuple[float, int, int]]]:
    """6 s at 24 fps, 160×120: red for 3 s then blue; a 440 Hz tone. Matroska, with its packets' places."""
    folder = tmp_path_factory.mktemp("partial")
    write_clip(folder / "clip.mp4", solid_frames([RED, BLUE], 72), sine(440, 6.0), fps=24, sample_rate=SR)
    return folder / "clip.mkv", to_matroska(folder / "clip.mp4", folder / "clip.mkv")


def cut_at(source: Path, packets, seconds: float, out: Path, extra: int = 0) -> Path:
    """A copy of `source` ending `extra` bytes into the first packet at or after `seconds`."""
    pos = min(p for t, p, _ in packets if t >= seconds)
    out.write_bytes(source.read_bytes()[: pos + extra])
    return out


def test_the_whole_file_is_not_truncated(six_seconds):
    clip = decode(six_seconds[0], n_segments=4)
    assert not clip.truncated and clip.decode_error == ""
    assert clip.duration_s == pytest.approx(6.0, abs=0.1) and clip.decoded_s == pytest.approx(6.0, abs=0.15)


@pytest.mark.parametrize("extra", [0, 7], ids=["at a packet", "inside a packet"])
def test_a_cut_tail_decodes_to_the_good_part(six_seconds, tmp_path, extra):
    source, packets = six_seconds
    clip = decode(cut_at(source, packets, 5.0, tmp_path / "cut.mkv", extra), n_segments=4)
    assert clip.truncated
    assert clip.duration_s == pytest.approx(5.0, abs=0.2)  # what is there, not the declared 6 s
    assert len(clip.audio) == pytest.approx(clip.duration_s * SAMPLE_RATE, rel=0.05)
    # the frames are spread over the good part, not the declared length (no padding with the last one)
    np.testing.assert_allclose(clip.frame_times, (np.arange(4) + 0.5) * clip.duration_s / 4, atol=0.05)
    assert [tuple(int(v) > 128 for v in f[60, 80]) for f in clip.frames] == \
        [(True, False, False)] * 2 + [(False, False, True)] * 2  # red, red, blue, blue
    assert clip.thumb_times.max() < clip.duration_s


def test_a_damaged_last_packet_keeps_the_rest(six_seconds, tmp_path):
    source, packets = six_seconds
    data = bytearray(source.read_bytes())
    _, pos, size = packets[-1]
    data[pos + 4:pos + size] = np.random.default_rng(0).bytes(size - 4)  # garbage in its payload
    path = tmp_path / "damaged.mkv"
    path.write_bytes(bytes(data))
    clip = decode(path, n_segments=4)
    assert clip.duration_s == pytest.approx(6.0, abs=0.1)
    assert len(clip.audio) == pytest.approx(6.0 * SAMPLE_RATE, rel=0.03)
    assert not clip.truncated  # the tail that is lost is shorter than a second
    assert "Invalid data" in clip.decode_error  # skipped, and said so


def test_an_audio_file_cut_in_half(tmp_path):
    import soundfile

    path = tmp_path / "song.wav"
    soundfile.write(path, sine(440, 4.0), SR)
    cut = tmp_path / "half.wav"
    cut.write_bytes(path.read_bytes()[: 44 + 2 * 2 * SR])  # the header and the first 2 s (16-bit)
    clip = decode(cut)
    assert clip.duration_s == pytest.approx(2.0, abs=0.05) and len(clip.audio) == pytest.approx(2 * SR, abs=64)


def test_nothing_decodable_says_which_step_failed(tmp_path, six_seconds):
    source, packets = six_seconds
    data = bytearray(source.read_bytes())
    for _, pos, size in packets:  # every payload is garbage: it opens, but nothing decodes
        data[pos + 4:pos + size] = bytes(size - 4)
    path = tmp_path / "garbage.mkv"
    path.write_bytes(bytes(data))
    with pytest.raises(MediaError, match="could not decode its first packets|holds no decodable"):
        decode(path)
    random = tmp_path / "random.mkv"
    random.write_bytes(np.random.default_rng(3).bytes(50_000))
    with pytest.raises(MediaError, match="opening it failed"):
        decode(random)


@pytest.fixture(scope="module")
def long_and_short(tmp_path_factory) -> tuple[Path, Path]:
    """The same small 4 fps clip, 12 s and 48 s long."""
    folder = tmp_path_factory.mktemp("lengths")
    paths = []
    for seconds in (12, 48):
        frames = solid_frames([RED, BLUE], 2 * seconds, size=(48, 64))
        write_clip(folder / f"{seconds}.mp4", frames, sine(440, seconds), fps=4, sample_rate=SR)
        paths.append(folder / f"{seconds}.mp4")
    return paths[0], paths[1]


def test_reading_stops_at_the_cap(long_and_short):
    short, long = long_and_short
    capped = {p: decode(p, max_seconds=6.0, n_segments=4, thumb_fps=2.0) for p in (short, long)}
    full = decode(long, n_segments=4, thumb_fps=2.0)
    # past the cap, the file's length costs nothing: the same packets are read from 12 s and 48 s
    assert capped[long].packets_read == pytest.approx(capped[short].packets_read, rel=0.1)
    assert capped[long].packets_read < 0.2 * full.packets_read
    for clip in capped.values():
        assert len(clip.audio) == 6 * SAMPLE_RATE and clip.decoded_s == pytest.approx(6.0, abs=0.3)
        assert not clip.truncated and clip.thumb_times.max() < 6.0
    assert capped[long].duration_s == pytest.approx(48.0, abs=0.2)  # the media's, not the cap's
