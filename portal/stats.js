// stats.js - the published statistics (docs/portal.md, "Published
// statistics"): for every released query whose analyst-signed QUERY entry
// says `publish`, read releases/<RELEASE index>.json, check its values
// against the RELEASE entry's SHA-256 (WebCrypto; the entry is already
// verified in the log) and the query it names, and only then draw it: a
// choropleth of the regions (Leaflet from Debian's libjs-leaflet, the
// geography's outlines, no tile server) with a day/hour or category
// slider for the kinds counted per region, the largest flows as lines and
// a matrix for od and migration, a time series per region, every value
// with its 95% interval in its tooltip and a dashed outline where the
// interval includes zero, CSV and GeoJSON downloads with the intervals,
// and notes on the data.  A file that fails its check is named and not
// drawn.  The cell order is the engine's (docs/queries.md).

import { sha256, hex, fetchText } from './tlog.js';
import { h, esc, describe } from './view.js';

const AREA = ['presence', 'residents', 'visitors', 'population_by_category'];
const FLOW = ['od', 'migration'];
const MAX_FLOWS = 20;

// SHA-256 of the values as 8 little-endian bytes each (docs/tlog.md).
export async function valuesSha256(values) {
	const b = new Uint8Array(values.length * 8);
	const dv = new DataView(b.buffer);
	values.forEach((x, i) => dv.setBigInt64(i * 8, BigInt(x), true));
	return hex(await sha256(b));
}

function days(spec) {
	return Math.round((Date.parse(spec.end + 'T00:00:00Z') -
	    Date.parse(spec.start + 'T00:00:00Z')) / 86400000);
}

function addDays(iso, n) {
	return new Date(Date.parse(iso + 'T00:00:00Z') + n * 86400000)
	    .toISOString().slice(0, 10);
}

// The slices of an area kind (the slider's steps) and the cell of
// region r at slice s; flows: the days of od, one slice for migration.
export function layout(rel) {
	const s = rel.spec, R = rel.regions.length, k = s.kind;
	if (k === 'presence') {
		const hour = s.bucket === 'hour', nb = days(s) * (hour ? 24 : 1);
		const label = (b) => hour ? addDays(s.start, Math.floor(b / 24)) +
		    'T' + String(b % 24).padStart(2, '0') : addDays(s.start, b);
		return { slices: [...Array(nb).keys()].map(label), col: 'bucket',
		    cell: (r, b) => r * nb + b };
	}
	if (k === 'visitors') {
		const nd = days(s);
		return { slices: [...Array(nd).keys()].map((d) =>
		    addDays(s.start, d)), col: 'day', cell: (r, d) => r * nd + d };
	}
	if (k === 'population_by_category') {
		const c = s.categories, nc = c.length;
		return { slices: c, col: 'category', cell: (r, j) => r * nc + j };
	}
	if (k === 'residents')
		return { slices: [''], col: null, cell: (r) => r };
	if (k === 'od') {
		const nd = rel.cells / (R * R);
		return { slices: [...Array(nd).keys()].map((d) =>
		    addDays(s.start, d)), col: 'day',
		    flow: (d, o, t) => d * R * R + o * R + t };
	}
	if (k === 'migration')
		return { slices: [''], col: null, flow: (d, o, t) => o * R + t };
	return null;
}

// Check release file 'rel' against the verified RELEASE entry 'e' and the
// QUERY 'q'; returns null or what failed.
export async function checkRelease(rel, e, q) {
	if (!rel || !Array.isArray(rel.values) || !Array.isArray(rel.regions))
		return 'not a release file';
	if (!e.result_sha256)
		return 'the RELEASE entry carries no SHA-256 (entry version 1)';
	if (await valuesSha256(rel.values) !== hex(e.result_sha256))
		return 'its values do not match the SHA-256 of the RELEASE ' +
		    'entry ' + e.index;
	if (rel.release_log_index !== e.index || rel.query_id !== q.query_id ||
	    !rel.spec || rel.spec.kind !== q.spec.kind ||
	    rel.spec.start !== q.spec.start || rel.spec.end !== q.spec.end ||
	    rel.cells !== rel.values.length)
		return 'it names another query, kind, window or size than ' +
		    'the log';
	return null;
}

function interval(rel, x) {
	const w = rel.ci95_halfwidth;
	return { lo: x - w, hi: x + w, zero: x - w <= 0 && x + w >= 0 };
}

