#!/usr/bin/env bash
# The candidates of issue 22 on one lent GPU, in one go: each trained from random
# weights at 224x224 px (precision auto: mixed_float16, XLA on), seed 1, then the
# winner by the screening criterion at seeds 2 and 3, and one table
# (experiments/summarise.py). Its own MLflow store, under $OUT when the device tool
# runs it (the store comes back), else under data/09_experiments/gpu.
#
#   bash experiments/gpu_grid.sh                   # EPOCHS=12 SIZE=224 by default
#   EPOCHS=30 SIZE=224 bash experiments/gpu_grid.sh
#
# Sized for an H100 and about 8 minutes of training in all: a 224 px epoch of 2,296
# images takes a few seconds there, so the preprocessing of each run (about a minute
# on 16 cores) costs more than its epochs. Write what it prints into
# docs/accuracy.md, naming the card.
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS="${EPOCHS:-12}"
SIZE="${SIZE:-224}"
STORE="${OUT:-data/09_experiments/gpu}"
mkdir -p "$STORE"
export MLFLOW_TRACKING_URI="sqlite:///$(realpath "$STORE")/mlflow.db"
# s03 (RandAugment, MixUp, CutMix) lost on the 10-epoch CPU proxy by not learning in
# time; a GPU's epochs are where it can show whether it helps.
CANDIDATES=(
  experiments/s00_control_64px.yml
  experiments/s01_acquisition_groups_64px.yml
  experiments/s03_randaugment_mixup_cutmix_64px.yml
)
PARAMS=("image_size=[$SIZE,$SIZE]" "model_training.epochs=$EPOCHS")
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
for config in "${CANDIDATES[@]}"; do
  python experiments/run_seeds.py "$config" --seeds 1 --variant "gpu${SIZE}" \
    --params "${PARAMS[@]}" --logs "$STORE/logs"
done
names=()
for config in "${CANDIDATES[@]}"; do names+=("$(basename "$config" .yml)_gpu${SIZE}"); done
winner="$(python experiments/summarise.py --candidates "${names[@]}" | sed -n 's/^Chosen: //p')"
echo "Winner at seed 1: $winner"
python experiments/run_seeds.py "experiments/${winner%_gpu${SIZE}}.yml" --seeds 2 3 \
  --variant "gpu${SIZE}" --params "${PARAMS[@]}" --logs "$STORE/logs"
python experiments/summarise.py --candidates "${names[@]}" | tee "$STORE/table.md"
