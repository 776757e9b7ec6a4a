#!/bin/sh
# packaging.sh - the Debian packaging's promises that need no package
# build (make test-deb builds, installs, upgrades and purges;
# docs/build.md):
#  - the sample configs /etc/cairn/{node,coordinator}.conf
#    (docs/examples/) list every key of the daemons' key tables
#    (node/node_config.c, coordinator/coord_config.c), in its section;
#  - debian/control's Build-Depends and tools/deps.sh name the same
#    packages, the test-only ones marked <!nocheck>;
#  - both systemd units pass systemd-analyze verify, their sandbox's
#    exposure (systemd-analyze security) stays at most 2.0, and both
#    daemons start and serve under MemoryDenyWriteExecute and
#    NoNewPrivileges (the seccomp filter and prctl systemd uses, set by a
#    small wrapper, since systemd is not PID 1 where the tests run).
# Each check has a negative control: a broken copy must fail it.
set -u
: "${CAIRN_BIN:?}" "${CAIRN_TOP:?}"
T=$(mktemp -d /tmp/cairn-packaging-XXXXXX)
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	[ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
. "$CAIRN_TOP/tests/e2e/lib/tap.sh"
. "$CAIRN_TOP/tools/federation_lib.sh"
CAIRN="$CAIRN_BIN/cairn"
D=$CAIRN_TOP/debian

# --- sample configs --------------------------------------------------------

# schema_keys SOURCE: "section name" of every entry of the config_key
# table(s) in SOURCE.
schema_keys() {
	tr '\n' ' ' <"$1" | grep -o '{ *"[a-z_]*", *"[a-z_]*", *CONFIG_' |
	    sed 's/{ *"\([a-z_]*\)", *"\([a-z_]*\)".*/\1 \2/'
}
# sample_missing SAMPLE KEYS: print each "section name" of the file KEYS
# that SAMPLE does not list (as "#name =" or "name =") under [section].
sample_missing() {
	awk 'NR == FNR { want[$0] = 1; next }
	    /^\[[a-z_]+\]/ { sec = substr($0, 2, index($0, "]") - 2); next }
	    /^#?[a-z_]+ =/ { k = $0; sub(/^#/, "", k); sub(/ =.*/, "", k)
		have[sec " " k] = 1 }
	    END { for (w in want) if (!(w in have)) print w }' "$2" "$1"
}
for d in node:node/node_config.c coordinator:coordinator/coord_config.c; do
	name=${d%%:*}
	schema_keys "$CAIRN_TOP/${d#*:}" >"$T/$name.keys"
	nk=$(wc -l <"$T/$name.keys")
	holds "$name: the key table parses ($nk keys)" '[ "$nk" -ge 20 ]'
	sample_missing "$CAIRN_TOP/docs/examples/$name.conf" "$T/$name.keys" \
	    >"$T/out"
	holds "$name.conf sample lists all $nk keys in their sections" \
	    '[ ! -s "$T/out" ]'
	# Negative control: one key taken out of a copy.
	sed '/^#\?log_format =/d' "$CAIRN_TOP/docs/examples/$name.conf" \
	    >"$T/$name.bad"
	sample_missing "$T/$name.bad" "$T/$name.keys" >"$T/out"
	has "$name.conf without log_format: the check names it" \
	    "^monitoring log_format$"
	# Every line that sets a key is commented out.
	holds "$name.conf sample sets no key" \
	    '! grep -q "^[a-z_]* *=" "$CAIRN_TOP/docs/examples/$name.conf"'
done
# The sample as shipped is valid INI for the program: what is missing
# are required keys, no key or section is unknown.
"$CAIRN_BIN/cairn-coordinator" check-config \
    -c "$CAIRN_TOP/docs/examples/coordinator.conf" >"$T/out" 2>&1
has "coordinator.conf sample: check-config asks for a required key" \
    "missing key 'identity_key' in \[coordinator\]"
if grep -qi "unknown" "$T/out"; then notok "coordinator.conf sample: no unknown key"
else ok "coordinator.conf sample: no unknown key"; fi

# --- Build-Depends against tools/deps.sh ------------------------------------

