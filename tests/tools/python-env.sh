#!/usr/bin/env bash
# Creates (once) a Python virtualenv with the Delta readers the tests check tables with, and
# prints its python's path. Cached outside the clone so CI runs on one machine reuse it.
set -euo pipefail
cache="${LAKETIDE_CACHE:-$HOME/.cache/laketide}"
venv="$cache/venv"
stamp="$venv/.laketide-requirements"
requirements="deltalake==1.6.6 pyarrow==26.0.0"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$requirements" ]; then
  mkdir -p "$cache"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check $requirements >&2
  echo "$requirements" > "$stamp"
fi
echo "$venv/bin/python"
