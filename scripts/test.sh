#!/usr/bin/env bash
# `make test`: lint, then the whole pytest suite against real Redis (and a real Celery worker).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
# Tests use their own Redis database so they never touch a running dev server's queues.
export REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379/13}
source scripts/services.sh
ensure_redis "$REDIS_URL"

# Browser tests drive Debian's Chromium (never a browser Playwright downloads itself).
if [ ! -x /usr/bin/chromium ]; then
  echo "Installing Debian's chromium for the browser tests…"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null \
    || echo "Could not install chromium: browser tests will fail." >&2
fi

echo "== ruff"
.venv/bin/ruff check .
echo "== mypy (django-stubs)"
.venv/bin/mypy
echo "== pytest"
.venv/bin/pytest "$@"
