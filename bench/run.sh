#!/usr/bin/env bash
# Everything `make bench` needs: install the peers and the load generator from
# the package registries (pinned), then run the suite. Arguments go to
# bench/run.py (e.g. --quick, --only ss,tornado, --scenarios seq,pipe).
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH")"
PY="${PY:-$ROOT/.venv/bin/python}"  # ss's own venv; the top Makefile passes PY

need() { command -v "$1" >/dev/null 2>&1 || { echo "bench: '$1' not found: $2" >&2; exit 1; }; }
need node "install Node 18+ (apt-get install nodejs npm)"
need npm "install npm (apt-get install npm)"
need taskset "install util-linux (apt-get install util-linux)"
need redis-server "install Redis (apt-get install redis-server); the bench starts its own on a spare port"
[ -x "$PY" ] || { echo "bench: $PY missing: run 'make install' first (ss's own venv)" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || echo "bench: warning: fewer than 2 cores; server and load generator will share one" >&2

# Reinstall only when a lockfile changed: a stamp holds the lockfile's hash.
stamp_ok() { [ -f "$2" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$(cat "$2")" ]; }
stamp() { sha256sum "$1" | cut -d' ' -f1 > "$2"; }

# Peers' Python packages live in bench/.venv so the bench never changes
# what ss's tests run on.
if ! stamp_ok "$BENCH/requirements.txt" "$BENCH/.venv/.stamp"; then
  echo "bench: installing python-socketio peer into bench/.venv" >&2
  [ -x "$BENCH/.venv/bin/python" ] || python3 -m venv "$BENCH/.venv"
  "$BENCH/.venv/bin/pip" install --quiet --disable-pip-version-check -r "$BENCH/requirements.txt"
  stamp "$BENCH/requirements.txt" "$BENCH/.venv/.stamp"
fi

for dir in "$BENCH/loadgen" "$BENCH/peers/socketio-node"; do
  if ! stamp_ok "$dir/package-lock.json" "$dir/node_modules/.stamp"; then
    echo "bench: npm ci in ${dir#$ROOT/}" >&2
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    stamp "$dir/package-lock.json" "$dir/node_modules/.stamp"
  fi
done

cd "$ROOT"
exec "$PY" "$BENCH/run.py" "$@"
