// duckdb_sql.mjs - the query kinds of docs/queries.md as DuckDB SQL.
//
// This is cairn's independent reference: plain SQL written from the
// semantics table, sharing nothing with the C engine or with `cairn synth`.
// Input relations:
//   ev(sid VARCHAR, lt TIMESTAMP, region BIGINT)   lt = UTC + offset
//   rec(eid VARCHAR, lt TIMESTAMP, region BIGINT, category VARCHAR)
// The local offset is applied where ev/rec are defined (see evSource), so a
// spec's utc_offset_minutes must match the one the relation was built with.
// Every query returns exactly the CSV columns of the contract, sorted.
// Visitors are non-residents (DESIGN §4): a subscriber whose home is another
// region, or who has no home (no night events) in the window.

const DAY = "'%Y-%m-%d'";

function lit(date) {
	if (!/^\d{4}-\d{2}-\d{2}$/.test(date))
		throw new Error(`bad date '${date}'`);
	return `TIMESTAMP '${date} 00:00:00'`;
}

function win(a, b) {
	return `lt >= ${lit(a)} AND lt < ${lit(b)}`;
}

function night(spec) {
	const ns = Number(spec.night_start_hour), ne = Number(spec.night_end_hour);
	// Exactly the spec's words: local hour >= night_start or < night_end.
	return `(hour(lt) >= ${ns} OR hour(lt) < ${ne})`;
}

// Modal region: most events, ties to the smallest id.  Regions are below
// 2^32, so count * 2^32 - region orders by count, then by smaller region.
const MODE_KEY = 'c * 4294967296 - region';

function homes(spec, a, b) {
	return `SELECT sid, arg_max(region, ${MODE_KEY}) AS home FROM (
	    SELECT sid, region, count(*)::BIGINT AS c FROM ev
	    WHERE ${win(a, b)} AND ${night(spec)} GROUP BY sid, region)
	  GROUP BY sid`;
}

// Per (subscriber, bucket): its regions ranked by events, then region id.
function ranked(spec, trunc) {
	return `SELECT sid, region, bk, row_number() OVER (
	      PARTITION BY sid, bk ORDER BY c DESC, region) AS rk FROM (
	    SELECT sid, region, date_trunc('${trunc}', lt) AS bk,
	      count(*) AS c FROM ev WHERE ${win(spec.start, spec.end)}
	    GROUP BY sid, region, bk)`;
}

