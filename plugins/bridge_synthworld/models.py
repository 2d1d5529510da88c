"""The neural networks of the two synthworld MCRs.

- ``pixel`` (CLIP-like): :class:`ImageEncoder` (a small conv net over 64x64
  RGB) and :class:`WordTransformerText` (word tokens, a tiny transformer).
- ``wave`` (CLAP-like): :class:`AudioEncoder` (:class:`LogMel` front end,
  then a small conv net) and :class:`TrigramConvText` (hashed character
  trigrams, a 1-D conv over words).

Each model is a :class:`ContrastiveModel`: one encoder per modality in an
``nn.ModuleDict`` plus a learnable temperature; every output row is
L2-normalised. Each encoder's output layer starts with a large random bias
(``head_bias_std``), so each modality starts in a narrow cone of its own and
training keeps a CLIP-like modality gap (docs/synthworld.md). The architectures are pydantic models so they round-trip
through the weights' YAML file.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from bridge_synthworld.world import AUDIO_SECONDS, SAMPLE_RATE

CLIP_SAMPLES = int(SAMPLE_RATE * AUDIO_SECONDS)
"""Samples of one clip; the audio encoder's inputs are padded or cut to this length."""


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")


PIXEL_IMAGE_HEAD_BIAS = 2.0
PIXEL_TEXT_HEAD_BIAS = 2.0
WAVE_AUDIO_HEAD_BIAS = 3.5
WAVE_TEXT_HEAD_BIAS = 3.5
"""Default std of each encoder's output-layer bias at initialisation (chosen with the geometry report; docs/synthworld.md)."""


def _head_bias_field(default: float) -> Any:
    return Field(
        default,
        ge=0,
        description="Std of the normal initialisation of the output layer's bias (0: PyTorch's default). "
        "A large non-zero bias puts the encoder's embeddings in a narrow cone of its own at initialisation "
        "(the cone effect of Liang et al. 2022), so the modalities start apart.",
    )


class ImageEncoderConfig(_Config):
    """A stack of stride-2 conv blocks, global average pooling, a linear head."""

    channels: tuple[int, ...] = Field((16, 32, 64, 128), description="Output channels of each stride-2 3x3 conv block.")
    head_bias_std: float = _head_bias_field(PIXEL_IMAGE_HEAD_BIAS)


class AudioEncoderConfig(_Config):
    """Log-mel front end, then stride-2 conv blocks over (mel, time)."""

    n_fft: int = Field(512, description="STFT window and FFT size in samples.")
    hop: int = Field(256, description="STFT hop in samples (16 ms at 16 kHz).")
    n_mels: int = Field(64, description="Number of mel bands.")
    f_min: float = Field(40.0, description="Lowest mel band edge in Hz.")
    f_max: float = Field(8000.0, description="Highest mel band edge in Hz.")
    channels: tuple[int, ...] = Field((16, 32, 64, 128), description="Output channels of each stride-2 3x3 conv block.")
    head_bias_std: float = _head_bias_field(WAVE_AUDIO_HEAD_BIAS)


class WordTextConfig(_Config):
    """Word embeddings + learned positions, a tiny transformer, masked mean pooling."""

    width: int = Field(128, description="Token embedding / transformer width.")
    layers: int = Field(1, description="Transformer encoder layers.")
    heads: int = Field(4, description="Attention heads.")
    max_words: int = Field(16, description="Captions are cut to this many words.")
    head_bias_std: float = _head_bias_field(PIXEL_TEXT_HEAD_BIAS)


class TrigramTextConfig(_Config):
    """Hashed trigram bags per word + positions, two 1-D convs, masked max pooling."""

    buckets: int = Field(4096, description="Hash buckets for character trigrams.")
    width: int = Field(96, description="Trigram embedding / conv width.")
    max_words: int = Field(16, description="Captions are cut to this many words.")
    max_trigrams: int = Field(12, description="Trigrams kept per word.")
    head_bias_std: float = _head_bias_field(WAVE_TEXT_HEAD_BIAS)


class PixelArchitecture(_Config):
    """The image-text model."""

    dim: int = Field(128, description="Joint embedding dimension.")
    image: ImageEncoderConfig = Field(default_factory=ImageEncoderConfig, description="Image encoder.")
    text: WordTextConfig = Field(default_factory=WordTextConfig, description="Text encoder.")


