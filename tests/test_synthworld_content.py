"""The synthetic world's content is pinned: speeding up generation must not change a pixel, sample or word.

The digests below hash *decoded* content (pixel arrays, PCM samples, cloud
arrays, captions, manifest entries), never container bytes, so a change of
PNG / WAV encoding that decodes to the same content keeps them. They were
computed with the code of commit 439137b (generator version 2), whose world
the shipped weights were trained on.
"""

from __future__ import annotations

import hashlib
import io
import json
import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bridge_synthworld.files import encode_wav, materialize, read_png, read_wav
from bridge_synthworld.manifest import MANIFEST_NAME, audio_record, image_record, read_manifest
from bridge_synthworld.world import World

SPLITS = ("mcr_train", "eval", "val", "paired")
SCENES_PER_SPLIT = 24

RENDERED = {
    "image": "b8583b15f11f7396f93b8fb7ab833d7631bfa5e84e6cf79243693f70d8721c41",
    "audio": "844e317f62870eaeca1e3d99d17fd652bcf0119b4a06f7ef5ba8c20115aef9fd",
    "pointcloud": "2aec9138a27fd9770b755b31b4e8a00a24d14dd1749b88534ba71b44d6e51146",
    "text": "ed62338dc19d802083f5bf237c36393550a4d4f76107109ac4137a4301cb95a3",
    "manifest": "c0659dc571f12acad628a313dc17d89cd272af3f83976a8ae984cb757f4fa36c",
}
"""sha256 of the rendered arrays (float32 clips), captions and manifest entries of the scenes below."""

DECODED = {
    "image": "b8583b15f11f7396f93b8fb7ab833d7631bfa5e84e6cf79243693f70d8721c41",
    "audio": "8d2d9577c25922041c71d1d8254aa9f167cda5c9bd0a9fc2b339f2def8c0eb05",
}
"""sha256 of what the written PNG / WAV files decode to (PIL pixels; 16-bit PCM samples)."""


@pytest.fixture(scope="module")
def world() -> World:
    return World(seed=0)


def _scenes(world: World):
    return [(split, scene) for split in SPLITS for scene in world.scenes(split, SCENES_PER_SPLIT)]


def _digest(chunks) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def rendered_digests(world: World) -> dict[str, str]:
    """The digests of :data:`RENDERED` for ``world``."""
    scenes = [scene for _, scene in _scenes(world)]
    records = ([image_record(world, scene) for scene in scenes] + [audio_record(world, scene) for scene in scenes])
    return {
        "image": _digest(np.ascontiguousarray(world.render_image(scene)).tobytes() for scene in scenes),
        "audio": _digest(np.ascontiguousarray(world.render_audio(scene), dtype="<f4").tobytes() for scene in scenes),
        "pointcloud": _digest(np.ascontiguousarray(world.render_cloud(scene), dtype="<f4").tobytes()
                              for scene in scenes),
        "text": _digest(world.caption(scene, style).encode() + b"\0"
                        for scene in scenes for style in ("neutral", "vision", "audio")),
        "manifest": _digest(json.dumps(record, sort_keys=True).encode() + b"\n" for record in records),
    }


def _decoded_image(path: str) -> bytes:
    with Image.open(path) as image:
        assert image.mode == "RGB" and image.size == (64, 64)
        return np.asarray(image, dtype=np.uint8).tobytes()


def _decoded_pcm(path: str) -> bytes:
    with wave.open(path, "rb") as clip:
        assert (clip.getnchannels(), clip.getsampwidth(), clip.getframerate()) == (1, 2, 16000)
        return np.frombuffer(clip.readframes(clip.getnframes()), dtype="<i2").tobytes()


def decoded_digests(world: World, root: Path) -> dict[str, str]:
    """The digests of :data:`DECODED`: every split's files written by ``materialize`` under ``root``, decoded."""
    images, clips = [], []
    for split in SPLITS:
        images += materialize(world, split, SCENES_PER_SPLIT, "image", root)
        clips += materialize(world, split, SCENES_PER_SPLIT, "audio", root)
    return {"image": _digest(_decoded_image(item.value) for item in images),
            "audio": _digest(_decoded_pcm(item.value) for item in clips)}


def test_rendered_content_is_unchanged(world):
    assert rendered_digests(world) == RENDERED


def test_written_files_decode_to_the_same_content(world, tmp_path):
    assert decoded_digests(world, tmp_path) == DECODED


def test_written_files_decode_exactly_to_the_rendered_arrays(world, tmp_path):
    """Each PNG holds the rendered pixels, each WAV the rendered clip rounded to 16 bits, each manifest line
    the scene's record, and the plugins' own readers give them back."""
    for split in SPLITS[:2]:
        scenes = world.scenes(split, SCENES_PER_SPLIT)
        images = materialize(world, split, SCENES_PER_SPLIT, "image", tmp_path)
        clips = materialize(world, split, SCENES_PER_SPLIT, "audio", tmp_path)
        for scene, image_item, clip_item in zip(scenes, images, clips):
            rendered = world.render_image(scene)
            assert _decoded_image(image_item.value) == rendered.tobytes()
            assert np.array_equal(read_png(Path(image_item.value)), rendered)
            pcm = np.round(np.clip(world.render_audio(scene), -1.0, 1.0) * 32767.0).astype("<i2")
            assert _decoded_pcm(clip_item.value) == pcm.tobytes()
            assert np.array_equal(read_wav(Path(clip_item.value)), pcm.astype(np.float32) / np.float32(32767.0))
        for modality, record in (("image", image_record), ("audio", audio_record)):
            manifest = read_manifest(Path(images[0].value if modality == "image" else clips[0].value).parent
                                     / MANIFEST_NAME)
            assert manifest == [record(world, scene) for scene in scenes]


def test_wav_header_is_the_one_the_wave_module_writes():
    rng = np.random.default_rng(0)
    for length in (16000, 777, 1, 0):
        audio = rng.uniform(-1.2, 1.2, length).astype(np.float32)
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(16000)
            out.writeframes(np.round(np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2").tobytes())
        assert encode_wav(audio) == buffer.getvalue()


if __name__ == "__main__":  # print the digests of the current code (to pin them after an intended change)
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        print(json.dumps({"RENDERED": rendered_digests(World(seed=0)),
                          "DECODED": decoded_digests(World(seed=0), Path(folder))}, indent=1))
