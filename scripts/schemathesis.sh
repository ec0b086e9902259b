#!/usr/bin/env bash
# The API contract checked from outside: schemathesis (pinned, from PyPI, in its own venv)
# against `smartfolio demo` on a free loopback port with a temporary data directory.
# Every check (server errors, status codes, content types, headers, response schemas,
# negative data rejected, positive data accepted, ...), examples, coverage, fuzzing and the
# stateful phase (the document's response links), a bounded number of examples per operation.
# Exits non-zero on any failure or error. Run alone: scripts/schemathesis.sh
# Environment: SMARTFOLIO_BIN (default: builds and uses target/debug/smartfolio),
# ST_MAX_EXAMPLES (default 40), ST_SEED (default 1), ST_VENV (default ~/.cache/...).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

version=4.32.5
venv=${ST_VENV:-$HOME/.cache/smartfolio-schemathesis-$version}
if ! "$venv/bin/st" --version 2>/dev/null | grep -qF "$version"; then
  echo "installing schemathesis $version into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
fi
"$venv/bin/st" --version

bin=${SMARTFOLIO_BIN:-}
if [ -z "$bin" ]; then
  cargo build --quiet -p smartfolio-cli
  bin="$root/target/debug/smartfolio"
fi
[ -x "$bin" ] || { echo "FAIL: $bin is not an executable"; exit 1; }

work=$(mktemp -d)
demo_pid=
cleanup() {
  if [ -n "$demo_pid" ] && kill -0 "$demo_pid" 2>/dev/null; then
    kill -TERM "$demo_pid" 2>/dev/null || true
    wait "$demo_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# The demo prints its URL, its data directory and its token (first start), then serves.
mkfifo "$work/out"
"$bin" demo --port 0 --bind 127.0.0.1 --data-dir "$work/data" --max-seconds 900 \
  >"$work/out" 2>"$work/demo.err" &
demo_pid=$!
exec 3<"$work/out"
url= token=
while [ -z "$url" ] || [ -z "$token" ]; do
  if ! IFS= read -r -t 300 line <&3; then
    echo "FAIL: the demo ended or went silent before printing its URL and token"
    cat "$work/demo.err"
    exit 1
  fi
  echo "demo: $line"
  case "$line" in
    "smartfolio demo: http://"*) url=${line#smartfolio demo: }; url=${url%/} ;;
    "API token (shown once"*) token=${line##* } ;;
  esac
done
cat <&3 >"$work/demo.out" &

export SMARTFOLIO_URL=$url
export SCHEMATHESIS_HOOKS="$root/scripts/schemathesis_hooks.py"
set +e
# Run from the temporary directory: schemathesis keeps its own state in the current one.
(cd "$work" && "$venv/bin/st" run "$url/api/openapi.json" \
  --url "$url" \
  --header "Authorization: Bearer $token" \
  --checks all \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "${ST_MAX_EXAMPLES:-40}" \
  --seed "${ST_SEED:-1}" \
  --workers 1 \
  --request-timeout 30 \
  --generation-database none \
  --no-color \
  --report junit --report-dir "$root/target/schemathesis")
rc=$?
set -e
if ! kill -0 "$demo_pid" 2>/dev/null; then
  echo "FAIL: the demo died during the run"; cat "$work/demo.err"; exit 1
fi
if [ "$rc" -ne 0 ]; then
  echo "FAIL: schemathesis found failures (exit $rc); report in target/schemathesis"
  exit "$rc"
fi
echo "schemathesis: 0 failures"
