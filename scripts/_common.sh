# Shared by scripts/run-register and scripts/test: a virtualenv in .venv with the package installed.
# shellcheck shell=bash
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${TRUCK_POS_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# apt_need PKG...: install the Debian packages that are missing (one apt-get update, only if needed).
apt_need() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "==> installing Debian packages: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# ensure_venv EXTRAS: create .venv and install the package (editable) with the given extras.
ensure_venv() {
  local extras="$1"
  if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "truck_pos needs Python 3.11 or newer ($PY is $("$PY" --version 2>&1))" >&2
    exit 1
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV" 2>/dev/null || { apt_need python3-venv; "$PY" -m venv "$VENV"; }
  fi
  local spec="$ROOT" stamp="$VENV/.installed-${extras:-base}"
  [ -n "$extras" ] && spec="$ROOT[$extras]"
  if [ ! -f "$stamp" ] || [ "$ROOT/setup.cfg" -nt "$stamp" ]; then
    echo "==> installing $spec into $VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip setuptools wheel
    "$VENV/bin/python" -m pip install -q -e "$spec"
    touch "$stamp"
  fi
}
