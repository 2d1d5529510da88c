"""How files are decoded during extraction: the settings a recipe's `data:` section gives (no torch needed)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict


class DecodingSettings(BaseModel):
    """Workers that read and decode files while the model encodes."""

    model_config = ConfigDict(extra="forbid", strict=True)

    workers: Annotated[int, Strict()] | None = Field(
        None,
        ge=0,
        le=256,
        description="Workers that read and decode files while the model encodes (default: the usable CPU cores, at most 8; "
        "0: one file at a time in the main thread, no time limit).",
    )
    worker_kind: Literal["threads", "processes"] = Field(
        "threads",
        description="`threads` (default; decoders release the GIL) or `processes` (for decoders that hold the GIL; a crashing "
        "decoder fails only its item).",
    )
    decode_timeout_s: float | None = Field(
        60.0,
        gt=0,
        description="Seconds one file may take to read or decode before it counts as unreadable (skipped with "
        "`skip_bad_items`, else the run stops naming it); null: no limit.",
    )
