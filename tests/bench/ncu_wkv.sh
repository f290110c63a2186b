#!/usr/bin/env bash
# Nsight Compute on the wkv7 span kernels (GPU machine): stall reasons and throughput of one
# launch each of the transition, the forward spans, the adjoint and the backward spans at B=4,
# T=4096, H=16. Writes the text report to $OUT/ncu-wkv.txt.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
export LD_LIBRARY_PATH=$ROOT/.devdeps/lib:${LD_LIBRARY_PATH:-}
"$NCU" --clock-control none -k regex:"transition|forward_apply|adjoint|backward_fused" -c 4 \
  --section SpeedOfLight --section WarpStateStats --section SchedulerStats --section LaunchStats \
  "$ROOT/scripts/gpu" bench --device cuda --shape 0.4b --ctx 4096 --bsz 4 --what wkv --iters 1 --warmup 0 \
  > "${OUT:-.}/ncu-wkv.txt" 2>&1
grep -E "transition|forward_apply|adjoint|backward_fused|Duration|Issued Warp|No Eligible|Stall|Warp Cycles Per Issued|Achieved Occupancy|Compute \(SM\) Throughput|Memory Throughput" "${OUT:-.}/ncu-wkv.txt" | head -60
