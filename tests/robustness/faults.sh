#!/usr/bin/env bash
# Faults tried by hand for docs/robustness.md, repeatable: what rwkv-tune says and leaves behind
# when it is killed with SIGKILL while autosaving, interrupted, or runs out of disk. Not a ctest
# (it needs root for the tmpfs and takes a minute); the ctest equivalents are cited in the doc.
# usage: tests/robustness/faults.sh [BUILD_DIR]    (default build)
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
T=${1:-$ROOT/build}/app/rwkv-tune
M=${RWKV_SHARED_DIR:-$ROOT/../shared}/fixtures/rwkv-cpp/tiny-rwkv-7v0-834K-FP32.bin
D=$ROOT/resources/tasks/format_train.jsonl
W=$(mktemp -d)
trap 'umount "$W/full" 2>/dev/null; rm -rf "$W"' EXIT
# exec: in a background call, $! is then rwkv-tune itself (a kill -9 must reach it, not a subshell)
tune() { exec "$T" tune --model "$M" --data "$D" --ctx-len 96 "$@"; }

echo "== kill -9 while autosaving every step (8 kills at random times)"
intact=0 last=
for i in $(seq 1 8); do
  (tune --out "$W/k.rwkvstate" --steps 400 --autosave-every 1 --eval-every 1 >"$W/log" 2>&1) &
  pid=$!
  sleep "$(awk -v s="$i" 'BEGIN { srand(s); printf "%.2f", 2.5 + 3.5 * rand() }')"
  kill -9 "$pid"; wait "$pid" 2>/dev/null
  # The autosave must resume: start from it and interrupt after 15 s (Ctrl-C = a clean cancel).
  timeout -s INT 15 "$T" tune --resume "$W/k.rwkvstate.autosave" --out "$W/r.rwkvstate" >"$W/resume.log" 2>&1
  if grep -q "resumed at step" "$W/resume.log"; then
    intact=$((intact + 1))
    last=$(grep -m1 "resumed at step" "$W/resume.log")
  else
    echo "kill $i: the autosave does not resume"
  fi
  rm -f "$W/r.rwkvstate" "$W/r.rwkvstate.autosave" "$W/resume.log"
done
echo "autosave resumable after $intact/8 kills; files left: $(cd "$W" && ls | grep -v '^log$' | tr '\n' ' ')"
echo "last resume said: $last"
rm -f "$W"/k.*

echo "== disk full (a 1200 KiB tmpfs, filled up after a first run)"
mkdir -p "$W/full"
if mount -t tmpfs -o size=1200k tmpfs "$W/full" 2>/dev/null; then
  (tune --out "$W/full/s.rwkvstate" --steps 4 >/dev/null 2>&1)
  before=$(sha256sum "$W/full/s.rwkvstate" | cut -c1-16)
  dd if=/dev/zero of="$W/full/fill" bs=1k count=2000 2>/dev/null
  (tune --out "$W/full/s.rwkvstate" --steps 4 --seed 7) 2>&1 | grep -E "failed|error|could not"
  echo "exit status $?; old state $before -> $(sha256sum "$W/full/s.rwkvstate" | cut -c1-16); files: $(ls "$W/full" | tr '\n' ' ')"
  umount "$W/full"
else
  echo "(no tmpfs: not root) - see test_state_file failureDuringWriteKeepsOldFile (RLIMIT_FSIZE)"
fi

echo "== Ctrl-C (SIGINT) mid-run"
(tune --out "$W/c.rwkvstate" --steps 400 >"$W/log" 2>&1) &
pid=$!; sleep 4; kill -INT "$pid"; wait "$pid"; echo "exit status $?"; tail -3 "$W/log"
ls "$W" | grep -v '^log$' | tr '\n' ' '; echo
