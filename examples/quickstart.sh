#!/usr/bin/env bash
# The main job on the bundled example: sets up .venv once, then records the Self-Instruct seeds
# and two recorded OpenAI teachers' outputs in a DuckDB ledger and prints its summary.
# Offline, no API key. Running it again adds nothing (imports are idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/provenance ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet -e .
fi
export PROVENANCE_DB="${PROVENANCE_DB:-example.duckdb}"
p=.venv/bin/provenance
data=examples/self-instruct
$p init
$p seeds import "$data/seed_tasks.jsonl" --manifest "$data/seeds.yaml"
$p import "$data/text-davinci-003_predictions.jsonl" --manifest "$data/text-davinci-003.yaml"
$p import "$data/davinci_predictions.jsonl" --manifest "$data/davinci.yaml"
$p stats
