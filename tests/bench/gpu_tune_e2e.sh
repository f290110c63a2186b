#!/usr/bin/env bash
# End-to-end GPU tuning check (GPU machine): a random-weight model with the real 0.1B shape
# (made with torch), state-tuned through `rwkv-tune tune --device cuda` on a JSON Lines file;
# the state it writes is then loaded on the CPU and on the GPU and the logits compared.
# Needs .devdata/ (carried) with rwkv_vocab_v20230424.txt; writes to $OUT.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
O=${OUT:-$ROOT/e2e-out}; W=$(mktemp -d)
TUNE="$ROOT/scripts/gpu cli"  # .devbin when carried, else build-gpu
/opt/torch/.venv/bin/python "$ROOT/tests/python/make_random_model.py" --out "$W" --layers 12 --embd 768 --vocab 65536 --pth-only
$TUNE tune --model "$W/model_bf16.pth" --tokenizer "$ROOT/.devdata/rwkv_vocab_v20230424.txt" \
  --data "$ROOT/resources/tasks/arith_train.jsonl" --out "$W/s.rwkvstate" --device cuda --steps 60 --micro-bsz 4 \
  --eval-every 20 --ctx-len 128 2>&1 | tr '\r' '\n' | tail -8 | tee "$O/tune.log"
toks=24281,59,30031,4600,285,44,51,64,261,5585,41693,59
$TUNE logits --model "$W/model_bf16.pth" --tokens $toks --state "$W/s.rwkvstate" --device cuda > "$O/logits-cuda.json"
$TUNE logits --model "$W/model_bf16.pth" --tokens $toks --state "$W/s.rwkvstate" --device cpu > "$O/logits-cpu.json"
$TUNE logits --model "$W/model_bf16.pth" --tokens $toks --device cpu > "$O/logits-cpu-base.json"
/opt/torch/.venv/bin/python - "$O" <<'PY'
import json, sys, numpy as np
o = sys.argv[1]
g, c, b = (np.array(json.load(open(f'{o}/logits-{n}.json'))) for n in ('cuda', 'cpu', 'cpu-base'))
print('tuned state: max |cuda - cpu| logits = %.4g (logit scale %.3g); tuned vs base on cpu: %.4g'
      % (np.abs(g - c).max(), np.abs(c).max(), np.abs(c - b).max()))
PY
