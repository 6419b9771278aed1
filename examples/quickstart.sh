#!/usr/bin/env bash
# The main job on the bundled example, offline and with no API key: sets up .venv once, then runs
# `provenance demo`: the Self-Instruct seeds and two OpenAI teachers' recorded outputs (through the
# teacher-call journal's replay) into a DuckDB ledger, the commercial policy pack, a tiny student
# trained through the gate, its audit report, data card, model card and SPDX, and `verify`.
# Everything lands in ./demo (or $DEMO_DIR); running it again starts that folder afresh.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/provenance ] || ! .venv/bin/python -c "import transformers, accelerate" 2>/dev/null; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet torch==2.13.0   # the CPU wheel: keeps pip from fetching a CUDA build
  .venv/bin/pip install --quiet -e '.[ml]'
fi
.venv/bin/provenance demo --dir "${DEMO_DIR:-demo}" --force
