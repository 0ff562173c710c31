#!/usr/bin/env bash
# The Crosslink demo (./crosslink.sh demo builds, then runs this from the repository root with the
# build in build/). Each step prints what it shows and writes its files to out/.
#   bench/demo.sh [SCENARIO]   default: bench/scenarios/starlink-shell1.toml
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${CROSSLINK_BIN_DIR:-build/bin}
SCENARIO=${1:-bench/scenarios/starlink-shell1.toml}
mkdir -p out

# 1. The link model: one orbit of the scenario, predicted (geometry) and true (geometry + faults)
#    contact plans, their summaries and the availability plot of the true plan.
echo "== Link model: $SCENARIO"
"$BIN/crosslink-linkmodel" summary --scenario "$SCENARIO" --plot out/availability.png

# 2. The true plan as CSV (one row per contact), its outages with their causes, and the predicted
#    plan in ION-DTN form for DTN tools.
"$BIN/crosslink-linkmodel" contacts --scenario "$SCENARIO" \
  --csv out/contacts.csv --outages out/outages.csv
"$BIN/crosslink-linkmodel" contacts --scenario "$SCENARIO" --predicted \
  --csv out/contacts_predicted.csv --ion out/contact_plan.ion