class WaveArchitecture(_Config):
    """The audio-text model."""

    dim: int = Field(96, description="Joint embedding dimension.")
    audio: AudioEncoderConfig = Field(default_factory=AudioEncoderConfig, description="Audio encoder.")
    text: TrigramTextConfig = Field(default_factory=TrigramTextConfig, description="Text encoder.")


def _head(in_features: int, dim: int, bias_std: float) -> nn.Linear:
    """The linear output layer ``(B, in_features) -> (B, dim)``; its bias drawn from N(0, bias_std^2) when > 0."""
    head = nn.Linear(in_features, dim)
    if bias_std > 0:
        nn.init.normal_(head.bias, std=bias_std)
    return head


def _conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """3x3 stride-2 conv, batch norm, ReLU: halves both spatial sizes."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def _conv_trunk(in_channels: int, channels: tuple[int, ...]) -> nn.Sequential:
    widths = (in_channels, *channels)
    return nn.Sequential(*(_conv_block(a, b) for a, b in zip(widths[:-1], widths[1:])))


class ImageEncoder(nn.Module):
    """RGB images -> embeddings (not yet normalised).

    Input: float32 ``(B, 3, H, W)`` in [0, 1]; output ``(B, dim)``.
    """

    def __init__(self, config: ImageEncoderConfig, dim: int):
        super().__init__()
        self.trunk = _conv_trunk(3, config.channels)
        self.head = _head(config.channels[-1], dim, config.head_bias_std)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.trunk((images - 0.5) / 0.25)
        return self.head(features.mean(dim=(2, 3)))


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, f_min: float, f_max: float) -> np.ndarray:
    """Triangular HTK-mel filters: float32 ``(n_mels, n_fft // 2 + 1)``, each row peaks at 1."""

    def hz_to_mel(hz: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + hz / 700.0)

    def mel_to_hz(mel: np.ndarray) -> np.ndarray:
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)

    bin_hz = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    edges_hz = mel_to_hz(np.linspace(hz_to_mel(np.array(f_min)), hz_to_mel(np.array(f_max)), n_mels + 2))
    lower, centre, upper = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
    rising = (bin_hz[None, :] - lower) / (centre - lower)
    falling = (upper - bin_hz[None, :]) / (upper - centre)
    return np.clip(np.minimum(rising, falling), 0.0, None).astype(np.float32)


class LogMel(nn.Module):
    """Waveforms -> log-mel spectrograms (no learned parameters).

    Input: float32 ``(B, S)`` at ``SAMPLE_RATE``; output float32
    ``(B, n_mels, S // hop + 1)`` = ``log(mel power + 1e-6)``.
    """

    def __init__(self, config: AudioEncoderConfig):
        super().__init__()
        self.n_fft = config.n_fft
        self.hop = config.hop
        filters = mel_filterbank(SAMPLE_RATE, config.n_fft, config.n_mels, config.f_min, config.f_max)
        self.register_buffer("filters", torch.from_numpy(filters), persistent=False)
        self.register_buffer("window", torch.hann_window(config.n_fft), persistent=False)

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        spectrum = torch.stft(
            waveforms, self.n_fft, hop_length=self.hop, window=self.window, center=True, return_complex=True
        )
        power = spectrum.real.square() + spectrum.imag.square()
        return torch.log(torch.matmul(self.filters, power) + 1e-6)


class AudioEncoder(nn.Module):
    """Waveforms -> embeddings (not yet normalised).

    ``forward`` takes float32 ``(B, S)`` waveforms; ``from_features`` takes
    the front end's ``(B, n_mels, T)`` output (training precomputes it once).
    Output ``(B, dim)``.
    """

    def __init__(self, config: AudioEncoderConfig, dim: int):
        super().__init__()
        self.frontend = LogMel(config)
        self.input_norm = nn.BatchNorm2d(1)
        self.trunk = _conv_trunk(1, config.channels)
        self.head = _head(config.channels[-1], dim, config.head_bias_std)

    def from_features(self, log_mel: torch.Tensor) -> torch.Tensor:
        features = self.trunk(self.input_norm(log_mel.unsqueeze(1)))
        return self.head(features.mean(dim=(2, 3)))

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        return self.from_features(self.frontend(waveforms))


def _always_one_token(mask: torch.Tensor) -> torch.Tensor:
    """``mask`` with position 0 forced on, so an empty caption still pools something."""
    mask = mask.clone()
    mask[:, 0] = True
    return mask