function tipText(v, name, x, iv) {
	return v.t('stats_tip', { name, value: v.num(x, 0),
	    lo: v.num(iv.lo, 0), hi: v.num(iv.hi, 0) }) +
	    (iv.zero ? ' ⚠ ' + v.t('stats_zero') : '');
}

// The rows of the downloads: one per cell, labelled.
export function rows(rel) {
	const L = layout(rel), R = rel.regions, out = [];
	if (!L)
		return rel.values.map((x, i) => ({ cell: i, value: x }));
	if (L.flow)
		L.slices.forEach((sl, d) => R.forEach((o, i) => R.forEach((t, j) =>
		    out.push(Object.assign(L.col ? { [L.col]: sl } : {},
		    { from: o.id, from_name: o.name, to: t.id, to_name: t.name,
		    value: rel.values[L.flow(d, i, j)] })))));
	else
		R.forEach((r, i) => L.slices.forEach((sl, j) =>
		    out.push(Object.assign({ region: r.id, region_name: r.name },
		    L.col ? { [L.col]: sl } : {},
		    { value: rel.values[L.cell(i, j)] }))));
	for (const r of out) {
		const iv = interval(rel, r.value);
		r.ci95_low = iv.lo;
		r.ci95_high = iv.hi;
	}
	return out;
}

