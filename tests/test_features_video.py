"""Video features: the packaged EfficientNet weights really load, dynamics count cuts, slow_r50's rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import solid_frames

from clipret.errors import ModelUnavailable
from clipret.features import video
from clipret.features.dynamics import DYNAMICS_COLUMNS, Dynamics, colourfulness
from clipret.features.video import EfficientNetLite0, SlowR50, frames_to_tensor, load_efficientnet_lite0
from clipret.media.decode import DecodeOptions, decode
from clipret.media.encode import write_clip

DATA = Path(__file__).parent / "data"
PORTABLE = DecodeOptions(n_segments=16, frames_per_segment=1, short_side=256, thumb_fps=8.0)


def reference_image() -> np.ndarray:
    """(224, 224, 3) uint8: a fixed pattern whose logits are stored in tests/data."""
    i, j = np.mgrid[0:224, 0:224]
    channels = [(i * 3 + j) % 256, (j * 2 + 40) % 256, ((i + j) * 5 // 4) % 256]
    return np.stack(channels, axis=-1).astype(np.uint8)


def efficientnet_logits(images: np.ndarray) -> np.ndarray:
    import torch

    x = frames_to_tensor(images, 256, 224, (0.5,) * 3, (0.5,) * 3, mode="bicubic")
    with torch.inference_mode():
        return load_efficientnet_lite0("cpu")(x).numpy()


def test_packaged_efficientnet_weights_give_the_reference_logits():
    x = frames_to_tensor(reference_image()[None], 224, 224, (0.5,) * 3, (0.5,) * 3, mode="bicubic")
    import torch

    with torch.inference_mode():
        logits = load_efficientnet_lite0("cpu")(x)[0].numpy()
    reference = np.load(DATA / "efficientnet_lite0_reference_logits.npy")
    np.testing.assert_allclose(logits, reference, atol=2e-3, rtol=1e-3)
    assert logits.argmax() == reference.argmax()


def test_efficientnet_recognises_real_photos():
    from sklearn.datasets import load_sample_image

    photos = np.stack([load_sample_image("flower.jpg"), load_sample_image("china.jpg")])  # (2, 427, 640, 3)
    top = efficientnet_logits(photos).argmax(axis=1)
    assert top.tolist() == [985, 698]  # ImageNet "daisy" and "palace"


def test_efficientnet_extractor_shapes_and_batching(tone_clip, video_only_clip, audio_only_clip):
    clips = [decode(path, PORTABLE, n_segments=3) for path in (tone_clip, audio_only_clip, video_only_clip)]
    extractor = EfficientNetLite0(batch_size=4)  # batches straddle clip boundaries
    batched = extractor.extract_batch(clips)
    assert batched[1] is None
    for clip, vector in zip(clips, batched, strict=True):
        if vector is not None:
            assert vector.shape == (1000,) and vector.dtype == np.float32
            np.testing.assert_allclose(vector, extractor.extract(clip), atol=1e-4)
            expected = efficientnet_logits(clip.frames).mean(axis=0)
            np.testing.assert_allclose(vector, expected, atol=1e-4)


def shot(seed: int, size=(96, 128)) -> np.ndarray:
    """A textured frame with its own colour palette: a different shot per seed."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, 3)
    noise = rng.integers(-40, 40, (size[0] // 8, size[1] // 8, 3))
    texture = np.kron(noise, np.ones((8, 8, 1), dtype=np.int64))
    return np.clip(base + texture, 0, 255).astype(np.uint8)


def test_hard_cut_every_second_gives_about_60_per_minute(tmp_path):
    path = tmp_path / "cuts.mp4"
    write_clip(path, (shot(i // 24) for i in range(20 * 24)), None, fps=24)
    values = dict(zip(DYNAMICS_COLUMNS, Dynamics().extract(decode(path, PORTABLE)), strict=True))
    assert values["cuts_per_minute"] == pytest.approx(60, abs=6)
    assert values["shot_length_median_s"] == pytest.approx(1.0, abs=0.2)


def test_still_clip_has_no_cuts_and_no_motion(tmp_path):
    path = tmp_path / "still.mp4"
    write_clip(path, (shot(7) for _ in range(10 * 24)), None, fps=24)
    values = dict(zip(DYNAMICS_COLUMNS, Dynamics().extract(decode(path, PORTABLE)), strict=True))
    assert values["cuts_per_minute"] == 0
    assert values["motion_mean"] < 0.01


def test_colour_statistics_known_answers(video_only_clip, audio_only_clip):
    grey, red = np.full((1, 4, 4, 3), 128, np.float32) / 255, np.zeros((1, 4, 4, 3), np.float32)
    red[..., 0] = 1.0
    assert colourfulness(grey)[0] == pytest.approx(0.0)
    assert colourfulness(red)[0] == pytest.approx(0.3 * np.hypot(1.0, 0.5))  # rg = 1, yb = 0.5
    values = dict(zip(DYNAMICS_COLUMNS, Dynamics().extract(decode(video_only_clip, PORTABLE)), strict=True))
    assert values["saturation_mean"] > 0.9  # solid green
    assert values["brightness_mean"] == pytest.approx(0.587, abs=0.05)
    assert Dynamics().extract(decode(audio_only_clip, PORTABLE)) is None


def test_solid_colour_changes_are_cuts_but_flat_ramps_are_not(tmp_path):
    path = tmp_path / "solid.mp4"
    write_clip(path, solid_frames([(250, 20, 20), (20, 20, 250)] * 3, 24), None, fps=24)
    assert Dynamics().extract(decode(path, PORTABLE))[0] == pytest.approx(5 * 60 / 6, abs=6)
    ramp = tmp_path / "ramp.mp4"
    write_clip(ramp, (np.full((96, 128, 3), (40 + i, 90, 140), np.uint8) for i in range(144)), None, fps=24)
    assert Dynamics().extract(decode(ramp, PORTABLE))[0] == 0


def test_slow_r50_offline_raises_with_instructions(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty hub cache
    monkeypatch.delenv(video.SLOW_R50_ENV, raising=False)
    monkeypatch.setattr(video, "host_reachable", lambda *a, **k: False)
    with pytest.raises(ModelUnavailable, match="CLIPRET_SLOW_R50_CHECKPOINT") as info:
        video.load_slow_r50("cpu", True, None)
    assert "internet" in str(info.value)


def test_slow_r50_missing_local_checkpoint_raises(monkeypatch, tmp_path):
    monkeypatch.setenv(video.SLOW_R50_ENV, str(tmp_path / "nowhere.pyth"))
    with pytest.raises(ModelUnavailable, match="nowhere.pyth"):
        video.load_slow_r50("cpu", True, None)


def test_slow_r50_segments_are_8_frame_clips():
    class Clip:
        frames = np.arange(12, dtype=np.uint8).reshape(12, 1, 1, 1) * np.ones((1, 2, 2, 3), np.uint8)

    segments = video._segments(Clip)
    assert segments.shape == (2, 8, 2, 2, 3)
    assert segments[1, :, 0, 0, 0].tolist() == [8, 9, 10, 11, 11, 11, 11, 11]  # last frame repeated


@pytest.mark.slow
def test_slow_r50_untrained_gives_400_values():
    class Clip:
        has_video = True
        frames = np.random.default_rng(0).integers(0, 256, (8, 240, 320, 3), dtype=np.uint8)

    (vector,) = SlowR50(pretrained=False).extract_batch([Clip])
    assert vector.shape == (400,) and vector.dtype == np.float32 and np.isfinite(vector).all()


@pytest.mark.slow
def test_slow_r50_loads_a_local_checkpoint(monkeypatch, tmp_path):
    import torch
    from pytorchvideo.models.hub import slow_r50

    torch.manual_seed(0)
    reference = slow_r50(pretrained=False).state_dict()
    path = tmp_path / "SLOW_8x8_R50.pyth"
    torch.save({"epoch": 1, "model_state": reference}, path)  # the layout of PyTorchVideo's checkpoints
    monkeypatch.setenv(video.SLOW_R50_ENV, str(path))
    try:
        loaded = video.load_slow_r50("cpu", True, None).state_dict()
    finally:
        video.load_slow_r50.cache_clear()
    assert loaded.keys() == reference.keys()
    assert all(torch.equal(loaded[k], reference[k]) for k in reference)
