// portal_entry.mjs - the membership rules of the portal's signature check
// (portal/entry.js verifySignatures), for tests/e2e/portal.sh, on entries
// made here with keys made here (Node's Ed25519): the cases a demo's log
// does not hold.  Each case is a small log that must verify, or must fail
// with the named catalogue key; a key rotated by a MEMBER entry, members
// pinned in the page before the first MEMBER entry, a purpose that is not
// the entry's, a removal of a non-member, another federation, a body that
// does not decode, typed fields that differ from the signed body.  Prints
// one line per case; exits 1 when one is wrong.
//
//   node portal_entry.mjs
import { generateKeyPairSync, sign } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const top = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { verifySignatures } = await import(pathToFileURL(join(top, 'portal',
    'entry.js')).href);

function keyPair() {
	const { publicKey, privateKey } = generateKeyPairSync('ed25519');
	const x = publicKey.export({ format: 'jwk' }).x;
	return { sk: privateKey, pk: new Uint8Array(Buffer.from(x, 'base64url')),
	    b64: Buffer.from(x, 'base64url').toString('base64') };
}
// cairn's signed message: "cairn/v1/<purpose>\n" || bytes.
const sig = (k, purpose, bytes) => new Uint8Array(sign(null,
    Buffer.concat([Buffer.from('cairn/v1/' + purpose + '\n'), bytes]), k.sk));

// A protobuf message from [number, value] pairs: strings and bytes
// length-delimited, numbers and booleans varints.
function pb(...fields) {
	const out = [];
	const varint = (v) => {
		for (v = BigInt(v); v > 127n; v >>= 7n)
			out.push(Number(v & 127n) | 128);
		out.push(Number(v));
	};
	for (const [num, v] of fields) {
		if (typeof v === 'number' || typeof v === 'boolean') {
			varint(num << 3);
			varint(Number(v));
			continue;
		}
		const b = typeof v === 'string' ? Buffer.from(v) : Buffer.from(v);
		varint((num << 3) | 2);
		varint(b.length);
		out.push(...b);
	}
	return new Uint8Array(out);
}

const FED = 'f';
const coord = keyPair(), n1 = keyPair(), n1b = keyPair(), an = keyPair();
const pins = { federation: FED, log: { name: 'cairn/f', key: coord.b64 },
    nodes: [{ name: 'n1', key: n1.b64 }],
    analysts: [{ name: 'an', key: an.b64 }] };
const qh = new Uint8Array(32).fill(7);
let index = 0;
const member = (added, role, name, k, fed = FED) => {
	const body = pb([1, added], [2, role], [3, name], [4, k.pk],
	    [5, 'a'.repeat(64)], [6, fed]);
	return { type: 'MEMBER', body, signature: sig(coord, 'member', body) };
};
const query = (k = an, fed = FED, purpose = 'query') => {
	const q = pb([1, 'q1'], [2, pb([1, 3], [2, 'an'])], [9, fed]);
	return { type: 'QUERY', body: pb([1, q], [2, sig(k, purpose, q)]) };
};
const charge = (k, purpose = 'charge', cum = 5n) => {
	const body = pb([1, 'q1'], [2, qh], [3, 'n1'],
	    [4, pb([1, '2026-01'], [4, 5], [5, 5])]);
	return { type: 'CHARGE', node_id: 'n1', query_hash: qh, body,
	    charges: [{ month: 202601, nano: 5n, cumulative: cum }],
	    signature: sig(k, purpose, body) };
};
const refusal = (k, reason) => {
	const body = pb([1, 'q1'], [2, qh], [3, 'n1'], [4, 'budget'],
	    [5, 'spent']);
	return { type: 'REFUSAL', node_id: 'n1', query_hash: qh, reason,
	    body, signature: sig(k, 'refusal', body) };
};
const policy = (k, node) => {
	const body = pb([1, node], [12, 1000]);
	return { type: 'POLICY', node_id: 'n1', body,
	    signature: sig(k, 'policy', body) };
};
const junk = (k) => {
	const body = new Uint8Array([0x0a, 0x09]);
	return { type: 'POLICY', node_id: 'n1', body,
	    signature: sig(k, 'policy', body) };
};
const members = [member(true, 2, 'coordinator', coord),
    member(true, 1, 'n1', n1), member(true, 3, 'an', an)];

// [what, entries, the catalogue key it fails with (null: it verifies),
// the index of the entry named, pins changed]
const cases = [
	['a whole small log verifies', [...members, query(), charge(n1),
	    refusal(n1, 'budget: spent'), policy(n1, 'n1')], null],
	['before any MEMBER entry the pinned members sign',
	    [query(), charge(n1)], null],
	['an analyst not pinned, before any MEMBER entry',
	    [query()], 'err_signer_analyst_pins', 0, { analysts: [] }],
	['n1 rotated: old key before, new key after', [...members,
	    charge(n1), member(false, 1, 'n1', n1), member(true, 1, 'n1', n1b),
	    charge(n1b)], null],
	['n1 rotated: the old key after the rotation fails', [...members,
	    member(true, 1, 'n1', n1b), charge(n1)], 'err_sig_node', 4],
	['n1 removed: its later entry fails', [...members,
	    member(false, 1, 'n1', n1), policy(n1, 'n1')],
	    'err_signer_node_log', 4],
	['the analyst removed: its later query fails', [...members,
	    member(false, 3, 'an', an), query()], 'err_signer_analyst_log', 4],
	['a CHARGE signed for another purpose (refusal)', [...members,
	    charge(n1, 'refusal')], 'err_sig_node', 3],
	['a QUERY signed by another key', [...members, query(n1)],
	    'err_sig_query', 3],
	['a MEMBER not signed by the log key', [{ ...member(true, 1, 'n9',
	    n1b), signature: sig(n1, 'member', member(true, 1, 'n9',
	    n1b).body) }], 'err_sig_member', 0],
	['a removal of a member never added', [...members,
	    member(false, 1, 'n7', n1b)], 'err_member_removed', 3],
	['a MEMBER of another federation', [member(true, 1, 'n1', n1, 'g')],
	    'err_member_federation', 0],
	['a QUERY of another federation', [...members, query(an, 'g')],
	    'err_query_federation', 3],
	['a CHARGE whose logged cumulative is not the signed one',
	    [...members, charge(n1, 'charge', 6n)], 'err_signed_field', 3],
	['a REFUSAL whose logged reason is not the signed one',
	    [...members, refusal(n1, 'other')], 'err_signed_field', 3],
	['a POLICY signed for another node than the entry names',
	    [...members, policy(n1, 'n2')], 'err_signed_field', 3],
	['a signed POLICY body that does not decode', [...members, junk(n1)],
	    'err_signed_body', 3],
];

let bad = 0;
for (const [what, entries, key, at, over] of cases) {
	entries.forEach((e, i) => { e.index = i; });
	let got = null, gotAt = null;
	try {
		await verifySignatures(entries, Object.assign({}, pins, over));
	} catch (e) {
		got = e.what || String(e);
		gotAt = e.args ? e.args.index : null;
	}
	const right = got === key && (key === null || gotAt === at);
	if (!right)
		bad++;
	console.log((right ? 'ok' : 'WRONG') + ': ' + what + ': ' +
	    (got === null ? 'verifies' : got + ' at entry ' + gotAt) +
	    (right ? '' : ', wanted ' + (key || 'verifies') +
	    (key ? ' at entry ' + at : '')));
}
process.exit(bad ? 1 : 0);
