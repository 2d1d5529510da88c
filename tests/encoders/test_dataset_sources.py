"""The `datasets` plugin's source types on small generated files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import bridge


def _touch(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"")


def _coco(tmp_path: Path) -> Path:
    data = {
        "images": [{"id": 1, "file_name": "one.jpg"}, {"id": 2, "file_name": "two.jpg"}, {"id": 3, "file_name": "none.jpg"}],
        "annotations": [
            {"id": 10, "image_id": 1, "caption": "A dog on a beach. "},
            {"id": 11, "image_id": 1, "caption": "a dog\nrunning"},
            {"id": 12, "image_id": 2, "caption": "Two trains."},
            {"id": 13, "image_id": 2, "caption": "Trains at a station."},
        ],
    }
    path = tmp_path / "annotations" / "captions_val2017.json"
    path.parent.mkdir()
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_coco_captions_text_and_image_items(read_source, tmp_path):
    _coco(tmp_path)
    items = read_source("coco-captions", annotations="annotations/captions_val2017.json")
    assert [(i.id, i.value, i.label, i.is_file) for i in items[:2]] == [
        ("10", "A dog on a beach.", "1", False),
        ("11", "a dog running", "1", False),
    ]
    first = read_source("coco-captions", annotations="annotations/captions_val2017.json", captions_per_image=1)
    assert [i.id for i in first] == ["10", "12"]
    assert len(read_source("coco-captions", annotations="annotations/captions_val2017.json", limit=3)) == 3

    _touch(tmp_path / "val2017", "one.jpg", "two.jpg")
    images = read_source("coco-captions", annotations="annotations/captions_val2017.json", modality="image", images="val2017")
    assert [(i.id, Path(i.value).name, i.label, i.is_file) for i in images] == [("1", "one.jpg", "1", True), ("2", "two.jpg", "2", True)]
    assert Path(images[0].value).is_absolute()


@pytest.mark.parametrize(
    ("content", "options", "expected"),
    [
        (b"\xff\xfe not utf-8", {}, "not UTF-8"),
        (b'{"annotations": [', {}, "not valid JSON"),
        (b'{"images": []}', {}, "`annotations` list"),
        (b'{"annotations": [{"id": 1, "image_id": 2}]}', {}, "annotations[0]: missing `caption`"),
        (b'{"annotations": [{"id": 1, "image_id": 2, "caption": "x"}]}', {"modality": "image"}, "images: needed"),
    ],
)
def test_coco_errors_name_the_file(read_source, tmp_path, content, options, expected):
    path = tmp_path / "captions.json"
    path.write_bytes(content)
    with pytest.raises(bridge.BridgeError) as caught:
        read_source("coco-captions", annotations="captions.json", **options)
    assert str(path) in str(caught.value) or expected.startswith("images")
    assert expected in str(caught.value) and "\n" not in str(caught.value)


def test_coco_missing_image_file(read_source, tmp_path):
    _coco(tmp_path)
    _touch(tmp_path / "val2017", "one.jpg")
    with pytest.raises(bridge.BridgeError, match=r"images\[1\]: media file .*two.jpg does not exist"):
        read_source("coco-captions", annotations="annotations/captions_val2017.json", modality="image", images="val2017")


AUDIOCAPS = 'audiocap_id,youtube_id,start_time,caption\n91139,r1nicOVtvkQ,130,"A woman talks, then a dog barks"\n58146,UDGBjjwyaqE,20,Rain falls\n58147,UDGBjjwyaqE,20,Heavy rain on a roof\n'


def test_audiocaps_text_and_audio_items(read_source, tmp_path):
    (tmp_path / "val.csv").write_text(AUDIOCAPS, encoding="utf-8")
    texts = read_source("audiocaps", csv="val.csv")
    assert [(i.id, i.value, i.label) for i in texts] == [
        ("91139", "A woman talks, then a dog barks", "r1nicOVtvkQ"),
        ("58146", "Rain falls", "UDGBjjwyaqE"),
        ("58147", "Heavy rain on a roof", "UDGBjjwyaqE"),
    ]
    _touch(tmp_path / "clips", "Yr1nicOVtvkQ_130.wav", "YUDGBjjwyaqE_20.wav")
    clips = read_source("audiocaps", csv="val.csv", modality="audio", audio_folder="clips", audio_name="Y{youtube_id}_{start_time}.wav")
    assert [(i.id, Path(i.value).name, i.label) for i in clips] == [
        ("r1nicOVtvkQ", "Yr1nicOVtvkQ_130.wav", "r1nicOVtvkQ"),
        ("UDGBjjwyaqE", "YUDGBjjwyaqE_20.wav", "UDGBjjwyaqE"),
    ]


def test_skip_missing_leaves_out_clips_not_downloaded(read_source, tmp_path):
    (tmp_path / "val.csv").write_text(AUDIOCAPS, encoding="utf-8")
    _touch(tmp_path / "clips", "UDGBjjwyaqE.wav")
    clips = read_source("audiocaps", csv="val.csv", modality="audio", audio_folder="clips", skip_missing=True)
    assert [i.id for i in clips] == ["UDGBjjwyaqE"]
    path = _av_csv(tmp_path)
    (path.parent / "audio" / "a1.wav").unlink()
    audio = read_source("av-manifest", manifest="ave/test.csv", modality="audio", skip_missing=True)
    assert [i.id for i in audio] == ["v2"]
    assert len(read_source("av-manifest", manifest="ave/test.csv", modality="image", skip_missing=True)) == 2


def test_audiocaps_errors(read_source, tmp_path):
    csv = tmp_path / "val.csv"
    csv.write_text("audiocap_id,youtube_id,caption\n1,abc,x\n", encoding="utf-8")
    with pytest.raises(bridge.BridgeError, match="missing column 'start_time'; the header has: audiocap_id, youtube_id, caption"):
        read_source("audiocaps", csv="val.csv")
    csv.write_text(AUDIOCAPS, encoding="utf-8")
    (tmp_path / "clips").mkdir()
    with pytest.raises(bridge.BridgeError, match=r"val.csv:2: media file .*r1nicOVtvkQ.wav does not exist"):
        read_source("audiocaps", csv="val.csv", modality="audio", audio_folder="clips")
    with pytest.raises(bridge.BridgeError, match=r"audio_name: .*\{ytid\}"):
        read_source("audiocaps", csv="val.csv", modality="audio", audio_folder="clips", audio_name="{ytid}.wav")
    csv.write_bytes(AUDIOCAPS.encode() + "4,abc,0,caf\xe9\n".encode("latin-1"))
    with pytest.raises(bridge.BridgeError, match="not UTF-8 text"):
        read_source("audiocaps", csv="val.csv")
    csv.write_text(AUDIOCAPS + "5,,0,no clip\n", encoding="utf-8")
    with pytest.raises(bridge.BridgeError, match="val.csv:5: empty 'youtube_id'"):
        read_source("audiocaps", csv="val.csv")
    with pytest.raises(bridge.BridgeError, match="does not exist"):
        read_source("audiocaps", csv="missing.csv")


CLOTHO = (
    "\ufefffile_name,caption_1,caption_2,caption_3,caption_4,caption_5\n"
    '"Birds, at dawn.wav",Birds chirp.,"Many birds sing, loudly.",c3,c4,c5\n'
    "rain.wav,Rain falls.,Water drips.,d3,d4,d5\n"
)


def test_clotho_text_and_audio_items(read_source, tmp_path):
    (tmp_path / "dev.csv").write_text(CLOTHO, encoding="utf-8")
    texts = read_source("clotho", csv="dev.csv")
    assert len(texts) == 10
    assert (texts[1].id, texts[1].value, texts[1].label) == ("Birds, at dawn.wav#2", "Many birds sing, loudly.", "Birds, at dawn.wav")
    firsts = read_source("clotho", csv="dev.csv", captions=[1])
    assert [i.id for i in firsts] == ["Birds, at dawn.wav#1", "rain.wav#1"]
    _touch(tmp_path / "development", "Birds, at dawn.wav", "rain.wav")
    clips = read_source("clotho", csv="dev.csv", modality="audio", audio_folder="development")
    assert [(i.id, Path(i.value).name) for i in clips] == [("Birds, at dawn.wav", "Birds, at dawn.wav"), ("rain.wav", "rain.wav")]


def test_clotho_errors(read_source, tmp_path):
    (tmp_path / "dev.csv").write_text(CLOTHO.replace("d3,d4,d5", "d3,,d5"), encoding="utf-8")
    with pytest.raises(bridge.BridgeError, match="dev.csv:3: empty 'caption_4' for 'rain.wav'"):
        read_source("clotho", csv="dev.csv")
    with pytest.raises(bridge.BridgeError, match="captions: expected distinct caption numbers"):
        read_source("clotho", csv="dev.csv", captions=[6])
    with pytest.raises(bridge.BridgeError, match="audio_folder: needed"):
        read_source("clotho", csv="dev.csv", modality="audio")


def _av_csv(tmp_path: Path) -> Path:
    _touch(tmp_path / "ave" / "audio", "a1.wav", "a2.wav")
    _touch(tmp_path / "ave" / "frames", "f1.jpg", "f2.jpg")
    path = tmp_path / "ave" / "test.csv"
    path.write_text(
        "id,audio,image,label,x0,y0,x1,y1\nv1,audio/a1.wav,frames/f1.jpg,Dog,10,20,110,90\nv2,audio/a2.wav,frames/f2.jpg,Train,,,,\n",
        encoding="utf-8",
    )
    return path


def test_av_manifest_pairs_audio_and_images(read_source, tmp_path):
    from bridge_datasets import read_av_manifest

    path = _av_csv(tmp_path)
    audio = read_source("av-manifest", manifest="ave/test.csv", modality="audio")
    images = read_source("av-manifest", manifest="ave/test.csv", modality="image")
    assert [(i.id, i.label, Path(i.value).name) for i in audio] == [("v1", "Dog", "a1.wav"), ("v2", "Train", "a2.wav")]
    assert [(i.id, i.label, Path(i.value).name) for i in images] == [("v1", "Dog", "f1.jpg"), ("v2", "Train", "f2.jpg")]
    rows = read_av_manifest(path)
    assert rows[0].boxes == ((10.0, 20.0, 110.0, 90.0),) and rows[1].boxes == ()


def test_av_manifest_jsonl_with_boxes_and_default_ids(read_source, tmp_path):
    from bridge_datasets import read_av_manifest

    _touch(tmp_path, "s1.wav", "s1.jpg", "s2.wav", "s2.jpg")
    lines = [
        {"audio": "s1.wav", "image": "s1.jpg", "boxes": [[0, 0, 5, 5], [1, 2, 3, 4]]},
        {"audio": "s2.wav", "image": "s2.jpg", "label": 7},
    ]
    path = tmp_path / "vggss.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    items = read_source("av-manifest", manifest="vggss.jsonl", modality="image")
    assert [(i.id, i.label) for i in items] == [("1", None), ("2", "7")]
    assert read_av_manifest(path)[0].boxes == ((0, 0, 5, 5), (1, 2, 3, 4))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("id,image\nv1,f1.jpg\n", "missing column 'audio'"),
        ("id,audio,image\nv1,a1.wav,f1.jpg\nv1,a2.wav,f2.jpg\n", r"test.csv:3: duplicate id 'v1' \(first on line 2\)"),
        ("id,audio,x0,y0,x1,y1\nv1,a1.wav,5,5,2,9\n", r"test.csv:2: box \(5, 5, 2, 9\) must have"),
        ("id,audio,x0,y0,x1,y1\nv1,a1.wav,5,5,,9\n", "box incomplete: x1 empty"),
        ("id,audio\nv1,missing.wav\n", r"test.csv:2: media file .*missing.wav does not exist"),
    ],
)
def test_av_manifest_errors_name_the_line(read_source, tmp_path, text, expected):
    _touch(tmp_path, "a1.wav", "a2.wav")
    (tmp_path / "test.csv").write_text(text, encoding="utf-8")
    with pytest.raises(bridge.BridgeError, match=expected):
        read_source("av-manifest", manifest="test.csv", modality="audio")


def test_av_manifest_bad_jsonl_line(read_source, tmp_path):
    (tmp_path / "m.jsonl").write_text('{"audio": "a.wav"}\n{"audio": \n', encoding="utf-8")
    with pytest.raises(bridge.BridgeError, match="m.jsonl:2: not valid JSON"):
        read_source("av-manifest", manifest="m.jsonl", modality="audio", check_files=False)


def test_av_manifest_images_through_the_openclip_mcr(read_source, clip_mcr, tmp_path):
    """Items a source yields are what an MCR prepares: file paths, here real PNGs."""
    import numpy as np
    from PIL import Image

    for name in ("f1", "f2"):
        Image.fromarray(np.full((20, 30, 3), 90 if name == "f1" else 200, np.uint8)).save(tmp_path / f"{name}.png")
    (tmp_path / "m.csv").write_text("audio,image\na.wav,f1.png\nb.wav,f2.png\n", encoding="utf-8")
    items = read_source("av-manifest", manifest="m.csv", modality="image")
    embeddings = clip_mcr.encode("image", [clip_mcr.prepare("image", item.value) for item in items])
    assert embeddings.shape == (2, 32)


def test_registered_through_the_entry_point_group(source_types):
    from importlib.metadata import entry_points

    assert set(source_types) == {"coco-captions", "audiocaps", "clotho", "av-manifest"}
    names = {entry.name: entry.value for entry in entry_points(group="bridge")}
    if "datasets" not in names:
        pytest.skip("mcr-bridge is installed without the datasets entry point")
    assert names["datasets"] == "bridge_datasets"