function csvField(x) {
	const s = String(x);
	return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

export function toCsv(rel) {
	const rs = rows(rel), cols = Object.keys(rs[0] || { value: 0 });
	return [cols.join(',')].concat(rs.map((r) => cols.map((c) =>
	    csvField(r[c])).join(','))).join('\n') + '\n';
}

// GeoJSON: each cell's row as properties of its region's outline (area
// kinds) or of a line between the two regions' centres (flows).
export function toGeojson(rel, outlines) {
	const byId = new Map((outlines ? outlines.features : []).map((f) =>
	    [Number(f.properties.region_id), f]));
	const L = layout(rel);
	const features = rows(rel).map((r) => {
		let g = null;
		if (L && L.flow) {
			const a = centre(byId.get(r.from)),
			    b = centre(byId.get(r.to));
			if (a && b)
				g = { type: 'LineString', coordinates: [a, b] };
		} else if (byId.has(r.region))
			g = byId.get(r.region).geometry;
		return { type: 'Feature', properties: r, geometry: g };
	});
	return JSON.stringify({ type: 'FeatureCollection', features });
}

// The mean of an outline's outer ring, [lon, lat].
function centre(f) {
	if (!f || !f.geometry)
		return null;
	let ring = f.geometry.coordinates[0];
	if (f.geometry.type === 'MultiPolygon')
		ring = ring[0];
	let x = 0, y = 0;
	for (const p of ring) {
		x += p[0];
		y += p[1];
	}
	return [x / ring.length, y / ring.length];
}

function colour(x, max) {
	const t = max > 0 ? Math.max(0, Math.min(1, x / max)) : 0;
	// white to the page's blue, light enough for the outline to show
	const c = (a, b) => Math.round(a + (b - a) * t);
	return 'rgb(' + c(240, 11) + ',' + c(244, 79) + ',' + c(250, 138) + ')';
}

function dataUrl(type, text) {
	return 'data:' + type + ';charset=utf-8,' + encodeURIComponent(text);
}

// An SVG sparkline of 'ys' with a title per point.
function spark(ys, titles) {
	const W = 160, H = 32, max = Math.max(1, ...ys), n = ys.length;
	const pts = ys.map((y, i) => [n > 1 ? i * W / (n - 1) : W / 2,
	    H - 2 - Math.max(0, y) * (H - 4) / max]);
	return h('svg', { viewBox: '0 0 ' + W + ' ' + H, width: String(W),
	    height: String(H), class: 'spark', role: 'img',
	    'aria-label': titles.join('; ') },
	    h('polyline', { points: pts.map((p) => p[0].toFixed(1) + ',' +
	    p[1].toFixed(1)).join(' '), fill: 'none', stroke: '#0b4f8a',
	    'stroke-width': '1.5' }));
}

// The static part of one release's article (everything but the map).
function article(v, rec, e, rel) {
	const q = rec.q, L = layout(rel), idx = e.index;
	const w = rel.ci95_halfwidth;
	const notes = h('ul', { class: 'notes' },
	    h('li', {}, v.t('stats_what', { what: describe(v, q.spec) })),
	    h('li', {}, v.t('stats_holders', { holders:
	    e.participants.join(', '), n: e.participants.length })),
	    h('li', {}, v.t('stats_interval', { w: v.num(w, 0) })),
	    h('li', {}, v.t('stats_def_' + q.spec.kind)),
	    h('li', {}, v.t('stats_checked', { index: idx })));
	const base = 'cairn-' + q.query_id;
	const dl = h('p', { class: 'downloads' },
	    h('a', { class: 'dl-csv', download: base + '.csv', href: '#' },
	    v.t('stats_csv')), ' · ',
	    h('a', { class: 'dl-geojson', download: base + '.geojson',
	    href: '#' }, v.t('stats_geojson')));
	const parts = [h('h3', {}, v.t('stats_q', { id: q.query_id })),
	    h('p', { class: 'when' }, h('a', { href: '#query-' + rec.e.index },
	    v.t('entry_link', { index: rec.e.index })), ' · ',
	    h('a', { href: '#entry-' + idx }, v.t('entry_link',
	    { index: idx }))), notes];
	if (L && L.slices.length > 1)
		parts.push(h('p', { class: 'slider' }, h('label', { for:
		    'slider-' + idx }, v.t('stats_slider_' + (L.col || 'day'))),
		    ' ', h('input', { type: 'range', id: 'slider-' + idx,
		    min: '0', max: String(L.slices.length - 1), value: '0',
		    step: '1' }), ' ', h('output', { for: 'slider-' + idx,
		    class: 'slice' }, L.slices[0])));
	if (L)
		parts.push(h('div', { class: 'map', id: 'map-' + idx, role:
		    'img', 'aria-label': v.t('stats_map_label') }),
		    h('p', { class: 'legend' }, v.t('stats_legend')));
	if (L && L.flow) {
		const R = rel.regions;
		parts.push(h('h4', {}, v.t('stats_matrix')), h('div',
		    { class: 'scroll' }, h('table', { class: 'matrix' },
		    h('thead', {}, h('tr', {}, h('th', {}, v.t('stats_from_to')),
		    R.map((r) => h('th', { scope: 'col' }, r.name || r.id)))),
		    h('tbody', { class: 'matrix-body' }))));
	} else if (L && L.slices.length > 1) {
		const R = rel.regions;
		parts.push(h('h4', {}, v.t('stats_series')), h('div',
		    { class: 'scroll' }, h('table', { class: 'series' },
		    h('tbody', {}, R.map((r, i) => {
			const ys = L.slices.map((s, j) =>
			    rel.values[L.cell(i, j)]);
			return h('tr', { 'data-region': String(r.id) },
			    h('th', { scope: 'row' }, r.name || String(r.id)),
			    h('td', {}, spark(ys, ys.map((y, j) => L.slices[j] +
			    ': ' + tipText(v, r.name, y, interval(rel, y))))));
		    })))));
	}
	parts.push(dl);
	return h('article', { class: 'stats', id: 'stats-' + idx,
	    'data-release': String(idx), 'data-kind': q.spec.kind,
	    'data-check': 'verified' }, parts);
}

// Draw the map, matrix and downloads of one checked release.
function draw(v, root, rel, outlines) {
	const L = layout(rel), idx = rel.release_log_index;
	const csv = root.querySelector('a.dl-csv'),
	    gj = root.querySelector('a.dl-geojson');
	csv.href = dataUrl('text/csv', toCsv(rel));
	gj.href = dataUrl('application/geo+json', toGeojson(rel, outlines));
	if (!L)
		return;
	const div = root.querySelector('#map-' + idx);
	const Lf = globalThis.L;
	if (!Lf || !outlines) {
		div.textContent = v.t('stats_no_map');
		return;
	}
	const map = Lf.map(div, { attributionControl: false,
	    zoomSnap: 0.25 });
	const byId = new Map(rel.regions.map((r, i) => [r.id, i]));
	const layers = [];
	const shapes = Lf.geoJSON(outlines, { style: () => ({ weight: 1,
	    color: '#333', fillOpacity: 0.85, className: 'region' }),
	    onEachFeature: (f, layer) => {
		layers.push([byId.get(Number(f.properties.region_id)), layer]);
	} }).addTo(map);
	map.fitBounds(shapes.getBounds());
	const lines = Lf.layerGroup().addTo(map);
	const slider = root.querySelector('input[type=range]');
	const out = root.querySelector('output.slice');
	const paint = (s) => {
		if (out)
			out.textContent = L.slices[s];
		if (L.flow) {
			lines.clearLayers();
			const R = rel.regions, fl = [];
			R.forEach((o, i) => R.forEach((t, j) => {
				if (i !== j)
					fl.push([rel.values[L.flow(s, i, j)], i, j]);
			}));
			fl.sort((a, b) => b[0] - a[0]);
			const max = Math.max(1, fl.length ? fl[0][0] : 1);
			const cs = new Map(layers.map(([i, l]) =>
			    [i, l.getBounds().getCenter()]));
			for (const [x, i, j] of fl.slice(0, MAX_FLOWS)) {
				const iv = interval(rel, x);
				if (!cs.has(i) || !cs.has(j) || x <= 0)
					continue;
				Lf.polyline([cs.get(i), cs.get(j)], { weight: 1 +
				    6 * x / max, color: '#a4161a', opacity: 0.8,
				    dashArray: iv.zero ? '4 4' : null,
				    className: 'flow' }).bindTooltip(esc(tipText(v,
				    R[i].name + ' → ' + R[j].name, x, iv)))
				    .addTo(lines);
			}
			for (const [i, l] of layers)
				l.setStyle({ fillColor: '#f0f4fa' }).bindTooltip(
				    esc(rel.regions[i] ? rel.regions[i].name : ''));
			const body = root.querySelector('.matrix-body');
			body.innerHTML = R.map((o, i) => h('tr', {},
			    h('th', { scope: 'row' }, o.name || o.id),
			    R.map((t, j) => {
				const x = rel.values[L.flow(s, i, j)],
				    iv = interval(rel, x);
				return h('td', { class: iv.zero ? 'n zero' : 'n',
				    title: tipText(v, o.name + ' → ' + t.name, x,
				    iv) }, v.num(x, 0) + (iv.zero ? ' ⚠' : ''));
			    })).html).join('');
			return;
		}
		const vals = layers.map(([i]) => i === undefined ? 0 :
		    rel.values[L.cell(i, s)]);
		const max = Math.max(1, ...vals);
		for (const [i, l] of layers) {
			if (i === undefined)
				continue;
			const x = rel.values[L.cell(i, s)], iv = interval(rel, x);
			l.setStyle({ fillColor: colour(x, max),
			    dashArray: iv.zero ? '4 3' : null,
			    weight: iv.zero ? 2 : 1 });
			l.unbindTooltip();
			l.bindTooltip(esc(tipText(v, rel.regions[i].name, x, iv)),
			    { sticky: true });
			if (l.getElement())
				l.getElement().setAttribute('data-region',
				    String(rel.regions[i].id));
		}
	};
	paint(0);
	if (slider)
		slider.addEventListener('input', () =>
		    paint(Number(slider.value)));
}

// Render the section into element 'el' from the model 'm' (view.js).
export async function renderStats(v, m, el) {
	const pub = m.order.filter((r) => r.q.publish && r.releases.length);
	if (pub.length === 0) {
		el.innerHTML = h('p', {}, v.t('stats_none')).html;
		return;
	}
	const outlines = new Map();
	const parts = [];
	for (const rec of pub.slice().reverse()) {
		const e = rec.releases[0];
		let rel = null, why;
		try {
			rel = JSON.parse(await fetchText('', 'releases/' +
			    e.index + '.json'));
			why = await checkRelease(rel, e, rec.q);
		} catch (x) {
			why = x.args && x.args.why ? x.args.why : x.message;
		}
		if (why) {
			parts.push({ html: h('article', { class: 'stats failed',
			    id: 'stats-' + e.index, 'data-release':
			    String(e.index), 'data-check': 'failed' },
			    h('h3', {}, v.t('stats_q', { id: rec.q.query_id })),
			    h('p', { class: 'failed' }, v.t('stats_failed',
			    { path: 'releases/' + e.index + '.json', why })))
			    .html });
			continue;
		}
		const g = rel.geography && rel.geography.outlines;
		if (g && !outlines.has(g)) {
			try {
				outlines.set(g, JSON.parse(await fetchText('',
				    g)));
			} catch (x) {
				outlines.set(g, null);
			}
		}
		parts.push({ html: article(v, rec, e, rel).html, rel,
		    outlines: g ? outlines.get(g) : null });
	}
	el.innerHTML = parts.map((p) => p.html).join('\n');
	for (const p of parts)
		if (p.rel)
			draw(v, el.querySelector('#stats-' +
			    p.rel.release_log_index), p.rel, p.outlines);
}
