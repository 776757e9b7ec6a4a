// view.js - what the portal says, as HTML text, from the verified entries:
// every question in words (newest first, each fact linked to its log
// index), the privacy budget of each holder and month (the figures of
// `cairn query budget` and `cairn audit verify`: each enrolled holder's
// latest POLICY and the highest cumulative spend of its CHARGE entries),
// and the list of entries.  No DOM and no fetch: the browser (app.js) and
// the text rendering for readers without JavaScript (tools/portal.mjs) call
// the same functions, so the two pages cannot say different things.  Every
// visible string comes from a message catalogue (i18n/<lang>.json).

import { sha256, hex } from './tlog.js';
import { pbRead, QUERY, SIGNED_QUERY, REFUSAL, POLICY } from './entry.js';
import { epsFromRho, rhoText } from './privacy.js';

export const LANGS = ['en', 'fr'];

// A language's catalogue and formatting: 'cat' is the parsed JSON.
export class View {
	constructor(lang, cat, pins) {
		this.lang = lang;
		this.cat = cat;
		this.pins = pins;
		this.sep = new Intl.NumberFormat(lang).formatToParts(1.5)
		    .find((p) => p.type === 'decimal').value;
	}

	t(key, args) {
		const s = this.cat[key] !== undefined ? this.cat[key] : key;
		return s.replace(/\{(\w+)\}/g, (m, k) =>
		    args && args[k] !== undefined ? String(args[k]) : m);
	}

	num(x, digits) {
		return new Intl.NumberFormat(this.lang,
		    { maximumFractionDigits: digits }).format(x);
	}

	// ρ as exact decimal text, with the reader's decimal separator.
	// δ as "1/1,000,000" (a whole 1/δ), else as a decimal.
	delta(d) {
		const inv = Math.round(1 / d);
		return Math.abs(inv * d - 1) < 1e-9 ? '1/' + this.num(inv, 0) :
		    this.num(d, 12);
	}

	rho(nano) {
		return rhoText(nano).replace('.', this.sep);
	}

	month(m) {
		const d = new Date(Date.UTC(Math.floor(m / 100), m % 100 - 1, 1));
		return new Intl.DateTimeFormat(this.lang, { year: 'numeric',
		    month: 'long', timeZone: 'UTC' }).format(d);
	}

	day(iso) {
		const d = new Date(iso + 'T00:00:00Z');
		return new Intl.DateTimeFormat(this.lang, { day: 'numeric',
		    month: 'long', year: 'numeric', timeZone: 'UTC' }).format(d);
	}

	// A window [start, end): its first and last day.
	range(r) {
		if (!r || !r.start)
			return '';
		const last = new Date(Date.parse(r.end + 'T00:00:00Z') -
		    86400000).toISOString().slice(0, 10);
		return this.t('range', { from: this.day(r.start),
		    to: this.day(last) });
	}
}

