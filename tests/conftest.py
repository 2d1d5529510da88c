"""Test-session settings.

- One torch thread per process: on a shared 2-core machine OpenMP's spinning
  threads can make small tensor work tens of times slower; tests measure
  behaviour, not speed. Set before torch is imported, so subprocesses inherit it.
- A fresh embedding cache for the session, so tests never read or fill the user's.
"""

import os

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session", autouse=True)
def session_cache(tmp_path_factory):
    previous = os.environ.get("BRIDGE_CACHE")
    os.environ["BRIDGE_CACHE"] = str(tmp_path_factory.mktemp("bridge-cache"))
    yield os.environ["BRIDGE_CACHE"]
    if previous is None:
        os.environ.pop("BRIDGE_CACHE", None)
    else:
        os.environ["BRIDGE_CACHE"] = previous
