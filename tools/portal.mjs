#!/usr/bin/env node
// portal.mjs - install the portal (portal/) into a federation's public
// directory and write its pages for readers without JavaScript.
//
//   node tools/portal.mjs --federation FEDERATION.conf --public DIR
//       [--quorum K] [--delta D] [--portal SRC]
//
// 1. Reads federation.conf (docs/keys.md) and pins in DIR/index.html the
//    keys the page checks against: the log key "cairn/<federation>" (the
//    coordinator's identity key, C2SP note type 0x01) and every node's
//    identity key as a witness (type 0x04), every analyst's identity key
//    (for the signed queries logged before the log's first MEMBER entry),
//    with the quorum of witnesses (default: a majority of the nodes) and
//    the δ at which ε is shown (default 1e-6, as `cairn query result`).
// 2. Copies the portal's static files (SRC, default the portal/ folder
//    beside this tool, or ../portal in the source tree) into DIR, each written to a temporary name and
//    renamed, and Leaflet (leaflet.js, leaflet.css) from Debian's
//    libjs-leaflet ($CAIRN_LEAFLET_DIR, default /usr/share/javascript/
//    leaflet) into DIR/leaflet/ for the maps of published statistics.
// 3. When DIR holds a log (DIR/checkpoint and its tiles), checks it with
//    the page's own code (portal/tlog.js, and portal/entry.js for the
//    signatures inside the entries) against the same pins and writes
//    log.html (English) and log.fr.html from the verified entries with the
//    page's own rendering (portal/view.js).  A log that fails the check is
//    not rendered: the tool says what failed and exits 1.
// Exit status: 0 done, 1 the log failed its check, 2 bad arguments or
// files.  Run it again after every new checkpoint (docs/portal.md).
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, renameSync, mkdirSync, existsSync,
    readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const me = 'portal.mjs';
function die(code, msg) {
	process.stderr.write(me + ': error: ' + msg + '\n');
	process.exit(code);
}

function parseArgs(argv) {
	// The portal's files: beside this tool once installed
	// (PREFIX/share/cairn/portal), ../portal in the source tree.
	const here = dirname(fileURLToPath(import.meta.url));
	const o = { quorum: null, delta: 1e-6, portal: existsSync(join(here,
	    'portal', 'index.html')) ? join(here, 'portal') :
	    resolve(here, '..', 'portal') };
	const known = ['--federation', '--public', '--quorum', '--delta',
	    '--portal'];
	for (let i = 0; i < argv.length; i += 2) {
		if (!known.includes(argv[i]))
			die(2, 'unknown option \'' + argv[i] + '\' (options: ' +
			    known.join(' ') + ')');
		if (i + 1 >= argv.length)
			die(2, 'option \'' + argv[i] + '\' needs a value');
		o[argv[i].slice(2)] = argv[i + 1];
	}
	if (!o.federation || !o.public)
		die(2, 'usage: node tools/portal.mjs --federation FILE ' +
		    '--public DIR [--quorum K] [--delta D] [--portal SRC]');
	o.delta = Number(o.delta);
	if (!(o.delta > 0 && o.delta < 1))
		die(2, '--delta \'' + o.delta + '\' must be a number in (0, 1)');
	if (o.quorum !== null) {
		if (!/^[0-9]+$/.test(o.quorum))
			die(2, '--quorum \'' + o.quorum + '\' must be a whole ' +
			    'number');
		o.quorum = Number(o.quorum);
	}
	return o;
}

// federation.conf: "name = X" in [federation], "member = ROLE NAME KEY
// FPR" in [members].
function readFederation(path) {
	let text;
	try {
		text = readFileSync(path, 'utf8');
	} catch (e) {
		die(2, path + ': ' + e.message);
	}
	let name = null, section = '';
	const members = [];
	text.split('\n').forEach((raw, i) => {
		const line = raw.trim(), where = path + ':' + (i + 1);
		if (line === '' || line.startsWith('#') || line.startsWith(';'))
			return;
		let m;
		if ((m = /^\[(\w+)\]$/.exec(line))) {
			section = m[1];
			return;
		}
		if (!(m = /^(\w+)\s*=\s*(.*)$/.exec(line)))
			die(2, where + ': not a "key = value" line');
		if (section === 'federation' && m[1] === 'name')
			name = m[2];
		if (section === 'members' && m[1] === 'member') {
			const f = m[2].split(/\s+/);
			if (f.length !== 4)
				die(2, where + ': member needs ROLE NAME ' +
				    'IDENTITY-KEY CERT-SHA256');
			const key = Buffer.from(f[2], 'base64');
			if (key.length !== 32 || key.toString('base64') !== f[2])
				die(2, where + ': identity key of \'' + f[1] +
				    '\' is not 32 bytes of base64');
			members.push({ role: f[0], name: f[1], key: f[2] });
		}
	});
	if (!name)
		die(2, path + ': no "name" in [federation]');
	return { name, members };
}

