"""Procedural 1 s, 16 kHz mono clips of a scene: one to four sound events
of up to three sources in background noise.

A concept sounds like its :class:`AcousticSignature` (pitch band, harmonic
profile, rhythm or modulation, envelope, noise colour); each event draws a
random pitch within the band, onset, duration, modulation rate and phase.
Loudness is absolute, not normalised per clip: a near source is loud (the
main one loudest), a far one 11-17 dB quieter, the background noise at a
random level below the loud reference, and the clip's overall gain varies
only +-2 dB, so loud/quiet is audible without a second source to compare
with. An object that appears twice sounds as two separate events. Synthesis
is vectorised numpy over each event's own time span: wavetable lookups
driven by a phase accumulator, noise from held random samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from bridge_synthworld.scenes import SceneObject

SAMPLE_RATE = 16000
AUDIO_SECONDS = 1.0
N_SAMPLES = int(SAMPLE_RATE * AUDIO_SECONDS)

TIMBRES = ("pure", "hollow", "bright", "nasal", "buzzy", "dyad", "metallic", "breathy")
MODULATIONS = ("steady", "slow-pulses", "fast-pulses", "tremolo", "vibrato", "trill", "rising", "falling")
ENVELOPES = ("percussive", "sustained", "swelling", "fading")
NOISE_COLOURS = ("none", "white", "pink", "brown")

# Centre frequency of each pitch band (Hz): log-spaced, a factor ~1.55 apart, the highest
# low enough for its third harmonic to stay below the Nyquist frequency.
BAND_HZ = tuple(float(110.0 * (2400.0 / 110.0) ** (k / 7)) for k in range(8))
PITCH_BANDS = tuple(f"{hz:.0f}Hz" for hz in BAND_HZ)
# Words an audio caption may use for a band and a modulation (empty: none).
PITCH_WORDS = ("deep", "deep", "low", "low", "", "high", "high", "shrill")
MODULATION_WORDS = {"steady": "steady", "slow-pulses": "pulsing", "fast-pulses": "rapid", "tremolo": "trembling",
                    "vibrato": "wavering", "trill": "warbling", "rising": "rising", "falling": "falling"}

_NYQUIST_MARGIN_HZ = 7600.0
_TABLE_SIZE = 2048
_TABLE_PHASE = np.arange(_TABLE_SIZE) / _TABLE_SIZE
_SINE_TABLE = np.sin(2 * np.pi * _TABLE_PHASE).astype(np.float32)
_TIME = (np.arange(N_SAMPLES) / SAMPLE_RATE).astype(np.float32)
_GLIDE_OCTAVES = 0.9  # rising / falling pitch: f0 * 2 ** (+-(t - 0.5) * 0.9)
_RISE_CYCLES = ((2.0 ** ((_TIME.astype(np.float64) - 0.5) * _GLIDE_OCTAVES) - 2.0 ** (-0.5 * _GLIDE_OCTAVES))
                / (_GLIDE_OCTAVES * np.log(2))).astype(np.float32)  # turns at f0 = 1 Hz
_FALL_CYCLES = ((2.0 ** (0.5 * _GLIDE_OCTAVES) - 2.0 ** ((0.5 - _TIME.astype(np.float64)) * _GLIDE_OCTAVES))
                / (_GLIDE_OCTAVES * np.log(2))).astype(np.float32)
_VIBRATO_DEPTH = 0.035
_TRILL_STEP = 0.19  # alternate with a minor third up
_PULSE_TABLE = np.clip(_SINE_TABLE * 4 + 0.5, 0.0, 1.0).astype(np.float32)  # on/off gate, soft edges
_TREMOLO_TABLE = (1.0 - 0.7 * (0.5 + 0.5 * _SINE_TABLE)).astype(np.float32)
_HARMONICS = np.arange(1, 17)
_HARMONIC_TABLES = np.sin(2 * np.pi * _HARMONICS[:, None] * _TABLE_PHASE[None, :]).astype(np.float32)  # (16, 2048)
_PARTIALS = {  # harmonic amplitudes 1..16 of each harmonic timbre (dyad is built on half the pitch)
    "pure": (_HARMONICS == 1).astype(float),
    "hollow": np.where(_HARMONICS % 2 == 1, 1.0 / _HARMONICS, 0.0),
    "bright": 1.0 / _HARMONICS,
    "nasal": np.exp(-(((_HARMONICS - 3.5) / 1.3) ** 2)) + 0.15 * (_HARMONICS == 1),
    "buzzy": np.ones(len(_HARMONICS)),
    "dyad": np.select([_HARMONICS == 2, _HARMONICS == 3, _HARMONICS == 4, _HARMONICS == 6], [1.0, 0.8, 0.25, 0.2]),
}
_NOISE_HOLDS = {"white": (1,), "pink": (1, 4, 16, 64), "brown": (1,)}  # sample-and-hold layers (brown: a walk)
_METALLIC_RATIOS = np.array([1.0, 2.76, 5.40, 8.93])
_METALLIC_AMPLITUDES = np.array([1.0, 0.7, 0.5, 0.3])


@dataclass(frozen=True)
class AcousticSignature:
    """How a concept sounds (the same in every scene, up to random pitch, timing and level).

    Attributes:
        pitch: pitch band, one of :data:`PITCH_BANDS` (centres in :data:`BAND_HZ`).
        timbre: harmonic profile, one of :data:`TIMBRES`.
        modulation: rhythm or modulation, one of :data:`MODULATIONS`.
        envelope: amplitude envelope, one of :data:`ENVELOPES`.
        noise: colour of the noise the source mixes in, one of :data:`NOISE_COLOURS`.
    """

    pitch: str
    timbre: str
    modulation: str
    envelope: str
    noise: str

    def traits(self) -> tuple[str, str, str, str, str]:
        """``(pitch, timbre, modulation, envelope, noise)``."""
        return (self.pitch, self.timbre, self.modulation, self.envelope, self.noise)

    def words(self) -> tuple[str, ...]:
        """Caption adjectives that are true of this sound (pitch, modulation)."""
        pitch_word = PITCH_WORDS[PITCH_BANDS.index(self.pitch)]
        return tuple(word for word in (pitch_word, MODULATION_WORDS[self.modulation]) if word)


@dataclass(frozen=True)
class SoundEvent:
    """One source as heard in one clip.

    Attributes:
        concept: concept index.
        pitch_hz: fundamental frequency.
        onset: start time in seconds.
        duration: length in seconds.
        rate: modulation rate in Hz (pulses, tremolo, vibrato, trill).
        phase: modulation phase in radians.
        level: RMS level while it sounds, relative to the loud reference (1.0 for a near main source).
        near: whether the source is near (loud).
        main: whether it is an instance of the scene's main object.
    """

    concept: int
    pitch_hz: float
    onset: float
    duration: float
    rate: float
    phase: float
    level: float
    near: bool = True
    main: bool = False

    def span(self) -> tuple[float, float]:
        """``(start, end)`` in seconds where the event sounds (end clipped to the clip)."""
        return (self.onset, min(self.onset + self.duration, AUDIO_SECONDS))


@dataclass(frozen=True)
class AudioLayout:
    """Everything random about one clip except the noise samples.

    Attributes:
        events: every sound event, main source's first.
        background: colour of the background noise (not "none").
        snr_db: loud reference RMS over background noise RMS, in dB.
        gain: overall gain of the clip (reduced further only if it would clip).
    """

    events: tuple[SoundEvent, ...]
    background: str
    snr_db: float
    gain: float


_BASE_RATE_HZ = {"slow-pulses": 3.0, "fast-pulses": 8.0, "tremolo": 14.0, "vibrato": 5.5, "trill": 6.5}


def _between(rng: np.random.Generator, low: float, high: float) -> float:
    """One uniform draw in [low, high) (cheaper than ``rng.uniform`` for a scalar)."""
    return low + (high - low) * rng.random()


def sample_layout(seed: int, objects: Sequence[SceneObject], signatures: Sequence[AcousticSignature]) -> AudioLayout:
    """The layout of a scene's clip, from its seed and objects (cheap; no samples)."""
    return _draw_layout(np.random.default_rng([seed, 2]), objects, signatures)


