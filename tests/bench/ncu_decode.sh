#!/usr/bin/env bash
# Nsight Compute on the fused decode step (GPU machine): duration and DRAM throughput of each of
# the 147 kernels of one 1.5B-shaped token (random weights; the un-captured warm-up step that
# DecodeGraph runs before capturing), then the summed duration per kernel kind. Gaps between
# kernels are not in these sums: compare their total with the bench's time per token.
# Writes the full report to $OUT/ncu-decode.txt.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
REPORT=${OUT:-.}/ncu-decode.txt
export LD_LIBRARY_PATH=$ROOT/.devdeps/lib:${LD_LIBRARY_PATH:-}
"$NCU" --clock-control none -k regex:"matvec_kernel|layer_norm_kernel|wkv_step_kernel" -c 147 \
  --section SpeedOfLight \
  "$ROOT/scripts/gpu" bench --device cuda --shape 1.5b --what decode --decode-tokens 1 --iters 1 --warmup 0 \
  > "$REPORT" 2>&1
# Kernel header lines name the kernel and its Context/Device; "Duration" lines carry ns / us / ms.
awk '
  /_kernel/ && /Context/ && /Device/ { if (match($0, /[a-z_]+_kernel(<[0-9, ]+>)?/)) name = substr($0, RSTART, RLENGTH) }
  $1 == "Duration" { t = $3; if ($2 == "ms") t *= 1000; if ($2 == "ns") t /= 1000; sum[name] += t; n[name]++; total += t }
  $1 == "DRAM" && $2 == "Throughput" { dram[name] += $4 }
  END {
    for (k in sum) printf "%-28s %4d launches  %9.1f us  mean DRAM %5.1f%%\n", k, n[k], sum[k], dram[k] / n[k]
    printf "total kernel time %.1f us per token -> at most %.0f tok/s without gaps\n", total, 1e6 / total
  }' "$REPORT"
