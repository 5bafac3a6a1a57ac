#!/usr/bin/env bash
# Builds helm v4 from its Go module, once, into a cache outside the repo keyed by version
# (like test/cluster/build.sh). A warm call returns at once. Prints the helm binary's path
# as its last line.
set -euo pipefail
HELM_VERSION=${IPSOLIS_HELM_VERSION:-v4.3.2}
cache=${IPSOLIS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ipsolis}
bin="$cache/helm-$HELM_VERSION/bin"
export GOMODCACHE="$cache/go/mod" GOCACHE="$cache/go/build" GOFLAGS=-modcacherw GOTOOLCHAIN=local
if [ -x "$bin/helm" ]; then echo "$bin/helm"; exit 0; fi
# Several callers at once (the test runner, ./dev up, a test) on a cold cache: one builds, the
# others wait for it and use its binary (without the lock they would share one temp dir).
mkdir -p "$bin"
exec 9>"$cache/helm.lock"
flock 9
if [ -x "$bin/helm" ]; then echo "$bin/helm"; exit 0; fi
command -v go >/dev/null || { echo "build-helm.sh: 'go' not found on PATH (need Go >= 1.26)" >&2; exit 2; }
t0=$SECONDS
echo "[helm] building helm $HELM_VERSION — a cold build takes minutes on 2 cores; later runs reuse $bin" >&2
( while sleep 15; do printf '[helm]   … still building (%ss)\n' $((SECONDS - t0)) >&2; done ) 9>&- &
ticker=$!
trap 'kill $ticker 2>/dev/null || true' EXIT
tmp="$bin/.tmp-gobin"
rm -rf "$tmp"; mkdir -p "$tmp"
if ! GOBIN="$tmp" go install -trimpath \
  -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION -X helm.sh/helm/v4/internal/version.gitTreeState=clean" \
  "helm.sh/helm/v4/cmd/helm@$HELM_VERSION"; then
  echo "[helm] building helm failed" >&2; exit 1
fi
mv "$tmp/helm" "$bin/helm.tmp" && rm -rf "$tmp" && mv "$bin/helm.tmp" "$bin/helm"
echo "[helm] built helm $HELM_VERSION in $((SECONDS - t0)) s" >&2
echo "$bin/helm"