def render_scene(seed: int, objects: Sequence[SceneObject], signatures: Sequence[AcousticSignature]) -> np.ndarray:
    """A scene's clip: float32 ``(16000,)`` in [-1, 1]; its layout is :func:`sample_layout`'s."""
    return render_scene_with_layout(seed, objects, signatures)[0]


def render_scene_with_layout(seed: int, objects: Sequence[SceneObject],
                             signatures: Sequence[AcousticSignature]) -> tuple[np.ndarray, AudioLayout]:
    """A scene's clip, float32 ``(16000,)`` in [-1, 1], and the layout it was synthesised from."""
    rng = np.random.default_rng([seed, 2])
    layout = _draw_layout(rng, objects, signatures)
    mix = coloured_noise(layout.background, rng)
    mix *= np.float32(10 ** (-layout.snr_db / 20))
    for event in layout.events:
        start, stop = _span_samples(event)
        mix[start:stop] += _source(event, signatures[event.concept], rng, start, stop)
    mix *= np.float32(REFERENCE_RMS * layout.gain)
    peak = float(np.max(np.abs(mix)))
    if peak > _MAX_PEAK:
        mix *= np.float32(_MAX_PEAK / peak)
    return mix, layout


REFERENCE_RMS = 0.12
"""RMS of a near main source in a clip of gain 1."""
_MAX_PEAK = 0.98
_OTHER_NEAR_DB = (1.5, 4.0)  # a near non-main source, below the main one
_FAR_DB = (11.0, 17.0)  # a far source, below the loud reference


