#!/usr/bin/env bash
# `make run`: migrate, load the lessons, start Redis (if none), a Celery worker, the web server.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
export SANDBOX_SIZE=${SANDBOX_SIZE:-2}
PORT=${PORT:-8000}
HOST=${HOST:-127.0.0.1}
source scripts/services.sh

ensure_redis "$REDIS_URL"
$PY manage.py migrate --noinput -v 0
$PY manage.py sync_lessons
$PY manage.py compilemessages -v 0 >/dev/null 2>&1 || true

pids=()
cleanup() { trap - EXIT INT TERM; kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

mkdir -p var
queues="cpu (+cpu-bulk)"
# Each worker takes its own queue first, then regrades on <queue>-bulk (docs/deploy.md).
(cd platform && exec ../.venv/bin/celery -A config worker -Q cpu,cpu-bulk -n "cpu@%h" \
   --pool threads --concurrency "$SANDBOX_SIZE" --loglevel INFO) >var/worker-cpu.log 2>&1 &
pids+=($!)
if has_gpu; then
  queues="cpu, gpu (+cpu-bulk, gpu-bulk)"
  (cd platform && SANDBOX_DEVICE=gpu exec ../.venv/bin/celery -A config worker -Q gpu,gpu-bulk \
     -n "gpu@%h" --pool threads --concurrency 1 --loglevel INFO) >var/worker-gpu.log 2>&1 &
  pids+=($!)
fi

if [ "${SANDBOX_ALLOW_UNSAFE:-}" = "1" ]; then
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  echo "!! SANDBOX_ALLOW_UNSAFE=1: student code runs WITHOUT full isolation.        !!"
  echo "!! Development only. Never expose this server to students.                  !!"
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
fi
cat <<BANNER

  Learn PyTorch is running:  http://$HOST:$PORT/
  Workers for queues: $queues (logs in var/worker-*.log)   Ctrl-C stops everything.

  Demo logins:
$($PY manage.py demo_accounts)

BANNER
$PY manage.py runserver "$HOST:$PORT" --noreload &
pids+=($!)
wait "${pids[-1]}"
