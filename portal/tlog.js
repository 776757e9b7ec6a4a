// tlog.js - the checks the portal makes in the reader's browser, written
// from the public specifications alone (C2SP signed-note, tlog-checkpoint,
// tlog-cosignature, tlog-tiles; RFC 6962 hashing), not from cairn's C:
// parse and verify the signed checkpoint with WebCrypto's Ed25519 and
// SHA-256 against the keys pinned in the page, fetch every tile and entry
// bundle the checkpoint implies, and recompute the tree from the entries'
// bytes.  Every failure is thrown as a VerifyError that names what failed
// (the file and the position), so the page can say it.

const enc = new TextEncoder();

// A check that did not pass: 'what' is a catalogue key, 'args' fills it.
export class VerifyError extends Error {
	constructor(what, args) {
		super(what + ' ' + JSON.stringify(args || {}));
		this.what = what;
		this.args = args || {};
	}
}

export function b64decode(s) {
	const bin = atob(s);
	const out = new Uint8Array(bin.length);
	for (let i = 0; i < bin.length; i++)
		out[i] = bin.charCodeAt(i);
	return out;
}

export function b64encode(u8) {
	let s = '';
	for (const b of u8)
		s += String.fromCharCode(b);
	return btoa(s);
}

export function hex(u8) {
	return Array.from(u8, (b) => b.toString(16).padStart(2, '0')).join('');
}

function concat(...parts) {
	let n = 0;
	for (const p of parts)
		n += p.length;
	const out = new Uint8Array(n);
	let o = 0;
	for (const p of parts) {
		out.set(p, o);
		o += p.length;
	}
	return out;
}

// Whether byte arrays 'a' and 'b' are equal.
export function equal(a, b) {
	if (a.length !== b.length)
		return false;
	for (let i = 0; i < a.length; i++)
		if (a[i] !== b[i])
			return false;
	return true;
}

export async function sha256(u8) {
	return new Uint8Array(await crypto.subtle.digest('SHA-256', u8));
}

const leafPrefix = new Uint8Array([0]);
const nodePrefix = new Uint8Array([1]);

export function leafHash(entry) {
	return sha256(concat(leafPrefix, entry));
}

function nodeHash(l, r) {
	return sha256(concat(nodePrefix, l, r));
}

// The 4-byte key ID of a note key: SHA-256(name || LF || type || key)[:4].
async function keyId(name, type, pk) {
	const h = await sha256(concat(enc.encode(name + '\n'),
	    new Uint8Array([type]), pk));
	return h.subarray(0, 4);
}

// Parse a signed note (C2SP signed-note): its text and signature lines.
export function parseNote(raw) {
	const bytes = enc.encode(raw);
	if (bytes.length > 65536)
		throw new VerifyError('err_note_format', { why: 'over 64 KiB' });
	const cut = raw.indexOf('\n\n');
	if (cut < 0)
		throw new VerifyError('err_note_format',
		    { why: 'no blank line before the signatures' });
	const text = raw.slice(0, cut + 1);
	const sigs = [];
	const lines = raw.slice(cut + 2).split('\n');
	if (lines.pop() !== '')
		throw new VerifyError('err_note_format',
		    { why: 'the last signature line does not end in a newline' });
	for (const line of lines) {
		const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
		if (!m)
			throw new VerifyError('err_note_format',
			    { why: 'bad signature line: ' + line.slice(0, 80) });
		sigs.push({ name: m[1], bytes: b64decode(m[2]) });
	}
	const tl = text.split('\n');
	if (tl.length < 4 || !/^(0|[1-9][0-9]{0,19})$/.test(tl[1]) ||
	    !/^[A-Za-z0-9+/]{43}=$/.test(tl[2]))
		throw new VerifyError('err_note_format',
		    { why: 'not a checkpoint (origin, size, root)' });
	return {
		text, sigs, origin: tl[0], size: BigInt(tl[1]),
		root: b64decode(tl[2])
	};
}

// Whether 'sig' is pk's Ed25519 signature of 'msg'.  A key WebCrypto
// refuses to import (not 32 bytes, not a curve point) verifies nothing.
export async function edVerify(pk, sig, msg) {
	let key;
	try {
		key = await crypto.subtle.importKey('raw', pk,
		    { name: 'Ed25519' }, false, ['verify']);
	} catch (e) {
		return false;
	}
	return crypto.subtle.verify({ name: 'Ed25519' }, key, sig, msg);
}