// C2SP verifier key text: name+hex8(key ID)+base64(type || key).
function vkey(name, type, b64) {
	const pk = Buffer.from(b64, 'base64');
	const id = createHash('sha256').update(Buffer.concat([
	    Buffer.from(name + '\n'), Buffer.from([type]), pk])).digest();
	return name + '+' + id.subarray(0, 4).toString('hex') + '+' +
	    Buffer.concat([Buffer.from([type]), pk]).toString('base64');
}

function pinsOf(fed, o) {
	const coord = fed.members.filter((m) => m.role === 'coordinator');
	if (coord.length !== 1)
		die(2, o.federation + ': ' + coord.length + ' coordinator ' +
		    'members, 1 expected');
	const origin = 'cairn/' + fed.name;
	const nodes = fed.members.filter((m) => m.role === 'node')
	    .map((m) => ({ name: m.name, key: m.key,
	    vkey: vkey(m.name, 0x04, m.key) }));
	const quorum = o.quorum !== null ? o.quorum :
	    Math.floor(nodes.length / 2) + 1;
	if (quorum > nodes.length)
		die(2, '--quorum ' + quorum + ' is more than the ' +
		    nodes.length + ' nodes of ' + o.federation);
	// The analysts' keys check the QUERY entries logged before the log's
	// first MEMBER entry; after it, the MEMBER entries (signed by the log
	// key) say who the members are (docs/portal.md).
	const analysts = fed.members.filter((m) => m.role === 'analyst')
	    .map((m) => ({ name: m.name, key: m.key }));
	return { federation: fed.name, origin, log: { name: origin,
	    key: coord[0].key, vkey: vkey(origin, 0x01, coord[0].key) },
	    nodes, analysts, quorum, delta: o.delta };
}

function put(path, data) {
	mkdirSync(dirname(path), { recursive: true });
	writeFileSync(path + '.tmp', data);
	renameSync(path + '.tmp', path);
}

// The portal's files: *.html, *.js, *.css and i18n/*.json.
function install(src, dst, pins) {
	const files = [];
	for (const f of readdirSync(src))
		if (/\.(html|js|css)$/.test(f))
			files.push(f);
	for (const f of readdirSync(join(src, 'i18n')))
		if (f.endsWith('.json'))
			files.push(join('i18n', f));
	if (!files.includes('index.html'))
		die(2, src + ': no index.html: not the portal\'s folder');
	// Leaflet from Debian's libjs-leaflet, for the maps of published
	// statistics: served from the same directory, nothing from outside.
	const leaflet = process.env.CAIRN_LEAFLET_DIR ||
	    '/usr/share/javascript/leaflet';
	for (const f of ['leaflet.js', 'leaflet.css']) {
		if (!existsSync(join(leaflet, f)))
			die(2, join(leaflet, f) + ': Leaflet is missing ' +
			    '(apt-get install libjs-leaflet)');
		put(join(dst, 'leaflet', f), readFileSync(join(leaflet, f)));
	}
	for (const f of files) {
		let data = readFileSync(join(src, f));
		if (f === 'index.html') {
			const html = data.toString('utf8');
			const tag = '<script type="application/json" id="pins">';
			const at = html.indexOf(tag + '{}</script>');
			if (at < 0)
				die(2, join(src, f) + ': no pins placeholder');
			// "<" escaped so no key name can close the script.
			data = html.slice(0, at) + tag + JSON.stringify(pins)
			    .replace(/</g, '\\u003c') + html.slice(at +
			    tag.length + 2);
		}
		put(join(dst, f), data);
	}
	return files.length;
}

