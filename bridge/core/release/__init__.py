"""Import the authors' released projector checkpoints (C-MCR, Ex-MCR) into this project's bridge format.

::

    from bridge.core.release import read_release, write_release

    release = read_release("clap_clip.pt")          # layout recognised from the keys
    release.projectors["clap"](clap_features)        # (N, 512) → (N, 512), rows L2-normalised: the release's Head_A
    write_release(release, "runs/clap_clip")         # bridge.yaml (format 2) + projectors.safetensors

Modules: :mod:`~bridge.core.release.layouts` (the key layouts and which model
each head projects), :mod:`~bridge.core.release.convert` (reading with
``torch.load(weights_only=True)``, converting, saving). ``bridge import``
(``docs/import.md``) also binds the members to local MCRs.
"""

from bridge.core.release.convert import Release, read_release, release_spec, unbound_record, write_release
from bridge.core.release.layouts import LAYOUTS, MEMBER_MODALITIES, TRAINED_WITH, Layout, recognise

__all__ = [
    "LAYOUTS", "MEMBER_MODALITIES", "TRAINED_WITH", "Layout", "Release", "read_release", "recognise", "release_spec",
    "unbound_record", "write_release",
]
