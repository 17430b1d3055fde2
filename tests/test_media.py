"""clipret.media.decode.decode: known answers on generated clips, and clear errors on broken ones."""

import subprocess
import sys

import numpy as np
import pytest

from clipret.errors import MediaError
from clipret.media.decode import SAMPLE_RATE, DecodeOptions, decode


def dominant_frequency(audio: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.argmax(spectrum) * sr / len(audio))


def test_tone_clip_audio(tone_clip):
    clip = decode(tone_clip)
    assert clip.sample_rate == SAMPLE_RATE == 22050
    assert clip.duration_s == pytest.approx(3.0, abs=0.1)
    assert clip.audio.dtype == np.float32 and clip.audio.ndim == 1
    assert len(clip.audio) == pytest.approx(3.0 * SAMPLE_RATE, rel=0.03)
    assert dominant_frequency(clip.audio, SAMPLE_RATE) == pytest.approx(440, abs=2)
    assert 0.3 < np.abs(clip.audio).max() <= 1.0


def test_tone_clip_frames(tone_clip):
    clip = decode(tone_clip, n_segments=4, short_side=60)
    assert clip.fps == pytest.approx(24)
    assert clip.frames.shape == (4, 60, 80, 3) and clip.frames.dtype == np.uint8
    np.testing.assert_allclose(clip.frame_times, [0.375, 1.125, 1.875, 2.625], atol=0.05)
    centre = clip.frames[:, 30, 40].astype(int)  # red, red, blue, blue
    np.testing.assert_allclose(centre, [[255, 0, 0], [255, 0, 0], [0, 0, 255], [0, 0, 255]], atol=12)


def test_segments_of_consecutive_frames(tone_clip):
    clip = decode(tone_clip, n_segments=2, frames_per_segment=8, segment_stride=2)
    assert clip.frames.shape[0] == 16
    steps = np.diff(clip.frame_times.reshape(2, 8), axis=1)
    np.testing.assert_allclose(steps, 2 / 24, atol=1e-3)  # stride 2 at 24 fps


def test_thumbs_are_dense_and_small(tone_clip):
    clip = decode(tone_clip, thumb_fps=8, thumb_short_side=32)
    assert clip.thumbs.shape == (24, 32, 43, 3)
    np.testing.assert_allclose(np.diff(clip.thumb_times), 1 / 8, atol=1 / 24 + 1e-3)


def test_audio_only_file(audio_only_clip):
    clip = decode(audio_only_clip)
    assert clip.frames is None and clip.thumbs is None and clip.fps is None and not clip.has_video
    assert dominant_frequency(clip.audio, SAMPLE_RATE) == pytest.approx(440, abs=2)


def test_video_only_file(video_only_clip):
    clip = decode(video_only_clip, n_segments=3)
    assert clip.audio is None and not clip.has_audio
    assert clip.frames.shape[0] == 3
    assert clip.duration_s == pytest.approx(2.0, abs=0.1)
    np.testing.assert_allclose(clip.frames[:, 10, 10].astype(int), [[0, 255, 0]] * 3, atol=12)


def test_max_seconds_caps_audio(tone_clip):
    clip = decode(tone_clip, max_seconds=1.0)
    assert len(clip.audio) == SAMPLE_RATE
    assert clip.frame_times.max() < 1.0


@pytest.mark.parametrize(
    "name, content, cause",
    [
        ("empty.mp4", b"", "empty"),
        ("random.mp4", bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)), "FFmpeg"),
        ("notes.txt", b"just some text, not a video\n" * 20, "not a media file"),
    ],
)
def test_broken_files_raise_media_error(tmp_path, name, content, cause):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(MediaError, match=cause) as info:
        decode(path)
    assert str(path) in str(info.value)


def test_truncated_mp4(tone_clip, tmp_path):
    data = tone_clip.read_bytes()
    path = tmp_path / "truncated.mp4"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError, match="truncated.mp4"):
        decode(path)


def test_missing_path(tmp_path):
    with pytest.raises(MediaError, match="no such file"):
        decode(tmp_path / "nope.mp4")


def test_timeout_stops_the_child(tone_clip):
    with pytest.raises(MediaError, match="longer than"):
        decode(tone_clip, DecodeOptions(timeout_s=0.01))


def fake_decoder(tmp_path, monkeypatch, python_code: str) -> None:
    """Make the decoding child `sys.executable -m clipret.media.child` a real interpreter running `python_code`
    instead: a script in place of sys.executable that reads the pickled request, as the child does, then runs it."""
    script = tmp_path / "decoder-child"
    script.write_text("#!/bin/sh\n"
                      "ulimit -c 0\n"  # no core file from the crash
                      f'exec "{sys.executable}" -c '
                      f'"import pickle, sys; pickle.load(sys.stdin.buffer); {python_code}"\n')
    script.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(script))


@pytest.mark.parametrize(
    "python_code, signal_name",
    [
        ("import ctypes; ctypes.string_at(0)", "SIGSEGV"),  # a real read of address 0, as a crashing FFmpeg
        ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", "SIGKILL"),  # as the kernel's OOM killer
    ],
)
def test_decoder_killed_by_a_signal_is_a_media_error(tone_clip, tmp_path, monkeypatch, python_code, signal_name):
    # A decoder that dies by a signal (as FFmpeg can on hostile input) must not take the caller down.
    fake_decoder(tmp_path, monkeypatch, python_code)
    with pytest.raises(MediaError) as info:
        decode(tone_clip)
    assert type(info.value) is MediaError
    assert str(info.value) == (f"{tone_clip}: the decoder crashed (killed by {signal_name}); the file is "
                               "probably corrupt or truncated.")
    monkeypatch.undo()  # the real decoder again: this process decodes on as before
    assert dominant_frequency(decode(tone_clip).audio, SAMPLE_RATE) == pytest.approx(440, abs=2)


def test_decoder_exiting_with_an_error_is_a_media_error(tone_clip, monkeypatch):
    monkeypatch.setattr(sys, "executable", "/bin/false")  # exits 1 at once, writes nothing
    with pytest.raises(MediaError) as info:
        decode(tone_clip)
    assert str(info.value) == (f"{tone_clip}: the decoder crashed (exit 1); the file is probably corrupt or "
                               "truncated.")
    monkeypatch.undo()
    assert decode(tone_clip).has_audio


def test_import_clipret_is_light():
    code = (
        "import sys, clipret, clipret.config, clipret.errors, clipret.media.decode, clipret.sources.corpus\n"
        "heavy = [m for m in ('torch', 'transformers', 'streamlit', 'librosa') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_payload_media_paths_are_relative_to_the_data_dir(tmp_path):
    from clipret.config import Settings

    s = Settings(data_dir=tmp_path / "data")
    inside = tmp_path / "data" / "corpora" / "demo" / "media" / "a.mp4"
    assert s.stored_media_path(inside) == "corpora/demo/media/a.mp4"
    assert s.media_file("corpora/demo/media/a.mp4") == inside
    assert s.stored_media_path("/elsewhere/b.mp4") == "/elsewhere/b.mp4"
    assert s.media_file("/elsewhere/b.mp4").as_posix() == "/elsewhere/b.mp4"
