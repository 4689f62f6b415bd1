#!/usr/bin/env bash
# Quickstart: install, migrate, seed the demo and start the web app with a
# Celery worker and beat, on the embedded defaults (SQLite, file-system broker).
# Usage: scripts/demo.sh [port]    (default port 8000)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" requirements.txt
PORT="${1:-${PORT:-8000}}"
# As in production: DEBUG off (styled error pages, no debug tooling); static files come from
# WhiteNoise either way.
export DEBUG="${DEBUG:-false}"

python manage.py migrate --no-input -v0
python manage.py compilemessages -v0 2>/dev/null || true
python manage.py seed_demo
# Rituals: open each ritual's latest review session now, so the review board has an agenda.
python manage.py ritual_tick --open-latest

# Web, worker and beat (beat as its own process, never inside the worker) in one process group:
# Ctrl-C, or any of them dying, stops all three.
exec scripts/serve.sh "$PORT"
