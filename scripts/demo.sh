#!/usr/bin/env bash
# Quickstart: install, migrate, seed the demo and start the web app with a
# Celery worker + beat, on the embedded defaults (SQLite, file-system broker).
# Usage: scripts/demo.sh [port]    (default port 8000)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" requirements.txt
PORT="${1:-${PORT:-8000}}"
export DEBUG="${DEBUG:-true}"

python manage.py migrate --no-input -v0
python manage.py compilemessages -v0 2>/dev/null || true
python manage.py seed_demo
# Rituals: open each ritual's latest review session now, so the review board has an agenda.
python manage.py ritual_tick --open-latest

echo "==> starting the Celery worker with beat (log: var/celery.log)"
celery -A config worker --beat --loglevel=INFO --concurrency=1 >var/celery.log 2>&1 &
worker=$!
trap 'kill $worker 2>/dev/null; wait $worker 2>/dev/null' EXIT INT TERM

echo
echo "OpsKaizen is running at http://127.0.0.1:${PORT}/  (admin: http://127.0.0.1:${PORT}/admin/) — Ctrl-C stops it."
echo
gunicorn config.wsgi --bind "127.0.0.1:${PORT}" --workers 2 --access-logfile - --log-level warning