def _draw_layout(rng: np.random.Generator, objects: Sequence[SceneObject],
                 signatures: Sequence[AcousticSignature]) -> AudioLayout:
    events = []
    main_level = 1.0
    for index, obj in enumerate(objects):
        if obj.near:
            level = 1.0 if index == 0 else 10 ** (-_between(rng, *_OTHER_NEAR_DB) / 20)
        else:
            level = 10 ** (-_between(rng, *_FAR_DB) / 20)
        if index == 0:
            main_level = level
        else:  # the main source stays the loudest
            level = min(level, main_level * 10 ** (-_OTHER_NEAR_DB[0] / 20))
        if obj.count == 1:
            timing = [(_between(rng, 0.0, 0.2), _between(rng, 0.55, 0.8)) if index == 0
                      else (_between(rng, 0.0, 0.5), _between(rng, 0.3, 0.5))]
        else:  # two separate events, one in each half of the clip
            timing = [(_between(rng, 0.0, 0.1), _between(rng, 0.3, 0.4)),
                      (_between(rng, 0.5, 0.6), _between(rng, 0.3, 0.4))]
        for onset, duration in timing:
            events.append(_event(rng, obj.concept, signatures[obj.concept], onset=onset, duration=duration,
                                 level=level, near=obj.near, main=index == 0))
    background = NOISE_COLOURS[1 + int(rng.random() * (len(NOISE_COLOURS) - 1))]
    return AudioLayout(events=tuple(events), background=background, snr_db=_between(rng, 18.0, 30.0),
                       gain=10 ** (_between(rng, -2.0, 2.0) / 20))


def _event(rng: np.random.Generator, concept: int, signature: AcousticSignature, onset: float, duration: float,
           level: float, near: bool, main: bool) -> SoundEvent:
    band = BAND_HZ[PITCH_BANDS.index(signature.pitch)]
    pitch, rate, phase = rng.random(3)
    return SoundEvent(concept=concept, pitch_hz=float(band * 2 ** (0.24 * pitch - 0.12)), onset=float(onset),
                      duration=float(duration),
                      rate=float(_BASE_RATE_HZ.get(signature.modulation, 1.0) * (0.85 + 0.3 * rate)),
                      phase=float(2 * np.pi * phase), level=float(level), near=near, main=main)


def _span_samples(event: SoundEvent) -> tuple[int, int]:
    """``(start, stop)`` sample indices of an event's span."""
    start = int(np.ceil(event.onset * SAMPLE_RATE))
    return start, min(int(np.floor((event.onset + event.duration) * SAMPLE_RATE)) + 1, N_SAMPLES)