// Verify the checkpoint note against the pins: the log's Ed25519 signature
// (type 0x01) must be there and verify; each pinned witness that cosigned
// (type 0x04, C2SP tlog-cosignature) must verify; at least pins.quorum
// witnesses must have.  Unknown keys are ignored.  Returns the parsed
// checkpoint with 'witnesses' (the names that cosigned, with their times).
export async function verifyCheckpoint(raw, pins) {
	const cp = parseNote(raw);
	if (cp.origin !== pins.origin)
		throw new VerifyError('err_origin',
		    { got: cp.origin, want: pins.origin });
	const logPk = b64decode(pins.log.key);
	const logId = await keyId(pins.log.name, 0x01, logPk);
	let logOk = false;
	const witnesses = [];
	const body = enc.encode(cp.text);
	for (const s of cp.sigs) {
		if (s.name === pins.log.name && s.bytes.length === 68 &&
		    equal(s.bytes.subarray(0, 4), logId)) {
			if (!await edVerify(logPk, s.bytes.subarray(4), body))
				throw new VerifyError('err_log_sig',
				    { name: s.name });
			logOk = true;
			continue;
		}
		const w = pins.nodes.find((x) => x.name === s.name);
		if (!w || s.bytes.length !== 76)
			continue;
		const pk = b64decode(w.key);
		if (!equal(s.bytes.subarray(0, 4), await keyId(w.name, 0x04, pk)))
			continue;
		const view = new DataView(s.bytes.buffer, s.bytes.byteOffset);
		const ts = view.getBigUint64(4);
		const msg = concat(enc.encode('cosignature/v1\ntime ' + ts +
		    '\n'), body);
		if (!await edVerify(pk, s.bytes.subarray(12), msg))
			throw new VerifyError('err_cosig', { name: s.name });
		if (!witnesses.some((x) => x.name === s.name))
			witnesses.push({ name: s.name, time: Number(ts) });
	}
	if (!logOk)
		throw new VerifyError('err_no_log_sig', { name: pins.log.name });
	if (witnesses.length < pins.quorum)
		throw new VerifyError('err_quorum',
		    { got: witnesses.length, want: pins.quorum });
	cp.witnesses = witnesses;
	return cp;
}

// The path of tile 'n' (C2SP tlog-tiles): 3-digit groups, "x" before all
// but the last; 'level' is a number or "entries"; a partial tile ends in
// ".p/<w>".
export function tilePath(level, n, w) {
	let s = String(n % 1000).padStart(3, '0');
	for (n = Math.floor(n / 1000); n > 0; n = Math.floor(n / 1000))
		s = 'x' + String(n % 1000).padStart(3, '0') + '/' + s;
	return 'tile/' + level + '/' + s + (w < 256 ? '.p/' + w : '');
}

// A reader of the log's files over HTTP, relative to 'base' (a URL ending
// in "/", or "" for the page's own directory): path -> Promise<Uint8Array>.
export function httpGet(base) {
	return (path) => fetchBytes(base, path);
}

async function fetchBytes(base, path) {
	let resp;
	try {
		resp = await fetch(base + path, { cache: 'no-store' });
	} catch (e) {
		throw new VerifyError('err_fetch', { path, why: String(e) });
	}
	if (!resp.ok)
		throw new VerifyError('err_fetch',
		    { path, why: 'HTTP ' + resp.status });
	return new Uint8Array(await resp.arrayBuffer());
}

export async function fetchText(base, path) {
	return new TextDecoder().decode(await fetchBytes(base, path));
}

// Read 'path' with 'get', turning any failure into a named VerifyError.
async function getBytes(get, path) {
	try {
		return await get(path);
	} catch (e) {
		if (e instanceof VerifyError)
			throw e;
		throw new VerifyError('err_fetch', { path, why: e.message });
	}
}