class WordTransformerText(nn.Module):
    """Word ids -> embeddings (not yet normalised).

    Input: int64 ``(B, max_words)``, 0 = padding; output ``(B, dim)``.
    """

    def __init__(self, config: WordTextConfig, vocabulary_size: int, dim: int):
        super().__init__()
        self.tokens = nn.Embedding(vocabulary_size, config.width, padding_idx=0)
        self.positions = nn.Parameter(torch.randn(config.max_words, config.width) * 0.02)
        layer = nn.TransformerEncoderLayer(
            config.width, config.heads, dim_feedforward=2 * config.width, dropout=0.0, batch_first=True, norm_first=True
        )
        self.transformer = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(config.width)
        self.head = _head(config.width, dim, config.head_bias_std)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        mask = _always_one_token(ids != 0)
        hidden = self.tokens(ids) + self.positions[: ids.shape[1]]
        hidden = self.transformer(hidden, src_key_padding_mask=~mask)
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1)
        return self.head(self.norm(pooled))


class TrigramConvText(nn.Module):
    """Hashed trigram ids -> embeddings (not yet normalised).

    Input: int64 ``(B, max_words, max_trigrams)``, 0 = padding; each word is
    the mean of its trigram embeddings, plus a learned position; two 1-D
    convs over words, masked max pooling. Output ``(B, dim)``.
    """

    def __init__(self, config: TrigramTextConfig, dim: int):
        super().__init__()
        self.trigrams = nn.Embedding(config.buckets + 1, config.width, padding_idx=0)
        self.positions = nn.Parameter(torch.randn(config.max_words, config.width) * 0.02)
        self.convs = nn.ModuleList(nn.Conv1d(config.width, config.width, 3, padding=1) for _ in range(2))
        self.norm = nn.LayerNorm(config.width)
        self.head = _head(config.width, dim, config.head_bias_std)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        counts = (ids != 0).sum(dim=2, keepdim=True)
        mask = _always_one_token(counts.squeeze(-1) > 0)
        word_vectors = self.trigrams(ids).sum(dim=2) / counts.clamp(min=1)
        hidden = (word_vectors + self.positions[: ids.shape[1]]).transpose(1, 2)
        for conv in self.convs:
            hidden = hidden + F.gelu(conv(hidden))
        hidden = hidden.masked_fill(~mask.unsqueeze(1), -math.inf).amax(dim=2)
        return self.head(self.norm(hidden))


class ContrastiveModel(nn.Module):
    """One encoder per modality mapping into one L2-normalised space.

    Attributes:
        encoders: modality name -> encoder module.
        log_temperature: learnable ``log(1 / tau)`` of the InfoNCE logits.
    """

    def __init__(self, encoders: dict[str, nn.Module], initial_temperature: float = 0.07):
        super().__init__()
        self.encoders = nn.ModuleDict(encoders)
        self.log_temperature = nn.Parameter(torch.tensor(math.log(1.0 / initial_temperature)))

    def embed(self, modality: str, inputs: torch.Tensor) -> torch.Tensor:
        """``(B, ...)`` model inputs -> ``(B, D)`` L2-normalised embeddings."""
        return F.normalize(self.encoders[modality](inputs), dim=-1)

    def logit_scale(self) -> torch.Tensor:
        """``1 / tau``, clamped to at most 100 as in CLIP."""
        return self.log_temperature.exp().clamp(max=100.0)


def build_pixel(architecture: PixelArchitecture, vocabulary_size: int) -> ContrastiveModel:
    """The pixel (image-text) model with freshly initialised weights."""
    return ContrastiveModel(
        {
            "image": ImageEncoder(architecture.image, architecture.dim),
            "text": WordTransformerText(architecture.text, vocabulary_size, architecture.dim),
        }
    )


def build_wave(architecture: WaveArchitecture) -> ContrastiveModel:
    """The wave (audio-text) model with freshly initialised weights."""
    return ContrastiveModel(
        {
            "audio": AudioEncoder(architecture.audio, architecture.dim),
            "text": TrigramConvText(architecture.text, architecture.dim),
        }
    )


def count_parameters(model: nn.Module) -> int:
    """Number of scalar parameters of ``model``."""
    return sum(parameter.numel() for parameter in model.parameters())