def _source(event: SoundEvent, signature: AcousticSignature, rng: np.random.Generator, start: int,
            stop: int) -> np.ndarray:
    """One event over its span: float32 ``(stop - start,)`` with RMS ``event.level`` over the span."""
    time = _TIME[start:stop]
    cycles = _cycles(signature.modulation, event, time, start, stop)
    tone = _tone(signature.timbre, cycles, event.pitch_hz, rng, time)
    gain = _amplitude_modulation(signature.modulation, event, time)
    if gain is not None:
        tone *= gain
    if signature.noise != "none":
        tone *= np.float32(1.0 / _rms(tone))
        tone += np.float32(0.6) * coloured_noise(signature.noise, rng, len(tone))
    tone *= _envelope(signature.envelope, event.onset, event.duration, time)
    tone *= np.float32(event.level / _rms(tone))
    return tone


def _rms(signal: np.ndarray) -> float:
    return max(float(np.sqrt(np.dot(signal, signal) / len(signal))), 1e-9)


def _turns(rate_hz: float, phase: float, time: np.ndarray) -> np.ndarray:
    """Phase in turns of a constant-rate oscillator at each sample of ``time`` (seconds, float32 ``(L,)``)."""
    return time * np.float32(rate_hz) + np.float32(phase / (2 * np.pi))


