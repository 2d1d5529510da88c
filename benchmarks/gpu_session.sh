#!/usr/bin/env bash
# One GPU session's smoke runs and throughput figures, as one prepared script.
#
# For a machine lent for a few minutes (see benchmarks/README.md, "GPU"): it has
# torch and CUDA but not this project's other dependencies, so they travel as
# wheels in .whl/ (built on the development machine, see the README) and are
# installed into /tmp/site. Every step writes its log to $OUT/<step>.log and has
# its own time limit, so a slow step cannot take the figures of the others.
#
#   bash benchmarks/gpu_session.sh                # all steps
#   STEPS="consistency" bash benchmarks/gpu_session.sh
set -u -o pipefail
OUT=${OUT:-/tmp/bridge-gpu}
STEPS=${STEPS:-"main consistency softmax_variants extract_image extract_audio tests"}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 BRIDGE_CACHE=/tmp/bridge-cache

if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
    # the working tree's code first; the wheel's metadata registers the plugins' entry points
    export PYTHONPATH="$PWD:$PWD/plugins:/tmp/site"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/device.log"
python3 -c "import os, torch, bridge; print('torch', torch.__version__, '| cuda', torch.version.cuda, '|', torch.cuda.get_device_name(), '| cpu cores', os.cpu_count())" | tee -a "$OUT/device.log"

step() {  # step NAME SECONDS COMMAND...
    local name=$1 limit=$2
    shift 2
    case " $STEPS " in *" $name "*) ;; *) return ;; esac
    echo "== $name (limit ${limit} s): $*"
    local start=$SECONDS
    timeout "$limit" "$@" 2>&1 | tee "$OUT/$name.log"
    echo "== $name: exit ${PIPESTATUS[0]} after $((SECONDS - start)) s" | tee -a "$OUT/$name.log"
}

# The quick start on the GPU (device: auto picks CUDA): extract, enhance, train, evaluate, save.
step main 90 python3 -m bridge connect recipes/synthworld.yaml -o /tmp/runs/synthworld
# Issue 10: the streamed consistency at N = M = 2M, D = 512, against the GPU's own float32 matmul rate.
step consistency 240 python3 benchmarks/consistency_throughput.py --n 2000000 --device cuda
# The softmax-step variants on one query chunk (benchmarks/README.md, "GPU").
step softmax_variants 90 python3 benchmarks/gpu_softmax_variants.py
# Extraction per GPU: ViT-B/32 (random weights) on 640x480 JPEGs; HTSAT-tiny CLAP on 10 s WAVs.
step extract_image 150 python3 benchmarks/extraction_throughput.py --modality image --model vit-b-32 --device cuda \
    --precision amp --images 512 --repeats 1 --kinds threads --threads 4
step extract_audio 80 python3 benchmarks/extraction_throughput.py --modality audio --device cuda \
    --precision amp --clips 256 --repeats 1 --kinds threads --threads 4
# The tests that have a CUDA-only path, and the encoder plugins' tests, with CUDA present.
step tests 50 python3 -m pytest -q -x -p no:cacheprovider tests/encoders/test_openclip_plugin.py
exit 0
