#!/usr/bin/env bash
# Build the local test cluster's binaries from Go modules, into a cache outside the repository.
#
# Why: release downloads are not reachable from our machines, the Go module proxy is. So we make
# throwaway Go modules that require the published modules and `go build` their commands:
#   - k8s.io/kubernetes at K8S_VERSION: kube-apiserver, kube-controller-manager, kube-scheduler, kubectl.
#     Its go.mod requires every staging module (k8s.io/api, k8s.io/apiserver, ...) at v0.0.0 with a
#     `replace => ./staging/...`, which a module zip cannot honour; we replace each one with its
#     published v0.<minor>.<patch> instead (the list is read from k8s.io/kubernetes's own go.mod).
#   - go.etcd.io/etcd/server/v3 at ETCD_VERSION (its own module: shared deps must not be bumped).
#   - sigs.k8s.io/kwok at KWOK_VERSION (fake kubelets), also in a module of its own.
#   - helm.sh/helm/v3 at HELM_VERSION (to lint, render and test charts/), in a module of its own
#     (it requires newer k8s.io modules than Kubernetes itself; its go.mod has no replaces).
#   - github.com/prometheus/prometheus at PROMETHEUS_VERSION: promtool (to check and unit-test the
#     chart's alerting rules and the dashboard's queries), in a module of its own. Prometheus 3.x is
#     published as module versions v0.3xx.y (v0.316.0 = Prometheus 3.16.0).
#   - sigs.k8s.io/kustomize/kustomize/v5 at KUSTOMIZE_VERSION: `kustomize build` for folders of
#     plain manifests that carry a kustomization.yaml (the agent runs it; the image carries it).
#     (v5.8.3 needs Go 1.27.)
#   - CRDs of the custom resources gitops-agent renders, copied from the projects' own modules
#     (`go mod download`, nothing is built): KEDA's ScaledObject (github.com/kedacore/keda/v2 at
#     KEDA_VERSION) and Gateway API's standard channel (sigs.k8s.io/gateway-api at GATEWAY_API_VERSION).
#     The local cluster loads them when it starts. (Gateway API v1.7 needs Go 1.27 even to download.)
# Each binary is skipped when already in the cache. Output: $GITOPS_AGENT_K8S_BIN (printed last).
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.8}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
PROMETHEUS_VERSION="${PROMETHEUS_VERSION:-v0.316.0}"
KEDA_VERSION="${KEDA_VERSION:-v2.21.0}"
GATEWAY_API_VERSION="${GATEWAY_API_VERSION:-v1.6.3}"
KUSTOMIZE_VERSION="${KUSTOMIZE_VERSION:-v5.8.2}"
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/gitops-agent"
BIN_DIR="${GITOPS_AGENT_K8S_BIN:-$CACHE_ROOT/k8s-$K8S_VERSION/bin}"
WORK_DIR="$CACHE_ROOT/k8s-$K8S_VERSION/build"

export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0 GOWORK=off

command -v go >/dev/null || { echo "build-k8s: go is not installed (need Go >= 1.26)" >&2; exit 1; }
mkdir -p "$BIN_DIR" "$WORK_DIR"

log() { printf '[build-k8s] %s\n' "$*" >&2; }

# build_one NAME MODULE_DIR PACKAGE [LDFLAGS] [TAGS]: go build PACKAGE inside MODULE_DIR into
# BIN_DIR/NAME.
build_one() {
  local name="$1" moddir="$2" pkg="$3" ldflags="${4:-}" tags="${5:-}"
  if [[ -x "$BIN_DIR/$name" ]]; then
    log "$name: cached ($(du -h "$BIN_DIR/$name" | cut -f1))"
    return 0
  fi
  log "$name: building $pkg ..."
  local start=$SECONDS
  (cd "$moddir" && go build -trimpath -tags "$tags" -ldflags "-s -w $ldflags" -o "$BIN_DIR/$name.tmp" "$pkg")
  mv "$BIN_DIR/$name.tmp" "$BIN_DIR/$name"
  log "$name: built in $((SECONDS - start))s ($(du -h "$BIN_DIR/$name" | cut -f1))"
}

# make_module DIR MODULE_PATH REQUIRE...: a throwaway go.mod that requires the given module@versions.
make_module() {
  local dir="$1" path="$2"; shift 2
  mkdir -p "$dir"
  {
    echo "module $path"
    echo
    echo "go 1.26"
    echo
    for req in "$@"; do echo "require ${req%@*} ${req#*@}"; done
  } >"$dir/go.mod"
}

