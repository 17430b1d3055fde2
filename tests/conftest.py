"""Shared fixtures: tiny media written with PyAV, so every test has known answers."""

from __future__ import annotations

import numpy as np
import pytest

from clipret.media.encode import write_clip

SR = 22050


def pytest_configure(config):
    # librosa's numba cache: clipret's own folder, compiled once under its lock before any test (or a
    # process a test starts) extracts audio, so no two processes ever compile it at once.
    from clipret.features import jit_cache

    jit_cache.ensure_ready(log=print)


def sine(freq: float, seconds: float, sr: int = SR, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def solid_frames(colours: list[tuple[int, int, int]], frames_each: int, size=(120, 160)) -> list[np.ndarray]:
    """frames_each frames of each colour in turn, (H, W, 3) uint8."""
    return [np.full((*size, 3), c, np.uint8) for c in colours for _ in range(frames_each)]


@pytest.fixture(scope="session")
def index_dir():
    """A data dir serving the tiny demo index (9 genres × 2 clips × 3 s), built once per session.
    Tests that change an index copy it first."""
    from _app_index import tiny_index

    return tiny_index()


@pytest.fixture
def tone_clip(tmp_path):
    """3 s at 24 fps: a 440 Hz tone; 1.5 s red then 1.5 s blue frames."""
    path = tmp_path / "tone.mp4"
    write_clip(path, solid_frames([(255, 0, 0), (0, 0, 255)], 36), sine(440, 3.0), fps=24, sample_rate=SR)
    return path


@pytest.fixture
def audio_only_clip(tmp_path):
    path = tmp_path / "audio_only.mp4"
    write_clip(path, None, sine(440, 2.0))
    return path


@pytest.fixture
def video_only_clip(tmp_path):
    path = tmp_path / "video_only.mp4"
    write_clip(path, solid_frames([(0, 255, 0)], 48), None, fps=24)
    return path
