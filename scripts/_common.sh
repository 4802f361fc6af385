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

# start_test_postgres: export TRUCK_POS_TEST_PG. Use $TRUCK_POS_TEST_PG or a server on 127.0.0.1:5432 when one
# answers (unless TRUCK_POS_TEST_PG_THROWAWAY=1); otherwise initdb a throwaway cluster in a temp dir on a free port (stop_test_postgres removes it).
PG_TMP=""
pg_answers() {
  "$VENV/bin/python" - "$1" <<'PY' 2>/dev/null
import sys, psycopg2
psycopg2.connect(sys.argv[1], connect_timeout=3).close()
PY
}
start_test_postgres() {
  if [ -n "${TRUCK_POS_TEST_PG:-}" ]; then
    pg_answers "$TRUCK_POS_TEST_PG" || { echo "TRUCK_POS_TEST_PG=$TRUCK_POS_TEST_PG does not answer" >&2; exit 1; }
    return
  fi
  if [ -z "${TRUCK_POS_TEST_PG_THROWAWAY:-}" ] && pg_answers "postgresql://postgres@127.0.0.1:5432/test"; then
    export TRUCK_POS_TEST_PG="postgresql://postgres@127.0.0.1:5432/test"
    return
  fi
  local bin port
  bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  [ -x "$bin/initdb" ] || { echo "no PostgreSQL server binaries (apt-get install postgresql)" >&2; exit 1; }
  PG_TMP="$(mktemp -d /tmp/truck-pos-pg.XXXXXX)"
  port="$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  local run=()
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$PG_TMP"; run=(runuser -u postgres --); fi
  echo "==> starting a throwaway PostgreSQL in $PG_TMP on port $port"
  "${run[@]}" "$bin/initdb" -D "$PG_TMP/data" -U postgres -A trust --no-sync >/dev/null
  "${run[@]}" "$bin/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_TMP -c fsync=off" start >/dev/null
  "${run[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres test
  export TRUCK_POS_TEST_PG="postgresql://postgres@127.0.0.1:$port/test"
  PG_BIN="$bin"
}
stop_test_postgres() {
  [ -n "$PG_TMP" ] || return 0
  local run=()
  [ "$(id -u)" -eq 0 ] && run=(runuser -u postgres --)
  "${run[@]}" "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$PG_TMP"
}