// Tile 'n' of 'level' ("entries" for a bundle) at width 'w': [path read,
// bytes].  A partial tile the log no longer has (C2SP tlog-tiles lets it
// delete one once the full tile exists, and cairn's does) is the first w
// hashes, or entries, of the full tile; the checks below hold it to the
// root all the same.
async function getTile(get, level, n, w) {
	const path = tilePath(level, n, w);
	try {
		return [path, await getBytes(get, path)];
	} catch (e) {
		// a 404 over HTTP, ENOENT from a file reader
		if (w === 256 || !(e.args.why === 'HTTP 404' ||
		    /ENOENT/.test(e.args.why)))
			throw e;
	}
	const full = tilePath(level, n, 256);
	const u8 = await getBytes(get, full);
	if (level !== 'entries')
		return [full, u8.subarray(0, 32 * w)];
	let o = 0;
	for (let i = 0; i < w && o + 2 <= u8.length; i++)
		o += 2 + ((u8[o] << 8) | u8[o + 1]);
	return [full, u8.subarray(0, Math.min(o, u8.length))];
}

// Split an entry bundle into its entries (big-endian uint16 lengths).
function splitBundle(u8, want, path) {
	const out = [];
	let o = 0;
	while (o < u8.length) {
		if (o + 2 > u8.length)
			throw new VerifyError('err_bundle', { path, at: o });
		const n = (u8[o] << 8) | u8[o + 1];
		if (o + 2 + n > u8.length)
			throw new VerifyError('err_bundle', { path, at: o });
		out.push(u8.subarray(o + 2, o + 2 + n));
		o += 2 + n;
	}
	if (out.length !== want)
		throw new VerifyError('err_bundle_count',
		    { path, got: out.length, want });
	return out;
}

// RFC 6962 root of hashes h[0..n) (n > 0).
async function mth(h, lo, hi) {
	if (hi - lo === 1)
		return h[lo];
	let k = 1;
	while (k * 2 < hi - lo)
		k *= 2;
	return nodeHash(await mth(h, lo, lo + k), await mth(h, lo + k, hi));
}

// Fetch every entry bundle and every tile the checkpoint 'cp' implies and
// check them all: each entry's leaf hash is the level-0 tile's hash at its
// index, each hash of a tile of level l >= 1 is the root of the 256^l
// leaves it covers, and the tree of all the leaves has the checkpoint's
// root, so every entry returned is included in the signed tree.  'progress'
// is called with the number of files checked; 'get' reads a file of the
// log (httpGet, or a file reader).  Returns the entries' bytes.
export async function fetchVerifiedEntries(get, cp, progress) {
	// The whole log is fetched and hashed on every visit (docs/portal.md).
	if (cp.size > 1n << 24n)
		throw new VerifyError('err_too_big', { size: String(cp.size) });
	const size = Number(cp.size);
	const entries = [];
	let files = 0;
	for (let n = 0; n * 256 < size; n++) {
		const w = Math.min(256, size - n * 256);
		const [path, bundle] = await getTile(get, 'entries', n, w);
		for (const e of splitBundle(bundle, w, path))
			entries.push(e);
		progress(++files);
	}
	// level[k][j]: root of the full subtree of 2^k leaves number j.
	const level = [await Promise.all(entries.map(leafHash))];
	for (let k = 1; Math.pow(2, k) <= size; k++) {
		const below = level[k - 1], here = [];
		for (let j = 0; 2 * j + 1 < below.length; j++)
			here.push(await nodeHash(below[2 * j], below[2 * j + 1]));
		level.push(here);
	}
	for (let l = 0; Math.pow(256, l) <= size; l++) {
		const hashes = level[8 * l];
		for (let n = 0; n * 256 < hashes.length; n++) {
			const w = Math.min(256, hashes.length - n * 256);
			const [path, tile] = await getTile(get, l, n, w);
			if (tile.length !== 32 * w)
				throw new VerifyError('err_tile_size', { path,
				    got: tile.length, want: 32 * w });
			for (let i = 0; i < w; i++)
				if (!equal(tile.subarray(32 * i, 32 * i + 32),
				    hashes[n * 256 + i]))
					throw new VerifyError(l === 0 ?
					    'err_tile_leaf' : 'err_tile_node',
					    { path, i,
					    index: (n * 256 + i) * Math.pow(256, l) });
			progress(++files);
		}
	}
	const root = size === 0 ? await sha256(new Uint8Array(0)) :
	    await mth(level[0], 0, size);
	if (!equal(root, cp.root))
		throw new VerifyError('err_root', {});
	return entries;
}
