# shellcheck shell=bash
# The Kubernetes tools of deploy/'s tests (scripts/install-deps --k8s):
# kustomize, built from its Go module, renders deploy/k8s; kubernetes-validate,
# from PyPI, checks the result against the Kubernetes JSON schemas it ships
# (so nothing is fetched at test time). Both go under
# $TAGFLOW_CACHE/k8s-tools, which deploy/tests/k8s.rs looks in.
# Sourced by scripts/install-deps.

KUSTOMIZE_VERSION=v5.8.1
KUBERNETES_VALIDATE_VERSION=1.37.0
K8S_TOOLS_DIR="$(realpath -m "${TAGFLOW_CACHE:-$HOME/.cache/tagflow}/k8s-tools")"

# k8s_tools_missing -- print the tools that are not installed, one a line.
k8s_tools_missing() {
  [[ -x "$K8S_TOOLS_DIR/bin/kustomize" ]] || echo "kustomize $KUSTOMIZE_VERSION"
  [[ -x "$K8S_TOOLS_DIR/venv/bin/kubernetes-validate" ]] \
    || echo "kubernetes-validate $KUBERNETES_VALIDATE_VERSION"
}

# install_k8s_tools -- install what k8s_tools_missing lists (needs go and
# python3 with venv).
install_k8s_tools() {
  if [[ ! -x "$K8S_TOOLS_DIR/bin/kustomize" ]]; then
    have go || die "kustomize is built from its Go module: install Go (Debian: golang-go)"
    info "building kustomize $KUSTOMIZE_VERSION into $K8S_TOOLS_DIR/bin (about a minute)"
    GOBIN="$K8S_TOOLS_DIR/bin" GOFLAGS=-mod=mod \
      go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
  fi
  if [[ ! -x "$K8S_TOOLS_DIR/venv/bin/kubernetes-validate" ]]; then
    info "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION into $K8S_TOOLS_DIR/venv"
    python3 -m venv "$K8S_TOOLS_DIR/venv" 2>/dev/null || {
      apt_install python3-venv
      python3 -m venv "$K8S_TOOLS_DIR/venv"
    }
    "$K8S_TOOLS_DIR/venv/bin/pip" install --quiet \
      "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
  fi
}
