"""`bridge import`: every released projector layout reproduces the release's forward pass; bad checkpoints are one line.

The C-MCR ``clap_clip.pt`` layout (and its older dump) and the Ex-MCR head
are built here from state dicts with the release's key names and random
weights and BatchNorm statistics; the real ``ulip_clip.pt`` is used when the
shared folder is beside this checkout. The reference forward passes are
written out by hand from the authors' module definitions (Linear → BatchNorm1d
in eval mode → ReLU ..., then L2-normalise) and compared with the projectors
of the saved bridge directory.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

import bridge
from bad_inputs import bridge_cli, error_line
from release_states import D, H, clap_clip_state, exmcr_state, linear_state, mlp_state, norm_state, release_forward
from bridge.core.artifact import read_metrics
from bridge.core.release import read_release
from bridge.errors import BridgeError
from bridge.pipeline.import_release import import_checkpoint

torch.set_num_threads(1)
ULIP_CLIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "cmcr-release" / "ulip_clip.pt"


def features(count: int = 64, seed: int = 0) -> torch.Tensor:
    return F.normalize(torch.randn(count, D, generator=torch.Generator().manual_seed(seed)), dim=-1)


CASES = {  # layout → (state builder, file name, {member: release head})
    "cmcr-clap-clip": (clap_clip_state, "clap_clip.pt", {"clap": "Head_A", "clip": "Head_B"}),
    "cmcr-clap-clip-v0": (lambda: clap_clip_state(older=True), "clap_clip_native.pt", {"clap": "Head_A", "clip": "Head_B"}),
    "exmcr": (exmcr_state, "ex_clap.pt", {"clap": "Head1+Head2"}),
}


@pytest.mark.parametrize("layout", sorted(CASES))
def test_imported_projectors_reproduce_the_release(tmp_path, layout):
    build, file_name, heads = CASES[layout]
    state = build()
    checkpoint = tmp_path / file_name
    torch.save(state, checkpoint)
    result = bridge_cli("import", checkpoint, "-o", tmp_path / "bridge")
    assert result.returncode == 0, result.stderr
    space = bridge.Bridge.load(tmp_path / "bridge")
    x = features()
    for member, head in heads.items():
        ours = space.project(member, x)
        torch.testing.assert_close(ours, release_forward(layout, state, head, x), atol=2e-6, rtol=1e-5)
    assert space.members[0] == "clip" and space.dim == D
    if layout == "exmcr":  # the base keeps its own space, bit for bit
        assert space.spec.strategy == "extend" and space.spec.overlap == "text"
        assert space.spec.members["clip"].projector is None and torch.equal(space.project("clip", x), x)
    metrics = read_metrics(tmp_path / "bridge")["imported"]
    assert metrics["layout"] == layout and len(metrics["sha256"]) == 64


@pytest.mark.skipif(not ULIP_CLIP.exists(), reason="../shared/data/cmcr-release is not beside this checkout")
def test_the_real_ulip_clip_release(tmp_path):
    state = torch.load(ULIP_CLIP, map_location="cpu", weights_only=True)
    release = import_checkpoint(ULIP_CLIP, tmp_path / "ulip_clip").release
    assert release.layout.name == "cmcr-ulip-clip" and release.heads == {"Head_A": "clip", "Head_B": "ulip"}
    space = bridge.Bridge.load(tmp_path / "ulip_clip")
    assert space.spec.overlap == "image" and space.members == ["clip", "ulip"]
    x = features(seed=1)
    for member, head in (("clip", "Head_A"), ("ulip", "Head_B")):
        torch.testing.assert_close(space.project(member, x), release_forward("cmcr-ulip-clip", state, head, x), atol=2e-6, rtol=1e-5)


def test_ex_ulip_is_extended_through_images(tmp_path):
    torch.save(exmcr_state(), tmp_path / "ex_ulip.pt")
    spec = import_checkpoint(tmp_path / "ex_ulip.pt", tmp_path / "b").spec
    assert list(spec.members) == ["clip", "ulip"] and spec.overlap == "image"
    torch.save(exmcr_state(), tmp_path / "head.pt")
    assert import_checkpoint(tmp_path / "head.pt", tmp_path / "c", leaf="clap").spec.overlap == "text"


# ----- binding members to local MCRs ----------------------------------------------------------------


class LinearMCR(bridge.MCR):
    """A stand-in CLAP: ``(N, 8)`` inputs through a fixed random ``8 → 512`` map, L2-normalised."""

    modalities = ("audio", "text")
    dim = D
    id = "linear-stand-in"
    fingerprint = "f" * 16

    def __init__(self, options):
        self.matrix = torch.randn(8, D, generator=torch.Generator().manual_seed(options.seed))

    def prepare(self, modality, item):
        return torch.tensor([float(ord(c)) for c in item[:8].ljust(8)])

    def encode(self, modality, inputs):
        return F.normalize(torch.stack(list(inputs)) @ self.matrix, dim=-1)


class StandInPlugin:
    @bridge.hookimpl
    def register_mcrs(self, register):
        from pydantic import BaseModel, ConfigDict, Field

        class Options(BaseModel):
            model_config = ConfigDict(extra="forbid")
            seed: int = Field(0, description="Seed of the map.")

        register(bridge.MCRType(name="stand-in", load=LinearMCR, options=Options, modalities=("audio", "text")))


def test_a_bound_member_embeds_raw_items_through_the_release(tmp_path):
    state = clap_clip_state()
    torch.save(state, tmp_path / "clap_clip.pt")
    (tmp_path / "clap.yaml").write_text("seed: 4\n")
    registry = bridge.Registry.from_plugins({"stand-in": StandInPlugin()})
    spec = import_checkpoint(tmp_path / "clap_clip.pt", tmp_path / "b", {"clap": ("stand-in", tmp_path / "clap.yaml")}, registry=registry).spec
    assert spec.members["clap"].plugin == "stand-in" and spec.members["clap"].options == {"seed": 4}
    assert spec.members["clip"].plugin == ""  # not bound: projects precomputed features only
    space = bridge.Bridge.load(tmp_path / "b", mcr_loader=registry.load_mcr)
    mcr = LinearMCR(type("O", (), {"seed": 4}))
    raw = mcr.encode("audio", [mcr.prepare("audio", "dog bark")])
    expected = release_forward("cmcr-clap-clip", state, "Head_A", F.normalize(raw, dim=-1))
    torch.testing.assert_close(space.embed("audio", ["dog bark"]), expected, atol=2e-6, rtol=1e-5)
    with pytest.raises(BridgeError, match="member 'clip' of space 'clap_clip' is bound to no MCR"):
        space.embed("image", ["x.png"])


def test_a_bound_mcr_must_fit_its_head(tmp_path):
    torch.save(clap_clip_state(), tmp_path / "clap_clip.pt")
    registry = bridge.Registry.from_plugins({"stand-in": StandInPlugin()})
    with pytest.raises(BridgeError, match="member 'clip': MCR 'linear-stand-in' does not encode 'image'"):
        import_checkpoint(tmp_path / "clap_clip.pt", tmp_path / "b", {"clip": ("stand-in", None)}, registry=registry)
    assert not (tmp_path / "b").exists()


# ----- bad checkpoints and arguments: one line, nothing written ------------------------------------


def _drop(key: str):
    return lambda: {k: v for k, v in clap_clip_state().items() if k != key}


def _reshape(key: str, shape: tuple[int, ...]):
    return lambda: {**clap_clip_state(), key: torch.zeros(shape)}


BAD = {
    "unknown-layout": (lambda: {"encoder.weight": torch.zeros(2, 2)}, ("not a released C-MCR or Ex-MCR checkpoint", "'encoder.weight'")),
    "missing-key": (_drop("Head_A.net2.0.bias"), ("Head_A.net2.0.bias is missing",)),
    "missing-first-weight": (_drop("Head_B.net1.0.weight"), ("Head_B.net1.0.weight is missing",)),
    "wrong-shape": (_reshape("Head_B.net2.0.weight", (D, 7)), ("Head_B.net2.0.weight has shape [512, 7], expected [512, 1024]",)),
    "wrong-norm-shape": (_reshape("Head_A.net1.1.running_var", (3,)), ("Head_A.net1.1.running_var has shape [3]",)),
    "one-dimensional": (_reshape("Head_A.net1.0.weight", (12,)), ("Head_A.net1.0.weight: expected a 2-D weight matrix",)),
    "unexpected-key": (lambda: {**clap_clip_state(), "Head_B.net3.0.weight": torch.zeros(2)}, ("unexpected key 'Head_B.net3.0.weight'",)),
    "stray-head": (lambda: {**clap_clip_state(), "Head_C.net1.0.weight": torch.zeros(2)}, ("unexpected key 'Head_C.net1.0.weight'",)),
    "absurd-hidden": (lambda: mlp_state("Head_A.", 4, 4 * 100, 0) | mlp_state("Head_B.", 4, 8, 0), ("hidden_ratio",)),
    "different-outputs": (lambda: mlp_state("Head_A.", 8, 16, 0) | {**mlp_state("Head_B.", 8, 16, 1)} | _out(6), ("different dimensions",)),
    "non-finite": (lambda: {**clap_clip_state(), "Head_A.net2.0.weight": torch.full((D, H), float("nan"))}, ("NaN or infinite",)),
    "not-a-tensor": (lambda: {**clap_clip_state(), "Head_A.net1.0.bias": [1, 2]}, ("'Head_A.net1.0.bias' is a list, expected a tensor",)),
    "not-a-dict": (lambda: [torch.zeros(2)], ("expected a state_dict",)),
    "exmcr-without-leaf": (exmcr_state, ("give --leaf clap or --leaf ulip",)),
}


def _out(out: int) -> dict:
    """Head_B's second layer mapping to ``out`` instead of 8 dimensions."""
    generator = torch.Generator().manual_seed(9)
    state: dict = {}
    linear_state(state, "Head_B.net2.0.", out, 16, generator)
    norm_state(state, "Head_B.net2.1.", out, generator)
    return state


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_checkpoint_is_one_line_naming_the_file(tmp_path, case):
    build, fragments = BAD[case]
    checkpoint = tmp_path / "release.pt"
    torch.save(build(), checkpoint)
    line = error_line(bridge_cli("import", checkpoint, "-o", tmp_path / "out"), str(checkpoint), *fragments)
    assert line.startswith(f"error: {checkpoint}: ")
    assert not (tmp_path / "out").exists()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_a_pickle_that_is_not_a_state_dict_is_refused_unexecuted(tmp_path):
    import os
    import pickle

    checkpoint = tmp_path / "release.pt"
    checkpoint.write_bytes(pickle.dumps(os.getcwd))  # unpickling it would call a function: weights_only refuses
    error_line(bridge_cli("import", checkpoint, "-o", tmp_path / "out"), "not a loadable torch state_dict")


