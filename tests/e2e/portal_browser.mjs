// portal_browser.mjs - drive Debian's headless Chromium with puppeteer-core
// (installed by tests/e2e/lib/npm_deps.sh) over the portal for
// tests/e2e/portal.sh: open URL, wait until the page has finished its
// check (or for the text of a page without scripts), save a screenshot (the
// whole page, and its first screen as NAME-top.png) and
// print what the page shows as one JSON object on stdout (status, every
// question with its costs, holders and outcome, every budget row, the
// links to the ε explanation, the keyboard focus order, console errors).
//
//   NPM_DIR=build/npm node portal_browser.mjs URL SHOT.png [nojs] [phone]
//       [stats]   (stats: a screenshot of each drawn release too)
import { createRequire } from 'node:module';

const require = createRequire(process.env.NPM_DIR + '/package.json');
const puppeteer = require('puppeteer-core');
const [url, shot, ...flags] = process.argv.slice(2);

const browser = await puppeteer.launch({
	executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
	headless: true,
	args: ['--no-sandbox', '--disable-gpu', '--no-first-run',
	    '--disable-extensions', '--disable-background-networking'],
});
const out = { errors: [], requests: [] };
try {
	const page = await browser.newPage();
	page.on('console', (m) => {
		if (m.type() === 'error')
			out.errors.push(m.text());
	});
	page.on('pageerror', (e) => out.errors.push(String(e)));
	page.on('request', (r) => out.requests.push(r.url()));
	if (flags.includes('nojs'))
		await page.setJavaScriptEnabled(false);
	await page.setViewport(flags.includes('phone') ?
	    { width: 390, height: 844, isMobile: true, hasTouch: true } :
	    { width: 1100, height: 900 });
	await page.goto(url, { waitUntil: 'load', timeout: 30000 });
	if (!flags.includes('nojs'))
		await page.waitForFunction(() => ['verified', 'failed']
		    .includes(document.body.getAttribute('data-verified')),
		    { timeout: 60000 });
	Object.assign(out, await page.evaluate(() => {
		const all = (sel, root) => [...(root || document)
		    .querySelectorAll(sel)];
		return {
			lang: document.documentElement.lang,
			title: document.title,
			verified: document.body.getAttribute('data-verified'),
			status: (document.getElementById('status') || {})
			    .textContent || '',
			text: document.body.innerText,
			queries: all('article.query').map((q) => ({
				id: q.getAttribute('data-query'),
				outcome: q.getAttribute('data-outcome'),
				analyst: q.querySelector('.analyst').textContent,
				purpose: q.querySelector('.purpose').textContent,
				what: q.querySelector('.what').textContent,
				holders: all('.holders li', q).map((l) =>
				    [l.getAttribute('data-node'), l.className]),
				costs: all('li.cost', q).map((l) => ({
					node: l.getAttribute('data-node'),
					month: l.getAttribute('data-month'),
					nano: l.getAttribute('data-rho-nano'),
					index: l.querySelector('a.idx')
					    .getAttribute('data-index'),
					text: l.textContent,
					eps: l.querySelector('a.epslink')
					    .getAttribute('href') })),
				index: q.querySelector('.when a.idx')
				    .getAttribute('data-index'),
			})),
			budgets: all('tr.budget').map((r) => ({
				holder: r.getAttribute('data-holder'),
				month: r.getAttribute('data-month'),
				budget: r.getAttribute('data-budget-nano'),
				spent: r.getAttribute('data-spent-nano'),
				left: r.getAttribute('data-left-nano'),
				bar: !!r.querySelector('.bar .fill') })),
			entries: all('#entries-body li, #entries li').length,
			broken_links: all('a[href^="#"]').map((a) =>
			    a.getAttribute('href').slice(1)).filter((id) =>
			    id && !document.getElementById(id)).length,
			wide: document.documentElement.scrollWidth >
			    window.innerWidth + 1,
		};
	}));
	// The published statistics: each release's check, its map's shapes
	// and flow lines, its downloads; then a region's tooltip, hovered.
	out.stats = await page.evaluate(() => [...document.querySelectorAll(
	    'article.stats')].map((a) => {
		const dl = (c) => {
			const l = a.querySelector('a.' + c);
			const href = l ? l.getAttribute('href') : '';
			return href.startsWith('data:') ? decodeURIComponent(
			    href.slice(href.indexOf(',') + 1)) : null;
		};
		return { release: a.getAttribute('data-release'),
		    kind: a.getAttribute('data-kind'),
		    check: a.getAttribute('data-check'),
		    text: a.innerText,
		    regions: a.querySelectorAll('path.region').length,
		    flows: a.querySelectorAll('path.flow').length,
		    slider: !!a.querySelector('input[type=range]'),
		    series: a.querySelectorAll('table.series tr').length,
		    matrix: a.querySelectorAll('.matrix-body tr').length,
		    csv: dl('dl-csv'), geojson: dl('dl-geojson') };
	}));
	for (const st of out.stats) {
		if (st.check !== 'verified' || st.regions === 0 ||
		    st.flows > 0 || st.tooltip)
			continue;
		const sel = '#stats-' + st.release + ' path.region';
		await page.$eval(sel, (p) => p.scrollIntoView());
		await page.hover(sel);
		await page.waitForSelector('.leaflet-tooltip',
		    { timeout: 5000 }).catch(() => {});
		st.tooltip = await page.evaluate(() => {
			const t = document.querySelector('.leaflet-tooltip');
			return t ? t.textContent : null;
		});
		st.tooltip_region = await page.$eval(sel, (p) =>
		    p.getAttribute('data-region'));
		await page.mouse.move(0, 0);
		break;
	}
	// Each drawn release on its own, for docs/portal.md (NAME-stats-KIND).
	if (flags.includes('stats'))
		for (const st of out.stats) {
			const el = st.check === 'verified' &&
			    await page.$('#stats-' + st.release);
			if (el)
				await el.screenshot({ path: shot.replace(/\.png$/,
				    '-stats-' + st.kind + '.png') });
		}
	await page.evaluate(() => window.scrollTo(0, 0));
		await page.screenshot({ path: shot, fullPage: !flags.includes('top') });
	await page.screenshot({ path: shot.replace(/\.png$/, '-top.png') });
	// The keyboard: the first Tab stops, as the reader would meet them.
	out.focus = [];
	if (!flags.includes('nojs'))
		for (let i = 0; i < 4; i++) {
			await page.keyboard.press('Tab');
			out.focus.push(await page.evaluate(() =>
			    document.activeElement.getAttribute('href') ||
			    document.activeElement.tagName));
		}
} finally {
	await browser.close();
}
process.stdout.write(JSON.stringify(out) + '\n');
