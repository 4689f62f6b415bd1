#!/usr/bin/env bash
# The whole test suite: install the test tools, lint, then pytest.
# Runs on the embedded defaults (SQLite, no Redis) unless DATABASE_URL /
# REDIS_URL point at real services; extra arguments go to pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" requirements-dev.txt

echo "==> ruff"
ruff check .
ruff format --check .
echo "==> migrations are up to date"
python manage.py makemigrations --check --dry-run -v0
echo "==> pytest (database: ${DATABASE_URL:-SQLite default}; Redis: ${REDIS_URL:-none})"
python -m pytest "$@"
