#!/bin/sh
# deps.sh - find cairn's build dependencies through pkg-config and print the
# flags as make variables on stdout.  When something is missing: as root,
# install it with apt-get (one update first); otherwise stop with one line
# naming the command to run.
set -u

# pkg-config name : Debian package
PKGS="libsodium:libsodium-dev openssl:libssl-dev grpc:libgrpc-dev
libprotobuf-c:libprotobuf-c-dev sqlite3:libsqlite3-dev inih:libinih-dev
jansson:libjansson-dev zlib:zlib1g-dev cmocka:libcmocka-dev
libzstd:libzstd-dev libmicrohttpd:libmicrohttpd-dev libpq:libpq-dev"
# command : Debian package
CMDS="pkg-config:pkg-config protoc-c:protobuf-c-compiler cc:gcc python3:python3
zstd:zstd"
# make test: promtool and a prometheus server scrape the daemons
# (tests/e2e/monitoring.sh); npm installs the grpc-js health probe and
# puppeteer-core; node runs tools/portal.mjs; Chromium is the browser of
# tests/e2e/portal.sh.
CMDS="$CMDS promtool:prometheus npm:npm node:nodejs chromium:chromium"
# Only `make fuzz` needs clang (libFuzzer); installed with the rest on a
# fresh Debian 12, never required by make or make test.
OPT_CMDS="clang:clang"
# Python modules (import name : Debian package) of Debian's python3 that
# `make python` and the Python client's tests (make test) need; installed
# like the optional commands, never required by make.
PY_MODS="grpc:python3-grpcio grpc_tools:python3-grpc-tools nacl:python3-nacl
pandas:python3-pandas google.protobuf:python3-protobuf"

missing() {
	m=""
	for c in $CMDS; do
		command -v "${c%%:*}" >/dev/null 2>&1 || m="$m ${c#*:}"
	done
	# The PostgreSQL server the SQL-source tests start (tests/e2e/
	# source_pg.sh); its programs live outside PATH.
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 ||
	    m="$m postgresql"
	# Leaflet, which tools/portal.mjs copies into the public directory
	# for the portal's maps of published statistics (docs/portal.md).
	[ -f /usr/share/javascript/leaflet/leaflet.js ] ||
	    m="$m libjs-leaflet"
	# nginx serves the public directory with docs/public.md's server
	# block (tests/e2e/public_tiles.sh); /usr/sbin is not in every PATH.
	[ -x /usr/sbin/nginx ] || m="$m nginx"
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
libmicrohttpd libpq"
echo "PKG_CFLAGS := $(pkg-config --cflags $LIBPKGS)"
echo "PKG_LIBS := $(pkg-config --libs $LIBPKGS)"
echo "CMOCKA_LIBS := $(pkg-config --libs cmocka)"
