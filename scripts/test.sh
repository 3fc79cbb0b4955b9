#!/usr/bin/env bash
# `make test`: lint, then the whole pytest suite against real Redis (and a real Celery worker).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
# Tests use their own Redis database so they never touch a running dev server's queues.
export REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379/13}
source scripts/services.sh
ensure_redis "$REDIS_URL"

echo "== ruff"
.venv/bin/ruff check .
echo "== pytest"
.venv/bin/pytest "$@"
