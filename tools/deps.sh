#!/bin/sh
# deps.sh - find cairn's build dependencies through pkg-config and print the
# flags as make variables on stdout.  When something is missing: as root,
# install it with apt-get (one update first); otherwise stop with one line
# naming the command to run.
#
# CAIRN_DEPS=build checks only what `make` needs and CAIRN_DEPS=check what
# `make` and `make test` need, and neither installs anything: the package
# build (debian/rules) sets them, as dpkg-buildpackage has checked
# debian/control's Build-Depends, which must list every package below
# (tests/e2e/packaging.sh compares the two).  `sh tools/deps.sh --list`
# prints each Debian package with what needs it (build, test, fuzz) and
# stops.
set -u

# pkg-config name : Debian package.  `make` needs these.
PKGS="libsodium:libsodium-dev openssl:libssl-dev grpc:libgrpc-dev
libprotobuf-c:libprotobuf-c-dev sqlite3:libsqlite3-dev inih:libinih-dev
jansson:libjansson-dev zlib:zlib1g-dev libzstd:libzstd-dev
libmicrohttpd:libmicrohttpd-dev libpq:libpq-dev
libcurl:libcurl4-openssl-dev"
# `make test` needs these too (the unit tests).
TEST_PKGS="cmocka:libcmocka-dev"
# command : Debian package
CMDS="pkg-config:pkg-config protoc-c:protobuf-c-compiler cc:gcc"
# make test: python3 and zstd; promtool and a prometheus server scrape the
# daemons (tests/e2e/monitoring.sh); npm installs the grpc-js health probe;
# the PostgreSQL server of tests/e2e/source_pg.sh (its programs live
# outside PATH: checked apart, by the path below).
# curl and the ClickHouse server of tests/e2e/source_ch.sh (one server and
# a two-shard cluster; its program lives outside PATH too).
# npm installs puppeteer-core too, node runs tools/portal.mjs, Chromium
# is the browser of tests/e2e/portal.sh; systemd-analyze checks the units
# (tests/e2e/packaging.sh).
TEST_CMDS="python3:python3 zstd:zstd promtool:prometheus npm:npm curl:curl
node:nodejs chromium:chromium systemd-analyze:systemd"
PG_INITDB="/usr/lib/postgresql/*/bin/initdb"
CH_SERVER="/usr/sbin/clickhouse-server"
NGINX="/usr/sbin/nginx"
LEAFLET="/usr/share/javascript/leaflet/leaflet.js"
# Only `make fuzz` needs clang (libFuzzer); installed with the rest on a
# fresh Debian 12, never required by make or make test.
OPT_CMDS="clang:clang"
# Python modules (import name : Debian package) of Debian's python3 that
# `make python` and the Python client's tests (make test) need; installed
# like the optional commands, never required by make.
PY_MODS="grpc:python3-grpcio grpc_tools:python3-grpc-tools nacl:python3-nacl
pandas:python3-pandas google.protobuf:python3-protobuf"

if [ "${1:-}" = "--list" ]; then
	for p in $PKGS $CMDS; do echo "build ${p#*:}"; done
	for p in $TEST_PKGS $TEST_CMDS $PY_MODS; do echo "test ${p#*:}"; done
	echo "test postgresql"
	echo "test clickhouse-server"
	echo "test nginx"
	echo "test libjs-leaflet"
	for p in $OPT_CMDS; do echo "fuzz ${p#*:}"; done
	exit 0
fi
MODE=${CAIRN_DEPS:-}
case $MODE in
"" | check) PKGS="$PKGS $TEST_PKGS"; CMDS="$CMDS $TEST_CMDS" ;;
build) PG_INITDB=""; CH_SERVER=""; NGINX=""; LEAFLET="" ;;
*) echo "cairn: CAIRN_DEPS='$MODE' is not build or check" >&2; exit 1 ;;
esac

missing() {
	m=""
	for c in $CMDS; do
		command -v "${c%%:*}" >/dev/null 2>&1 || m="$m ${c#*:}"
	done
	# The PostgreSQL server the SQL-source tests start (tests/e2e/
	# source_pg.sh); its programs live outside PATH.
	[ -z "$PG_INITDB" ] || ls $PG_INITDB >/dev/null 2>&1 ||
	    m="$m postgresql"
	[ -z "$CH_SERVER" ] || [ -x "$CH_SERVER" ] || m="$m clickhouse-server"
	# Leaflet, which tools/portal.mjs copies into the public directory
	# for the portal's maps of published statistics (docs/portal.md).
	[ -z "$LEAFLET" ] || [ -f "$LEAFLET" ] || m="$m libjs-leaflet"
	# nginx serves the public directory with docs/public.md's server
	# block (tests/e2e/public_tiles.sh); /usr/sbin is not in every PATH.
	[ -z "$NGINX" ] || [ -x "$NGINX" ] || m="$m nginx"
	for p in $PKGS; do
		if ! command -v pkg-config >/dev/null 2>&1 ||
		    ! pkg-config --exists "${p%%:*}"; then
			m="$m ${p#*:}"
		fi
	done
	echo "$m"
}

opt_missing() {
	m=""
	for c in $OPT_CMDS; do
		command -v "${c%%:*}" >/dev/null 2>&1 || m="$m ${c#*:}"
	done
	for p in $PY_MODS; do
		/usr/bin/python3 -c "import ${p%%:*}" >/dev/null 2>&1 ||
		    m="$m ${p#*:}"
	done
	echo "$m"
}

need=$(missing)
opt=$(opt_missing)
if [ -n "$MODE" ]; then
	# The package build: report, never install.
	opt=""
	if [ -n "$need" ]; then
		echo "cairn: missing build dependencies (CAIRN_DEPS=$MODE):$need" >&2
		exit 1
	fi
fi
if [ -z "$need" ] && [ -n "$opt" ] && [ "$(id -u)" = 0 ] &&
    command -v apt-get >/dev/null 2>&1; then
	# Optional: a failure here leaves make and make test unaffected.
	echo "cairn: installing optional packages:$opt" >&2
	{ apt-get update -qq &&
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $opt; } >&2 ||
	  echo "cairn: could not install$opt (only make fuzz and make" \
	      "test need them)" >&2
fi
if [ -n "$need" ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "cairn: installing missing packages:$need" >&2
		{ apt-get update -qq &&
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need \
		  $opt; } >&2 ||
		  { echo "cairn: apt-get failed; run: apt-get install -y$need" >&2; exit 1; }
		need=$(missing)
	fi
	if [ -n "$need" ]; then
		echo "cairn: missing build dependencies; run: sudo apt-get install -y$need" >&2
		exit 1
	fi
fi

LIBPKGS="libsodium openssl grpc libprotobuf-c sqlite3 inih jansson zlib libzstd
libmicrohttpd libpq libcurl"
echo "PKG_CFLAGS := $(pkg-config --cflags $LIBPKGS)"
echo "PKG_LIBS := $(pkg-config --libs $LIBPKGS)"
if [ "$MODE" = build ]; then
	echo "CMOCKA_LIBS :="
else
	echo "CMOCKA_LIBS := $(pkg-config --libs cmocka)"
fi
