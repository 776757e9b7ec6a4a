# dbservers.sh - start and stop the database servers that the SQL sources
# are tested and measured against (docs/sources.md), sourced by
# tests/e2e/source_pg.sh, tests/e2e/source_ch.sh and bench/sql_engines.sh:
# Debian's PostgreSQL (initdb and pg_ctl under /usr/lib/postgresql) and
# Debian's clickhouse-server, each on 127.0.0.1 in a directory of the
# caller's, as 'nobody' when run as root (neither server runs as root).
# Nothing here prints TAP; every function returns non-zero on a failure and
# leaves the server's own log in its directory.
#
# The caller sets RUN (see db_runner) and, for ClickHouse, PA and PB: the
# TCP ports of the two shards of the cluster 'cairn2' that every server's
# configuration names.

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
CHS=/usr/sbin/clickhouse-server

# db_runner: set RUN to the prefix that runs a server as 'nobody' when this
# shell is root, empty otherwise.
db_runner() {
	RUN=""
	[ "$(id -u)" = 0 ] && RUN="runuser -u nobody --"
	return 0
}

# free_ports N: N free TCP ports of 127.0.0.1, on one line.
free_ports() {
	python3 -c 'import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))' "$1"
}

# pg_start DIR PORT [OPTIONS]: initdb a cluster in DIR/data (owned by the
# server's user) and start it on 127.0.0.1:PORT with its socket in DIR,
# fsync off, and OPTIONS (more "-c name=value" for postgres); the log is
# DIR/log.
pg_start() {
	mkdir -p "$1" || return 1
	[ -n "$RUN" ] && chown nobody "$1"
	$RUN "$PGBIN/initdb" -D "$1/data" -U postgres --auth=trust -E UTF8 \
	    --locale=C >"$1/initdb.log" 2>&1 &&
	    $RUN "$PGBIN/pg_ctl" -D "$1/data" -l "$1/log" -w -o \
	    "-k $1 -c listen_addresses=127.0.0.1 -p $2 -c fsync=off ${3:-}" \
	    start >"$1/pgctl.log" 2>&1
}

# pg_restart DIR PORT [OPTIONS]: stop the server of DIR and start it again
# with OPTIONS (its data kept).
pg_restart() {
	$RUN "$PGBIN/pg_ctl" -D "$1/data" -m fast -w stop >"$1/pgctl.log" \
	    2>&1 && $RUN "$PGBIN/pg_ctl" -D "$1/data" -l "$1/log" -w -o \
	    "-k $1 -c listen_addresses=127.0.0.1 -p $2 -c fsync=off ${3:-}" \
	    start >"$1/pgctl.log" 2>&1
}

# pg_stop DIR: stop the server of DIR at once.
pg_stop() {
	[ -d "$1/data" ] && $RUN "$PGBIN/pg_ctl" -D "$1/data" -m immediate \
	    stop >/dev/null 2>&1
	return 0
}

# flowdb_ddl: FlowDB's event tables (flowdb/bin/build/0020_schema_events.sql)
# as SQL on stdout: events.calls partitioned by month (February and March
# 2024, and a default partition), events.sms beside it.
flowdb_ddl() {
	cat <<'EOF'
CREATE SCHEMA events;
CREATE TABLE events.calls (id TEXT, outgoing BOOLEAN,
    datetime TIMESTAMPTZ NOT NULL, duration NUMERIC, network TEXT,
    msisdn BYTEA NOT NULL, msisdn_counterpart BYTEA, location_id TEXT,
    imsi BYTEA, imei BYTEA, tac NUMERIC(8), operator_code NUMERIC,
    country_code NUMERIC) PARTITION BY RANGE (datetime);
CREATE TABLE events.calls_2024_02 PARTITION OF events.calls
    FOR VALUES FROM ('2024-02-01 00:00+00') TO ('2024-03-01 00:00+00');
CREATE TABLE events.calls_2024_03 PARTITION OF events.calls
    FOR VALUES FROM ('2024-03-01 00:00+00') TO ('2024-04-01 00:00+00');
CREATE TABLE events.calls_other PARTITION OF events.calls DEFAULT;
CREATE TABLE events.sms (id TEXT, outgoing BOOLEAN,
    datetime TIMESTAMPTZ NOT NULL, network TEXT, msisdn BYTEA NOT NULL,
    msisdn_counterpart BYTEA, location_id TEXT, imsi BYTEA, imei BYTEA,
    tac NUMERIC(8), operator_code NUMERIC, country_code NUMERIC);
EOF
}