# control_deps CONTROL: "PKG" or "PKG <!nocheck>" per Build-Depends entry.
control_deps() {
	awk '/^Build-Depends:/ { on = 1; sub(/^Build-Depends:/, "") }
	    on && /^[A-Z]/ && !/^Build-Depends:/ { on = 0 }
	    on { print }' "$1" | tr ',' '\n' |
	    sed 's/^[ \t]*//; s/[ \t]*$//; s/ *([^)]*)//' | grep -v '^$'
}
# deps_agree CONTROL: print every disagreement with `deps.sh --list`.
deps_agree() {
	control_deps "$1" >"$T/control.deps"
	sh "$CAIRN_TOP/tools/deps.sh" --list | while read -r what pkg; do
		case $what in
		build) grep -qx "$pkg" "$T/control.deps" ||
			echo "build dependency $pkg is not in Build-Depends" ;;
		test) grep -qx "$pkg <!nocheck>" "$T/control.deps" ||
			echo "test dependency $pkg is not in Build-Depends" \
			    "as '$pkg <!nocheck>'" ;;
		esac
	done
	sh "$CAIRN_TOP/tools/deps.sh" --list | awk '{ print $2 }' \
	    >"$T/deps.names"
	sed 's/ <!nocheck>$//' "$T/control.deps" | while read -r pkg; do
		[ "$pkg" = debhelper-compat ] && continue
		grep -qx "$pkg" "$T/deps.names" ||
		    echo "Build-Depends has $pkg, which tools/deps.sh does" \
			"not name"
	done
}
deps_agree "$D/control" >"$T/out"
holds "Build-Depends and tools/deps.sh agree" '[ ! -s "$T/out" ]'
holds "deps.sh names the 11 libraries of the build" \
    '[ "$(sh "$CAIRN_TOP/tools/deps.sh" --list | grep -c "^build .*-dev$")" -ge 11 ]'
sed '/^ libpq-dev,$/d' "$D/control" >"$T/control.nolib"
deps_agree "$T/control.nolib" >"$T/out"
has "negative: control without libpq-dev is caught" \
    "build dependency libpq-dev is not in Build-Depends"
sed 's/^ libcmocka-dev <!nocheck>,$/ libcmocka-dev,/' "$D/control" \
    >"$T/control.check"
deps_agree "$T/control.check" >"$T/out"
has "negative: a test package without <!nocheck> is caught" \
    "libcmocka-dev is not in Build-Depends as 'libcmocka-dev <!nocheck>'"
sed 's/^ zlib1g-dev,$/ zlib1g-dev,\n libfoo-dev,/' "$D/control" \
    >"$T/control.extra"
deps_agree "$T/control.extra" >"$T/out"
has "negative: a Build-Depends entry deps.sh lacks is caught" \
    "Build-Depends has libfoo-dev"

# --- systemd units ------------------------------------------------------------

# The units as installed name /usr/bin; here the programs are in CAIRN_BIN
# (make test-deb verifies the installed units, man pages included).
for u in cairn-node cairn-coordinator; do
	sed "s|/usr/bin/|$CAIRN_BIN/|" "$D/$u.service" >"$T/$u.service"
	# Clean: exit 0 and nothing said (a bad value is only a warning).
	systemd-analyze verify --man=no "$T/$u.service" >"$T/out" 2>&1
	holds "$u.service: systemd-analyze verify, clean" \
	    '[ $? -eq 0 ] && [ ! -s "$T/out" ]'
	systemd-analyze security --offline=true "$T/$u.service" \
	    >"$T/$u.security" 2>&1
	e=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' \
	    "$T/$u.security")
	holds "$u.service: exposure $e, at most 2.0" \
	    '[ -n "$e" ] && awk -v e="$e" "BEGIN { exit !(e <= 2.0) }"'
	for k in "User=cairn" "StateDirectory=cairn" "ProtectSystem=strict" \
	    "ProtectHome=yes" "PrivateTmp=yes" "PrivateDevices=yes" \
	    "NoNewPrivileges=yes" "MemoryDenyWriteExecute=yes" \
	    "SystemCallFilter=@system-service" "CapabilityBoundingSet=" \
	    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" \
	    "ExecReload=/bin/kill -HUP \$MAINPID"; do
		grep -qx "$k" "$D/$u.service" || echo "$u.service lacks $k"
	done >"$T/out"
	holds "$u.service: the sandbox settings and ExecReload" \
	    '[ ! -s "$T/out" ]'
