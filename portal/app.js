// app.js - the portal in the browser: load the reader's message catalogue
// (?lang=, else the browser's language), check the log against the keys
// pinned in the page (tlog.js), decode the entries and check the
// signatures inside them (entry.js) and fill the page from the verified
// bytes only (view.js).  A failed check is shown,
// naming what failed, and nothing of the log is shown then.  Nothing is
// fetched from anywhere but the page's own directory.

import { VerifyError, fetchText, verifyCheckpoint, fetchVerifiedEntries,
    httpGet } from './tlog.js';
import { decodeEntries } from './entry.js';
import { View, LANGS, model, renderQueries, renderBudgets, renderEntries,
    verifiedText, h } from './view.js';
import { renderStats } from './stats.js';

function setStatus(state, text) {
	const s = document.getElementById('status');
	s.className = 'status ' + state;
	s.textContent = text;
	document.body.setAttribute('data-verified', state);
}

function applyStatic(v) {
	const pins = v.pins;
	document.documentElement.lang = v.lang;
	for (const n of document.querySelectorAll('[data-i18n]'))
		n.textContent = v.t(n.getAttribute('data-i18n'),
		    { federation: pins.federation || '',
		    delta: v.delta(pins.delta || 1e-6) });
	document.title = v.t('title', { federation: pins.federation || '' });
	const sw = document.getElementById('lang-switch');
	const other = v.lang === 'fr' ? 'en' : 'fr';
	sw.setAttribute('href', '?lang=' + other);
	sw.setAttribute('hreflang', other);
	sw.setAttribute('lang', other);
	sw.textContent = v.t('lang_switch');
	const keys = [];
	if (pins.log)
		keys.push(h('li', {}, h('code', {}, pins.log.vkey)));
	for (const n of pins.nodes || [])
		keys.push(h('li', {}, h('code', {}, n.vkey)));
	// As federation.conf lists them: "analyst NAME KEY".
	for (const a of pins.analysts || [])
		keys.push(h('li', {}, h('code', {}, 'analyst ' + a.name + ' ' +
		    a.key)));
	document.getElementById('pins-body').innerHTML =
	    keys.map((k) => k.html).join('');
}

async function main() {
	const want = new URLSearchParams(location.search).get('lang') ||
	    (navigator.language || 'en').slice(0, 2);
	const lang = LANGS.includes(want) ? want : 'en';
	const cat = JSON.parse(await fetchText('', 'i18n/' + lang + '.json'));
	let pins;
	try {
		pins = JSON.parse(document.getElementById('pins').textContent);
	} catch (e) {
		pins = {};
	}
	const v = new View(lang, cat, pins);
	applyStatic(v);
	if (!pins.log || !pins.nodes) {
		setStatus('failed', v.t('status_failed',
		    { what: v.t('err_pins') }));
		return;
	}
	setStatus('checking', v.t('status_checking'));
	let cp, entries, m;
	try {
		cp = await verifyCheckpoint(await fetchText('', 'checkpoint'),
		    pins);
		const raw = await fetchVerifiedEntries(httpGet(''), cp, (n) =>
		    setStatus('checking', v.t('status_progress', { n })));
		entries = await decodeEntries(raw, pins);
		try {
			m = await model(entries, pins);
		} catch (e) {
			throw new VerifyError('err_entry', { why: e.message });
		}
	} catch (e) {
		setStatus('failed', v.t('status_failed', { what:
		    e instanceof VerifyError ? v.t(e.what, e.args) :
		    String(e) }));
		return;
	}
	document.getElementById('log-body').innerHTML = renderQueries(v, m);
	document.getElementById('budgets-body').innerHTML =
	    renderBudgets(v, m);
	document.getElementById('entries-body').innerHTML =
	    renderEntries(v, entries);
	// The published values, each checked against its RELEASE entry
	// before it is drawn; the log is verified whatever they say.
	await renderStats(v, m, document.getElementById('stats-body'));
	setStatus('verified', verifiedText(v, cp, 'status_ok'));
	if (location.hash) {
		const target = document.getElementById(location.hash.slice(1));
		if (target)
			target.scrollIntoView();
	}
}

main().catch((e) => setStatus('failed', String(e)));
