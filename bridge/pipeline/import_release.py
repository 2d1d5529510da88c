"""`bridge import`: a released projector checkpoint as a bridge directory, its members bound to local MCRs.

::

    from bridge.pipeline.import_release import import_checkpoint
    result = import_checkpoint("clap_clip.pt", "runs/clap_clip", {"clap": ("laionclap", Path("clap.yaml"))})

A member given a binding (an MCR plugin and a YAML file of its options) is
loaded once, to record its id, weights fingerprint, modalities and
dimension, exactly as ``bridge connect`` records its members; the saved
bridge then embeds raw files with ``bridge embed``. A member without a
binding is saved unbound (``plugin: ""``): its projector works on
precomputed features (``Bridge.project``), and importing again with a
binding binds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bridge.core.artifact import MemberRecord, SpaceSpec, check_output_dir, read_spec
from bridge.core.registry import Registry
from bridge.core.release import Release, read_release, write_release
from bridge.core.yaml_io import read_yaml, shown
from bridge.errors import BridgeError, MissingInputs, quoted
from bridge.recipes.members import member_options

Binding = tuple[str, "Path | None"]
"""(MCR plugin name, YAML file of its options or ``None`` for none)."""


@dataclass
class ImportResult:
    """What ``bridge import`` wrote: the bridge directory, the release read and the saved spec."""

    output: Path
    release: Release
    spec: SpaceSpec


def import_checkpoint(
    checkpoint: str | Path,
    output: str | Path,
    bindings: dict[str, Binding] | None = None,
    leaf: str | None = None,
    name: str | None = None,
    registry: Registry | None = None,
) -> ImportResult:
    """Convert ``checkpoint`` and save it at ``output``, binding the members named in ``bindings``.

    Args:
        bindings: member (``clip``, ``clap``, ``ulip``) → (plugin, options file).
        leaf: an Ex-MCR head's member (``clap``/``ulip``; default: from the file name).
        name: the space's name (default: the checkpoint's file stem).

    Raises:
        BridgeError: one line (a bad checkpoint, output path, binding, or an MCR that does not fit its head);
            :class:`MissingInputs` when a bound MCR's weights are not on this machine.
    """
    output = Path(output)
    check_output_dir(output)
    release = read_release(checkpoint, leaf)
    bindings = dict(bindings or {})
    unknown = [member for member in bindings if member not in release.dims]
    if unknown:
        raise BridgeError(
            f"--member {quoted(unknown[0])}: {release.layout.description} has the members {', '.join(release.dims)}"
        )
    registry = registry or Registry.from_environment()
    records = {member: _bind(member, plugin, options_file, registry) for member, (plugin, options_file) in bindings.items()}
    write_release(release, output, records, name)
    return ImportResult(output, release, read_spec(output))


def _bind(member: str, plugin: str, options_file: Path | None, registry: Registry) -> MemberRecord:
    """Load the MCR ``plugin`` with the options in ``options_file`` and describe it as ``bridge.yaml`` records members."""
    where = f"--member {member}"
    try:
        mcr_type = registry.mcr_type(plugin)
    except BridgeError as error:
        raise BridgeError(f"{where}: {error}") from None
    options: object = {}
    base_dir = Path.cwd()
    if options_file is not None:
        options = read_yaml(options_file, "options file")
        if options is None:
            options = {}
        if not isinstance(options, dict):
            raise BridgeError(f"{shown(options_file)}: expected a mapping of {plugin} options, got {type(options).__name__}")
        base_dir = options_file.absolute().parent
    validated, recorded = member_options(mcr_type, options, base_dir, f"{where} options")
    if mcr_type.missing_inputs is not None:
        missing = [
            f"{where} options{'.' + m.key if m.key else ''}: {m.path}: {m.how}" for m in mcr_type.missing_inputs(validated)
        ]
        if missing:
            raise MissingInputs(missing)
    try:
        mcr = mcr_type.load(validated)
    except BridgeError as error:
        raise BridgeError(f"{where}: {error}") from None
    return MemberRecord(
        plugin=plugin, options=recorded, id=mcr.id, fingerprint=mcr.fingerprint, modalities=list(mcr.modalities),
        dim=mcr.dim, projector=None,
    )
