#!/usr/bin/env bash
# The GPU run in one script: the CUDA tests, then the bench.engine matrix, results in $OUT.
#
#   bash bench/gpu.sh             # on the device machine (one GPU), about 7 minutes of work
#   SMALL=1 bash bench/gpu.sh     # a dry run on a CPU: the small shape, bf16, tiny lengths
#
# Wheels the image lacks (bitsandbytes, pytest's plugins, prometheus-client, python-dotenv) travel in
# .whl/ and install into /tmp/site; the default model's tokenizer travels in .device/tokenizer/ (see
# bench/prepare_gpu.sh). Each step is time-boxed, the most important first, so a slow step costs only
# itself. At most 8 files are written to $OUT: env.txt, test_cuda.log, bench-*.json, bench.log, summary.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
PY=${PYTHON:-python3}

if compgen -G ".whl/*.whl" > /dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    > "$OUT/env.txt" 2>&1 || echo "wheel install failed" >> "$OUT/env.txt"
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
TOKENIZER=()
if [ -d .device/tokenizer ]; then
  export ENGINE_TOKENIZER=$PWD/.device/tokenizer
  TOKENIZER=(--tokenizer "$ENGINE_TOKENIZER")
fi

if [ "${SMALL:-0}" = "1" ]; then
  SHAPE=smollm2-135m; QUANTS="none"; LEVELS="1,2"; PROMPT=64; NEW=8; BASE=2; TESTS=120
else
  SHAPE=llama-3.1-8b; QUANTS="nf4 bf16 int8"; LEVELS="1,8,64"; PROMPT=500; NEW=128; BASE=2; TESTS=120
fi
step_seconds() {  # the most important first and longest; a CPU dry run gets all the time it needs
  if [ "${SMALL:-0}" = "1" ]; then echo 900; return; fi
  case "$1" in nf4) echo 150 ;; int8) echo 120 ;; *) echo 110 ;; esac
}

{
  date -u
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
  $PY -c "import sys, torch, transformers; print(sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda, 'transformers', transformers.__version__)"
  $PY -c "import bitsandbytes, peft; print('bitsandbytes', bitsandbytes.__version__, 'peft', peft.__version__)" 2>&1 | tail -1
} >> "$OUT/env.txt" 2>&1

timeout "$TESTS" $PY -m pytest -q -p no:cacheprovider -o addopts="" -rs tests/engine/test_cuda.py > "$OUT/test_cuda.log" 2>&1
echo "test_cuda exit $?" >> "$OUT/test_cuda.log"

: > "$OUT/summary.txt"
tail -3 "$OUT/test_cuda.log" >> "$OUT/summary.txt"
for q in $QUANTS; do
  timeout "$(step_seconds "$q")" $PY -m bench.engine --random-weights --shape "$SHAPE" --quantization "$q" \
    --dtype bf16 --backend continuous --concurrency "$LEVELS" --prompt-tokens "$PROMPT" --new-tokens "$NEW" \
    --baseline-requests "$BASE" "${TOKENIZER[@]}" > "$OUT/bench-$q.json" 2>> "$OUT/bench.log"
  code=$?
  echo "bench $q exit $code: $(tail -1 "$OUT/bench-$q.json")" >> "$OUT/summary.txt"
done
cat "$OUT/summary.txt"