export function esc(s) {
	return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;',
	    '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

// An element as HTML text; string children are escaped, children made by
// h() (objects with .html) are not.
export function h(tag, attrs, ...kids) {
	let s = '<' + tag;
	for (const [k, v] of Object.entries(attrs || {}))
		s += ' ' + k + '="' + esc(v) + '"';
	s += '>';
	for (const k of kids.flat())
		if (k !== null && k !== undefined)
			s += typeof k === 'object' ? k.html : esc(k);
	if (!['br', 'meta', 'link'].includes(tag))
		s += '</' + tag + '>';
	return { html: s };
}

function entryLink(v, index) {
	return h('a', { href: '#entry-' + index, class: 'idx',
	    'data-index': String(index) }, v.t('entry_link', { index }));
}

function epsLink(v) {
	return h('a', { href: '#epsilon', class: 'epslink' },
	    v.t('what_eps_link'));
}

// The question in words, from its signed spec.
export function describe(v, spec) {
	const args = {
		geo: spec.geography,
		bucket: v.t('bucket_' + (spec.bucket || 'day')), k: spec.k,
		range: v.range(spec), min_nights: spec.min_nights || 1,
		baseline: v.range(spec.baseline),
		comparison: v.range(spec.comparison),
		categories: spec.categories.join(', '), kind: spec.kind
	};
	const key = 'what_' + spec.kind + (spec.kind === 'residents' &&
	    spec.min_nights > 1 ? '_min' : '');
	return v.cat[key] !== undefined ? v.t(key, args) :
	    v.t('what_unknown', args);
}

// Group the decoded entries: questions by the SHA-256 of their signed
// bytes, each with its charges, refusals, releases and failures; each
// enrolled holder's latest policy; each (holder, month)'s highest
// cumulative spend.
export async function model(entries, pins) {
	const queries = new Map(), order = [];
	const policies = new Map(), spends = new Map();
	const enrolled = new Set(pins.nodes.map((n) => n.name));
	for (const e of entries) {
		if (e.type === 'QUERY') {
			const sq = pbRead(e.body, SIGNED_QUERY);
			const q = pbRead(sq.query, QUERY);
			const rec = { e, q, charges: [], refusals: [],
			    releases: [], failures: [] };
			queries.set(hex(await sha256(sq.query)), rec);
			order.push(rec);
			continue;
		}
		if (e.type === 'POLICY') {
			if (!enrolled.has(e.node_id))
				continue;
			const p = pbRead(e.body, POLICY);
			policies.set(e.node_id, { index: e.index,
			    budget: p.budget_rho_per_month_nano,
			    months: p.data_months });
			continue;
		}
		if (e.type === 'CHARGE')
			for (const c of e.charges) {
				const k = e.node_id + '|' + c.month;
				if (!spends.has(k) || spends.get(k) < c.cumulative)
					spends.set(k, c.cumulative);
			}
		const rec = e.query_hash && queries.get(hex(e.query_hash));
		if (!rec)
			continue;
		if (e.type === 'CHARGE')
			rec.charges.push(e);
		else if (e.type === 'REFUSAL') {
			e.refusal = pbRead(e.body, REFUSAL);
			rec.refusals.push(e);
		} else if (e.type === 'RELEASE')
			rec.releases.push(e);
		else if (e.type === 'FAILURE')
			rec.failures.push(e);
	}
	return { order, policies, spends };
}

function fact(label, ...value) {
	return h('div', { class: 'fact' }, h('dt', {}, label),
	    h('dd', {}, ...value));
}

function renderQuery(v, rec) {
	const q = rec.q, id = q.query_id;
	const logged = new Intl.DateTimeFormat(v.lang, { dateStyle: 'long',
	    timeStyle: 'short', timeZone: 'UTC' }).format(
	    new Date(rec.e.time * 1000)) + ' UTC';
	const holders = q.participants.map((node) => {
		const ref = rec.refusals.find((r) => r.node_id === node);
		const ch = rec.charges.find((c) => c.node_id === node);
		if (ref)
			return h('li', { class: 'refused', 'data-node': node },
			    v.t('holder_refused', { node, reason:
			    ref.refusal.reason || ref.reason, code: v.t(
			    v.cat['reason_' + ref.refusal.reason_code] ?
			    'reason_' + ref.refusal.reason_code :
			    'reason_other') }), ' (',
			    entryLink(v, ref.index), ')');
		if (ch)
			return h('li', { class: 'charged', 'data-node': node },
			    v.t('holder_charged', { node }), ' (',
			    entryLink(v, ch.index), ')');
		return h('li', { class: 'silent', 'data-node': node },
		    v.t('holder_silent', { node }));
	});
	const costs = [];
	for (const ch of rec.charges)
		for (const c of ch.charges)
			costs.push(h('li', { class: 'cost', 'data-node':
			    ch.node_id, 'data-month': String(c.month),
			    'data-rho-nano': String(c.nano) },
			    v.t('cost_line', { node: ch.node_id,
			    month: v.month(c.month), rho: v.rho(c.nano),
			    eps: v.num(epsFromRho(Number(c.nano) / 1e9,
			    v.pins.delta), 2), delta: v.delta(v.pins.delta) }),
			    ' (', entryLink(v, ch.index), ') ', epsLink(v)));
	if (costs.length === 0)
		costs.push(h('li', {}, v.t('cost_none')));
	const out = [];
	for (const f of rec.failures)
		out.push(h('li', { class: 'failed' }, v.t('outcome_failed',
		    { reason: f.reason }), ' (', entryLink(v, f.index), ')'));
	for (const r of rec.releases)
		out.push(h('li', { class: 'released' },
		    v.t('outcome_released', { n: r.participants.length,
		    variance: v.num(r.variance, 3) }), ' (',
		    entryLink(v, r.index), ')'));
	if (out.length === 0)
		out.push(h('li', { class: 'pending' }, v.t('outcome_pending')));
	return h('article', { class: 'query', id: 'query-' + rec.e.index,
	    'data-query': id, 'data-outcome': rec.releases.length ?
	    'released' : rec.failures.length ? 'failed' : 'pending' },
	    h('h3', {}, v.t('q_title', { id })),
	    h('p', { class: 'when' }, v.t('q_logged', { date: logged }), ' · ',
	    entryLink(v, rec.e.index)),
	    h('dl', {},
	    fact(v.t('q_asked_by'), h('span', { class: 'analyst' },
	    q.analyst ? q.analyst.name : '')),
	    fact(v.t('q_purpose'), h('span', { class: 'purpose' }, q.purpose)),
	    fact(v.t('q_what'), h('span', { class: 'what' },
	    describe(v, q.spec))),
	    // index.html: log.html (no scripts) has no statistics to show.
	    fact(v.t('q_publish'), h('span', { class: 'publish',
	    'data-publish': q.publish ? 'yes' : 'no' }, q.publish &&
	    rec.releases.length ? h('a', { href: 'index.html#stats-' +
	    rec.releases[0].index }, v.t('q_publish_yes')) :
	    v.t(q.publish ? 'q_publish_yes' : 'q_publish_no'))),
	    fact(v.t('q_holders'), h('ul', { class: 'holders' }, holders)),
	    fact(v.t('q_cost'), h('ul', { class: 'costs' }, costs)),
	    fact(v.t('q_outcome'), h('ul', { class: 'outcome' }, out))));
}

// Every question, newest first.
export function renderQueries(v, m) {
	if (m.order.length === 0)
		return h('p', {}, v.t('log_empty')).html;
	return m.order.slice().reverse().map((r) => renderQuery(v, r).html)
	    .join('\n');
}

// One row per holder and month: the months it declares and the months it
// was charged for, as `cairn query budget` lists them.
export function renderBudgets(v, m) {
	if (m.policies.size === 0)
		return h('p', {}, v.t('budgets_none')).html;
	const rows = [];
	for (const [holder, p] of m.policies) {
		const months = new Set(p.months);
		for (const k of m.spends.keys())
			if (k.startsWith(holder + '|'))
				months.add(Number(k.slice(holder.length + 1)));
		const list = [...months].sort((a, b) => a - b);
		if (list.length === 0)
			list.push(0);
		for (const mo of list) {
			const spent = m.spends.get(holder + '|' + mo) || 0n;
			const left = spent < p.budget ? p.budget - spent : 0n;
			const pct = p.budget > 0n ? Number(spent * 10000n /
			    p.budget) / 100 : 100;
			const bar = h('div', { class: 'bar', role: 'img',
			    'aria-label': v.t('budgets_bar', { spent:
			    v.rho(spent), budget: v.rho(p.budget), pct:
			    v.num(pct, 1) + ' %' }) }, h('div', { class: 'fill',
			    style: 'width:' + Math.min(100, pct) + '%' }));
			rows.push(h('tr', { class: 'budget', 'data-holder': holder,
			    'data-month': mo ? String(mo) : '*',
			    'data-budget-nano': String(p.budget),
			    'data-spent-nano': String(spent),
			    'data-left-nano': String(left) },
			    h('th', { scope: 'row' }, holder, h('br', {}),
			    h('small', {}, h('a', { href: '#entry-' + p.index },
			    v.t('budgets_policy', { index: p.index })))),
			    h('td', {}, mo ? v.month(mo) : v.t('month_any')),
			    h('td', { class: 'n' }, v.rho(p.budget)),
			    h('td', { class: 'n' }, v.rho(spent)),
			    h('td', { class: 'n' }, v.rho(left)),
			    h('td', { class: 'barcol' }, bar)));
		}
	}
	return h('table', { class: 'budgets' }, h('thead', {}, h('tr', {},
	    h('th', { scope: 'col' }, v.t('budgets_holder')),
	    h('th', { scope: 'col' }, v.t('budgets_month')),
	    h('th', { scope: 'col' }, v.t('budgets_budget')),
	    h('th', { scope: 'col' }, v.t('budgets_spent')),
	    h('th', { scope: 'col' }, v.t('budgets_left')),
	    h('th', { scope: 'col', class: 'barcol' }, ''))),
	    h('tbody', {}, rows)).html;
}

// Every entry, newest first: the targets of the links.
export function renderEntries(v, entries) {
	return entries.slice().reverse().map((e) => h('li', { id: 'entry-' +
	    e.index, value: String(e.index) }, h('code', {}, e.type), ' ',
	    new Date(e.time * 1000).toISOString().replace('.000', ''),
	    e.node_id ? ' ' + e.node_id : '').html).join('\n');
}

// The sentence that says what was verified, in the message 'key'
// (status_ok: in the browser; static_status: by tools/portal.mjs).
export function verifiedText(v, cp, key, args) {
	const facts = v.t('verified_facts', { size: String(cp.size),
	    log: v.pins.log.name, k: cp.witnesses.length,
	    n: v.pins.nodes.length,
	    names: cp.witnesses.map((w) => w.name).join(', ') });
	return v.t(key, Object.assign({ facts }, args));
}
