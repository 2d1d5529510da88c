"""Point clouds as ``.npy`` files: float32 ``(P, 3)``, written and read without pickle.

:func:`encode_npy` gives the bytes ``files.materialize`` writes atomically;
:func:`read_cloud` reads any ``.npy`` of shape ``(P, 3)`` or ``(P, >3)``
(extra columns such as normals or colours are dropped) with
``allow_pickle=False``, so an object array is refused, never unpickled.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from bridge import ItemError

NPY_HEADER_BYTES = 128
"""Header size of a version-1.0 ``.npy`` of a 2-D float32 array (numpy pads it to 64-byte multiples)."""
MIN_FILE_POINTS = 1024


def encode_npy(points: np.ndarray) -> bytes:
    """``.npy`` bytes (format 1.0, little-endian float32) of ``(P, 3)`` points; deterministic."""
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"expected points of shape (P, 3), got {points.shape}")
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(points, dtype="<f4"), version=(1, 0), allow_pickle=False)
    return buffer.getvalue()


def is_complete_npy(size: int) -> bool:
    """Whether a world-written cloud file of ``size`` bytes holds a whole ``(P, 3)`` float32 array, P >= 1,024."""
    body = size - NPY_HEADER_BYTES
    return body >= 12 * MIN_FILE_POINTS and body % 12 == 0


def read_cloud(path: Path) -> np.ndarray:
    """A ``.npy`` point cloud as float32 ``(P, 3)``.

    Raises:
        ItemError: the file is missing, not an ``.npy`` (or holds pickled
            objects), not numeric of shape ``(P, >=3)`` with P >= 1, or has
            non-finite coordinates.
    """
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise ItemError(str(path), f"not a readable .npy point cloud ({error})") from error
    return cloud_array(array, str(path))


def cloud_array(array: np.ndarray, item: str) -> np.ndarray:
    """Check a decoded cloud and keep its ``(x, y, z)`` columns: float32 ``(P, 3)``.

    Raises:
        ItemError: not a real-valued ``(P, >=3)`` array with P >= 1 and finite coordinates.
    """
    if not isinstance(array, np.ndarray) or array.ndim != 2 or array.shape[1] < 3 or array.shape[0] < 1:
        shape = getattr(array, "shape", None)
        raise ItemError(item, f"expected a point cloud of shape (P, 3) with P >= 1, got shape {shape}")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise ItemError(item, f"expected numeric coordinates, got dtype {array.dtype}")
    points = np.ascontiguousarray(array[:, :3], dtype=np.float32)
    if not np.isfinite(points).all():
        raise ItemError(item, "the point cloud holds NaN or infinite coordinates")
    return points
