#!/bin/sh
# deb.sh - the Debian packages (docs/build.md, "Debian packages";
# docs/operations.md, "Install").
#
#   sh tools/deb.sh build DIR   copy this tree (tracked files and new ones
#                               git does not ignore) to DIR/cairn-VERSION,
#                               build the binary packages there with
#                               dpkg-buildpackage (nocheck), run lintian
#   sh tools/deb.sh test DIR    build twice (the second with a bumped
#                               version), then install, upgrade, remove and
#                               purge them with apt-get and dpkg on this
#                               machine, checking each step (root only)
#
# CAIRN_DEB_VERSION=V builds version V: a changelog entry is added to the
# copy, never to the tree.  The packages must not be installed already:
# test refuses to touch an installation it did not make.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
PKGS="cairn cairn-node cairn-coordinator"

# build DIR: the .deb files in DIR, lintian's report in DIR/lintian.txt.
build() {
	_bdir=$1
	_base=$(dpkg-parsechangelog -l "$TOP/debian/changelog" -S Version) ||
	    return 1
	_ver=${CAIRN_DEB_VERSION:-$_base}
	_src=$_bdir/cairn-$_ver
	rm -rf "$_bdir"
	mkdir -p "$_src" || return 1
	# What git tracks plus new files it does not ignore: the tree as it
	# is, without build folders.
	(cd "$TOP" && git ls-files -z --cached --others --exclude-standard |
	    xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
	    tar --null -T - -cf -) | (cd "$_src" && tar -xf -) || return 1
	if [ "$_ver" != "$_base" ]; then
		{ printf 'cairn (%s) unstable; urgency=medium\n\n' "$_ver"
		  printf '  * Rebuilt as %s (tools/deb.sh).\n\n' "$_ver"
		  printf ' -- cairn developers <cairn-dev@example.org>  %s\n\n' \
		      "$(date -R)"
		  cat "$_src/debian/changelog"; } >"$_src/debian/changelog.new" &&
		mv "$_src/debian/changelog.new" "$_src/debian/changelog"
	fi
	echo "cairn: building the packages $_ver in $_bdir"
	(cd "$_src" && DEB_BUILD_OPTIONS="nocheck parallel=2" \
	    dpkg-buildpackage -b -us -uc -Pnocheck) >"$_bdir/build.log" 2>&1 ||
	    { tail -n 40 "$_bdir/build.log"; echo "cairn: dpkg-buildpackage" \
	      "failed; the whole log: $_bdir/build.log" >&2; return 1; }
	rm -rf "$_src"
	ls "$_bdir"/*.deb
	# Errors fail the build; warnings are listed (docs/build.md says
	# which are expected and why).
	lintian --fail-on error --info "$_bdir"/*.changes >"$_bdir/lintian.txt" 2>&1
	_lr=$?
	cat "$_bdir/lintian.txt"
	[ $_lr -eq 0 ] || { echo "cairn: lintian reports errors" >&2; return 1; }
	echo "cairn: lintian: no errors"
}

# ---------------------------------------------------------------- test
n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
holds() { if eval "$2"; then ok "$1"; else notok "$1"; fi; }
installed() {	# installed PKG: dpkg has it installed
	[ "$(dpkg-query -W -f '${db:Status-Status}' "$1" 2>/dev/null)" = \
	    installed ]
}
apt() {
	DEBIAN_FRONTEND=noninteractive apt-get -y -q \
	    -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef \
	    -o Dpkg::Options::=--force-confold "$@"
}

test_deb() {
	_dir=$1
	[ "$(id -u)" = 0 ] || { echo "cairn: make test-deb needs root (it" \
	    "installs packages with dpkg)" >&2; return 1; }
	for p in $PKGS; do
		if dpkg-query -W -f '${db:Status-Status}' "$p" 2>/dev/null |
		    grep -qv not-installed; then
			echo "cairn: package $p is on this machine already;" \
			    "make test-deb installs and purges its own" >&2
			return 1
		fi
	done
	_had_user=0
	getent passwd cairn >/dev/null && _had_user=1
	_had_var=0
	[ -e /var/lib/cairn ] && _had_var=1
	_base=$(dpkg-parsechangelog -l "$TOP/debian/changelog" -S Version)
	_next="$_base+1"
	trap 'cleanup' EXIT
	mkdir -p "$_dir"
	build "$_dir/a" >"$_dir/a.log" 2>&1 ||
	    { cat "$_dir/a.log"; return 1; }
	ok "packages $_base built, lintian: no errors"
	CAIRN_DEB_VERSION=$_next build "$_dir/b" >"$_dir/b.log" 2>&1 ||
	    { cat "$_dir/b.log"; return 1; }
	ok "packages $_next built, lintian: no errors"
	grep -E '^[WI]:' "$_dir/a/lintian.txt" | sed 's/^/# lintian /'

	# Install.
	apt install "$_dir"/a/cairn_*.deb "$_dir"/a/cairn-node_*.deb \
	    "$_dir"/a/cairn-coordinator_*.deb >"$_dir/out" 2>&1
	_r=$?
	holds "install $_base" '[ $_r -eq 0 ]'
	for p in $PKGS; do
		holds "$p $_base installed" "installed $p && [ \"\$(dpkg-query \
		    -W -f '\${Version}' $p)\" = '$_base' ]"
	done
	holds "programs on PATH run" 'cairn-node version >/dev/null &&
	    cairn-coordinator version >/dev/null && cairn help >/dev/null'
	holds "man pages installed" 'man -w cairn-node-serve >/dev/null &&
	    man -w cairn-coordinator >/dev/null && man -w cairn-query >/dev/null'
	holds "the docs the man pages name are installed" '[ -f \
	    /usr/share/doc/cairn/docs/operations.md ] && [ -f \
	    /usr/share/doc/cairn/docs/config.md ] && [ -f \
	    /usr/share/doc/cairn/clients/python/README.md ]'
	holds "sample configs are conffiles in /etc/cairn" '[ -f \
	    /etc/cairn/node.conf ] && [ -f /etc/cairn/coordinator.conf ] &&
	    dpkg-query -W -f "\${Conffiles}" cairn-node | grep -q \
	    /etc/cairn/node.conf'
	holds "system user cairn" 'getent passwd cairn | grep -q \
	    ":/var/lib/cairn:/usr/sbin/nologin$"'
	holds "/var/lib/cairn owned by cairn, 0750" '[ "$(stat -c %U:%a \
	    /var/lib/cairn)" = cairn:750 ]'
	holds "units installed, not enabled" '[ -f \
	    /lib/systemd/system/cairn-node.service ] && [ -f \
	    /lib/systemd/system/cairn-coordinator.service ] && [ ! -e \
	    /etc/systemd/system/multi-user.target.wants/cairn-node.service ]'
	holds "systemd-analyze verify the installed units (man pages too)" \
	    'systemd-analyze verify /lib/systemd/system/cairn-node.service \
	    /lib/systemd/system/cairn-coordinator.service >"$_dir/out" 2>&1'
	runuser -u cairn -- cairn-coordinator check-config \
	    -c /etc/cairn/coordinator.conf >"$_dir/out" 2>&1
	holds "the sample coordinator.conf: only a required key is missing" \
	    'grep -q "missing key .identity_key. in \[coordinator\]" \
	    "$_dir/out" && ! grep -qi "unknown" "$_dir/out"'

	# State and an operator's change, then the upgrade.
	install -d -o cairn -g cairn -m 0700 /var/lib/cairn/node
	echo state >/var/lib/cairn/node/marker
	chown cairn:cairn /var/lib/cairn/node/marker
	echo "# changed by the operator" >>/etc/cairn/node.conf
	apt install "$_dir"/b/cairn_*.deb "$_dir"/b/cairn-node_*.deb \
	    "$_dir"/b/cairn-coordinator_*.deb >"$_dir/out" 2>&1
	_r=$?
	holds "upgrade to $_next" '[ $_r -eq 0 ]'
	for p in $PKGS; do
		holds "$p $_next installed" "installed $p && [ \"\$(dpkg-query \
		    -W -f '\${Version}' $p)\" = '$_next' ]"
	done
	holds "upgrade kept the operator's node.conf" \
	    'grep -q "changed by the operator" /etc/cairn/node.conf'
	holds "upgrade kept the state in /var/lib/cairn" '[ -f \
	    /var/lib/cairn/node/marker ]'

	# Remove, then purge.
	apt remove cairn-node cairn-coordinator cairn >"$_dir/out" 2>&1
	_r=$?
	holds "remove" '[ $_r -eq 0 ]'
	holds "remove: programs gone, conffiles kept" '! [ -e \
	    /usr/bin/cairn-node ] && ! [ -e /usr/bin/cairn ] && [ -f \
	    /etc/cairn/node.conf ]'
	apt purge cairn-node cairn-coordinator cairn >"$_dir/out" 2>&1
	_r=$?
	holds "purge" '[ $_r -eq 0 ]'
	for p in $PKGS; do
		holds "$p purged" "! dpkg-query -W -f '\${db:Status-Status}' $p \
		    2>/dev/null | grep -qv not-installed"
	done
	holds "purge: /etc/cairn gone" '! [ -e /etc/cairn ]'
	holds "purge: the units and docs gone" '! [ -e \
	    /lib/systemd/system/cairn-node.service ] && ! [ -e \
	    /usr/share/doc/cairn ]'
	holds "purge keeps the daemons' state (docs/operations.md)" '[ -f \
	    /var/lib/cairn/node/marker ]'
	rm -rf /var/lib/cairn/node
	# Without state, a second install and purge leave nothing.
	apt install "$_dir"/b/cairn_*.deb "$_dir"/b/cairn-node_*.deb \
	    >"$_dir/out" 2>&1 && apt purge cairn-node cairn >"$_dir/out" 2>&1
	holds "install and purge without state: /var/lib/cairn gone" \
	    '! [ -e /var/lib/cairn ] && ! [ -e /etc/cairn ]'
	echo "# lintian's warnings and notes are listed above"
	[ "$fails" -eq 0 ]
}

# Leave the machine as it was: packages purged, and the user and state
# folder removed when the test made them.
cleanup() {
	for p in $PKGS; do
		dpkg-query -W -f '${db:Status-Status}' "$p" 2>/dev/null |
		    grep -qv not-installed && apt purge $p >/dev/null 2>&1
	done
	[ "$_had_var" = 1 ] || rm -rf /var/lib/cairn
	if [ "$_had_user" = 0 ] && getent passwd cairn >/dev/null; then
		userdel cairn 2>/dev/null
		getent group cairn >/dev/null && groupdel cairn 2>/dev/null
	fi
	return 0
}

# The packaging tools (not in Build-Depends: they build the packages):
# installed as root like tools/deps.sh does, else named.
tools() {
	_need=""
	for _c in dpkg-buildpackage:dpkg-dev dh:debhelper lintian:lintian; do
		command -v "${_c%%:*}" >/dev/null 2>&1 || _need="$_need ${_c#*:}"
	done
	[ -z "$_need" ] && return 0
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "cairn: installing the packaging tools:$_need" >&2
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		  apt-get install -y -qq $_need; } >&2 && return 0
	fi
	echo "cairn: make deb needs:$_need (apt-get install -y$_need)" >&2
	return 1
}

tools || exit 1
case ${1:-} in
build) build "${2:?DIR}" ;;
test)
	case ${2:?DIR} in /*) d=$2 ;; *) d=$(pwd)/$2 ;; esac
	test_deb "$d" ;;
*) echo "usage: sh tools/deb.sh build|test DIR" >&2; exit 2 ;;
esac
