#!/usr/bin/env bash
# CPU figures for docs/benchmarks.md: ours (rwkv-tune bench on the tiny fixture) and the PyPI
# rwkv package on the same model, one after the other. Usage: tests/bench/cpu_bench.sh [BUILD]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${1:-$ROOT/build}
SHARED=${RWKV_SHARED_DIR:-$ROOT/../shared}
MODEL=$SHARED/fixtures/rwkv-cpp/tiny-rwkv-7v0-834K-FP32.bin
"$BUILD/app/rwkv-tune" bench --model "$MODEL" --ctx 128 --bsz 1,4 --iters 5 --warmup 2 --decode-tokens 128
RWKV_SHARED_DIR=$SHARED "${RWKV_PYTHON:-$HOME/.cache/rwkv-studio/venv/bin/python}" \
  "$ROOT/tests/bench/peer_cpu_rwkv_pkg.py" "$MODEL" --ctx 128 --decode-tokens 128 2>/dev/null | grep '^{'