done
sed 's/^ProtectSystem=strict$/ProtectSystem=strictest/' \
    "$T/cairn-node.service" >"$T/bad.service"
systemd-analyze verify --man=no "$T/bad.service" >"$T/out" 2>&1
has "negative: verify is not clean on a bad value" \
    "bad.service:[0-9]*: Failed to parse protect system value"
sed 's|^ExecStart=[^ ]*|ExecStart=/nonexistent/cairn-node|' \
    "$T/cairn-node.service" >"$T/bad.service"
fails_with "negative: verify fails on a missing program" "nonexistent" \
    systemd-analyze verify --man=no "$T/bad.service"
grep -v "^MemoryDenyWriteExecute\|^SystemCallFilter\|^ProtectSystem" \
    "$T/cairn-node.service" >"$T/loose.service"
systemd-analyze security --offline=true "$T/loose.service" >"$T/out" 2>&1
e=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$T/out")
holds "negative: a unit without three of them scores worse ($e)" \
    'awk -v e="$e" "BEGIN { exit !(e > 2.0) }"'

# --- the daemons under MemoryDenyWriteExecute -----------------------------------

# mdwe CMD...: run CMD under MemoryDenyWriteExecute= and NoNewPrivileges=
# as systemd 252 (Debian 12) applies them (a seccomp filter), both kept
# across execve: systemd is not PID 1 where the tests run.
cat >"$T/mdwe.py" <<'PY'
# systemd's MemoryDenyWriteExecute= as systemd 252 (Debian 12) installs
# it: a seccomp filter refusing (EPERM) mmap of memory both writable and
# executable, mprotect/pkey_mprotect to executable and shmat with
# SHM_EXEC; with PR_SET_NO_NEW_PRIVS (NoNewPrivileges=), then execv.
import ctypes, os, struct, sys
NR = {"x86_64": (0xC000003E, 9, 10, 329, 30),
      "aarch64": (0xC00000B7, 222, 226, 288, 196)}
m = os.uname().machine
if m not in NR:
    sys.exit("mdwe: no system call numbers for %s" % m)
arch, mmap_nr, mprot_nr, pkey_nr, shmat_nr = NR[m]
ALLOW, DENY = 0x7FFF0000, 0x00050000 | 1       # SECCOMP_RET_ERRNO | EPERM
LD, JEQ, AND, RET = 0x20, 0x15, 0x54, 0x06
# (code, jt, jf, k); jumps are counted from the next instruction.
prog = [
    (LD, 0, 0, 4), (JEQ, 1, 0, arch), (RET, 0, 0, DENY),   # 0-2: arch
    (LD, 0, 0, 0),                                          # 3: nr
    (JEQ, 4, 0, mmap_nr),                                   # 4 -> 9
    (JEQ, 7, 0, mprot_nr),                                  # 5 -> 13
    (JEQ, 6, 0, pkey_nr),                                   # 6 -> 13
    (JEQ, 9, 0, shmat_nr),                                  # 7 -> 17
    (RET, 0, 0, ALLOW),                                     # 8
    (LD, 0, 0, 32), (AND, 0, 0, 6), (JEQ, 10, 0, 6),        # 9-11 mmap W|X
    (RET, 0, 0, ALLOW),                                     # 12
    (LD, 0, 0, 32), (AND, 0, 0, 4), (JEQ, 6, 0, 4),         # 13-15 PROT_EXEC
    (RET, 0, 0, ALLOW),                                     # 16
    (LD, 0, 0, 32), (AND, 0, 0, 0o100000), (JEQ, 2, 0, 0o100000),  # 17-19
    (RET, 0, 0, ALLOW),                                     # 20
    (RET, 0, 0, ALLOW),                                     # 21
    (RET, 0, 0, DENY),                                      # 22
]
buf = b"".join(struct.pack("=HBBI", *i) for i in prog)
filt = ctypes.create_string_buffer(buf, len(buf))
class Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
fp = Fprog(len(prog), ctypes.addressof(filt))
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(38, 1, 0, 0, 0) != 0:             # PR_SET_NO_NEW_PRIVS
    sys.exit("mdwe: PR_SET_NO_NEW_PRIVS: %s" % os.strerror(ctypes.get_errno()))
