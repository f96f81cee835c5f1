#!/usr/bin/env bash
# Prints a directory holding kube-apiserver, etcd and kubectl for envtest (KUBEBUILDER_ASSETS).
#
# Order of preference, cheapest first:
#   1. $KUBEBUILDER_ASSETS, when it already holds the binaries;
#   2. the per-user cache (${XDG_CACHE_HOME:-$HOME/.cache}/partner-operator/envtest/<version>);
#   3. setup-envtest, when it is installed and can answer offline or download;
#   4. a build from the Go module proxy (k8s.io/kubernetes and go.etcd.io/etcd/server/v3),
#      stored in the cache of step 2. A cold build takes several minutes on 2 cores.
# Progress goes to stderr; stdout carries only the directory, so callers can use $(...).
set -euo pipefail

K8S_VERSION="${ENVTEST_K8S_VERSION:-1.37.2}"
ETCD_VERSION="${ENVTEST_ETCD_VERSION:-3.7.3}"
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/partner-operator/envtest"
DEST="$CACHE_ROOT/k8s-$K8S_VERSION-etcd-$ETCD_VERSION"

log() { printf 'envtest: %s\n' "$*" >&2; }
complete() { [ -x "$1/kube-apiserver" ] && [ -x "$1/etcd" ] && [ -x "$1/kubectl" ]; }

if [ -n "${KUBEBUILDER_ASSETS:-}" ] && complete "$KUBEBUILDER_ASSETS"; then
  echo "$KUBEBUILDER_ASSETS"; exit 0
fi
if complete "$DEST"; then
  echo "$DEST"; exit 0
fi
if command -v setup-envtest >/dev/null 2>&1; then
  if dir=$(setup-envtest use -p path "$K8S_VERSION" 2>/dev/null) && complete "$dir"; then
    echo "$dir"; exit 0
  fi
fi

command -v go >/dev/null 2>&1 || { log "go is required to build the envtest binaries"; exit 1; }
export CGO_ENABLED=0 GOFLAGS=-mod=mod
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/out" "$work/kube" "$work/etcd"
start=$(date +%s)
elapsed() { echo "$(( $(date +%s) - start ))s"; }

log "building kube-apiserver, kubectl v$K8S_VERSION and etcd v$ETCD_VERSION from the Go module proxy (minutes on a cold cache)"

# kube-apiserver and kubectl. k8s.io/kubernetes requires its staging modules at v0.0.0 and
# replaces them with local paths; a module that merely requires it ignores those replaces,
# so each staging module is pinned here to the matching v0.x release.
minor="${K8S_VERSION#1.}"
staging="0.$minor"
gomod=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
[ -f "$gomod" ] || { log "could not download k8s.io/kubernetes@v$K8S_VERSION"; exit 1; }
{
  echo "module envtestbuild"
  echo "go 1.26"
  echo "require k8s.io/kubernetes v$K8S_VERSION"
  awk '/^[[:space:]]*k8s\.io\/[^ ]+ v0\.0\.0$/ { print "replace " $1 " => " $1 " v'"$staging"'" }' "$gomod" | sort -u
} > "$work/kube/go.mod"
log "$(grep -c '^replace' "$work/kube/go.mod") staging modules pinned to v$staging"
major="${K8S_VERSION%%.*}"; rest="${K8S_VERSION#*.}"; kminor="${rest%%.*}"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags="$ldflags -X $pkg.gitVersion=v$K8S_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$kminor"
done
(
  cd "$work/kube"
  printf 'package tools\nimport (\n_ "k8s.io/kubernetes/cmd/kube-apiserver"\n_ "k8s.io/kubernetes/cmd/kubectl"\n)\n' > tools.go
  log "resolving modules for kube-apiserver ($(elapsed))"
  go mod tidy >/dev/null 2>&1 || go mod download >/dev/null
  log "compiling kube-apiserver ($(elapsed))"
  go build -trimpath -ldflags "$ldflags" -o "$work/out/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
  log "compiling kubectl ($(elapsed))"
  go build -trimpath -ldflags "$ldflags" -o "$work/out/kubectl" k8s.io/kubernetes/cmd/kubectl
)

# etcd, in its own module so kube-apiserver keeps the etcd client version it pins.
(
  cd "$work/etcd"
  printf 'module etcdbuild\ngo 1.26\nrequire go.etcd.io/etcd/server/v3 v%s\n' "$ETCD_VERSION" > go.mod
  printf 'package tools\nimport _ "go.etcd.io/etcd/server/v3"\n' > tools.go
  log "resolving modules for etcd ($(elapsed))"
  go mod tidy >/dev/null 2>&1 || go mod download >/dev/null
  log "compiling etcd ($(elapsed))"
  go build -trimpath -ldflags "-s -w" -o "$work/out/etcd" go.etcd.io/etcd/server/v3
)

"$work/out/kube-apiserver" --version >&2
mkdir -p "$CACHE_ROOT"
tmp="$DEST.tmp.$$"
rm -rf "$tmp"; mv "$work/out" "$tmp"; rm -rf "$DEST"; mv "$tmp" "$DEST"
log "binaries ready in $DEST ($(elapsed))"
echo "$DEST"
