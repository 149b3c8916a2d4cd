# Sourced by scripts/run and scripts/test: make .venv and install the project into it when needed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
EXTRAS="${1:-}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# Exactly the locked dependencies, every file checked against its hash (requirements-test.lock: what the
# image ships, and the test tools), then the project itself. Reinstalled only when a lock or the project's
# metadata changed since the last install.
LOCK=requirements.lock
[ "$EXTRAS" = test ] && LOCK=requirements-test.lock
STAMP=".venv/.lumen-installed${EXTRAS:+-$EXTRAS}"
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ] || [ "$LOCK" -nt "$STAMP" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet --require-hashes -r "$LOCK"
  .venv/bin/python -m pip install --quiet --no-deps -e .
  touch "$STAMP"
fi
