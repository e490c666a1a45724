#!/usr/bin/env bash
# Runs schemathesis (from PyPI, in a throwaway virtualenv) with every check
# against a live `orchestrator serve` on loopback that this script starts on
# a temporary data directory and stops again. Exits non-zero on any failure.
#
#   .ci/schemathesis.sh            # ST_MAX_EXAMPLES=25 by default
set -euo pipefail
cd "$(dirname "$0")/.."
here=.ci/schemathesis
work=$(mktemp -d)
port=${ST_PORT:-18181}
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# Python 3.12 or later: 3.11.7's ast module fails on the recursion depth of
# Hypothesis's lambda descriptions ("AST constructor recursion depth
# mismatch"); ST_PYTHON overrides the pick.
python=${ST_PYTHON:-}
if [ -z "$python" ]; then
    for p in python3.13 python3.12 "$HOME"/.pyenv/versions/3.1[2-9]*/bin/python3 python3; do
        if command -v "$p" > /dev/null 2>&1 && "$p" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
            python=$p; break
        fi
    done
fi
python=${python:-python3}
"$python" --version
"$python" -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis>=4.3,<5"
"$work/venv/bin/st" --version

cargo build --quiet -p orch-runtime --bin orchestrator
target=${CARGO_TARGET_DIR:-target}
"$target/debug/orchestrator" serve --config "$here/config.toml" \
    --engine "${ST_ENGINE:-host}" \
    --data-dir "$work/data" --listen "127.0.0.1:$port" > "$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$port/readyz" > /dev/null 2>&1; then break; fi
    sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/readyz" > /dev/null

status=0
# Run from the temporary directory: schemathesis keeps a cache where it runs.
hooks_dir=$(pwd)/$here
cd "$work"
SCHEMATHESIS_HOOKS=hooks PYTHONPATH="$hooks_dir" "$work/venv/bin/st" run \
    "http://127.0.0.1:$port/v1/openapi.json" \
    --checks all \
    --max-examples "${ST_MAX_EXAMPLES:-25}" \
    --seed "${ST_SEED:-1}" \
    --workers 2 \
    --output-truncate false || status=$?
if [ "$status" -ne 0 ]; then
    echo "-- server log (last 40 lines)"; tail -40 "$work/server.log"
fi
exit "$status"
