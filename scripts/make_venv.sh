#!/usr/bin/env bash
# Create the virtualenv with Python >= 3.12 (the repo pins 3.13 in .python-version):
#   scripts/make_venv.sh [VENV [REQUIREMENTS]]   (default: .venv requirements.txt)
# The benchmark's own environment is `scripts/make_venv.sh .venv-bench bench/requirements.txt`.
set -euo pipefail
venv=${1:-.venv}
requirements=${2:-requirements.txt}
want=$(cat .python-version 2>/dev/null || echo 3.13)
python=""
for candidate in "python$want" python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 \
        && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
        python=$(command -v "$candidate")
        break
    fi
done
if [ -z "$python" ]; then
    echo "Signalboard needs Python 3.12 or newer (pyenv install $want, or your package manager)." >&2
    exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
    echo "Creating $venv with $("$python" --version)"
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
