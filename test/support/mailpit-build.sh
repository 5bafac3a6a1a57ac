#!/usr/bin/env bash
# Builds mailpit (a real SMTP server with an HTTP API, for notification tests and ./dev up) from
# the Go module proxy, once, into a cache outside the repo keyed by version. A warm call returns
# at once. Prints the binary's path as its last line.
set -euo pipefail
MAILPIT_VERSION=v1.33.1
cache=${IPSOLIS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ipsolis}
dir="$cache/mailpit-$MAILPIT_VERSION"
export GOMODCACHE="$cache/go/mod" GOCACHE="$cache/go/build" GOFLAGS=-modcacherw GOTOOLCHAIN=local
if [ -x "$dir/bin/mailpit" ]; then echo "$dir/bin/mailpit"; exit 0; fi
# Tests run in parallel and several may want mailpit at once on a cold cache: one builds, the
# others wait for it and use its binary (without the lock they raced on $dir.tmp).
mkdir -p "$cache"
exec 9>"$cache/mailpit.lock"
flock 9
if [ -x "$dir/bin/mailpit" ]; then echo "$dir/bin/mailpit"; exit 0; fi
command -v go >/dev/null || { echo "mailpit-build.sh: 'go' not found on PATH (need Go >= 1.24)" >&2; exit 2; }
t0=$SECONDS
echo "[mailpit] building mailpit $MAILPIT_VERSION (about a minute cold; later runs reuse $dir)" >&2
( while sleep 15; do printf '[mailpit]   … still building (%ss)\n' $((SECONDS - t0)) >&2; done ) &
ticker=$!
rm -rf "$dir.tmp"; mkdir -p "$dir.tmp/bin"
if ! GOBIN="$dir.tmp/bin" go install -trimpath -ldflags "-s -w" "github.com/axllent/mailpit@$MAILPIT_VERSION"; then
  kill $ticker 2>/dev/null; echo "[mailpit] build failed" >&2; exit 1
fi
kill $ticker 2>/dev/null || true
rm -rf "$dir"; mv "$dir.tmp" "$dir"
echo "[mailpit] built in $((SECONDS - t0)) s" >&2
echo "$dir/bin/mailpit"