# ch_conf DIR HTTP TCP ZONE: a server's configuration: the cluster cairn2
# of the two shards, a readonly=2 user 'cairn', a user 'slow' whose reads
# come 20 rows a block (for the timeout), and 'nogrants', who may read
# only the database 'other'.
ch_conf() {
	mkdir -p "$1/data" "$1/tmp"
	cat >"$1/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
 <logger><level>warning</level><log>$1/log</log><errorlog>$1/err.log</errorlog></logger>
 <http_port>$2</http_port>
 <tcp_port>$3</tcp_port>
 <listen_host>127.0.0.1</listen_host>
 <timezone>$4</timezone>
 <path>$1/data/</path>
 <tmp_path>$1/tmp/</tmp_path>
 <users_config>$1/users.xml</users_config>
 <mark_cache_size>5368709120</mark_cache_size>
 <default_profile>default</default_profile>
 <default_database>default</default_database>
 <remote_servers>
  <cairn2>
   <shard><replica><host>127.0.0.1</host><port>$PA</port></replica></shard>
   <shard><replica><host>127.0.0.1</host><port>$PB</port></replica></shard>
  </cairn2>
 </remote_servers>
</yandex>
EOF
	cat >"$1/users.xml" <<'EOF'
<?xml version="1.0"?>
<yandex>
 <profiles>
  <default></default>
  <ro><readonly>2</readonly></ro>
  <slow><readonly>2</readonly><max_block_size>20</max_block_size></slow>
 </profiles>
 <users>
  <default><password></password><networks><ip>127.0.0.1</ip></networks>
   <profile>default</profile><quota>default</quota></default>
  <cairn><password>s3cret</password><networks><ip>127.0.0.1</ip></networks>
   <profile>ro</profile><quota>default</quota></cairn>
  <slow><password>s3cret</password><networks><ip>127.0.0.1</ip></networks>
   <profile>slow</profile><quota>default</quota></slow>
  <nogrants><password></password><networks><ip>127.0.0.1</ip></networks>
   <profile>ro</profile><quota>default</quota>
   <allow_databases><database>other</database></allow_databases></nogrants>
 </users>
 <quotas><default></default></quotas>
</yandex>
EOF
}

# ch_start DIR HTTP [PREFIX]: start the server of DIR (under PREFIX, e.g.
# "nice -n 19", if given), wait until it answers (up to 90 s: a restart
# over a large data directory on two loaded cores took over 30 s).  A
# server that exits first, or never answers, is named on stderr with the
# last lines of its logs, and ch_start returns 1.
ch_start() {
	[ -n "$RUN" ] && chown -R nobody "$1"
	rm -f "$1/pid"	# a killed server's: its pid is no answer of this one
	${3:-} $RUN "$CHS" --config-file="$1/config.xml" --pid-file="$1/pid" \
	    --daemon >"$1/start.log" 2>&1 || { ch_why "$1" "$2" "did not start"
	    return 1; }
	end=$(($(date +%s) + 90))
	seen=""
	while [ "$(curl -s "http://127.0.0.1:$2/ping")" != "Ok." ]; do
		if [ "$(date +%s)" -ge "$end" ]; then
			ch_why "$1" "$2" "did not answer in 90 s"
			return 1
		fi
		# the daemon wrote its pid file, then died (and removed it)
		[ -z "$seen" ] && seen=$(cat "$1/pid" 2>/dev/null)
		if [ -n "$seen" ] && ! kill -0 "$seen" 2>/dev/null; then
			ch_why "$1" "$2" "exited before answering"
			return 1
		fi
		sleep 0.1
	done
}

# ch_why DIR HTTP WHAT: say on stderr that the server of DIR WHAT, with
# the last lines of its start output and error log.
ch_why() {
	echo "dbservers: ClickHouse in $1 (HTTP port $2) $3" >&2
	for f in "$1/start.log" "$1/err.log"; do
		[ -s "$f" ] && { echo "--- last lines of $f:"; tail -n 5 "$f"; } >&2
	done
	return 0
}

# ch_stop DIR...: stop the servers of the DIRs (TERM, then KILL after 10 s).
ch_stop() {
	for d in "$@"; do
		p=$(cat "$d/pid" 2>/dev/null) && kill -TERM "$p" 2>/dev/null
	done
	for d in "$@"; do
		p=$(cat "$d/pid" 2>/dev/null) || continue
		i=0
		while [ $i -lt 100 ] && kill -0 "$p" 2>/dev/null; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -KILL "$p" 2>/dev/null
		rm -f "$d/pid"
	done
	return 0
}

# q PORT SQL [FILE]: run SQL as 'default' on the server of HTTP PORT (with
# FILE as the data of an INSERT, after the statement in the body); fails
# on an error.
q() {
	{ printf '%s\n' "$2"; [ -n "${3:-}" ] && cat "$3"; } |
	    curl -sS --fail-with-body --data-binary @- \
	    "http://127.0.0.1:$1/?insert_distributed_sync=1"
}
