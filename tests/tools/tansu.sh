#!/usr/bin/env bash
# A real Kafka-protocol broker for end-to-end tests: tansu, with sqlite storage, on 127.0.0.1.
#
#   tests/tools/tansu.sh install          build it once (cached under ~/.cache/laketide)
#   tests/tools/tansu.sh start [PORT]     start it in the background, wait until it answers
#   tests/tools/tansu.sh stop             stop the one started here, by PID
#   tests/tools/tansu.sh topic NAME [PARTITIONS]
#
# Its memory:// storage reports wrong "latest" offsets, so it always runs on sqlite.
set -euo pipefail
cache="${LAKETIDE_CACHE:-$HOME/.cache/laketide}"
root="$cache/tansu"
bin="$root/bin/tansu"
run="$cache/tansu-run"
port="${2:-${TANSU_PORT:-9092}}"
version="0.6.0"

install() {
  if [ -x "$bin" ] && [ "$(cat "$root/.version" 2>/dev/null)" = "$version" ]; then
    return
  fi
  echo "building tansu $version (once; about 17 minutes on 2 cores)" >&2
  cargo install tansu --version "$version" --locked --features libsql --root "$root" >&2
  echo "$version" > "$root/.version"
}

start() {
  install
  stop_quietly
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "something else already listens on 127.0.0.1:$port; stop it or choose another port" >&2
    exit 1
  fi
  rm -rf "$run" && mkdir -p "$run/data"
  # The broker must be the backgrounded command itself, so that $! (the PID recorded and
  # later stopped) is the broker's and not a subshell's.
  (cd "$run" || exit 1
   nohup "$bin" broker \
      --listener-url "tcp://127.0.0.1:$port" \
      --advertised-listener-url "tcp://127.0.0.1:$port" \
      --storage-engine "sqlite://data/tansu.db" > "$run/broker.log" 2>&1 &
   echo $! > "$run/pid")
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "tansu is up on 127.0.0.1:$port (pid $(cat "$run/pid"), log $run/broker.log)" >&2
      return
    fi
    if ! kill -0 "$(cat "$run/pid")" 2>/dev/null; then
      echo "tansu exited at start; its log:" >&2
      cat "$run/broker.log" >&2
      exit 1
    fi
    sleep 0.2
  done
  echo "tansu did not answer on 127.0.0.1:$port within 20 s; log: $run/broker.log" >&2
  exit 1
}

stop_quietly() {
  if [ -f "$run/pid" ]; then
    kill "$(cat "$run/pid")" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$(cat "$run/pid")" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$(cat "$run/pid")" 2>/dev/null || true
    rm -f "$run/pid"
  fi
}

topic() {
  "$bin" topic create "$1" --partitions "${2:-3}" --broker "tcp://127.0.0.1:${TANSU_PORT:-9092}"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop_quietly ;;
  topic) shift; topic "$@" ;;
  *) echo "usage: $0 install | start [PORT] | stop | topic NAME [PARTITIONS]" >&2; exit 2 ;;
esac
