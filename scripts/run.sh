#!/usr/bin/env bash
# `make run`: the classroom server. Migrate, load the lessons, start Redis (if none), a Celery
# worker and gunicorn (platform/config/gunicorn_conf.py, as in production) with WhiteNoise and
# DEBUG off, listening on the LAN. Ctrl-C stops everything it started.
# `make dev` (or DJANGO_DEBUG=1 make run): Django's autoreloading server on loopback instead.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
export SANDBOX_SIZE=${SANDBOX_SIZE:-2}
PORT=${PORT:-8000}
LOGS=${RUN_LOG_DIR:-var}  # the workers' logs (a benchmark keeps its own)
source scripts/services.sh
mkdir -p var "$LOGS"

DEV=0
case "${DJANGO_DEBUG:-0}" in 1|true|yes|on) DEV=1 ;; esac
if [ "$DEV" = 1 ]; then
  export DJANGO_DEBUG=1
  HOST=${HOST:-127.0.0.1}
else
  # DEBUG off needs a secret key (made once, kept in var/secret_key, mode 0600), the host
  # names students may type, SQLite allowed: platform/config/local_server.py says which.
  # Anything already in the environment wins.
  classroom_env=$($PY platform/config/local_server.py env var)
  eval "$classroom_env"
  HOST=${HOST:-0.0.0.0}
  export WEB_PROCESSES=${WEB_PROCESSES:-2} WEB_THREADS=${WEB_THREADS:-64}
fi

pids=()
cleanup() {
  trap - EXIT INT TERM
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  stop_started_redis
}
trap cleanup EXIT INT TERM

ensure_redis "$REDIS_URL"
$PY manage.py migrate --noinput -v 0
$PY manage.py sync_lessons
$PY manage.py compilemessages -v 0 >/dev/null 2>&1 || true
if [ "$DEV" = 0 ]; then
  # Hashed, compressed copies for WhiteNoise (settings.STORAGES with DEBUG off).
  $PY manage.py collectstatic --noinput -v 0
fi

queues="cpu (+cpu-bulk)"
# Each worker takes its own queue first, then regrades on <queue>-bulk (docs/deploy.md).
(cd platform && exec ../.venv/bin/celery -A config worker -Q cpu,cpu-bulk -n "cpu@%h" \
   --pool threads --concurrency "$SANDBOX_SIZE" --loglevel INFO) >"$LOGS/worker-cpu.log" 2>&1 &
pids+=($!)
if has_gpu; then
  queues="cpu, gpu (+cpu-bulk, gpu-bulk)"
  (cd platform && SANDBOX_DEVICE=gpu exec ../.venv/bin/celery -A config worker -Q gpu,gpu-bulk \
     -n "gpu@%h" --pool threads --concurrency 1 --loglevel INFO) >"$LOGS/worker-gpu.log" 2>&1 &
  pids+=($!)
fi

if [ "${SANDBOX_ALLOW_UNSAFE:-}" = "1" ]; then
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  echo "!! SANDBOX_ALLOW_UNSAFE=1: student code runs WITHOUT full isolation.        !!"
  echo "!! Development only. Never expose this server to students.                  !!"
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
fi

if [ "$DEV" = 1 ]; then
  urls="http://$HOST:$PORT/"
  mode="development server (DEBUG on, reloads on code changes; not for a class)"
else
  case "$HOST" in
    0.0.0.0|::|"[::]") urls=$($PY platform/config/local_server.py urls "$PORT") ;;
    *) urls="http://$HOST:$PORT/" ;;
  esac
  mode="gunicorn, DEBUG off, $WEB_PROCESSES processes x $WEB_THREADS threads"
fi
cat <<BANNER

  Learn PyTorch is running ($mode).
  Open it at:
$(sed 's/^/    /' <<<"$urls")
  Host names it answers to (DJANGO_ALLOWED_HOSTS): ${DJANGO_ALLOWED_HOSTS:-localhost,127.0.0.1}
  Workers for queues: $queues (logs in $LOGS/worker-*.log)   Ctrl-C stops everything.

  Demo logins:
$($PY manage.py demo_accounts)
BANNER
if [ "$DEV" = 0 ]; then
  echo "  The demo passwords are printed in the README: before students join, change the"
  echo "  teacher's (.venv/bin/python manage.py changepassword teacher)."
fi
echo

if [ "$DEV" = 1 ]; then
  # Autoreload on: the server restarts itself when a .py file changes.
  $PY manage.py runserver "$HOST:$PORT" &
else
  WEB_BIND="$HOST:$PORT" .venv/bin/gunicorn -c platform/config/gunicorn_conf.py config.wsgi &
fi
pids+=($!)
wait "${pids[-1]}"
