#!/usr/bin/env bash
# podnet's set-up and entry points, for a fresh Debian 12 machine (root or sudo).
#   ./dev.sh demo   install everything, then run the main job: the seed example, live
#   ./dev.sh test   install everything, then run the whole test suite (what CI runs)
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages: the data plane's tools and the programs behind the common images.
DEB_PACKAGES=(python3 python3-venv python3-dev iproute2 nftables util-linux procps
              busybox nginx-light dnsmasq-base dnsperf chromium)

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

cmd="${1:-}"
case "$cmd" in
  demo)
    install_debian; install_python
    echo "==> podnet analyze -f examples/seed/pod-to-service.yaml"
    .venv/bin/podnet analyze -f examples/seed/pod-to-service.yaml
    echo "==> podnet run -f examples/seed/pod-to-service.yaml"
    .venv/bin/podnet run -f examples/seed/pod-to-service.yaml --timeout 60
    ;;
  test)
    install_debian; install_python
    echo "==> ruff"; .venv/bin/ruff check podnet tests bench
    echo "==> mypy --strict"; .venv/bin/mypy --strict podnet
    echo "==> pytest"; .venv/bin/python -m pytest -q -p no:cacheprovider "${@:2}"
    ;;
  *)
    echo "usage: $0 demo|test" >&2; exit 2 ;;
esac
