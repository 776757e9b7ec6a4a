// duckdb_run.mjs - run cairn's query specs in DuckDB and write the results
// as the contract's CSV (docs/queries.md), timing each query.
//
//   DUCKDB_NODE_DIR=build/duckdb-node node duckdb_run.mjs --cells FILE [--cdr FILE]... [--records FILE]
//       [--utc-offset MIN] [--epoch] [--threads N] [--mode csv|table]
//       [--repeat N] [--db FILE] --query SPEC.json=OUT.csv ...
//
// --mode csv reads the CSV files anew in every query (read_csv); --mode
// table first loads them into tables (timed as "load") and queries those.
// --db FILE (table mode) keeps the tables in a DuckDB database file: the
// first run loads it (with no --query, it only loads), later runs open it
// and query, so DuckDB's loaded table can be timed one process a query,
// alternating with cairn's store, as the store is.
// --repeat N runs each query N times and prints the fastest.
// Prints "duckdb MODE NAME SECONDS" per step and "duckdb MODE peak_rss_kb N"
// (the process's VmHWM) at the end.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, resolve } from 'node:path';
import { sqlFor, evSource, recSource } from './duckdb_sql.mjs';

// @duckdb/node-api lives in a scratch folder (DUCKDB_NODE_DIR, installed by
// bench/engine_duckdb.sh), not in the source tree.
const req = createRequire(resolve(process.env.DUCKDB_NODE_DIR ?? '.') + '/');
const { DuckDBInstance } = req('@duckdb/node-api');

function usage(msg) {
	if (msg)
		process.stderr.write(`duckdb_run: error: ${msg}\n`);
	process.stderr.write('usage: node duckdb_run.mjs --cells FILE ' +
	    '[--cdr FILE]... [--records FILE] [--utc-offset MIN] [--epoch] ' +
	    '[--threads N] [--mode csv|table] [--repeat N] [--db FILE] ' +
	    '--query SPEC.json=OUT.csv ...\n');
	process.exit(msg ? 2 : 0);
}

const o = { cdr: [], queries: [], threads: 2, mode: 'csv', offset: null,
    epoch: false, cells: null, records: null, repeat: 1, db: null };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
	const a = argv[i], v = () => {
		if (i + 1 >= argv.length)
			usage(`${a} needs a value`);
		return argv[++i];
	};
	switch (a) {
	case '--cdr': o.cdr.push(v()); break;
	case '--cells': o.cells = v(); break;
	case '--records': o.records = v(); break;
	case '--utc-offset': o.offset = Number(v()); break;
	case '--epoch': o.epoch = true; break;
	case '--threads': o.threads = Number(v()); break;
	case '--mode': o.mode = v(); break;
	case '--repeat': o.repeat = Number(v()); break;
	case '--db': o.db = v(); break;
	case '--query': {
		const q = v(), k = q.lastIndexOf('=');
		if (k < 0)
			usage(`--query ${q}: expected SPEC.json=OUT.csv`);
		o.queries.push({ spec: q.slice(0, k), out: q.slice(k + 1) });
		break;
	}
	case '-h': case '--help': usage(); break;
	default: usage(`unknown option '${a}'`);
	}
}
if (o.mode !== 'csv' && o.mode !== 'table')
	usage(`--mode must be csv or table`);
if (o.db !== null && o.mode !== 'table')
	usage('--db needs --mode table');
if (o.queries.length === 0 && o.db === null)
	usage('no --query');
if (!Number.isInteger(o.repeat) || o.repeat < 1)
	usage('--repeat must be a positive integer');

const specs = o.queries.map((q) => {
	let s;
	try {
		s = JSON.parse(readFileSync(q.spec, 'utf8'));
	} catch (e) {
		usage(`${q.spec}: ${e.message}`);
	}
	return { ...q, s, name: basename(q.spec).replace(/\.json$/, '') };
});
const offset = o.offset ?? specs[0]?.s.utc_offset_minutes ?? 0;
for (const q of specs)
	if ((q.s.utc_offset_minutes ?? 0) !== offset)
		usage(`${q.spec}: utc_offset_minutes differs from ${offset}`);

const inst = await DuckDBInstance.create(o.db ?? ':memory:',
    { threads: String(o.threads) });
const con = await inst.connect();
const sq = (s) => `'${s.replaceAll("'", "''")}'`;
const now = () => Number(process.hrtime.bigint()) / 1e9;

let nregions = 0;
if (o.cells) {
	const r = await con.runAndReadAll(`SELECT count(DISTINCT region_id)
	    FROM read_csv(${sq(o.cells)}, header = true,
	    columns = {'cell_id': 'VARCHAR', 'region_id': 'BIGINT'})`);
	nregions = Number(r.getRows()[0][0]);
}
const kind = o.mode === 'table' ? 'TABLE' : 'VIEW';
let loaded = false;
if (o.db !== null) {
	const r = await con.runAndReadAll(`SELECT count(*) FROM
	    information_schema.tables WHERE table_name IN ('ev', 'rec')`);
	loaded = Number(r.getRows()[0][0]) > 0;
}
const t0 = now();
if (loaded)
	;
else if (o.cdr.length > 0) {
	if (!o.cells)
		usage('--cdr needs --cells');
	await con.run(`CREATE ${kind} ev AS ${evSource(o.cdr, o.cells, offset,
	    o.epoch)}`);
}
if (o.records && !loaded)
	await con.run(`CREATE ${kind} rec AS ${recSource(o.records, offset,
	    o.epoch)}`);
if (o.db !== null && !loaded)
	await con.run('CHECKPOINT');
if (o.mode === 'table' && !loaded)
	console.log(`duckdb table load ${(now() - t0).toFixed(3)}`);
for (const q of specs) {
	let best = Infinity;
	for (let i = 0; i < o.repeat; i++) {
		const t = now();
		await con.run(`COPY (${sqlFor(q.s, nregions)}) TO ${sq(q.out)}
		    (HEADER, DELIMITER ',')`);
		best = Math.min(best, now() - t);
	}
	console.log(`duckdb ${o.mode} ${q.name} ${best.toFixed(3)}`);
}
const st = readFileSync('/proc/self/status', 'utf8');
const hwm = /VmHWM:\s+(\d+)/.exec(st);
console.log(`duckdb ${o.mode} peak_rss_kb ${hwm ? hwm[1] : 0}`);
