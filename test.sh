#!/usr/bin/env bash
# Set up for testing (test extras and test models; never starts the
# assistant), lint, then run the test suite. Arguments go to pytest.
set -euo pipefail

cd "$(dirname "$(readlink -f "$0")")"
./setup.sh --test
echo "==> ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "==> pytest"
exec .venv/bin/python -m pytest "$@"
