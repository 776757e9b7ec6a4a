// entry.js - decode cairn's log entries (docs/tlog.md, "Entries") and the
// few protobuf messages they carry (protocol/cairn.proto: SignedQuery,
// Query, QuerySpec, Charge, Refusal, Policy, MemberChange), from the exact
// leaf bytes the page has verified, so that what the page says is what the
// signed log says.  Decoding is strict about the framing and throws on a
// truncated field or trailing bytes; unknown protobuf fields are skipped,
// as protobuf readers do.  Then every signature an entry carries is
// checked (verifySignatures), each with its signer's key at that point of
// the log, as docs/federation.md and docs/tlog.md state them: a signature
// is Ed25519 over "cairn/v1/<purpose>\n" followed by the exact signed
// bytes; MEMBER entries, signed by the log key, say who the members are.

import { VerifyError, b64decode, edVerify, equal } from './tlog.js';

export const TYPES = [null, 'QUERY', 'CHARGE', 'REFUSAL', 'RELEASE',
    'FAILURE', 'MEMBER', 'POLICY'];

const LAYOUT = {
	QUERY: ['body'],
	CHARGE: ['node_id', 'query_hash', 'charges', 'body', 'signature'],
	REFUSAL: ['node_id', 'query_hash', 'reason', 'body', 'signature'],
	RELEASE: ['query_hash', 'participants', 'result_hash', 'variance'],
	// Version 2 of RELEASE: the SHA-256 of the values (docs/tlog.md),
	// which the statistics view checks published values against.
	RELEASE2: ['query_hash', 'participants', 'result_hash',
	    'result_sha256', 'variance'],
	FAILURE: ['query_hash', 'reason'],
	MEMBER: ['body', 'signature'],
	POLICY: ['node_id', 'body', 'signature'],
};

const dec = new TextDecoder('utf-8', { fatal: false });

class Cursor {
	constructor(u8, index) {
		this.u8 = u8;
		this.o = 0;
		this.index = index;
		this.dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
	}
	need(n, field) {
		if (this.o + n > this.u8.length)
			throw new Error('entry ' + this.index + ': ' + field +
			    ' truncated at byte ' + this.o);
	}
	u8at(field) { this.need(1, field); return this.u8[this.o++]; }
	u16(field) { this.need(2, field); const v = this.dv.getUint16(this.o); this.o += 2; return v; }
	u32(field) { this.need(4, field); const v = this.dv.getUint32(this.o); this.o += 4; return v; }
	u64(field) { this.need(8, field); const v = this.dv.getBigUint64(this.o); this.o += 8; return v; }
	f64(field) { this.need(8, field); const v = this.dv.getFloat64(this.o); this.o += 8; return v; }
	take(n, field) {
		this.need(n, field);
		const v = this.u8.subarray(this.o, this.o + n);
		this.o += n;
		return v;
	}
	bytes(field) { return this.take(this.u32(field), field); }
}

// Decode entry 'index' (its leaf bytes 'u8').  Returns { index, type,
// time, ...fields }; nano-rho values are BigInt.
export function decodeEntry(u8, index) {
	const c = new Cursor(u8, index);
	const version = c.u8at('version');
	const type = TYPES[c.u8at('type')];
	if (!type)
		throw new Error('entry ' + index + ': unknown type');
	if (version !== 1 && !(version === 2 && type === 'RELEASE'))
		throw new Error('entry ' + index + ': version ' + version);
	const e = { index, type, version, time: Number(c.u64('time')) };
	for (const f of LAYOUT[version === 2 ? type + '2' : type]) {
		if (f === 'query_hash' || f === 'result_hash' ||
		    f === 'result_sha256')
			e[f] = c.take(32, f);
		else if (f === 'variance')
			e[f] = c.f64(f);
		else if (f === 'charges') {
			e.charges = [];
			for (let n = c.u16(f); n > 0; n--)
				e.charges.push({ month: c.u32(f), nano: c.u64(f),
				    cumulative: c.u64(f) });
		} else if (f === 'participants') {
			e.participants = [];
			for (let n = c.u16(f); n > 0; n--)
				e.participants.push(dec.decode(c.bytes(f)));
		} else if (f === 'node_id' || f === 'reason')
			e[f] = dec.decode(c.bytes(f));
		else
			e[f] = c.bytes(f);
	}
	if (c.o !== u8.length)
		throw new Error('entry ' + index + ': trailing bytes at ' + c.o);
	return e;
}

