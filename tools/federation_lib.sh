# federation_lib.sh - shell functions that set up a cairn federation in one
# folder: the federation CA and members' keys, the coordinator's, nodes' and
# analysts' config files, and starting the coordinator.  Sourced (". FILE")
# by tools/demo.sh, bench/federation.sh and the end-to-end tests, so
# that the steps docs/federation.md describes are written once.
#
# Every function takes the federation folder as its first argument (FED_DIR
# below); the layout it makes is:
#   FED_DIR/fed/            the CA, federation.conf, the coordinator's keys
#   FED_DIR/NAME/           each member's keys (identity.key, tls.*, ca.crt)
#   FED_DIR/coordinator.conf, FED_DIR/NAME.conf
# The caller sets CAIRN (the `cairn` program) before calling.

# fed_init FED_DIR NAME: make the federation CA and the coordinator's keys.
fed_init() {
	"$CAIRN" keys init-federation --name "$2" --dir "$1/fed" >/dev/null
}

# fed_member FED_DIR ROLE NAME: make NAME's keys, have the CA issue its TLS
# certificate and enrol it in federation.conf.
fed_member() {
	"$CAIRN" keys new --role "$2" --name "$3" --dir "$1/$3" >/dev/null &&
	"$CAIRN" keys issue --ca "$1/fed" --csr "$1/$3/tls.csr" \
	    --out "$1/$3/tls.crt" >/dev/null &&
	cp "$1/fed/ca.crt" "$1/$3/ca.crt" &&
	"$CAIRN" keys add-member --ca "$1/fed" --pub "$1/$3/identity.pub" \
	    --cert "$1/$3/tls.crt" >/dev/null
}

# fed_coordinator_conf FED_DIR GEOGRAPHY_LINE...: write
# FED_DIR/coordinator.conf listening on an ephemeral loopback port (written
# to FED_DIR/port); each further argument is one "NAME REGIONS_FILE"
# geography (a relative file is taken from FED_DIR), which is also pinned by
# its hash in federation.conf (`cairn keys pin-geography`) unless
# FED_PIN_GEOGRAPHIES is "no" (the caller pins them, or tests an unpinned
# one).  FED_ADVERTISE_SECONDS, FED_SHARE_SECONDS (default 30) and
# FED_MAX_ATTEMPTS (default 3) change the deadlines and retries;
# FED_LISTEN_PORT (default 0: ephemeral) fixes the port, for a folder that
# is started again later (tools/demo.sh).
fed_coordinator_conf() {
	_fd=$1; shift
	mkdir -p "$_fd/coord"
	for _fg in "$@"; do
		[ "${FED_PIN_GEOGRAPHIES:-yes}" = no ] && break
		_ff=${_fg#* }
		case $_ff in /*) ;; *) _ff=$_fd/$_ff ;; esac
		"$CAIRN" keys pin-geography --ca "$_fd/fed" --name "${_fg%% *}" \
		    --regions "$_ff" >/dev/null || return 1
	done
	{
		cat <<CONF
[coordinator]
identity_key = $_fd/fed/coordinator/identity.key
tls_key = $_fd/fed/coordinator/tls.key
tls_cert = $_fd/fed/coordinator/tls.crt
ca_cert = $_fd/fed/ca.crt
federation = $_fd/fed/federation.conf
data_dir = $_fd/coord
listen = 127.0.0.1:${FED_LISTEN_PORT:-0}
port_file = $_fd/port
[deadlines]
advertise_seconds = ${FED_ADVERTISE_SECONDS:-30}
share_seconds = ${FED_SHARE_SECONDS:-30}
[limits]
max_rho_per_query = 1
max_participants = 8
max_attempts = ${FED_MAX_ATTEMPTS:-3}
[geographies]
CONF
		for _fg in "$@"; do echo "geography = $_fg"; done
	} >"$_fd/coordinator.conf"
}

# fed_start_coordinator FED_DIR [LOG]: start the coordinator in the
# background (stderr and stdout to LOG, default FED_DIR/coord.log, appended)
# and wait up to 10 s for its port.  Sets FED_COORD_PID and FED_PORT;
# returns 1 if it did not start.
fed_start_coordinator() {
	_fd=$1
	rm -f "$_fd/port"
	(cd "$_fd" && exec "${CAIRN_COORDINATOR:-${CAIRN}-coordinator}" serve \
	    -c "$_fd/coordinator.conf" >>"${2:-$_fd/coord.log}" 2>&1) &
	FED_COORD_PID=$!
	_fi=0
	while [ $_fi -lt 100 ] && [ ! -s "$_fd/port" ]; do
		kill -0 "$FED_COORD_PID" 2>/dev/null || return 1
		sleep 0.1; _fi=$((_fi + 1))
	done
	[ -s "$_fd/port" ] || return 1
	FED_PORT=$(cat "$_fd/port")
}

# fed_node_conf FED_DIR NAME CDR CELLS GEOGRAPHY [CONF]: write CONF (default
# FED_DIR/NAME.conf) for node NAME serving FED_PORT, its data folder
# FED_NODE_DATA_DIR (default FED_DIR/NAME/data), then the [policy] section
# read from standard input.
# FED_POLL_SECONDS (default 1) and FED_CALL_DEADLINE (default 10) change the
# [coordinator] section, FED_WITNESS_QUORUM (default: unset, a majority of
# the nodes) sets its witness_quorum; FED_DATA_EXTRA, if set, is written at the end of the
# [data] section (more "key = value" lines).
fed_node_conf() {
	_fdd=${FED_NODE_DATA_DIR:-$1/$2/data}
	mkdir -m 700 -p "$_fdd"
	{
		cat <<CONF
[node]
name = $2
data_dir = $_fdd
identity_key = $1/$2/identity.key
tls_key = $1/$2/tls.key
tls_cert = $1/$2/tls.crt
ca_cert = $1/$2/ca.crt
federation = $1/fed/federation.conf
[coordinator]
address = 127.0.0.1:$FED_PORT
poll_seconds = ${FED_POLL_SECONDS:-1}
call_deadline_seconds = ${FED_CALL_DEADLINE:-10}
CONF
		[ -n "${FED_WITNESS_QUORUM:-}" ] &&
		    echo "witness_quorum = $FED_WITNESS_QUORUM"
		cat <<CONF
[data]
cdr = $3
cells = $4
geography = $5
CONF
		[ -n "${FED_DATA_EXTRA:-}" ] && printf '%s\n' "$FED_DATA_EXTRA"
		echo "[policy]"
		cat
	} >"${6:-$1/$2.conf}"
}

# fed_analyst_conf FED_DIR NAME [CONF]: write CONF (default
# FED_DIR/NAME.conf) for analyst NAME talking to the coordinator at
# FED_PORT.
fed_analyst_conf() {
	cat >"${3:-$1/$2.conf}" <<CONF
[analyst]
identity_key = $1/$2/identity.key
tls_key = $1/$2/tls.key
tls_cert = $1/$2/tls.crt
ca_cert = $1/$2/ca.crt
coordinator = 127.0.0.1:$FED_PORT
federation = $1/fed/federation.conf
CONF
}
