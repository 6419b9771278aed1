#!/usr/bin/env bash
# The main job on the bundled example: sets up .venv once, then records the Self-Instruct seeds
# and two recorded OpenAI teachers' outputs in a DuckDB ledger, prints its summary, and runs the
# licence policy and the commercial policy pack over it.
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

# May this data train a commercial student that competes with OpenAI? The OpenAI-generated
# examples may not (exit 1 is the expected answer here); a research student may use them.
echo
if $p licence check --use commercial --student mistralai/Mistral-7B-v0.3; then
  echo "unexpected: the commercial check passed"; exit 1
else
  echo "(exit 1: the policy said no, as expected for OpenAI output and a commercial competing student)"
fi
echo
$p licence check --use research --student tiny

# The content checks of the commercial policy pack (licence, PII, profanity, toxicity,
# contamination, duplicates, diversity), with a JUnit report as a CI system would keep it.
echo
$p check --policy commercial --junit example-junit.xml