// A minimal protobuf reader: field number -> list of raw values (BigInt
// for varints, Uint8Array for length-delimited fields).
function pbFields(u8) {
	const out = new Map();
	let o = 0;
	const varint = () => {
		let v = 0n, s = 0n;
		for (;;) {
			if (o >= u8.length || s > 63n)
				throw new Error('protobuf: bad varint');
			const b = u8[o++];
			v |= BigInt(b & 0x7f) << s;
			if (!(b & 0x80))
				return v;
			s += 7n;
		}
	};
	while (o < u8.length) {
		const key = varint();
		const num = Number(key >> 3n), wt = Number(key & 7n);
		let v;
		if (wt === 0)
			v = varint();
		else if (wt === 2) {
			const n = Number(varint());
			if (o + n > u8.length)
				throw new Error('protobuf: truncated field ' + num);
			v = u8.subarray(o, o + n);
			o += n;
		} else if (wt === 1) {
			o += 8; v = null;
		} else if (wt === 5) {
			o += 4; v = null;
		} else
			throw new Error('protobuf: wire type ' + wt);
		if (o > u8.length)
			throw new Error('protobuf: truncated field ' + num);
		if (!out.has(num))
			out.set(num, []);
		out.get(num).push(v);
	}
	return out;
}

// Read a message with 'schema' {name: [number, kind]}; kind is 'str',
// 'bytes', 'uint' (Number), 'u64' (BigInt), 'sint' (zigzag Number),
// 'bool', a nested schema, or a one-element array of one of those for a
// repeated field (packed varints included).
export function pbRead(u8, schema) {
	const f = pbFields(u8);
	const one = (kind, v) => {
		if (typeof kind === 'object')
			return pbRead(v, kind);
		switch (kind) {
		case 'str': return dec.decode(v);
		case 'bytes': return v;
		case 'uint': return Number(v);
		case 'u64': return v;
		case 'bool': return v !== 0n;
		case 'sint': return Number((v >> 1n) ^ -(v & 1n));
		}
		throw new Error('protobuf: kind ' + kind);
	};
	const out = {};
	for (const [name, [num, kind]] of Object.entries(schema)) {
		const vs = f.get(num) || [];
		if (Array.isArray(kind)) {
			const k = kind[0];
			out[name] = [];
			for (const v of vs) {
				if (v instanceof Uint8Array && (k === 'uint' ||
				    k === 'u64')) {
					const packed = pbFields(concatKey(v));
					for (const x of packed.get(1) || [])
						out[name].push(one(k, x));
				} else
					out[name].push(one(k, v));
			}
		} else if (vs.length > 0)
			out[name] = one(kind, vs[vs.length - 1]);
		else
			out[name] = typeof kind === 'object' ? null :
			    kind === 'str' ? '' : kind === 'u64' ? 0n :
			    kind === 'bool' ? false : kind === 'bytes' ?
			    new Uint8Array(0) : 0;
	}
	return out;
}

// Packed varints re-read as repeated field 1 (each value given a key).
function concatKey(u8) {
	const out = [];
	let i = 0;
	while (i < u8.length) {
		out.push(0x08);
		do
			out.push(u8[i]);
		while (u8[i++] & 0x80 && i < u8.length);
	}
	return new Uint8Array(out);
}

