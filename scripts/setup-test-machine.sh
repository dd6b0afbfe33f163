#!/usr/bin/env bash
# Everything the project's own tests need, installing only what is missing, so it
# can run on any machine of this project's kind (Debian with apt-get) any number of
# times: redis-server, Chromium (the HTML report is read in headless Chromium),
# Prometheus + promtool (the watch's real Prometheus source and the rules export),
# Node.js + npm and pnpm (the audit gates run the real `npm audit` / `pnpm audit`),
# then the package itself with its test extra into the Python that runs the tests.
#
#   scripts/setup-test-machine.sh            # as root, or with sudo available
#   PYTHON=/path/to/venv/bin/python scripts/setup-test-machine.sh
#
# Node.js is only installed when there is no `node` at all: a machine image that
# ships its own Node.js (e.g. NodeSource's, which bundles npm) conflicts with
# Debian's `npm` package ("nodejs : Conflicts: npm"), so Debian's npm is only asked
# for when `npm` is missing after that.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-$(command -v python || command -v python3)}"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "setup-test-machine: '$*' needs root (run as root or install sudo)" >&2
    exit 1
  fi
}

apt_updated=""
apt_install() {  # apt_install [--no-install-recommends] PACKAGE...
  if [ -z "$apt_updated" ]; then
    as_root apt-get update -qq
    apt_updated=1
  fi
  echo "setup-test-machine: apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
if [ ${#missing[@]} -gt 0 ]; then
  apt_install "${missing[@]}"
fi
if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
  # Debian's package ships both binaries; its recommends (exporters) are not needed.
  apt_install --no-install-recommends prometheus
fi
if ! command -v npm >/dev/null 2>&1; then
  apt_install npm
fi
if ! command -v pnpm >/dev/null 2>&1; then
  echo "setup-test-machine: npm install -g pnpm"
  as_root npm install -g --silent pnpm >/dev/null
fi

"$PYTHON" -m pip install -q --disable-pip-version-check -e '.[test]'
echo "setup-test-machine: ready ($("$PYTHON" --version), node $(node --version), npm $(npm --version), pnpm $(pnpm --version))"