// 'nregions': how many regions exist; a k at least that large cannot cut
// anything, and the query becomes a plain distinct count.
export function sqlFor(spec, nregions) {
	switch (spec.kind) {
	case 'presence': {
		const hour = spec.bucket === 'hour';
		const fmt = hour ? "'%Y-%m-%dT%H'" : DAY;
		const trunc = hour ? 'hour' : 'day';
		if (Number(spec.k) >= nregions)
			return `SELECT region, strftime(bk, ${fmt}) AS bucket,
			    count(DISTINCT sid) AS count FROM (
			    SELECT sid, region, date_trunc('${trunc}', lt) AS bk
			    FROM ev WHERE ${win(spec.start, spec.end)})
			  GROUP BY region, bk ORDER BY region, bucket`;
		return `SELECT region, strftime(bk, ${fmt}) AS bucket,
		    count(*) AS count FROM (${ranked(spec, trunc)})
		  WHERE rk <= ${Number(spec.k)}
		  GROUP BY region, bk ORDER BY region, bucket`;
	}
	case 'residents': {
		// min_nights (default 1): seen at night on that many distinct
		// nights; a morning before night_end is the night before.
		const mn = Number(spec.min_nights ?? 1);
		const ne = Number(spec.night_end_hour);
		return `SELECT home AS region, count(*) AS count
		  FROM (${homes(spec, spec.start, spec.end)}) h
		  WHERE ${mn} <= 1 OR h.sid IN (
		    SELECT sid FROM ev
		    WHERE ${win(spec.start, spec.end)} AND ${night(spec)}
		    GROUP BY sid HAVING count(DISTINCT CASE
		      WHEN hour(lt) < ${ne} THEN CAST(lt AS DATE) - 1
		      ELSE CAST(lt AS DATE) END) >= ${mn})
		  GROUP BY home ORDER BY region`;
	}
	case 'od':
		return `WITH m AS (
		    SELECT sid, day, arg_max(region, ${MODE_KEY}) AS mode FROM (
		      SELECT sid, CAST(lt AS DATE) AS day, region,
		        count(*)::BIGINT AS c FROM ev
		      WHERE ${win(spec.start, spec.end)}
		      GROUP BY sid, day, region)
		    GROUP BY sid, day)
		  SELECT strftime(a.day, ${DAY}) AS day, a.mode AS origin,
		    b.mode AS destination, count(*) AS count
		  FROM m a JOIN m b ON a.sid = b.sid AND b.day = a.day + 1
		  GROUP BY a.day, a.mode, b.mode
		  ORDER BY day, origin, destination`;
	case 'migration':
		return `SELECT a.home AS "from", b.home AS "to", count(*) AS count
		  FROM (${homes(spec, spec.baseline[0], spec.baseline[1])}) a
		  JOIN (${homes(spec, spec.comparison[0], spec.comparison[1])}) b
		    ON a.sid = b.sid
		  GROUP BY a.home, b.home ORDER BY "from", "to"`;
	case 'visitors':
		return `SELECT p.region, strftime(p.bk, ${DAY}) AS day,
		    count(*) AS count
		  FROM (${ranked(spec, 'day')}) p
		  LEFT JOIN (${homes(spec, spec.start, spec.end)}) h
		    ON p.sid = h.sid
		  WHERE p.rk <= ${Number(spec.k)}
		    AND (h.home IS NULL OR p.region <> h.home)
		  GROUP BY p.region, p.bk ORDER BY region, day`;
	case 'displacement':
		// The cohort (home over the baseline) on every observation
		// day: its modal region of the day, or none when unseen.
		return `WITH h AS (${homes(spec, spec.baseline[0], spec.baseline[1])}),
		  d AS (SELECT CAST(unnest(range(${lit(spec.start)},
		      ${lit(spec.end)}, INTERVAL 1 DAY)) AS DATE) AS day),
		  m AS (
		    SELECT sid, day, arg_max(region, ${MODE_KEY}) AS mode FROM (
		      SELECT sid, CAST(lt AS DATE) AS day, region,
		        count(*)::BIGINT AS c FROM ev
		      WHERE ${win(spec.start, spec.end)}
		      GROUP BY sid, day, region)
		    GROUP BY sid, day)
		  SELECT h.home AS home, strftime(d.day, ${DAY}) AS day,
		    coalesce(CAST(m.mode AS VARCHAR), 'none') AS region,
		    count(*) AS count
		  FROM h CROSS JOIN d
		    LEFT JOIN m ON m.sid = h.sid AND m.day = d.day
		  GROUP BY h.home, d.day, m.mode
		  ORDER BY h.home, d.day, m.mode NULLS LAST`;
	case 'population_by_category': {
		// Only the spec's categories (docs/queries.md).
		const cats = (spec.categories || []).map(
		    (c) => `'${String(c).replace(/'/g, "''")}'`).join(', ');
		// One cell per entity: its modal (region, category), ties
		// to the smaller region, then to the category first bytewise.
		return `SELECT region, category, count(*) AS count
		  FROM (SELECT eid, region, category, row_number() OVER (
		      PARTITION BY eid ORDER BY count(*) DESC, region,
		      category) AS rk
		    FROM rec WHERE ${win(spec.start, spec.end)}
		      AND category IN (${cats || 'NULL'})
		    GROUP BY eid, region, category) m
		  WHERE rk = 1
		  GROUP BY region, category ORDER BY region, category`;
	}
	default:
		throw new Error(`unknown kind '${spec.kind}'`);
	}
}

// The FROM text of a CDR relation with the local-time column, read from
// CSV files 'cdr' (array) and the cell map 'cells'.  'epoch' says the
// timestamps are epoch seconds.
export function evSource(cdr, cells, offsetMin, epoch) {
	const files = '[' + cdr.map((f) => `'${f.replaceAll("'", "''")}'`)
	    .join(', ') + ']';
	const ts = epoch ? 'make_timestamp(e."timestamp" * 1000000)'
	    : 'e."timestamp"';
	const tt = epoch ? 'BIGINT' : 'TIMESTAMP';
	return `SELECT e.subscriber_id AS sid,
	    ${ts} + INTERVAL (${Number(offsetMin)}) MINUTE AS lt,
	    c.region_id AS region
	  FROM read_csv(${files}, header = true, delim = ',', quote = '',
	    columns = {'subscriber_id': 'VARCHAR', 'timestamp': '${tt}',
	    'cell_id': 'VARCHAR'}) e
	  JOIN read_csv('${cells.replaceAll("'", "''")}', header = true,
	    columns = {'cell_id': 'VARCHAR', 'region_id': 'BIGINT'}) c
	    ON e.cell_id = c.cell_id`;
}

export function recSource(records, offsetMin, epoch) {
	const ts = epoch ? 'make_timestamp("timestamp" * 1000000)'
	    : '"timestamp"';
	const tt = epoch ? 'BIGINT' : 'TIMESTAMP';
	return `SELECT entity_id AS eid,
	    ${ts} + INTERVAL (${Number(offsetMin)}) MINUTE AS lt,
	    region_id AS region, category
	  FROM read_csv('${records.replaceAll("'", "''")}', header = true,
	    quote = '', columns = {'entity_id': 'VARCHAR',
	    'timestamp': '${tt}', 'region_id': 'BIGINT',
	    'category': 'VARCHAR'})`;
}