async function render(src, dst, pins) {
	const url = (f) => pathToFileURL(join(src, f)).href;
	const tlog = await import(url('tlog.js'));
	const { decodeEntries } = await import(url('entry.js'));
	const view = await import(url('view.js'));
	const get = async (p) => new Uint8Array(readFileSync(join(dst, p)));
	let cp, entries, m;
	try {
		cp = await tlog.verifyCheckpoint(readFileSync(join(dst,
		    'checkpoint'), 'utf8'), pins);
		const raw = await tlog.fetchVerifiedEntries(get, cp, () => {});
		entries = await decodeEntries(raw, pins);
		try {
			m = await view.model(entries, pins);
		} catch (e) {
			throw new tlog.VerifyError('err_entry',
			    { why: e.message });
		}
	} catch (e) {
		const en = JSON.parse(readFileSync(join(src, 'i18n', 'en.json')));
		const v = new view.View('en', en, pins);
		die(1, join(dst, 'checkpoint') + ': the log fails its check: ' +
		    (e instanceof tlog.VerifyError ? v.t(e.what, e.args) :
		    e.message) + '; log.html not written');
	}
	for (const lang of view.LANGS) {
		const cat = JSON.parse(readFileSync(join(src, 'i18n',
		    lang + '.json')));
		const v = new view.View(lang, cat, pins);
		const h = view.h;
		const args = { federation: pins.federation,
		    delta: v.delta(pins.delta) };
		const page = '<!DOCTYPE html>\n' + h('html', { lang },
		    h('head', {}, h('meta', { charset: 'utf-8' }),
		    h('meta', { name: 'viewport', content:
		    'width=device-width, initial-scale=1' }),
		    h('title', {}, v.t('title', args)),
		    h('link', { rel: 'stylesheet', href: 'style.css' })),
		    h('body', {}, h('header', {}, h('h1', {}, v.t('title', args)),
		    h('nav', {}, h('a', { href: '#log' }, v.t('nav_log')),
		    h('a', { href: '#budgets' }, v.t('nav_budgets')),
		    h('a', { href: '#epsilon' }, v.t('nav_epsilon')),
		    h('a', { href: lang === 'en' ? 'log.fr.html' : 'log.html',
		    hreflang: lang === 'en' ? 'fr' : 'en' },
		    v.t('lang_switch')))),
		    h('main', {}, h('p', {}, v.t('intro')),
		    h('p', { class: 'status verified', id: 'status' },
		    view.verifiedText(v, cp, 'static_status', { date:
		    new Date().toISOString().slice(0, 19) + 'Z' })),
		    h('section', { id: 'log' }, h('h2', {}, v.t('log_title')),
		    { html: view.renderQueries(v, m) }),
		    h('section', { id: 'budgets' }, h('h2', {},
		    v.t('budgets_title')), h('p', {}, v.t('budgets_intro')),
		    { html: view.renderBudgets(v, m) }),
		    h('section', { id: 'epsilon' }, h('h2', {}, v.t('eps_title')),
		    h('p', {}, v.t('eps_body', args))),
		    h('section', { id: 'entries' }, h('ol', { class: 'entries',
		    reversed: 'reversed' }, { html:
		    view.renderEntries(v, entries) }))))).html + '\n';
		put(join(dst, lang === 'en' ? 'log.html' :
		    'log.' + lang + '.html'), page);
	}
	return cp;
}

const o = parseArgs(process.argv.slice(2));
const pins = pinsOf(readFederation(o.federation), o);
if (!existsSync(o.public) || !statSync(o.public).isDirectory())
	die(2, '--public \'' + o.public + '\' is not a directory');
const n = install(o.portal, o.public, pins);
let said = me + ': ' + n + ' files of ' + o.portal + ' installed in ' +
    o.public + ', log key ' + pins.log.vkey + ', ' + pins.nodes.length +
    ' witnesses, quorum ' + pins.quorum;
if (existsSync(join(o.public, 'checkpoint'))) {
	const cp = await render(o.portal, o.public, pins);
	said += '; log of ' + cp.size + ' entries verified, log.html and ' +
	    'log.fr.html written';
} else
	said += '; no checkpoint yet: log.html not written';
process.stdout.write(said + '\n');
