"""The synthetic world: concepts, scenes, rendering, files, captions and the source type."""

from __future__ import annotations

import itertools
import json
import time
import typing
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from bridge.errors import BridgeError, ItemError
from bridge.progress import SilentReporter
from bridge.data.sources import SourceContext
from bridge_synthworld.captions import (
    AUDIO_WORDS,
    LEXICON,
    NEUTRAL_FUNCTION_WORDS,
    VISION_FAR,
    VISION_NEAR,
    VISION_WORDS,
    plural,
    words_of,
)
from bridge_synthworld.files import materialize, partial_path, read_png, read_wav, write_png, write_wav
from bridge_synthworld.render_image import COLOUR_FAMILIES, TEXTURES
from bridge_synthworld.source import SOURCE_TYPE, Split, SynthworldSourceOptions, synthworld_items
from bridge_synthworld.world import SPLITS, World


@pytest.fixture(scope="module")
def world() -> World:
    return World(seed=0)


def _latin_traits(world: World, modality: str) -> list[tuple[str, str, str]]:
    if modality == "visual":
        return [(c.visual.shape, c.visual.colour, c.visual.texture) for c in world.concepts]
    return [(c.acoustic.pitch, c.acoustic.timbre, c.acoustic.modulation) for c in world.concepts]


# --- concepts -----------------------------------------------------------------------


def test_concepts_are_named_and_distinguishable_in_each_modality(world):
    concepts = world.concepts
    assert len(concepts) >= 48
    assert len({c.name for c in concepts}) == len(concepts)
    assert all(c.synonyms[0] == c.name for c in concepts)
    all_synonyms = [s for c in concepts for s in c.synonyms]
    assert len(set(all_synonyms)) == len(all_synonyms), "a synonym names two concepts"
    assert len({c.visual for c in concepts}) == len(concepts)
    assert len({c.acoustic for c in concepts}) == len(concepts)
    for modality in ("visual", "acoustic"):
        traits = _latin_traits(world, modality)
        shared = [sum(x == y for x, y in zip(a, b)) for a, b in itertools.combinations(traits, 2)]
        assert max(shared) == 1, f"two concepts share more than one core {modality} trait"
        assert sum(shared) > 100, f"too few concept pairs share a {modality} trait to make the task non-trivial"


def test_look_and_sound_are_drawn_independently():
    """Concepts with the same shape do not tend to share a pitch band (independent signatures)."""
    world = World(seed=0, n_concepts=64)
    pairs = list(itertools.combinations(world.concepts, 2))
    same_shape = [a.acoustic.pitch == b.acoustic.pitch for a, b in pairs if a.visual.shape == b.visual.shape]
    overall = np.mean([a.acoustic.pitch == b.acoustic.pitch for a, b in pairs])
    assert abs(np.mean(same_shape) - overall) < 0.1


def test_different_seed_makes_a_different_world(world):
    other = World(seed=1)
    assert [c.visual for c in other.concepts] != [c.visual for c in world.concepts]
    assert [c.acoustic for c in other.concepts] != [c.acoustic for c in world.concepts]
    scene, other_scene = world.scenes("eval", 1)[0], other.scenes("eval", 1)[0]
    assert scene.seed != other_scene.seed
    assert not np.array_equal(world.render_image(scene), other.render_image(other_scene))


def test_world_rejects_bad_arguments():
    with pytest.raises(BridgeError, match="seed"):
        World(seed=-1)
    with pytest.raises(BridgeError, match="n_concepts"):
        World(seed=0, n_concepts=65)
    with pytest.raises(BridgeError, match="split"):
        World(0).scenes("test", 3)


# --- scenes ---------------------------------------------------------------------------


