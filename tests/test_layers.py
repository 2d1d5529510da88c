"""The package's layers: a module imports only from its own layer or lower ones; presentation lives in the CLI.

Every import counts, at module level or inside a function, as in
``../shared/tools/layering.py``.
"""

import ast
from pathlib import Path

BRIDGE = Path(__file__).resolve().parents[1] / "bridge"
LAYERS = ["errors", "progress", "core", "data", "methods", "evaluation", "recipes", "pipeline", "cli"]
RANK = {"errors": 0, "progress": 0, "core": 1, "data": 2, "methods": 3, "evaluation": 4, "recipes": 5, "pipeline": 6, "cli": 7}
PRESENTATION = {"rich", "matplotlib", "click"}
NEVER_IN_CORE = {"open_clip", "laion_clap", "transformers", "bridge_features", "bridge_synthworld", "bridge_openclip", "bridge_laionclap"}


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "bridge" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in RANK else None


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def modules():
    for path in sorted(BRIDGE.rglob("*.py")):
        relative = path.relative_to(BRIDGE.parent).with_suffix("")
        name = ".".join(relative.parts).removesuffix(".__init__")
        yield name, path


def test_every_module_belongs_to_a_layer():
    for name, _ in modules():
        if name in ("bridge", "bridge.__main__"):
            continue
        assert layer_of(name) is not None, f"{name} is in no layer of {LAYERS}"


def test_lower_layers_never_import_higher_ones():
    problems = []
    for name, path in modules():
        own = layer_of(name)
        if own is None:
            continue
        for imported in imports(path):
            other = layer_of(imported)
            if other is not None and RANK[other] > RANK[own]:
                problems.append(f"{name} ({own}) imports {imported} ({other})")
    assert problems == []


def test_presentation_libraries_and_plugins_stay_out_of_the_engine():
    problems = []
    for name, path in modules():
        own = layer_of(name)
        if own is None or own == "cli":
            continue
        roots = {imported.split(".")[0] for imported in imports(path)}
        problems += [f"{name} imports {root}" for root in roots & (PRESENTATION | NEVER_IN_CORE)]
    assert problems == []
