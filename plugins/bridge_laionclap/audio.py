"""Audio files -> LAION-CLAP model input, the way laion_clap prepares them.

:func:`read_audio` decodes a file with soundfile, mixes it to mono (channel
mean) and resamples it to 48 kHz with librosa's default resampler (soxr,
high quality) — exactly what laion_clap's own file API does through
``librosa.load(path, sr=48000)`` — then applies laion_clap's int16
quantisation round trip.

:func:`clip_features` then builds the input dict laion_clap's
``get_audio_features`` builds: clips up to 10 s (480,000 samples) go
through that function unchanged (repeat-padded to 10 s; for fusion models
the mel spectrogram stacked four times). For longer clips laion_clap picks
random positions — a random 10 s crop, and for fusion models random local
windows — so the same file would embed differently on every run, which an
embedding cache cannot allow. Here the positions are fixed: the middle 10 s
for non-fusion models; for fusion models the global view is laion_clap's
(the whole mel spectrogram shrunk to 10 s with the same resize) and each of
the three local windows starts at the middle of its third of the clip,
where laion_clap draws a start uniformly from that third.

laion_clap must already be imported (the MCR's load does it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from bridge import ItemError

SAMPLE_RATE = 48_000
MAX_SAMPLES = 480_000
"""laion_clap's window: 10 s at 48 kHz."""


def read_audio(path: str | Path) -> np.ndarray:
    """``(T,)`` float32 mono samples at 48 kHz, quantised as laion_clap does, T >= 1.

    Raises:
        ItemError: the file is missing, cannot be decoded, holds no samples
            or non-finite ones.
    """
    import librosa
    import soundfile

    name = str(path)
    if not Path(path).is_file():
        raise ItemError(name, "audio file does not exist")
    try:
        data, rate = soundfile.read(name, dtype="float32", always_2d=True)
    except (RuntimeError, OSError, ValueError, TypeError) as error:
        reason = getattr(error, "error_string", None) or " ".join(str(error).split())[:200]
        raise ItemError(name, f"cannot decode audio ({reason})") from error
    if data.shape[0] == 0:
        raise ItemError(name, "audio file holds no samples")
    samples = data.mean(axis=1)
    if not np.isfinite(samples).all():
        raise ItemError(name, "audio holds non-finite samples (NaN or infinity)")
    if rate != SAMPLE_RATE:
        samples = librosa.resample(samples, orig_sr=rate, target_sr=SAMPLE_RATE)
    return quantize(samples)


def quantize(samples: np.ndarray) -> np.ndarray:
    """laion_clap's int16 round trip (clip to [-1, 1], round to 16 bits), ``(T,)`` float32."""
    from laion_clap.training.data import float32_to_int16, int16_to_float32

    return int16_to_float32(float32_to_int16(np.asarray(samples, dtype=np.float32)))


def clip_features(samples: np.ndarray, audio_cfg: dict[str, Any], fusion: bool) -> dict[str, torch.Tensor]:
    """laion_clap's model input for one clip of ``(T,)`` 48 kHz samples.

    Returns:
        ``{"longer": (1,) bool, "waveform": (480000,) float32}`` and, for
        fusion models, ``"mel_fusion": (4, F, mel_bins)`` float32, with
        F = 480000 // hop_size + 1 frames.
    """
    from laion_clap.training.data import get_audio_features

    waveform = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
    if waveform.numel() <= MAX_SAMPLES:
        truncating = "fusion" if fusion else "rand_trunc"  # either way no randomness at <= 10 s
        return get_audio_features({}, waveform, MAX_SAMPLES, truncating, "repeatpad", audio_cfg)
    return _long_clip(waveform, audio_cfg, fusion)


def _long_clip(waveform: torch.Tensor, audio_cfg: dict[str, Any], fusion: bool) -> dict[str, torch.Tensor]:
    """A clip longer than 10 s, with fixed positions where laion_clap draws random ones."""
    import torchvision
    from laion_clap.training.data import get_mel

    start = (waveform.numel() - MAX_SAMPLES) // 2
    window = waveform[start : start + MAX_SAMPLES]
    if not fusion:
        return {"longer": torch.tensor([True]), "waveform": window}
    with torch.no_grad():
        mel = get_mel(waveform, audio_cfg)  # (frames, mel_bins)
    chunk = MAX_SAMPLES // audio_cfg["hop_size"] + 1
    frames = mel.shape[0]
    if chunk == frames:  # laion_clap's corner case: barely longer than 10 s, the whole clip is the view
        return {"mel_fusion": torch.stack([mel, mel, mel, mel]), "longer": torch.tensor([False]), "waveform": window}
    thirds = np.array_split(np.arange(frames - chunk + 1), 3)
    starts = [int(third[len(third) // 2]) if len(third) else 0 for third in thirds]
    local = [mel[begin : begin + chunk] for begin in starts]
    shrunk = torchvision.transforms.Resize(size=[chunk, audio_cfg["mel_bins"]])(mel[None])[0]
    return {"mel_fusion": torch.stack([shrunk, *local]), "longer": torch.tensor([True]), "waveform": window}