def test_scenes_are_prefix_stable_balanced_and_splits_disjoint(world):
    n = len(world.concepts)
    scenes = world.scenes("eval", 3 * n + 7)
    assert world.scenes("eval", 50) == scenes[:50]
    assert world.scenes("eval", 3 * n + 7) == scenes
    assert sorted(s.main for s in scenes[:n]) == list(range(n))
    assert len({s.id for s in scenes}) == len(scenes)
    sizes = np.bincount([len(s.objects) for s in scenes], minlength=4)[1:] / len(scenes)
    assert all(0.15 < share < 0.5 for share in sizes), "scenes should hold 1, 2 and 3 objects"
    assert all(len(set(s.concepts)) == len(s.concepts) and s.concepts[0] == s.main for s in scenes)
    assert all(1 <= s.instances <= 4 and all(o.count in (1, 2) for o in s.objects) for s in scenes)
    assert 0.05 < np.mean([o.count == 2 for s in scenes for o in s.objects]) < 0.35
    assert 0.1 < np.mean([not s.objects[0].near for s in scenes]) < 0.35
    assert all(not o.near for s in scenes if not s.objects[0].near for o in s.objects), "far main, near other"
    assert all(not LEXICON[o.concept].mass for s in scenes for o in s.objects if o.count == 2)
    seeds = {split: {s.seed for s in world.scenes(split, 300)} for split in SPLITS}
    for a, b in itertools.combinations(SPLITS, 2):
        assert not seeds[a] & seeds[b], f"splits {a} and {b} share scene seeds"
    assert all(len(found) == 300 for found in seeds.values())


# --- determinism and files ---------------------------------------------------------------


def _bytes_of(items) -> list[bytes]:
    return [Path(item.value).read_bytes() for item in items]


def test_same_seed_gives_the_same_bytes(tmp_path, world):
    for modality in ("image", "audio"):
        first = materialize(world, "paired", 6, modality, tmp_path / "a")
        second = materialize(World(seed=0), "paired", 6, modality, tmp_path / "b")
        assert _bytes_of(first) == _bytes_of(second)
        assert len(set(_bytes_of(first))) == 6
    for style in ("text:vision", "text:audio", "text:neutral"):
        assert materialize(world, "paired", 20, style, tmp_path) == materialize(World(0), "paired", 20, style, tmp_path)
    other = materialize(World(seed=3), "paired", 6, "image", tmp_path / "c")
    assert _bytes_of(other) != _bytes_of(materialize(world, "paired", 6, "image", tmp_path / "a"))


def test_generated_files_decode_to_the_rendered_arrays(tmp_path, world):
    scenes = world.scenes("eval", 8)
    images = materialize(world, "eval", 8, "image", tmp_path)
    clips = materialize(world, "eval", 8, "audio", tmp_path)
    for scene, image_item, clip_item in zip(scenes, images, clips):
        assert image_item.id == clip_item.id == scene.id
        assert image_item.label == clip_item.label == world.concepts[scene.main].name
        assert Path(image_item.value).is_absolute()
        assert image_item.value.endswith(f"/0/eval/image/{scene.id}.png")
        image = read_png(Path(image_item.value))
        assert image.dtype == np.uint8 and image.shape == (64, 64, 3)
        assert np.array_equal(image, world.render_image(scene))
        clip = read_wav(Path(clip_item.value))
        assert clip.dtype == np.float32 and clip.shape == (16000,)
        assert np.abs(clip).max() <= 1.0
        rendered = world.render_audio(scene)
        assert rendered.dtype == np.float32 and np.abs(rendered).max() <= 1.0
        assert np.abs(clip - rendered).max() <= 1 / 32768
        assert np.abs(clip).max() > (0.2 if scene.objects[0].near else 0.03), "a clip is nearly silent"


