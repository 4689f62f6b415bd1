# Shared by scripts/demo.sh and scripts/test.sh: a virtual environment in .venv
# with the pinned requirements, rebuilt only when a requirements file changes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
requirements="$1"
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $("$PYTHON" --version)"
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.installed-$(cat requirements*.txt | cksum | cut -d' ' -f1)-$(basename "$requirements")"
if [ ! -f "$stamp" ]; then
  echo "==> installing $requirements"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements"
  rm -f .venv/.installed-*-"$(basename "$requirements")"
  touch "$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"
