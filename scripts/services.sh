# Shared by run.sh and test.sh: make sure a Redis answers on $REDIS_URL (start one if not).
redis_answers() {
  "$PY" - "$1" <<'PYEOF' >/dev/null 2>&1
import sys, redis
redis.Redis.from_url(sys.argv[1], socket_connect_timeout=1).ping()
PYEOF
}

ensure_redis() {
  local url=$1
  redis_answers "$url" && return 0
  if ! command -v redis-server >/dev/null; then
    echo "Installing redis-server (Debian package)…"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; } >/dev/null \
      || { echo "Could not install redis-server; start a Redis at $url yourself." >&2; return 1; }
  fi
  local port
  port=$("$PY" -c "import sys, urllib.parse as u; print(u.urlparse(sys.argv[1]).port or 6379)" "$url")
  echo "Starting Redis on port $port…"
  mkdir -p var
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
    --dir "$PWD/var" --logfile "$PWD/var/redis.log" --pidfile "$PWD/var/redis-$port.pid"
  STARTED_REDIS_PIDFILE="$PWD/var/redis-$port.pid"
  for _ in $(seq 50); do redis_answers "$url" && return 0; sleep 0.1; done
  echo "Redis did not start; see var/redis.log" >&2
  return 1
}

# Stop the Redis that ensure_redis started (none if one was already answering).
stop_started_redis() {
  local pidfile=${STARTED_REDIS_PIDFILE:-}
  [ -n "$pidfile" ] && [ -s "$pidfile" ] || return 0
  kill "$(cat "$pidfile")" 2>/dev/null || true
  rm -f "$pidfile"
  STARTED_REDIS_PIDFILE=
}

has_gpu() {
  command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1
}