def test_images_show_a_saturated_object_on_a_muted_background(world):
    """The main object's colour family is the dominant saturated hue (protects the visual signal)."""
    hits = 0
    scenes = [s for s in world.scenes("eval", 96) if len(s.objects) == 1 and s.objects[0].count == 1]
    for scene in scenes:
        pixels = world.render_image(scene).astype(np.float32) / 255
        saturation = pixels.max(-1) - pixels.min(-1)
        colour = world.concepts[scene.main].visual.colour
        strong = pixels[saturation > 0.35]
        assert len(strong) > 25, f"{scene.id}: main object barely visible"
        hue = _hue_degrees(strong)
        centre = {"red": 0, "orange": 28, "yellow": 55, "green": 120, "cyan": 180, "blue": 228, "purple": 275,
                  "pink": 320}[colour]
        hits += np.median(np.abs((hue - centre + 180) % 360 - 180)) < 20
    assert hits / len(scenes) > 0.9


def _hue_degrees(rgb: np.ndarray) -> np.ndarray:
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return np.degrees(np.arctan2(np.sqrt(3) * (g - b), 2 * r - g - b)) % 360


def test_wav_round_trip_is_within_16_bit_quantisation(tmp_path):
    audio = np.linspace(-1.0, 1.0, 16000, dtype=np.float32) * np.float32(0.999)
    audio[::7] = np.random.default_rng(0).uniform(-1, 1, size=len(audio[::7]))
    write_wav(tmp_path / "x.wav", audio)
    back = read_wav(tmp_path / "x.wav")
    assert back.shape == audio.shape and back.dtype == np.float32
    assert np.abs(back - audio).max() <= 1 / 32768
    assert (tmp_path / "x.wav").stat().st_size == 44 + 2 * 16000