if libc.prctl(22, 2, ctypes.byref(fp), 0, 0) != 0:  # SECCOMP_MODE_FILTER
    sys.exit("mdwe: seccomp: %s" % os.strerror(ctypes.get_errno()))
os.execv(sys.argv[1], sys.argv[1:])
PY
cat >"$T/wx.py" <<'PY'
import mmap, sys
what = sys.argv[1]
if what == "wx":
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
elif what == "w":
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE)
print("mapped")
PY
fails_with "negative: under the filter a W+X mapping is refused" \
    "PermissionError" python3 "$T/mdwe.py" /usr/bin/python3 "$T/wx.py" wx
check "under the filter a writable mapping is allowed" \
    python3 "$T/mdwe.py" /usr/bin/python3 "$T/wx.py" w
{ fed_init "$T" pkgtest && fed_member "$T" analyst analyst &&
  fed_member "$T" node n1 && fed_member "$T" node n2; } >"$T/out" 2>&1 ||
	notok "keys"
printf 'region_id,name\n1,north\n2,south\n' >"$T/g2.csv"
printf 'cell_id,region_id\nc1,1\nc2,2\n' >"$T/cells.csv"
printf 'subscriber_id,timestamp,cell_id\ns1,2026-01-10T08:00:00Z,c1\n' >"$T/n.csv"
fed_coordinator_conf "$T" "g2 g2.csv" >"$T/out" 2>&1
rm -f "$T/port"
(cd "$T" && exec python3 "$T/mdwe.py" "$CAIRN_BIN/cairn-coordinator" serve \
    -c "$T/coordinator.conf" >"$T/coord.log" 2>&1) &
CPID=$!
PIDS="$CPID"
i=0
while [ $i -lt 100 ] && [ ! -s "$T/port" ]; do sleep 0.1; i=$((i + 1)); done
FED_PORT=$(cat "$T/port" 2>/dev/null)
holds "coordinator serves under MemoryDenyWriteExecute" \
    '[ -n "$FED_PORT" ] && kill -0 "$CPID" &&
    grep -q "^NoNewPrivs:.*1" /proc/$CPID/status &&
    grep -q "^Seccomp:.*2" /proc/$CPID/status'
for m in n1 n2; do
	fed_node_conf "$T" $m "$T/n.csv" "$T/cells.csv" g2 <<CONF
allow_kind = presence
allow_analyst = analyst
budget_rho_per_month = 1
max_rho_per_query = 0.5
CONF
	python3 "$T/mdwe.py" "$CAIRN_BIN/cairn-node" serve -c "$T/$m.conf" \
	    >"$T/$m.log" 2>&1 &
	PIDS="$PIDS $!"
done
i=0
while [ $i -lt 150 ] && ! { grep -q "policy published" "$T/n1.log" &&
    grep -q "policy published" "$T/n2.log"; }; do sleep 0.1; i=$((i + 1)); done
cat "$T/n1.log" "$T/n2.log" >"$T/out"
holds "both nodes serve under it: TLS to the coordinator, policies logged" \
    '[ "$(grep -c "policy published" "$T/out")" -eq 2 ]'
fed_analyst_conf "$T" analyst
"$CAIRN" query submit --config "$T/analyst.conf" --id q1 --kind presence \
    --geography g2 --start 2026-01-10 --end 2026-01-11 --rho 0.5 \
    --purpose "the packaging test" --bucket day --k 1 --colluding 0 \
    --participants n1,n2 >"$T/out" 2>&1 &&
"$CAIRN" query wait --config "$T/analyst.conf" q1 --timeout 60 >"$T/out" 2>&1
has "a query is released by daemons under MemoryDenyWriteExecute" "released"
for p in $PIDS; do kill -TERM "$p"; done
for p in $PIDS; do wait "$p"; rc=$?
	holds "process under the wrapper exits 0 on SIGTERM (rc $rc)" \
	    '[ "$rc" -eq 0 ]'
done
PIDS=""
tap_done
