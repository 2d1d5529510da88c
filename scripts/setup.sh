#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment in .venv and install
# mcr-bridge with its test dependencies (pytest, embedding-reader), the CLIP/CLAP encoder extras and the
# scale extras (open_clip, laion_clap, webdataset, pyarrow, faiss-cpu; ~2.5 min and ~6 GB the first time). Idempotent: a
# second run is quick. torch, torchvision and torchaudio are pinned together
# (versions verified to work with open_clip 3.x and laion_clap 1.1.7).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -qq --upgrade pip
.venv/bin/python -m pip install -qq torch==2.14.1 torchvision==0.29.1 torchaudio==2.11.0
.venv/bin/python -m pip install -qq -e '.[test,clip,clap,scale]'