def _cycles(modulation: str, event: SoundEvent, time: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Phase in turns of the source's fundamental at each sample of ``time`` = ``_TIME[start:stop]``, float32
    ``(L,)`` (>= 0): the integral of its instantaneous frequency, in closed form for each pitch modulation."""
    f0 = event.pitch_hz
    if modulation == "rising":
        return _RISE_CYCLES[start:stop] * np.float32(f0)
    if modulation == "falling":
        return _FALL_CYCLES[start:stop] * np.float32(f0)
    cycles = time * np.float32(f0)
    if modulation == "vibrato":  # f0 * (1 + depth * sin(2 pi (rate t + p)))
        start_turn = event.phase / (2 * np.pi)
        wobble = np.float32(np.cos(2 * np.pi * start_turn)) - _lookup(
            _SINE_TABLE, _turns(event.rate, event.phase, time) + 0.25)
        cycles += wobble * np.float32(f0 * _VIBRATO_DEPTH / (2 * np.pi * event.rate))
    elif modulation == "trill":  # f0 * (1 + step) during the second half of each trill period
        turns = _turns(event.rate, event.phase, time)
        start_turn = event.phase / (2 * np.pi)
        upper_time = np.floor(turns) * np.float32(0.5) + np.maximum(turns - np.floor(turns) - np.float32(0.5), 0)
        upper_time -= np.float32(np.floor(start_turn) * 0.5 + max(start_turn - np.floor(start_turn) - 0.5, 0.0))
        cycles += upper_time * np.float32(f0 * _TRILL_STEP / event.rate)
    return cycles


def _amplitude_modulation(modulation: str, event: SoundEvent, time: np.ndarray) -> np.ndarray | None:
    """Amplitude gain ``(L,)`` of pulses or tremolo; None for the other modulations."""
    if modulation in ("slow-pulses", "fast-pulses"):
        return _lookup(_PULSE_TABLE, _turns(event.rate, event.phase, time))
    if modulation == "tremolo":
        return _lookup(_TREMOLO_TABLE, _turns(event.rate, event.phase, time))
    return None


def _tone(timbre: str, cycles: np.ndarray, pitch_hz: float, rng: np.random.Generator,
          time: np.ndarray) -> np.ndarray:
    """The periodic (or narrow-band) part of a source: float32 ``(L,)``, driven by ``cycles`` (turns)."""
    top_hz = pitch_hz * 2**0.5  # the highest the modulations take the pitch, with margin
    if timbre == "metallic":
        tone = np.zeros(len(cycles), dtype=np.float32)
        for ratio, amplitude in zip(_METALLIC_RATIOS, _METALLIC_AMPLITUDES):
            if ratio * top_hz < _NYQUIST_MARGIN_HZ:
                tone += np.float32(amplitude) * _lookup(_SINE_TABLE, cycles * np.float32(ratio))
        return tone
    if timbre == "breathy":
        band = _smooth_noise(rng, bandwidth_hz=max(pitch_hz * 0.15, 20.0), time=time)
        band += np.float32(0.3)
        return band * _lookup(_SINE_TABLE, cycles)
    if timbre == "dyad":
        cycles, top_hz = cycles * np.float32(0.5), top_hz / 2
    return _lookup(_harmonic_wave(timbre, (_HARMONICS * top_hz < _NYQUIST_MARGIN_HZ).tobytes()), cycles)


@lru_cache(maxsize=None)
def _harmonic_wave(timbre: str, kept: bytes) -> np.ndarray:
    """One period (float32 ``(2048,)``, read-only) of a harmonic timbre from the harmonics flagged in ``kept``
    (a bool mask as bytes). Computed once per timbre and mask: at most 6 x 17 tables, and no BLAS call, with
    the threads it may wake, per rendered event."""
    mask = np.frombuffer(kept, dtype=bool)
    amplitudes = np.where(mask, _PARTIALS[timbre], 0.0).astype(np.float32)
    wave = amplitudes @ _HARMONIC_TABLES
    wave.flags.writeable = False
    return wave


def _lookup(table: np.ndarray, cycles: np.ndarray) -> np.ndarray:
    """``table`` (one period of 2048 values) read at phase ``cycles`` (turns, >= 0): ``(L,)``."""
    index = (cycles * np.float32(_TABLE_SIZE)).astype(np.int32)
    index &= _TABLE_SIZE - 1
    return table[index]


def _envelope(kind: str, onset: float, duration: float, time: np.ndarray) -> np.ndarray:
    """Amplitude envelope float32 ``(L,)`` at ``time`` (seconds within [onset, onset + duration])."""
    seconds = time - np.float32(onset)
    x = seconds / np.float32(duration)
    if kind == "percussive":
        shape = np.exp(x * np.float32(-4.0)) * np.minimum(seconds / np.float32(0.003), 1.0)
    elif kind == "sustained":
        shape = np.minimum(seconds / np.float32(0.03), 1.0)
    elif kind == "swelling":
        shape = x * np.sqrt(x)
    elif kind == "fading":
        shape = np.minimum(seconds / np.float32(0.01), 1.0) * (1.0 - x)
    else:
        raise ValueError(f"unknown envelope {kind!r}")
    return shape * np.minimum((np.float32(duration) - seconds) / np.float32(0.03), 1.0)


def coloured_noise(colour: str, rng: np.random.Generator, length: int = N_SAMPLES) -> np.ndarray:
    """Unit-RMS, zero-mean noise float32 ``(length,)``: "white", "pink" or "brown".

    White noise is uniform; pink noise stacks four layers of sample-and-hold
    noise (held for 1, 4, 16 and 64 samples) with equal weights (about 1/f);
    brown noise is a random walk (the running sum of white noise, about 1/f^2).
    """
    if colour not in _NOISE_HOLDS:
        raise ValueError(f"unknown noise colour {colour!r}")
    if colour == "brown":
        noise = np.cumsum(_uniform(rng, length), dtype=np.float32)
    else:
        holds = _NOISE_HOLDS[colour]
        padded = -(-length // holds[-1]) * holds[-1]
        sizes = [padded // hold for hold in holds]
        samples = _uniform(rng, sum(sizes))
        noise = samples[:padded]
        offset = padded
        for hold, size in zip(holds[1:], sizes[1:]):
            noise.reshape(-1, hold)[:] += samples[offset:offset + size, None]
            offset += size
        noise = noise[:length]
    noise -= np.float32(noise.mean())
    noise *= np.float32(1.0 / _rms(noise))
    return noise


def _uniform(rng: np.random.Generator, size: int) -> np.ndarray:
    """Zero-mean uniform float32 samples in [-1, 1), on a grid of 256 levels (random bytes are cheap)."""
    samples = np.frombuffer(rng.bytes(size), dtype=np.int8).astype(np.float32)
    samples *= np.float32(1 / 128)
    samples += np.float32(1 / 256)
    return samples


def _smooth_noise(rng: np.random.Generator, bandwidth_hz: float, time: np.ndarray) -> np.ndarray:
    """Low-pass noise float32 ``(L,)`` of about ``bandwidth_hz`` at ``time``: coarse samples, linearly interpolated."""
    span = max(float(time[-1] - time[0]), 1.0 / SAMPLE_RATE)
    points = int(np.ceil(2 * bandwidth_hz * span)) + 2
    coarse = rng.standard_normal(points)
    return np.interp(time, np.linspace(float(time[0]), float(time[0]) + span, points), coarse).astype(np.float32)