const DATE_RANGE = { start: [1, 'str'], end: [2, 'str'] };
export const QUERY_SPEC = {
	kind: [1, 'str'], start: [2, 'str'], end: [3, 'str'],
	utc_offset_minutes: [4, 'sint'], bucket: [5, 'str'], k: [6, 'uint'],
	night: [7, { start_hour: [1, 'uint'], end_hour: [2, 'uint'] }],
	baseline: [9, DATE_RANGE], comparison: [10, DATE_RANGE],
	geography: [11, 'str'], categories: [12, ['str']],
	min_nights: [13, 'uint'],
};
export const QUERY = {
	query_id: [1, 'str'],
	analyst: [2, { role: [1, 'uint'], name: [2, 'str'] }],
	purpose: [3, 'str'], spec: [4, QUERY_SPEC],
	participants: [6, ['str']], max_colluding: [7, 'uint'],
	federation: [9, 'str'], holders_per_person: [11, 'uint'],
	rho_nano: [12, 'u64'], allow_missing_months: [13, 'bool'],
	publish: [14, 'bool'],
};
export const SIGNED_QUERY = { query: [1, 'bytes'], signature: [2, 'bytes'] };
export const REFUSAL = {
	query_id: [1, 'str'], query_hash: [2, 'bytes'], node: [3, 'str'],
	reason_code: [4, 'str'], reason: [5, 'str'],
};
export const CHARGE = {
	query_id: [1, 'str'], query_hash: [2, 'bytes'], node: [3, 'str'],
	months: [4, [{ month: [1, 'str'], rho_nano: [4, 'u64'],
	    cumulative_rho_nano: [5, 'u64'] }]],
};
export const POLICY = {
	node: [1, 'str'], allow_kinds: [2, ['str']],
	allow_analysts: [3, ['str']], allow_geographies: [4, ['str']],
	min_participants: [7, 'uint'], max_colluding: [8, 'uint'],
	budget_rho_per_month_nano: [12, 'u64'],
	max_rho_per_query_nano: [13, 'u64'], data_months: [14, ['uint']],
};
export const MEMBER_CHANGE = {
	added: [1, 'bool'], role: [2, 'uint'], name: [3, 'str'],
	identity_key: [4, 'bytes'], cert_sha256: [5, 'str'],
	federation: [6, 'str'],
};

// Decode the verified leaves 'raw' (decodeEntry) and check every
// signature inside them (verifySignatures).  Returns the entries; throws a
// VerifyError naming the entry that does not decode or verify.
export async function decodeEntries(raw, pins) {
	let entries;
	try {
		entries = raw.map((u8, i) => decodeEntry(u8, i));
	} catch (e) {
		throw new VerifyError('err_entry', { why: e.message });
	}
	await verifySignatures(entries, pins);
	return entries;
}

// MemberChange.role (protocol/cairn.proto's Role) by number.
const ROLES = [null, 'node', 'coordinator', 'analyst', 'auditor'];
const SIG_LEN = 64;
const enc = new TextEncoder();

// Whether 'sig' is pk's signature of 'bytes' for 'purpose': Ed25519 over
// "cairn/v1/<purpose>\n" || bytes (docs/federation.md), so a signature
// made for one purpose never verifies for another.
async function signedFor(pk, purpose, bytes, sig) {
	if (!pk || sig.length !== SIG_LEN)
		return false;
	const pre = enc.encode('cairn/v1/' + purpose + '\n');
	const msg = new Uint8Array(pre.length + bytes.length);
	msg.set(pre);
	msg.set(bytes, pre.length);
	return edVerify(pk, sig, msg);
}

// "YYYY-MM" as the log's YYYYMM number; 0 when it is not one.
function monthNumber(s) {
	const m = /^([0-9]{4})-(0[1-9]|1[0-2])$/.exec(s);
	return m ? Number(m[1]) * 100 + Number(m[2]) : 0;
}

