#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kubectl and etcd from the Go modules
# pinned in go.mod, once, into a cache outside the repo keyed by version. A warm call
# returns at once. Prints the cache's bin directory as its last line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
K8S_VERSION=v1.37.2
cache=${IPSOLIS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ipsolis}
# The key hashes the files' contents only (not their paths), so every checkout shares one build.
bin="$cache/k8s-$K8S_VERSION-$(cat "$here/go.sum" "$here/etcd/main.go" | sha256sum | cut -c1-12)/bin"
export GOMODCACHE="$cache/go/mod" GOCACHE="$cache/go/build" GOFLAGS=-modcacherw GOTOOLCHAIN=local
command -v go >/dev/null || { echo "build.sh: 'go' not found on PATH (need Go >= 1.26)" >&2; exit 2; }
mkdir -p "$bin"
# One build at a time per cache (two checkouts, CI beside a test run, share it): the second
# waits here and then finds the binaries built. The ticker below closes the lock's fd.
exec 9>"$bin/../build.lock"
if ! flock -n 9; then
  echo "[cluster] another build of this control plane is running; waiting for it" >&2
  flock 9
fi
minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
ld=""
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ld="$ld -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=2026-01-01T00:00:00Z"
done
build() { # name pkg
  local name=$1 pkg=$2
  if [ -x "$bin/$name" ]; then return 0; fi
  local t0=$SECONDS
  echo "[cluster] building $name ($K8S_VERSION) — cold builds take minutes on 2 cores; later runs reuse $bin" >&2
  # Show progress rather than sit silent: a dot every 15 s while go builds.
  ( while sleep 15; do printf '[cluster]   … still building %s (%ss)\n' "$name" $((SECONDS - t0)) >&2; done ) 9>&- &
  local ticker=$!
  if ! (cd "$here" && go build -trimpath -ldflags "-s -w $ld" -o "$bin/$name.tmp" "$pkg"); then
    kill $ticker 2>/dev/null; echo "[cluster] building $name failed" >&2; exit 1
  fi
  kill $ticker 2>/dev/null || true
  mv "$bin/$name.tmp" "$bin/$name"
  echo "[cluster] built $name in $((SECONDS - t0)) s" >&2
  # Kept for bench/cluster-startup: how long the cold build of each binary took here.
  echo "$name $((SECONDS - t0))" >> "$bin/build-seconds.txt"
}
build etcd ./etcd
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
build kubectl k8s.io/kubernetes/cmd/kubectl
echo "$bin"
