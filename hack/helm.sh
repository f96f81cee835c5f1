#!/usr/bin/env bash
# Prints the path of a helm binary (v3) for the chart's tests (charts/partner-operator).
#
# Order of preference, cheapest first:
#   1. $HELM, when it is an executable of the pinned version;
#   2. the per-user cache (${XDG_CACHE_HOME:-$HOME/.cache}/partner-operator/helm/<version>/helm);
#   3. a build from the Go module proxy (go install helm.sh/helm/v3/cmd/helm@<version>),
#      stored in the cache of step 2. A cold build takes about 80 s on 2 cores.
# Progress goes to stderr; stdout carries only the path, so callers can use $(...).
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.22.0}"
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/partner-operator/helm"
DEST="$CACHE_ROOT/$HELM_VERSION"

log() { printf 'helm: %s\n' "$*" >&2; }
# The version check keeps a stale $HELM or a half-written cache from being used.
usable() { [ -x "$1" ] && [ "$("$1" version --template '{{.Version}}' 2>/dev/null)" = "$HELM_VERSION" ]; }

if [ -n "${HELM:-}" ] && usable "$HELM"; then
  echo "$HELM"; exit 0
fi
if usable "$DEST/helm"; then
  echo "$DEST/helm"; exit 0
fi

command -v go >/dev/null 2>&1 || { log "go is required to build helm"; exit 1; }
start=$(date +%s)
log "building helm $HELM_VERSION from the Go module proxy (about 80 s on 2 cores)"

# helm's own Makefile stamps its version and the Kubernetes version that `helm template` and
# `helm lint` assume without a cluster (else 1.20, older than the chart's kubeVersion); the
# latter is derived from the k8s.io/client-go it is built with, as that Makefile does.
gomod=$(go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
[ -f "$gomod" ] || { log "could not download helm.sh/helm/v3@$HELM_VERSION"; exit 1; }
clientgo=$(awk '$1 == "k8s.io/client-go" { print $2; exit }' "$gomod")
kminor=$(echo "$clientgo" | cut -d. -f2)
kmajor=$(( $(echo "${clientgo#v}" | cut -d. -f1) + 1 ))
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  ldflags="$ldflags -X $pkg.k8sVersionMajor=$kmajor -X $pkg.k8sVersionMinor=$kminor"
done

mkdir -p "$CACHE_ROOT"
tmp=$(mktemp -d "$CACHE_ROOT/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# Outside any module, so that this repository's go.mod neither constrains nor records helm.
(cd "$tmp" && GOBIN="$tmp" CGO_ENABLED=0 GOFLAGS=-mod=mod go install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION")
usable "$tmp/helm" || { log "the built helm does not report version $HELM_VERSION"; exit 1; }
rm -rf "$DEST"; mkdir -p "$DEST"; mv "$tmp/helm" "$DEST/helm"
log "helm $HELM_VERSION (Kubernetes $kmajor.$kminor by default) ready in $DEST ($(( $(date +%s) - start ))s)"
echo "$DEST/helm"
