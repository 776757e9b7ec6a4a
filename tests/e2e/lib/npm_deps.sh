# npm_deps.sh - npm_deps DIR: install the grpc-js health probe's packages
# (tests/e2e/health/package.json, exact versions) with Debian's npm into
# DIR (under the build folder), once; later calls reuse them.  Sourced by
# tests/e2e/health_grpc.sh.  Returns 1 when npm cannot install them.
npm_deps() {
	[ -d "$1/node_modules/@grpc/grpc-js" ] &&
	    [ -d "$1/node_modules/@grpc/proto-loader" ] && return 0
	mkdir -p "$1" &&
	cp "$CAIRN_TOP/tests/e2e/health/package.json" "$1/package.json" &&
	(cd "$1" && npm install --no-audit --no-fund --silent) >"$1/npm.log" 2>&1
}
