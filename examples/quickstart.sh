#!/usr/bin/env bash
# The main job on the bundled example, offline and with no API key: sets up .venv once, then runs
# `provenance demo`: the Self-Instruct seeds and two OpenAI teachers' recorded outputs (through the
# teacher-call journal's replay) into a DuckDB ledger, the commercial policy pack, a tiny student
# trained through the gate, its audit report, data card, model card and SPDX, and `verify`.
# Everything lands in ./demo (or $DEMO_DIR); running it again starts that folder afresh.
# `provenance` is installed into .venv, not onto your PATH: the last lines say how to call it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/provenance ] || ! .venv/bin/python -c "import transformers, accelerate" 2>/dev/null; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet torch==2.13.0   # the CPU wheel: keeps pip from fetching a CUDA build
  .venv/bin/pip install --quiet -e '.[ml]'
fi
demo="${DEMO_DIR:-demo}"
.venv/bin/provenance demo --dir "$demo" --force
root=$(printf %q "$PWD")
db=$(printf %q "$demo/provenance.duckdb")
cat <<NEXT

Next: \`provenance\` is installed in $root/.venv, not on your PATH. Activate it, then ask the ledger:
  cd $root && source .venv/bin/activate
  provenance --db $db stats
or, from $root without activating: .venv/bin/provenance --db $db stats
NEXT
