#!/usr/bin/env bash
# Regenerates the locked requirement files from their human-edited inputs:
#
#   requirements.in        -> requirements.txt        runtime (and what builds ss itself)
#   requirements-dev.in    -> requirements-dev.txt    runtime + test tools: what `make venv` installs
#   requirements-tools.in  -> requirements-tools.txt  pip-tools and pip-audit, in .venv-tools
#
# Each lock holds the whole dependency tree, every package pinned with the sha256 of
# every file PyPI has for that release (all platforms), so `pip install --require-hashes`
# installs exactly these bytes or stops. To change a dependency, edit the .in file and
# run this script (bash scripts/lock-deps.sh); to move every transitive package to its
# newest compatible release, run it with --upgrade. Commit the .in and .txt files together.
#
# The tree is resolved for the Python that runs the script (python3, or $PYTHON): the
# project's machines run CPython 3.11 on Linux x86_64. pip's own configuration on the
# machine (indexes, constraints) applies as for any install; no index URL or local path
# is written into the locks.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
TOOLS=.venv-tools

if [ ! -x "$TOOLS/bin/python" ]; then
  "$PYTHON" -m venv "$TOOLS"
fi
if [ -f requirements-tools.txt ]; then
  # --no-deps: the lock is the whole tree (a new venv's pip 23.x rejects an extra in hash mode)
  "$TOOLS/bin/python" -m pip install -q --require-hashes --no-deps -r requirements-tools.txt
else  # first run: no lock yet to install the tools from
  "$TOOLS/bin/python" -m pip install -q -r requirements-tools.in
fi

compile() {  # compile INPUT OUTPUT [extra pip-compile options]
  local input="$1" output="$2"
  shift 2
  echo "locking $input -> $output"
  # CUSTOM_COMPILE_COMMAND: the header of each lock names this script as the way to regenerate it.
  CUSTOM_COMPILE_COMMAND="bash scripts/lock-deps.sh" \
    "$TOOLS/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --strip-extras \
    --no-emit-index-url --no-emit-trusted-host --no-emit-find-links \
    --resolver=backtracking "$@" --output-file "$output" "$input"
}

compile requirements.in requirements.txt "$@"
compile requirements-dev.in requirements-dev.txt "$@"
compile requirements-tools.in requirements-tools.txt "$@"
echo "done: review with git diff, then run make venv (or rm -rf .venv first) and the tests"
