"""Synthworld v2: multi-object scenes (counts, near / far), their captions, and the sidecar manifests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bridge_synthworld.captions import VISION_FAR, VISION_NEAR, words_of
from bridge_synthworld.files import materialize, read_png, read_wav
from bridge_synthworld.manifest import MANIFEST_NAME, read_manifest
from bridge_synthworld.world import World


@pytest.fixture(scope="module")
def world() -> World:
    return World(seed=0)


def test_multi_object_scenes_render_deterministically(world):
    scenes = [s for s in world.scenes("paired", 60) if len(s.objects) == 3 or s.instances >= 3][:4]
    assert len(scenes) == 4
    again = World(seed=0)
    for scene in scenes:
        assert np.array_equal(world.render_image(scene), again.render_image(scene))
        assert np.array_equal(world.render_audio(scene), again.render_audio(scene))
        assert len(world.image_layout(scene).objects) == scene.instances
        assert len(world.audio_layout(scene).events) == scene.instances


def test_near_is_large_and_loud_far_is_small_and_quiet(world):
    scenes = world.scenes("eval", 300)
    near_radii, far_radii, near_levels, far_levels = [], [], [], []
    for scene in scenes:
        for placed in world.image_layout(scene).objects:
            (near_radii if placed.near else far_radii).append(placed.radius)
        for event in world.audio_layout(scene).events:
            (near_levels if event.near else far_levels).append(event.level)
        main_radius = max(p.radius for p in world.image_layout(scene).objects if p.main)
        assert all(p.radius <= main_radius for p in world.image_layout(scene).objects), scene
        main_level = max(e.level for e in world.audio_layout(scene).events if e.main)
        assert all(e.level <= main_level for e in world.audio_layout(scene).events), scene
    assert min(near_radii) > max(far_radii)
    assert min(near_levels) > 2 * max(far_levels)
    single = [s for s in scenes if len(s.objects) == 1 and s.objects[0].count == 1]
    loudness = {near: np.mean([np.sqrt(np.mean(world.render_audio(s) ** 2)) for s in single if s.objects[0].near == near])
                for near in (True, False)}
    assert loudness[True] > 2.5 * loudness[False], "a lone far source should sound quieter than a lone near one"


def test_captions_mention_counts_and_distance_in_each_style(world):
    scenes = world.scenes("overlap", 300)
    styles = {"vision": (set(VISION_NEAR), set(VISION_FAR)), "audio": ({"loudly", "loud"},
              {"faintly", "quietly", "distance", "faint"}), "neutral": ({"close"}, {"far", "distant"})}
    for style, (near_words, far_words) in styles.items():
        said_near = said_far = said_two = 0
        for scene in scenes:
            words = set(words_of(world.caption(scene, style)))
            assert len(words_of(world.caption(scene, style))) <= 16
            has_near = any(o.near for o in scene.objects)
            has_far = any(not o.near for o in scene.objects)
            said_near += bool(words & near_words)
            said_far += bool(words & far_words)
            assert not (words & near_words) or has_near, (style, world.caption(scene, style), scene.objects)
            assert not (words & far_words) or has_far, (style, world.caption(scene, style), scene.objects)
            if any(o.count == 2 for o in scene.objects):
                assert "two" in words, (style, world.caption(scene, style))
                said_two += 1
        assert said_near > 0.4 * len(scenes) and said_far > 0.15 * len(scenes), style
        assert said_two > 10


def test_manifests_record_boxes_and_spans_consistent_with_the_files(tmp_path, world):
    count = 40
    images = materialize(world, "eval", count, "image", tmp_path)
    clips = materialize(world, "eval", count, "audio", tmp_path)
    image_entries = read_manifest(Path(images[0].value).parent / MANIFEST_NAME)
    audio_entries = read_manifest(Path(clips[0].value).parent / MANIFEST_NAME)
    assert [e["id"] for e in image_entries] == [e["id"] for e in audio_entries] == [i.id for i in images]
    for item, clip, image_entry, audio_entry, scene in zip(images, clips, image_entries, audio_entries,
                                                            world.scenes("eval", count)):
        assert Path(item.value).name == image_entry["file"] and Path(clip.value).name == audio_entry["file"]
        assert image_entry["main"] == audio_entry["main"] == item.label
        assert len(image_entry["objects"]) == len(audio_entry["objects"]) == scene.instances
        assert sorted(o["concept"] for o in image_entry["objects"]) == sorted(o["concept"] for o in audio_entry["objects"])
        pixels = read_png(Path(item.value)).astype(np.float32)
        background = np.ones((64, 64), dtype=bool)
        for obj in image_entry["objects"]:
            x0, y0, x1, y1 = obj["box"]
            assert 0 <= x0 < x1 <= 64 and 0 <= y0 < y1 <= 64
            background[y0:y1, x0:x1] = False
        border = np.median(pixels[background], axis=0)
        main_box = [o["box"] for o in image_entry["objects"] if o["main"]][-1]
        x0, y0, x1, y1 = main_box
        region = pixels[y0:y1, x0:x1]
        assert np.abs(region - border).sum(-1).max() > 60, f"{item.id}: the main box looks like the background"
        audio = read_wav(Path(clip.value))
        for obj in audio_entry["objects"]:
            start, end = obj["span"]
            assert 0 <= start < end <= 1.0
        silent = np.ones(16000, dtype=bool)
        for obj in audio_entry["objects"]:
            silent[int(obj["span"][0] * 16000):int(np.ceil(obj["span"][1] * 16000))] = False
        inside = audio[~silent]
        outside = audio[silent]
        if len(outside) > 1600 and scene.objects[0].near:  # only background noise outside the spans
            assert np.sqrt(np.mean(inside ** 2)) > 2 * np.sqrt(np.mean(outside ** 2)), clip.id
    fewer = materialize(world, "eval", 5, "image", tmp_path)
    manifest = Path(fewer[0].value).parent / MANIFEST_NAME
    assert len(read_manifest(manifest)) == count, "a longer manifest is kept"
    written = manifest.read_bytes()  # from the layouts the renderer used
    manifest.unlink()
    materialize(world, "eval", count, "image", tmp_path)  # no file to write: layouts drawn again
    assert manifest.read_bytes() == written
