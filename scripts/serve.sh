#!/usr/bin/env bash
# Web (gunicorn), Celery worker and Celery beat, as ONE process group stopped as a whole:
# Ctrl-C, a TERM to this script, or any one of the three exiting (a worker killed, say) stops
# the other two, so no beat is ever left running on its own. The quickstart's stand-in for a
# supervisor; in production each runs under systemd or supervisord (docs/operations.md).
# Usage: scripts/serve.sh [port]   (default 8000), with celery and gunicorn on PATH and the
# database migrated: scripts/demo.sh prepares both, then runs this.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Lead our own process group, so that one signal to the group reaches every process started
# here (gunicorn's and the worker's children included). Started from an interactive shell we
# already do (Ctrl-C keeps working); started by another program, we take a new session.
if command -v setsid >/dev/null 2>&1 && [ "$(ps -o pgid= -p $$ | tr -d ' ')" != "$$" ]; then
  exec setsid bash "${BASH_SOURCE[0]}" "$@"
fi

PORT="${1:-${PORT:-8000}}"
VAR="${OPSKAIZEN_VAR_DIR:-var}"
mkdir -p "$VAR"

echo "==> starting the Celery worker (log: $VAR/celery-worker.log) and beat (log: $VAR/celery-beat.log)"
celery -A config worker --loglevel=INFO --concurrency=1 --without-gossip --without-mingle </dev/null >"$VAR/celery-worker.log" 2>&1 &
worker=$!
celery -A config beat --loglevel=INFO </dev/null >"$VAR/celery-beat.log" 2>&1 &
beat=$!
gunicorn config.wsgi --bind "127.0.0.1:${PORT}" --workers 2 --access-logfile - --log-level warning </dev/null &
web=$!

stop_all() {
  local status=$?
  trap '' INT TERM  # the signal below reaches this shell too
  if [ "$(ps -o pgid= -p $$ | tr -d ' ')" = "$$" ]; then
    kill -TERM -- "-$$" 2>/dev/null || true
  else
    kill -TERM "$web" "$beat" "$worker" 2>/dev/null || true
  fi
  # A worker finishes its running task first (warm shutdown); after 30 s, everything is killed.
  for _ in $(seq 60); do
    kill -0 "$web" 2>/dev/null || kill -0 "$beat" 2>/dev/null || kill -0 "$worker" 2>/dev/null || exit "$status"
    sleep 0.5
  done
  echo "==> still running after 30 s: killing" >&2
  kill -KILL "$web" "$beat" "$worker" 2>/dev/null || true
  [ "$(ps -o pgid= -p $$ | tr -d ' ')" = "$$" ] && kill -KILL -- "-$$"
  exit "$status"
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo
echo "OpsKaizen is running at http://127.0.0.1:${PORT}/  (admin: http://127.0.0.1:${PORT}/admin/) — Ctrl-C stops it."
echo
while kill -0 "$web" 2>/dev/null && kill -0 "$beat" 2>/dev/null && kill -0 "$worker" 2>/dev/null; do
  sleep 1
done
for name in web beat worker; do
  kill -0 "${!name}" 2>/dev/null || echo "==> the $name process stopped: stopping the others" >&2
done
exit 1
