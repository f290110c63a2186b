#!/usr/bin/env bash
# Nsight Compute on the tuning step's own kernels (GPU machine): throughput, memory traffic and
# stall reasons of the second launch of each of the LayerNorm/lerp kernels, the time-mix kernels
# and the recurrence's span kernels, in one 0.4B ctx 4096 micro-batch 4 step. Writes the text
# report to $OUT/ncu-tune.txt and prints the lines that say where each kernel's time goes.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
KERNELS=${KERNELS:-"norm_mix|mid_|post_|relu_sq|transition|forward_apply|adjoint|backward_fused"}
"$NCU" --clock-control none --kernel-id "::regex:$KERNELS:2" -c "${COUNT:-12}" \
  --section SpeedOfLight --section MemoryWorkloadAnalysis --section WarpStateStats --section LaunchStats \
  --section Occupancy \
  "$ROOT/scripts/gpu" bench --device cuda --shape 0.4b --ctx 4096 --bsz 4 --what tune --iters 1 --warmup 0 \
  > "${OUT:-.}/ncu-tune.txt" 2>&1
grep -E "^  [a-z_]+.*\(|Duration|DRAM Throughput|Memory Throughput|Compute \(SM\) Throughput|Achieved Occupancy|Registers Per|Warp Cycles Per Issued|Stall" \
  "${OUT:-.}/ncu-tune.txt" | head -120