def test_bad_arguments_are_one_line(tmp_path):
    torch.save(clap_clip_state(), tmp_path / "clap_clip.pt")
    checkpoint = tmp_path / "clap_clip.pt"
    error_line(bridge_cli("import", tmp_path / "nope.pt", "-o", tmp_path / "o"), "nope.pt", "does not exist")
    error_line(bridge_cli("import", checkpoint, "-o", tmp_path / "o", "--member", "clap"), "--member 'clap'", "NAME=PLUGIN")
    error_line(bridge_cli("import", checkpoint, "-o", tmp_path / "o", "--member", "ulip=openclip"), "--member 'ulip'", "clip, clap")
    error_line(bridge_cli("import", checkpoint, "-o", tmp_path / "o", "--member", "clap=nope"), "--member clap", "unknown MCR plugin 'nope'")
    error_line(bridge_cli("import", checkpoint, "-o", tmp_path / "o", "--member", "clap=openclip", "--member", "clap=openclip"), "given twice")
    (tmp_path / "file").write_text("x")
    error_line(bridge_cli("import", checkpoint, "-o", tmp_path / "file"), "exists and is not a folder")
    torch.save(exmcr_state(), tmp_path / "ex_clap.pt")
    error_line(bridge_cli("import", tmp_path / "ex_clap.pt", "-o", tmp_path / "o", "--leaf", "audio"), "--leaf", "clap or ulip")
    assert not (tmp_path / "o").exists()


def test_read_release_names_each_head(tmp_path):
    torch.save(clap_clip_state(), tmp_path / "clap_clip.pt")
    release = read_release(tmp_path / "clap_clip.pt")
    assert release.heads == {"Head_A": "clap", "Head_B": "clip"} and list(release.dims) == ["clip", "clap"]
    assert release.projectors["clap"].config.architecture == "mlp2" and not release.projectors["clap"].training