# Kubernetes -----------------------------------------------------------------------------------
k8s_mod="$WORK_DIR/kubernetes"
if [[ ! -f "$k8s_mod/.ready" ]]; then
  log "kubernetes $K8S_VERSION: preparing module (downloads k8s.io/kubernetes, may take a few minutes)"
  make_module "$k8s_mod" gitops-agent.dev/k8s-build "k8s.io/kubernetes@$K8S_VERSION"
  upstream_gomod=$(cd "$k8s_mod" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" |
    sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')
  staging_version="v0.${K8S_VERSION#v1.}"
  # Every `k8s.io/x => ./staging/src/k8s.io/x` line names one staging module to pin.
  grep -E '^[[:space:]]*k8s\.io/[^ ]+ => \./staging/' "$upstream_gomod" | awk '{print $1}' | sort -u |
    while read -r staging; do echo "replace $staging => $staging $staging_version"; done >>"$k8s_mod/go.mod"
  log "kubernetes: $(grep -c '^replace' "$k8s_mod/go.mod") staging modules pinned to $staging_version"
  touch "$k8s_mod/.ready"
fi
k8s_minor="${K8S_VERSION#v1.}"; k8s_minor="${k8s_minor%%.*}"
k8s_ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$k8s_minor"
  k8s_ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  build_one "$cmd" "$k8s_mod" "k8s.io/kubernetes/cmd/$cmd" "$k8s_ldflags"
done

# etcd -----------------------------------------------------------------------------------------
etcd_mod="$WORK_DIR/etcd"
make_module "$etcd_mod" gitops-agent.dev/etcd-build "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
build_one etcd "$etcd_mod" go.etcd.io/etcd/server/v3 \
  "-X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION"

# kwok -----------------------------------------------------------------------------------------
kwok_mod="$WORK_DIR/kwok"
make_module "$kwok_mod" gitops-agent.dev/kwok-build "sigs.k8s.io/kwok@$KWOK_VERSION"
build_one kwok "$kwok_mod" sigs.k8s.io/kwok/cmd/kwok
# kwok v0.8 ships no built-in stages: copy the ones the local cluster uses beside the binary
# (fast node/pod life cycle, node leases, and volume provisioning so StatefulSet PVCs bind).
stage_src="$(cd "$kwok_mod" && go list -m -f '{{.Dir}}' "sigs.k8s.io/kwok")/kustomize/stage"
stage_dir="$BIN_DIR/../kwok-stages"
rm -rf "$stage_dir" && mkdir -p "$stage_dir"
for stage in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
  pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete \
  volume/fast/pvc-provision volume/fast/pv-bind volume/fast/pv-delete volume/fast/pvc-delete \
  volume/fast/storage-class; do
  cp "$stage_src/$stage.yaml" "$stage_dir/"
done
chmod u+w "$stage_dir"/*.yaml

# helm -----------------------------------------------------------------------------------------
helm_mod="$WORK_DIR/helm"
make_module "$helm_mod" gitops-agent.dev/helm-build "helm.sh/helm/v3@$HELM_VERSION"
# Stamped like helm's Makefile does: its own version, and the Kubernetes version that `helm lint` and
# `helm template` assume (1.<minor of the client-go it builds with>).
helm_ldflags="-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
helm_ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
if [[ ! -x "$BIN_DIR/helm" ]]; then
  client_go=$(cd "$helm_mod" && go list -m -f '{{.Version}}' k8s.io/client-go)  # e.g. v0.37.0
  helm_k8s_minor="${client_go#v0.}"; helm_k8s_minor="${helm_k8s_minor%%.*}"
  for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    helm_ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$helm_k8s_minor"
  done
fi
build_one helm "$helm_mod" helm.sh/helm/v3/cmd/helm "$helm_ldflags"

# promtool -------------------------------------------------------------------------------------
prom_mod="$WORK_DIR/prometheus"
make_module "$prom_mod" gitops-agent.dev/promtool-build "github.com/prometheus/prometheus@$PROMETHEUS_VERSION"
# Stamped like Prometheus's own release builds: module v0.316.0 is Prometheus 3.16.0.
prom_minor="${PROMETHEUS_VERSION#v0.}"; prom_patch="${prom_minor#*.}"; prom_minor="${prom_minor%%.*}"
prom_release="3.$((prom_minor - 300)).$prom_patch"
prom_ldflags="-X github.com/prometheus/common/version.Version=$prom_release"
prom_ldflags+=" -X github.com/prometheus/common/version.Revision=$PROMETHEUS_VERSION"
prom_ldflags+=" -X github.com/prometheus/common/version.Branch=HEAD"
# remove_all_sd: Prometheus's own build tag that leaves out every service-discovery plugin (cloud
# SDKs, client-go, ...), which rule and query checks never use: a third of the size, ~3 min cold.
build_one promtool "$prom_mod" github.com/prometheus/prometheus/cmd/promtool "$prom_ldflags" remove_all_sd

# kustomize ------------------------------------------------------------------------------------
kustomize_mod="$WORK_DIR/kustomize"
make_module "$kustomize_mod" gitops-agent.dev/kustomize-build "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
# Stamped like kustomize's release builds, so `kustomize version` names the release.
build_one kustomize "$kustomize_mod" sigs.k8s.io/kustomize/kustomize/v5 \
  "-X sigs.k8s.io/kustomize/api/provenance.version=kustomize/$KUSTOMIZE_VERSION"

# CRDs -----------------------------------------------------------------------------------------
crd_dir="$BIN_DIR/../crds"
crd_stamp="$crd_dir/.keda-$KEDA_VERSION-gateway-api-$GATEWAY_API_VERSION"
if [[ ! -f "$crd_stamp" ]]; then
  crd_mod="$WORK_DIR/crds"
  make_module "$crd_mod" gitops-agent.dev/crds "github.com/kedacore/keda/v2@$KEDA_VERSION" \
    "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION"
  module_dir() { (cd "$crd_mod" && go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p'); }
  keda_dir=$(module_dir "github.com/kedacore/keda/v2@$KEDA_VERSION")
  gateway_dir=$(module_dir "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION")
  [[ -n "$keda_dir" && -n "$gateway_dir" ]] || { log "CRDs: go mod download failed"; exit 1; }
  rm -rf "$crd_dir" && mkdir -p "$crd_dir"
  cp "$keda_dir/config/crd/bases/keda.sh_scaledobjects.yaml" "$crd_dir/"
  for kind in gatewayclasses gateways httproutes referencegrants; do
    cp "$gateway_dir/config/crd/standard/gateway.networking.k8s.io_$kind.yaml" "$crd_dir/"
  done
  chmod u+w "$crd_dir"/*.yaml
  touch "$crd_stamp"
  log "CRDs: KEDA $KEDA_VERSION, Gateway API $GATEWAY_API_VERSION in $crd_dir"
fi

log "all binaries in $BIN_DIR"
echo "$BIN_DIR"
