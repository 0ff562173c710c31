#!/usr/bin/env bash
# The Crosslink demo (./crosslink.sh demo builds, then runs this from the repository root with the
# build in build/). Each step prints what it shows and writes its files to out/.
#   bench/demo.sh [SCENARIO]   default: bench/scenarios/starlink-shell1.toml
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${CROSSLINK_BIN_DIR:-build/bin}
SCENARIO=${1:-bench/scenarios/starlink-shell1.toml}
mkdir -p out

# 1. Training, the main job: a short data-parallel Fashion-MNIST run (two epochs over the whole
#    training set, about two minutes here) on 4 ranks over the emulated crosslinks of the scenario (each link carries real
#    bytes at the true plan's latency and rate and holds through its outages); gradients travel in
#    buckets during backward.
#    `train_fashion_mnist --epochs 4 --lr 2e-3` on the full set reaches 90 % (README, Figures).
if [ -x "$BIN/train_fashion_mnist" ]; then
  echo "== Fashion-MNIST on 4 ranks over $SCENARIO (short run)"
  "$BIN/crosslink-run" -n 4 --scenario "$SCENARIO" -- "$BIN/train_fashion_mnist" \
    --epochs 2 --lr 2e-3 --csv out/fashion_mnist.csv --plot out/fashion_mnist.png
else
  echo "== train_fashion_mnist was not built (CROSSLINK_WITH_TORCH=OFF): skipping the training run"
fi

# 2. The benchmark summary. The link model first: one orbit of the scenario, predicted (geometry)
#    and true (geometry + faults) contact plans, their summaries and the availability plot.
echo
echo "== Link model: $SCENARIO"
"$BIN/crosslink-linkmodel" summary --scenario "$SCENARIO" --plot out/availability.png

# 3. The true plan as CSV (one row per contact), its outages with their causes, and the predicted
#    plan in ION-DTN form for DTN tools.
"$BIN/crosslink-linkmodel" contacts --scenario "$SCENARIO" \
  --csv out/contacts.csv --outages out/outages.csv
"$BIN/crosslink-linkmodel" contacts --scenario "$SCENARIO" --predicted \
  --csv out/contacts_predicted.csv --ion out/contact_plan.ion

# 4. Allreduce over the scenario's emulated crosslinks: 4 ranks on the satellites of the
#    scenario's [cluster], each link carrying real bytes at the true plan's latency and rate (and
#    holding through its outages), against the ring bound; then the same sizes on ideal loopback
#    links beside Gloo's ring allreduce.
echo
echo "== Allreduce over the emulated crosslinks of $SCENARIO"
"$BIN/crosslink-bench" allreduce --ranks 4 --scenario "$SCENARIO" \
  --min-bytes 64K --max-bytes 16M --step-factor 4 --iters 5 \
  --csv out/allreduce.csv --plot out/allreduce.png
echo
echo "== Allreduce on ideal loopback links, beside Gloo"
"$BIN/crosslink-bench" allreduce --ranks 4 --scenario ideal \
  --min-bytes 1M --max-bytes 64M --step-factor 8 --iters 5 --baseline gloo \
  --csv out/allreduce_ideal.csv --plot out/allreduce_ideal.png

echo
echo "Files in out/: availability.png, contacts.csv, outages.csv, contacts_predicted.csv,"
echo "contact_plan.ion, allreduce.csv/.png (scenario), allreduce_ideal.csv/.png (ideal vs Gloo),"
echo "fashion_mnist.csv/.png (training)."
