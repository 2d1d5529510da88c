"""``bridge synthworld train --model cloud``: train the cloud model into a weights folder."""

from __future__ import annotations

import shutil
from pathlib import Path

from bridge import BridgeError
from bridge.progress import Reporter
from bridge_synthworld.cloud_training import CloudTrainConfig, CloudTrainResult, train_cloud
from bridge_synthworld.mcrs import WEIGHTS_DIR, write_checkpoint


def train_cloud_into(folder: Path, seed: int, world_seed: int, overrides: dict, reporter: Reporter) -> CloudTrainResult:
    """Train ``synthworld-cloud`` against ``folder/pixel.safetensors`` and write ``folder/cloud.safetensors`` + YAML.

    When ``folder`` holds no pixel model, the shipped one (weights and YAML)
    is copied there first, so the folder is a complete, loadable checkpoint.
    """
    folder = Path(folder)
    pixel = folder / "pixel.safetensors"
    if not pixel.is_file():
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for suffix in (".safetensors", ".yaml"):
                shutil.copyfile(WEIGHTS_DIR / f"pixel{suffix}", pixel.with_suffix(suffix))
        except OSError as error:
            raise BridgeError(f"{folder}: cannot copy the shipped pixel model there ({error})") from error
        reporter.message(f"copied the shipped pixel model to {pixel}")
    config = CloudTrainConfig(seed=seed, world_seed=world_seed, **overrides)
    result = train_cloud(config, pixel, reporter=reporter)
    path = folder / "cloud.safetensors"
    write_checkpoint(path, result.checkpoint.model, result.checkpoint.description)
    reporter.message(f"wrote {path} and {path.with_suffix('.yaml').name}")
    return result
