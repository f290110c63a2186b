#!/usr/bin/env bash
# One device call: the gpu tests, then our bench and the peer's on the same shapes, writing logs
# and JSON lines to $OUT (or ./bench-out). Uses .devbin when carried (scripts/gpu pack), else
# builds. Args: shapes ctxs bszs [decode-shapes]; WHAT=tests,tune,wkv,decode,peer (default all).
#   tests/bench/device_bench.sh 0.1b,0.4b 512,4096 1,4 0.1b,1.5b
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUTD=${OUT:-$ROOT/bench-out}
SHAPES=${1:-0.1b}; CTXS=${2:-512}; BSZS=${3:-1}; DECODE_SHAPES=${4:-$SHAPES}
WHAT=${WHAT:-tests,bandwidth,tune,wkv,decode,peer}  # also: profile
PY=${RWKV_GPU_PYTHON:-/opt/torch/.venv/bin/python}
export TRITON_CACHE_DIR=${TRITON_CACHE_DIR:-/tmp/triton-cache} PYTHONUNBUFFERED=1
mkdir -p "$OUTD"
cd "$ROOT"
wants() { [[ ",$WHAT," == *",$1,"* ]]; }
nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.mem --format=csv,noheader
# $OUT brings back at most 8 files: every test log and error stream goes into details/, packed at the end.
DET=$OUTD/details
mkdir -p "$DET"
trap 'tar -czf "$OUTD/details.tgz" -C "$OUTD" details && rm -rf "$DET"' EXIT
if wants tests; then
  if ! LOGS=$DET scripts/gpu test | tee "$OUTD/gpu-tests.txt" && [ -n "${FALLBACK_PACK:-}" ]; then
    # the candidate failed: measure the binaries packed in FALLBACK_PACK (tar of .devbin) instead
    echo "FALLBACK: tests failed, measuring $FALLBACK_PACK" | tee -a "$OUTD/gpu-tests.txt"
    rm -rf .devbin && tar -xJf "$FALLBACK_PACK"
    LOGS=$DET/fallback scripts/gpu test | tee -a "$OUTD/gpu-tests.txt"
  fi
fi
if wants bandwidth; then  # the bound for decode: a 4 GiB device-to-device copy, bytes read + written
  "$PY" -c "
import torch, statistics
x = torch.empty(2**30, dtype=torch.float32, device='cuda'); y = torch.empty_like(x)
for _ in range(3): y.copy_(x)
t = []
for _ in range(10):
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    a.record(); y.copy_(x); b.record(); torch.cuda.synchronize(); t.append(a.elapsed_time(b) / 1e3)
print('copy bandwidth: %.0f GB/s (read + write, median of 10)' % (2 * x.numel() * 4 / statistics.median(t) / 1e9))
" | tee "$OUTD/bandwidth.txt"
fi
if wants tune; then
  timeout 300 scripts/gpu bench --device cuda --shape "$SHAPES" --ctx "$CTXS" --bsz "$BSZS" --what prefill,tune \
    | tee "$OUTD/ours.jsonl"
fi
if wants profile; then  # where one tuning step's time goes, per kernel (the first shape only)
  timeout 200 scripts/gpu bench --device cuda --shape "${SHAPES%%,*}" --ctx "${CTXS%%,*}" --bsz "${BSZS%%,*}" \
    --what tune --iters 2 --warmup 1 --profile "$OUTD/profile.txt" > /dev/null
fi
if wants wkv; then
  timeout 120 scripts/gpu bench --device cuda --shape "$SHAPES" --ctx "$CTXS" --bsz "$BSZS" --what wkv --iters 10 \
    | tee -a "$OUTD/ours.jsonl"
fi
if wants decode; then
  timeout 120 scripts/gpu bench --device cuda --shape "$DECODE_SHAPES" --what decode --decode-tokens 256 \
    | tee -a "$OUTD/ours.jsonl"
fi
if wants peer && [ -d .peer/fla ]; then
  # the whole step first: on a fresh machine fla's Triton autotuning takes minutes, and its cache
  # then serves the kernel-only run
  PYTHONPATH=$ROOT/.peer timeout "${PEER_TIMEOUT:-300}" "$PY" tests/bench/peer_state_tune.py --shape "$SHAPES" \
    --ctx "$CTXS" --bsz "$BSZS" 2> "$DET/peer.err" | tee "$OUTD/peer.jsonl"
  tail -3 "$DET/peer.err"
  PYTHONPATH=$ROOT/.peer timeout "${PEER_TIMEOUT:-300}" "$PY" tests/bench/peer_state_tune.py --kernel-only --iters 10 \
    --shape "$SHAPES" --ctx "$CTXS" --bsz "$BSZS" 2> "$DET/peer-wkv.err" | tee -a "$OUTD/peer.jsonl"
fi
"$PY" tests/bench/compare.py "$OUTD/ours.jsonl" "$OUTD/peer.jsonl" | tee "$OUTD/compare.txt"
