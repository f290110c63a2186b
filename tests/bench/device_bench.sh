#!/usr/bin/env bash
# One device call: build (scripts/gpu), run the gpu tests, then our bench and the peer's on the
# same shapes, writing JSON lines to $OUT (or ./bench-out). Args: shapes ctxs bszs [decode-shapes].
#   tests/bench/device_bench.sh 0.1b,0.4b 512,4096 1,4 0.1b,1.5b
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUTD=${OUT:-$ROOT/bench-out}
SHAPES=${1:-0.1b}; CTXS=${2:-512}; BSZS=${3:-1}; DECODE_SHAPES=${4:-$SHAPES}
mkdir -p "$OUTD"
cd "$ROOT"
scripts/gpu build > "$OUTD/build.log" 2>&1 || { tail -40 "$OUTD/build.log"; exit 1; }
export LD_LIBRARY_PATH=$ROOT/.devdeps/lib:${LD_LIBRARY_PATH:-}
(cd build-gpu && ctest -L gpu --output-on-failure > "$OUTD/gpu-tests.log" 2>&1); tail -3 "$OUTD/gpu-tests.log"
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,power.draw --format=csv,noheader
build-gpu/app/rwkv-tune bench --device cuda --shape "$SHAPES" --ctx "$CTXS" --bsz "$BSZS" --what prefill,tune \
  | tee "$OUTD/ours.jsonl"
build-gpu/app/rwkv-tune bench --device cuda --shape "$DECODE_SHAPES" --what decode --decode-tokens 256 | tee -a "$OUTD/ours.jsonl"
if [ -d .peer/fla ]; then
  PYTHONPATH=$ROOT/.peer /opt/torch/.venv/bin/python tests/bench/peer_state_tune.py --shape "$SHAPES" --ctx "$CTXS" \
    --bsz "$BSZS" 2> "$OUTD/peer.err" | tee "$OUTD/peer.jsonl"
  tail -5 "$OUTD/peer.err"
fi
/opt/torch/.venv/bin/python tests/bench/compare.py "$OUTD/ours.jsonl" "$OUTD/peer.jsonl" | tee "$OUTD/compare.txt"
# The recurrence alone: ours against fla's chunk_rwkv7 on the same [B, T, H, 64].
build-gpu/app/rwkv-tune bench --device cuda --shape "$SHAPES" --ctx "$CTXS" --bsz "$BSZS" --what wkv --iters 10 \
  | tee "$OUTD/ours-wkv.jsonl"
if [ -d .peer/fla ]; then
  PYTHONPATH=$ROOT/.peer /opt/torch/.venv/bin/python tests/bench/peer_state_tune.py --kernel-only --iters 10 \
    --shape "$SHAPES" --ctx "$CTXS" --bsz "$BSZS" 2>> "$OUTD/peer.err" | tee "$OUTD/peer-wkv.jsonl"
fi