def test_corrupt_files_raise_item_errors_naming_the_file(tmp_path, world):
    image = world.render_image(world.scenes("eval", 1)[0])
    write_png(tmp_path / "good.png", image)
    good = (tmp_path / "good.png").read_bytes()
    (tmp_path / "garbage.png").write_bytes(b"not a png at all")
    (tmp_path / "half.png").write_bytes(good[: len(good) // 2])
    for name in ("garbage.png", "half.png", "missing.png"):
        with pytest.raises(ItemError, match=name):
            read_png(tmp_path / name)
    write_wav(tmp_path / "good.wav", np.zeros(16000, dtype=np.float32))
    wav = (tmp_path / "good.wav").read_bytes()
    (tmp_path / "garbage.wav").write_bytes(b"RIFF....WAVEjunk")
    (tmp_path / "half.wav").write_bytes(wav[: len(wav) // 2])
    for name in ("garbage.wav", "half.wav", "missing.wav"):
        with pytest.raises(ItemError, match=name):
            read_wav(tmp_path / name)


def test_materialize_is_idempotent_and_ignores_half_written_files(tmp_path, world):
    items = materialize(world, "eval", 5, "image", tmp_path)
    folder = Path(items[0].value).parent
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    again = materialize(world, "eval", 5, "image", tmp_path, progress=SilentReporter())
    assert again == items
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before

    damaged, expected = Path(items[1].value), Path(items[1].value).read_bytes()
    damaged.write_bytes(expected[: len(expected) // 2])  # a file cut short by some other means
    stale_partial = damaged.with_name(f".{damaged.name}.99999.partial")  # left by a killed run
    stale_partial.write_bytes(b"half")
    next_path = folder / "eval-000005.png"
    partial_path(next_path).write_bytes(b"half")  # this process's own temporary name, half written
    more = materialize(world, "eval", 6, "image", tmp_path)
    assert [item.value for item in more[:5]] == [item.value for item in items]
    assert damaged.read_bytes() == expected
    assert np.array_equal(read_png(next_path), world.render_image(world.scenes("eval", 6)[5]))
    assert all(not item.value.endswith(".partial") for item in more)
    unchanged = [p for p in folder.glob("*.png") if p not in (damaged, next_path)]
    assert all(p.stat().st_mtime_ns == before[p.name] for p in unchanged)


def test_materialize_refuses_a_cache_from_another_generator_version(tmp_path, world):
    materialize(world, "eval", 1, "audio", tmp_path)
    stamp = tmp_path / "0" / "world.json"
    content = json.loads(stamp.read_text())
    content["generator_version"] = -1
    stamp.write_text(json.dumps(content))
    with pytest.raises(BridgeError, match="world.json"):
        materialize(world, "eval", 1, "audio", tmp_path)


def test_materialize_rejects_unknown_modality_and_split(tmp_path, world):
    with pytest.raises(BridgeError, match="video"):
        materialize(world, "eval", 1, "video", tmp_path)
    with pytest.raises(BridgeError, match="valid"):
        materialize(world, "valid", 1, "image", tmp_path)


# --- captions -------------------------------------------------------------------------------


def test_captions_name_the_scene_in_three_styles(tmp_path, world):
    count = 200
    scenes = world.scenes("overlap", count)
    by_style = {style: materialize(world, "overlap", count, f"text:{style}", tmp_path)
                for style in ("vision", "audio", "neutral")}
    assert materialize(world, "overlap", count, "text", tmp_path) == by_style["neutral"]
    vocabulary = set(world.vocabulary())
    all_synonym_words = {w for c in world.concepts for s in c.synonyms for w in words_of(s)}
    plurals = {w for c in world.concepts for s in c.synonyms for w in words_of(plural(s))}
    vision_marks = VISION_WORDS | set(COLOUR_FAMILIES) | set(TEXTURES) | set(VISION_NEAR) | set(VISION_FAR)
    audio_marks = AUDIO_WORDS | {entry.gerund for entry in LEXICON}
    for index, scene in enumerate(scenes):
        for style, items in by_style.items():
            item = items[index]
            assert item.id == scene.id and not item.is_file and item.label == world.concepts[scene.main].name
            words = words_of(item.value)
            assert set(words) <= vocabulary, f"{item.value!r} uses words outside the vocabulary"
            for obj in scene.objects:
                nouns = world.concepts[obj.concept].synonyms
                if obj.count == 2:
                    assert "two" in words, item.value
                    nouns = tuple(plural(noun) for noun in nouns)
                named = [s for s in nouns if f" {s} " in f" {' '.join(words)} "]
                assert named, f"{style} caption {item.value!r} does not name {obj}"
        neutral = set(words_of(by_style["neutral"][index].value))
        assert neutral <= all_synonym_words | plurals | NEUTRAL_FUNCTION_WORDS
        assert not neutral & (vision_marks | audio_marks)
        assert set(words_of(by_style["audio"][index].value)) & audio_marks
    assert sum(bool(set(words_of(i.value)) & vision_marks) for i in by_style["vision"]) > 0.8 * count
    assert len({i.value for i in by_style["neutral"]}) > 0.5 * count
    assert materialize(world, "overlap", 3, "text:audio", tmp_path) == by_style["audio"][:3]


# --- the source type --------------------------------------------------------------------------


def test_source_options_and_items(tmp_path):
    assert typing.get_args(Split) == SPLITS
    assert SOURCE_TYPE.name == "synthworld" and SOURCE_TYPE.options is SynthworldSourceOptions
    with pytest.raises(ValidationError):
        SynthworldSourceOptions(split="eval", modality="audio", count=3, colour="red")
    with pytest.raises(ValidationError):
        SynthworldSourceOptions(split="eval", modality="smell", count=3)
    context = SourceContext(base_dir=tmp_path / "recipes", cache_dir=tmp_path / "cache")
    options = SynthworldSourceOptions.model_validate({"split": "eval", "modality": "audio", "count": 3})
    items = synthworld_items(options, context)
    assert [Path(i.value).parent for i in items] == [tmp_path / "cache" / "synthworld" / "0" / "eval" / "audio"] * 3
    texts = SOURCE_TYPE.items(SynthworldSourceOptions(split="eval", modality="text", count=3, root=Path("data")),
                              context)
    assert [t.id for t in texts] == [i.id for i in items] and [t.label for t in texts] == [i.label for i in items]
    images = synthworld_items(SynthworldSourceOptions(split="eval", modality="image", count=2, seed=4,
                                                      root=Path("data")), context)
    assert Path(images[0].value).parent == tmp_path / "recipes" / "data" / "4" / "eval" / "image"


# --- speed and learnability ------------------------------------------------------------------


def test_generation_speed(tmp_path, world):
    count = 150
    rates = {}
    for modality in ("image", "audio"):
        wall, cpu = time.perf_counter(), time.process_time()
        materialize(world, "mcr_train", count, modality, tmp_path)
        rates[modality] = (count / (time.perf_counter() - wall), count / (time.process_time() - cpu))
    print("synthworld generation (items/s, wall / cpu): "
          + ", ".join(f"{m} {w:.0f} / {c:.0f}" for m, (w, c) in rates.items()))
    assert all(cpu > 150 for _, cpu in rates.values())


def _hue_features(image: np.ndarray) -> np.ndarray:
    """Placement-invariant image features: hue histogram of saturated pixels + their share: (25,)."""
    pixels = image.astype(np.float32) / 255
    saturated = (pixels.max(-1) - pixels.min(-1)) > 0.3
    histogram, _ = np.histogram(_hue_degrees(pixels[saturated]), bins=24, range=(0, 360))
    return np.concatenate([histogram / (saturated.sum() + 1), [saturated.mean()]])


def _spectrum_features(clip: np.ndarray) -> np.ndarray:
    """Log power spectrum averaged over 256-sample frames: (129,)."""
    frames = clip[: len(clip) // 256 * 256].reshape(-1, 256) * np.hanning(256)
    return np.log((np.abs(np.fft.rfft(frames, axis=1)) ** 2).mean(axis=0) + 1e-6)


def _nearest_centroid_accuracy(train: np.ndarray, train_labels: np.ndarray, test: np.ndarray,
                               test_labels: np.ndarray, classes: int) -> float:
    mean, std = train.mean(axis=0), train.std(axis=0) + 1e-6
    train, test = (train - mean) / std, (test - mean) / std
    centroids = np.stack([train[train_labels == c].mean(axis=0) for c in range(classes)])
    predicted = np.argmin(((test[:, None, :] - centroids[None]) ** 2).sum(-1), axis=1)
    return float((predicted == test_labels).mean())


def test_concepts_are_learnable_from_raw_features(world):
    n = len(world.concepts)
    train, test = world.scenes("mcr_train", 20 * n), world.scenes("eval", 5 * n)
    train_labels, test_labels = np.array([s.main for s in train]), np.array([s.main for s in test])
    chance = 1 / n
    image_accuracy = _nearest_centroid_accuracy(
        np.stack([_hue_features(world.render_image(s)) for s in train]), train_labels,
        np.stack([_hue_features(world.render_image(s)) for s in test]), test_labels, n)
    audio_accuracy = _nearest_centroid_accuracy(
        np.stack([_spectrum_features(world.render_audio(s)) for s in train]), train_labels,
        np.stack([_spectrum_features(world.render_audio(s)) for s in test]), test_labels, n)
    print(f"nearest-centroid accuracy over {n} concepts: image {image_accuracy:.3f}, audio {audio_accuracy:.3f}, "
          f"chance {chance:.3f}")
    assert image_accuracy > 3 * chance
    assert audio_accuracy > 3 * chance


def test_two_processes_generating_one_split_at_once_both_succeed(tmp_path):
    """Ranks of `bridge extract` under torchrun list and write the same world folder at the same time."""
    import subprocess
    import sys

    script = ("import sys; from pathlib import Path; from bridge_synthworld.world import World; "
              "from bridge_synthworld.files import materialize; "
              "items = materialize(World(seed=0), 'eval', 400, sys.argv[1], Path(sys.argv[2])); print(len(items))")
    for modality in ("audio", "image"):
        runs = [subprocess.Popen([sys.executable, "-c", script, modality, str(tmp_path)], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(3)]
        results = [run.communicate(timeout=300) + (run.returncode,) for run in runs]
        assert all(code == 0 and out.strip() == "400" for out, err, code in results), results
    assert not list(tmp_path.rglob("*.partial"))