// Check every signature the entries carry, in log order, with the key of
// its signer at that point of the log: a QUERY's analyst signature over
// its Query (purpose "query"), the node's over the body of its CHARGE
// ("charge"), REFUSAL ("refusal") and POLICY ("policy"), the log key's
// over each MEMBER's MemberChange ("member").  The members are those
// pinned in the page (federation.conf's nodes and analysts) until the
// log's first MEMBER entry, and from it on those the MEMBER entries give,
// replayed in order (added, rotated: added again with a new key, removed)
// - the rule of `cairn audit verify` (docs/audit.md), so an entry signed
// with a rotated-out key or by a member removed before it fails.  The
// typed fields the page shows must say what the signed body says (node,
// query hash, each month's ρ and cumulative spend, the reason).  Throws a
// VerifyError naming the entry index, its type, the signer and what did
// not verify; returns nothing.
export async function verifySignatures(entries, pins) {
	const logPk = b64decode(pins.log.key);
	const pinned = new Map();
	for (const n of pins.nodes)
		pinned.set('node/' + n.name, b64decode(n.key));
	for (const a of pins.analysts || [])
		pinned.set('analyst/' + a.name, b64decode(a.key));
	let roster = null;
	const signer = (e, role, name) => {
		const pk = (roster || pinned).get(role + '/' + name);
		if (pk === undefined)
			throw new VerifyError('err_signer_' + role +
			    (roster ? '_log' : '_pins'), { index: e.index,
			    type: e.type, signer: name });
		return pk;
	};
	const differs = (e, field) => new VerifyError('err_signed_field',
	    { index: e.index, type: e.type, signer: e.node_id, field });
	// The body as 'schema'; a body that is not one is named.
	const body = (e, bytes, schema) => {
		try {
			return pbRead(bytes, schema);
		} catch (x) {
			throw new VerifyError('err_signed_body', { index: e.index,
			    type: e.type, why: x.message });
		}
	};
	for (const e of entries) {
		if (e.type === 'MEMBER') {
			if (!await signedFor(logPk, 'member', e.body, e.signature))
				throw new VerifyError('err_sig_member', { index:
				    e.index, type: e.type, signer: pins.log.name });
			const c = body(e, e.body, MEMBER_CHANGE);
			const role = ROLES[c.role];
			if (!role || c.name === '' || c.identity_key.length !== 32)
				throw new VerifyError('err_member', { index: e.index,
				    why: 'role ' + c.role + ', name “' + c.name +
				    '”, a key of ' + c.identity_key.length +
				    ' bytes' });
			if (c.federation !== pins.federation)
				throw new VerifyError('err_member_federation', {
				    index: e.index, got: c.federation,
				    want: pins.federation });
			if (!roster)
				roster = new Map();
			const k = role + '/' + c.name;
			if (c.added)
				roster.set(k, c.identity_key);
			else if (!roster.delete(k))
				throw new VerifyError('err_member_removed', {
				    index: e.index, role, name: c.name });
		} else if (e.type === 'QUERY') {
			const sq = body(e, e.body, SIGNED_QUERY);
			const q = body(e, sq.query, QUERY);
			const name = q.analyst ? q.analyst.name : '';
			if (!await signedFor(signer(e, 'analyst', name), 'query',
			    sq.query, sq.signature))
				throw new VerifyError('err_sig_query', { index:
				    e.index, type: e.type, signer: name,
				    query: q.query_id });
			if (q.federation !== pins.federation)
				throw new VerifyError('err_query_federation', {
				    index: e.index, signer: name,
				    got: q.federation, want: pins.federation });
		} else if (e.type === 'CHARGE' || e.type === 'REFUSAL' ||
		    e.type === 'POLICY') {
			const purpose = e.type.toLowerCase();
			if (!await signedFor(signer(e, 'node', e.node_id),
			    purpose, e.body, e.signature))
				throw new VerifyError('err_sig_node', { index:
				    e.index, type: e.type, signer: e.node_id });
			const b = body(e, e.body, e.type === 'CHARGE' ? CHARGE :
			    e.type === 'REFUSAL' ? REFUSAL : POLICY);
			if (b.node !== e.node_id)
				throw differs(e, 'node_id');
			if (e.type !== 'POLICY' &&
			    !equal(b.query_hash, e.query_hash))
				throw differs(e, 'query_hash');
			if (e.type === 'REFUSAL' && e.reason !== b.reason &&
			    e.reason !== b.reason_code + ': ' + b.reason)
				throw differs(e, 'reason');
			if (e.type === 'CHARGE' && (b.months.length !==
			    e.charges.length || b.months.some((m, i) =>
			    monthNumber(m.month) !== e.charges[i].month ||
			    m.rho_nano !== e.charges[i].nano ||
			    m.cumulative_rho_nano !== e.charges[i].cumulative)))
				throw differs(e, 'charges');
		}
	}
}
