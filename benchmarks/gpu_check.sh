#!/usr/bin/env bash
# GPU checks: training throughput, input pipeline and a short training run, on one GPU.
#
#   bash benchmarks/gpu_check.sh [--data DIR] [--keep]   # on one GPU (estimated ~6 min on an H100)
#   bash benchmarks/gpu_check.sh --dry-run               # the same steps on CPU, tiny settings
#
# Steps, each in a throw-away copy of the project with its own MLflow store (SQLite in
# the work folder), so neither data/ nor the project's tracking store are touched:
#   1. cache the training split at SIZE x SIZE with the `preprocessing` pipeline;
#   2. training throughput (benchmarks/training_throughput.py, steady state after
#      WARMUP steps): float32 without XLA, synthetic feed;
#   3. the same, mixed precision (mixed_float16) with XLA, synthetic feed;
#   4. the same, mixed precision with XLA, fed by the project's tf.data pipeline;
#   5. `kedro run --pipelines training --env scratch` on the full data for EPOCHS
#      epochs: its wall time.
# Then it prints one table with the GPU's name and each figure against its target:
# mixed precision + XLA >= 2x float32, >= 3000 images/s at 224x224 (H100), tf.data >=
# 0.95x the synthetic feed.
#
# Exit status: 0 all steps ran and every target is met (or --dry-run), 1 a step failed
# (its log's tail is printed), 2 bad usage or no GPU/data, 3 all steps ran but a target
# was missed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="$ROOT/../shared/data/brain_tumor_mri"
DRY_RUN=0
KEEP=0
PYTHON="${PYTHON:-python}"

