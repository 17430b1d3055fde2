"""The aisfx audio block: weights read safely into our own network (same outputs as aisfx's), excerpts, blocks."""

from __future__ import annotations

import numpy as np
import pytest

from clipret.features.learned_audio import (
    BLOCK_FRAMES,
    MODEL_SR,
    AisfxAudio,
    excerpt_spans,
    load_network,
    log_mel,
    spectrogram_blocks,
)
from clipret.media.decode import SAMPLE_RATE, DecodedClip, DecodeOptions


def clip(audio: np.ndarray | None) -> DecodedClip:
    return DecodedClip("x.wav", 0.0 if audio is None else len(audio) / SAMPLE_RATE, audio, SAMPLE_RATE, None,
                       None, None, None, None, DecodeOptions())


def tone(freq: float, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_excerpts_cover_a_long_track_start_to_end_and_a_short_one_whole():
    sr = 10
    assert excerpt_spans(300, sr, n_excerpts=4, seconds=15.0) == [(0, 300)]  # 30 s ≤ 4 × 15 s: all of it
    spans = excerpt_spans(2400, sr, n_excerpts=4, seconds=15.0)  # 240 s
    assert spans == [(0, 150), (750, 900), (1500, 1650), (2250, 2400)]


def test_blocks_are_100_frames_side_by_side_and_short_input_is_padded():
    spec = np.arange(250 * 96, dtype=np.float32).reshape(250, 96)
    blocks = spectrogram_blocks(spec)
    assert blocks.shape == (2, BLOCK_FRAMES, 96)  # starts 0, 100; the last 50 frames make no block
    np.testing.assert_array_equal(blocks[1], spec[100:200])
    short = spectrogram_blocks(spec[:30])
    assert short.shape == (1, 100, 96) and np.all(short[0, 30:] == 0)


def test_our_network_is_aisfx_network_with_its_weights():
    import torch
    from aisfx.models import cnn2d

    from clipret.features.learned_audio import checkpoint_path

    ours = load_network("cpu")
    with torch.serialization.safe_globals([(np._core.multiarray.scalar, "numpy.core.multiarray.scalar"), np.dtype,
                                           np.dtypes.Int64DType]):
        weights, datasets = torch.load(checkpoint_path(), map_location="cpu", weights_only=True)
    assert len(datasets) == 9  # the nine sound-effect libraries it was trained on
    reference = cnn2d.EmbeddingNet("max", 3, 1, 64)
    reference.load_state_dict({k.removeprefix("embedding_net."): v for k, v in weights.items()
                               if k.startswith("embedding_net.")})
    x = torch.rand(2, 100, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference.eval()(x))


def test_log_mel_matches_aisfx_recipe_on_a_tone():
    spec = log_mel(tone(1000.0, 1.0), SAMPLE_RATE)  # resampled to 44.1 kHz: 44100 / 1024 hop → 44 frames
    assert spec.shape == (1 + MODEL_SR // 1024, 96)
    # a 1 kHz tone: its loudest mel band is the one whose HTK centre is nearest 1 kHz
    import librosa

    centres = librosa.mel_frequencies(n_mels=98, fmin=0.0, fmax=MODEL_SR / 2, htk=True)[1:-1]
    assert spec[10:30].mean(axis=0).argmax() == np.abs(centres - 1000.0).argmin()
    assert 0.0 <= spec.min() and spec.max() <= 1.0


@pytest.mark.slow
def test_extractor_embeds_audio_ignores_loudness_and_skips_silence_free_clips():
    extractor = AisfxAudio()
    loud, quiet = extractor.extract(clip(tone(440.0, 3.0, 0.8))), extractor.extract(clip(tone(440.0, 3.0, 0.1)))
    assert loud.shape == (512,) and loud.dtype == np.float32
    np.testing.assert_allclose(loud, quiet, rtol=1e-3, atol=1e-3)  # peak-normalised, as aisfx does
    noise = np.random.default_rng(0).normal(scale=0.3, size=3 * SAMPLE_RATE).astype(np.float32)
    other = extractor.extract(clip(noise))
    cosine = loud @ other / np.linalg.norm(loud) / np.linalg.norm(other)
    assert cosine < 0.95  # a tone and white noise are told apart
    assert extractor.extract(clip(None)) is None
