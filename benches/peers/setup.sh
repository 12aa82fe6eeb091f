#!/usr/bin/env bash
# Creates (once) the virtualenv the peer benchmarks run in and prints its python's path on
# stdout; everything else goes to stderr.
#
#   benches/peers/setup.sh            # instant when the stamp matches
#   benches/peers/setup.sh --retry    # install again the peers whose setup failed
#
# Each peer's packages are installed separately, so one failure (no network for pyspark, no
# Java) does not stop the others. "$venv/peers-status" gets one line per peer:
#   python_loop ok
#   polars ok
#   spark <why it failed: the last line of pip's error, or the Java check>
# compare.py reads it and skips the peers that are not "ok". Logs: "$venv/setup-<step>.log".
set -uo pipefail

cache="${LAKETIDE_CACHE:-$HOME/.cache/laketide}"
venv="$cache/peers-venv"
python="$venv/bin/python"
stamp="$venv/.peers-stamp"
status="$venv/peers-status"

base="deltalake==1.6.6 pyarrow==26.0.0"
polars="polars==2.1.0"
# Spark 4.x runs on Java 17 and 21 (it dropped 8 and 11); the image has OpenJDK 17.
pyspark="pyspark==4.3.0"
java_min=17
requirements="base: $base; polars: $polars; spark: $pyspark; java>=$java_min; v1"

retry=0
[ "${1:-}" = "--retry" ] && retry=1

say() { echo "peers setup: $*" >&2; }

if [ -x "$python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$requirements" ] && [ -f "$status" ] \
  && { [ "$retry" = 0 ] || ! grep -qv ' ok$' "$status"; }; then
  echo "$python"
  exit 0
fi

mkdir -p "$cache"
if [ ! -x "$python" ]; then
  say "creating $venv"
  if ! python3 -m venv "$venv" >&2; then
    say "cannot create the virtualenv"
    exit 1
  fi
fi

# Status of the previous run, so --retry keeps what already worked.
declare -A previous=()
if [ -f "$status" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$requirements" ]; then
  while read -r peer rest; do previous[$peer]="$rest"; done < "$status"
fi

# pip_step NAME PACKAGES... : installs, and on failure prints the last line of pip's output.
pip_step() {
  local name=$1; shift
  local log="$venv/setup-$name.log"
  say "installing $* (log: $log)"
  if "$python" -m pip install --disable-pip-version-check --no-input "$@" >"$log" 2>&1; then
    return 0
  fi
  local why
  why=$(grep -v '^[[:space:]]*$' "$log" | tail -n 1)
  echo "pip install $* failed: ${why:-no output}"
  return 1
}

# import_check MODULES... : the packages really import.
import_check() {
  local out
  if out=$("$python" -c "import sys
for m in sys.argv[1:]: __import__(m)" "$@" 2>&1); then
    return 0
  fi
  echo "import $* failed: $(echo "$out" | grep -v '^[[:space:]]*$' | tail -n 1)"
  return 1
}

declare -A result=()

# Every peer writes or reads Delta/Arrow with these, and compare.py reads laketide's tables.
base_status=ok
if [ "${previous[python_loop]:-}" = ok ] && [ "$retry" = 1 ]; then
  base_status=ok
elif ! why=$(pip_step base $base) || ! why=$(import_check deltalake pyarrow); then
  base_status="$why"
fi
result[python_loop]="$base_status"

# polars
if [ "$base_status" != ok ]; then
  result[polars]="needs deltalake/pyarrow: $base_status"
elif [ "$retry" = 1 ] && [ "${previous[polars]:-}" = ok ]; then
  result[polars]=ok
elif why=$(pip_step polars $polars) && why=$(import_check polars); then
  result[polars]=ok
else
  result[polars]="$why"
fi

# spark: pyspark (its jars come inside the wheel) and a Java it supports.
java_check() {
  local java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
  local version
  if ! version=$("$java" -version 2>&1); then
    echo "no Java: '$java -version' failed (Spark needs Java $java_min+)"
    return 1
  fi
  local major
  major=$(echo "$version" | sed -n 's/.*version "\([0-9]*\)[."].*/\1/p' | head -n 1)
  if [ -z "$major" ] || [ "$major" -lt "$java_min" ]; then
    echo "Java ${major:-?} found; $pyspark needs Java $java_min+"
    return 1
  fi
}
if [ "$retry" = 1 ] && [ "${previous[spark]:-}" = ok ]; then
  result[spark]=ok
elif why=$(java_check) && why=$(pip_step spark $pyspark) && why=$(import_check pyspark); then
  result[spark]=ok
else
  result[spark]="$why"
fi

: > "$status.tmp"
for peer in python_loop polars spark; do
  echo "$peer ${result[$peer]}" >> "$status.tmp"
  say "$peer: ${result[$peer]}"
done
mv "$status.tmp" "$status"
echo "$requirements" > "$stamp"
echo "$python"