usage() { sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
fail() { echo "gpu_check: $1" >&2; exit "${2:-1}"; }

while (($#)); do
  case "$1" in
    --dry-run) DRY_RUN=1 ;;
    --keep) KEEP=1 ;;
    --data) [[ $# -ge 2 ]] || fail "--data needs a folder" 2; DATA="$2"; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; fail "unknown option '$1'" 2 ;;
  esac
  shift
done

if ((DRY_RUN)); then
  # Tiny settings on CPU, the same steps: about 16 min on two busy cores, most of it
  # XLA compiling ResNet-50 for the CPU.
  SIZE=32 BATCH=4 WARMUP=2 STEPS=2 EPOCHS=1 PER_CLASS=6 STEP_TIMEOUT=600
  export CUDA_VISIBLE_DEVICES=""
else
  SIZE=224 BATCH=256 WARMUP=5 STEPS=20 EPOCHS=2 PER_CLASS=null STEP_TIMEOUT=300
fi
WORKERS=$(($(nproc) < 8 ? $(nproc) : 8))

[[ -d "$DATA/Training" && -d "$DATA/Testing" ]] \
  || fail "no data set at '$DATA' (expected Training/ and Testing/); pass --data DIR" 2
DATA="$(cd "$DATA" && pwd)"
"$PYTHON" -c "import brain_tumor_mri, tensorflow" 2>/dev/null \
  || fail "'$PYTHON' cannot import brain_tumor_mri and tensorflow: pip install -e '.[gpu]'" 2
if ((DRY_RUN)); then
  GPU_NAME="none (dry run on CPU)"
else
  command -v nvidia-smi >/dev/null || fail "nvidia-smi not found: this needs an NVIDIA GPU (or --dry-run)" 2
  GPU_NAME="$(nvidia-smi --query-gpu=name --format=csv,noheader | head -n1)"
  GPUS="$("$PYTHON" -c "import tensorflow as tf; print(len(tf.config.list_physical_devices('GPU')))" 2>/dev/null)"
  [[ "$GPUS" -ge 1 ]] || fail "TensorFlow sees no GPU ($GPU_NAME is there): pip install -e '.[gpu]'" 2
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")"
cleanup() {
  local status=$?
  if ((KEEP)) || ((status == 1)); then
    echo "gpu_check: work folder (logs, projects) kept: $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
mkdir -p "$WORK/logs" "$WORK/results"
export MLFLOW_TRACKING_URI="sqlite:///$WORK/mlflow.db"

# A copy of the project (code and configuration, no data, no conf/local) at $1.
copy_project() {
  mkdir -p "$1/conf/local"
  cp "$ROOT/pyproject.toml" "$1/"
  if [[ -f "$ROOT/.telemetry" ]]; then cp "$ROOT/.telemetry" "$1/"; fi
  cp -r "$ROOT/src" "$1/src"
  find "$ROOT/conf" -mindepth 1 -maxdepth 1 -type d ! -name local -exec cp -r {} "$1/conf/" \;
}

# Run step $1 (a name) with a time limit; its output goes to logs/$1.log.
run_step() {
  local name="$1" start
  shift
  echo "gpu_check: $name ..." >&2
  start=$(date +%s%N)
  if ! timeout "$STEP_TIMEOUT" "$@" >"$WORK/logs/$name.log" 2>&1; then
    tail -n 40 "$WORK/logs/$name.log" >&2
    fail "step '$name' failed or ran over ${STEP_TIMEOUT}s; log above and in $WORK/logs/$name.log"
  fi
  echo "$(($(date +%s%N) - start))" >"$WORK/results/$name.ns"
}

# 1. The training split cached at SIZE x SIZE (base configuration).
copy_project "$WORK/cache"
printf 'image_size: [%s, %s]\n' "$SIZE" "$SIZE" >"$WORK/cache/conf/local/parameters.yml"
run_step preprocessing bash -c "cd '$WORK/cache' && PYTHONPATH='$WORK/cache/src' '$PYTHON' -m kedro run \
  --pipelines preprocessing --params 'raw_data_dir=$DATA,preprocessing.workers=$WORKERS,preprocessing.max_images_per_class=$PER_CLASS'"
CACHE="$WORK/cache/data/05_model_input/train"

# 2-4. Steady-state training throughput, one fresh process per setting.
throughput() {
  local name="$1"
  shift
  run_step "$name" bash -c "set -o pipefail; '$PYTHON' '$ROOT/benchmarks/training_throughput.py' --cache '$CACHE' \
    --batch $BATCH --warmup $WARMUP --steps $STEPS $* | tail -n 1 > '$WORK/results/$name.json'"
}
throughput float32_synthetic --variant synthetic --precision float32
throughput mixed_xla_synthetic --variant synthetic --precision mixed_float16 --xla
throughput mixed_xla_tfdata --variant tfdata --precision mixed_float16 --xla

# 5. A short from-scratch training run on the full data (or the dry run's subset).
copy_project "$WORK/training"
TRAINING_PARAMS="raw_data_dir=$DATA,model_training.epochs=$EPOCHS,preprocessing.workers=$WORKERS"
TRAINING_PARAMS+=",preprocessing.max_images_per_class=$PER_CLASS"
if ((DRY_RUN)); then
  TRAINING_PARAMS+=",model_training.batch_size=$BATCH"
  "$PYTHON" - "$WORK/training/conf/scratch/parameters.yml" "$SIZE" <<'EOF'
import sys

import yaml

path, size = sys.argv[1], int(sys.argv[2])
with open(path) as file:
    params = yaml.safe_load(file)
params["image_size"] = [size, size]
with open(path, "w") as file:
    yaml.safe_dump(params, file)
EOF
fi
run_step training bash -c "cd '$WORK/training' && PYTHONPATH='$WORK/training/src' '$PYTHON' -m kedro run \
  --pipelines training --env scratch --params '$TRAINING_PARAMS'"

# The table.
status=0
"$PYTHON" - "$WORK/results" "$GPU_NAME" "$DRY_RUN" "$SIZE" "$BATCH" "$STEPS" "$WARMUP" "$EPOCHS" <<'EOF' || status=$?
import json
import sys
from pathlib import Path

results, gpu, dry_run = Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "1"
size, batch, steps, warmup, epochs = sys.argv[4:9]


def rate(name: str) -> float:
    return json.loads((results / f"{name}.json").read_text())["images_per_s"]


float32, mixed, tfdata = (
    rate(n) for n in ("float32_synthetic", "mixed_xla_synthetic", "mixed_xla_tfdata")
)
training_s = int((results / "training.ns").read_text()) / 1e9
rows = [
    ("float32, no XLA, synthetic feed (images/s)", f"{float32:.1f}", "", None),
    ("mixed precision + XLA, synthetic feed (images/s)", f"{mixed:.1f}", ">= 3000", mixed >= 3000),
    ("mixed + XLA / float32", f"{mixed / float32:.2f}x", ">= 2x", mixed / float32 >= 2),
    ("mixed + XLA, tf.data pipeline (images/s)", f"{tfdata:.1f}", "", None),
    ("tf.data / synthetic (mixed + XLA)", f"{tfdata / mixed:.2f}", ">= 0.95", tfdata / mixed >= 0.95),
    (f"training run, scratch env, epochs: {epochs} (wall s)", f"{training_s:.0f}", "", None),
]
print(f"\nGPU: {gpu}; {size}x{size}, batch {batch}, {steps} steps after {warmup}")
print(f"| {'check':<50} | {'value':>9} | {'target':>8} | {'met':>4} |")
print(f"|{'-' * 52}|{'-' * 10}:|{'-' * 10}|{'-' * 6}|")
missed = False
for check, value, target, met in rows:
    verdict = "" if met is None else ("n/a" if dry_run else ("yes" if met else "NO"))
    missed |= met is False and not dry_run
    print(f"| {check:<50} | {value:>9} | {target:>8} | {verdict:>4} |")
if dry_run:
    print("Dry run on CPU with tiny settings: the targets apply to a GPU run only.")
sys.exit(3 if missed else 0)
EOF
exit "$status"
