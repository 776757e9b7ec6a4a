# npm_deps.sh - npm_deps DIR: install the npm packages of the end-to-end
# tests (tests/e2e/package.json, exact versions: the grpc-js health probe
# of health_grpc.sh, puppeteer-core for portal.sh) with Debian's npm into
# DIR (under the build folder), once; later calls reuse them, and install
# again when package.json changed.  Sourced by the scripts that need them.
# Returns 1 when npm cannot install them.
npm_deps() {
	cmp -s "$CAIRN_TOP/tests/e2e/package.json" "$1/package.json" &&
	    [ -d "$1/node_modules/@grpc/grpc-js" ] &&
	    [ -d "$1/node_modules/@grpc/proto-loader" ] &&
	    [ -d "$1/node_modules/puppeteer-core" ] && return 0
	mkdir -p "$1" &&
	cp "$CAIRN_TOP/tests/e2e/package.json" "$1/package.json" &&
	(cd "$1" && npm install --no-audit --no-fund --silent) >"$1/npm.log" 2>&1
}
