/*
 * tlog_entry.c - encode and decode log entries (layout in tlog_entry.h
 * and docs/tlog.md).
 *
 * One table says which fields each type carries, in order; the encoder
 * and the decoder both walk it, so the two cannot drift apart.  Decoding
 * reads through a bounded cursor and fails on the first byte out of
 * place.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/rho.h"
#include "protocol/tlog_entry.h"

enum field {
	F_END = 0,
	F_BODY,		/* u32 length || bytes */
	F_NODE_ID,
	F_QUERY_HASH,	/* 32 bytes */
	F_RESULT_HASH,
	F_REASON,
	F_SIGNATURE,
	F_VARIANCE,	/* f64 */
	F_CHARGES,	/* u16 n || n * (u32 month, u64 rho, u64 cum) */
	F_PARTICIPANTS,	/* u16 count || count * (u32 length || bytes) */
	F_RESULT_SHA256	/* 32 bytes (version 2 RELEASE) */
};

static const enum field layouts[8][6] = {
	[TLOG_ENTRY_QUERY] = { F_BODY, F_END },
	[TLOG_ENTRY_CHARGE] = { F_NODE_ID, F_QUERY_HASH, F_CHARGES, F_BODY,
	    F_SIGNATURE, F_END },
	[TLOG_ENTRY_REFUSAL] = { F_NODE_ID, F_QUERY_HASH, F_REASON, F_BODY,
	    F_SIGNATURE, F_END },
	[TLOG_ENTRY_RELEASE] = { F_QUERY_HASH, F_PARTICIPANTS, F_RESULT_HASH,
	    F_VARIANCE, F_END },
	[TLOG_ENTRY_FAILURE] = { F_QUERY_HASH, F_REASON, F_END },
	[TLOG_ENTRY_MEMBER] = { F_BODY, F_SIGNATURE, F_END },
	[TLOG_ENTRY_POLICY] = { F_NODE_ID, F_BODY, F_SIGNATURE, F_END },
};

/*
 * Version 2 exists for RELEASE only: the SHA-256 of the released values
 * follows their BLAKE2b digest, for checkers without BLAKE2b (a web
 * browser's WebCrypto).  Version 1 RELEASE entries stay valid.
 */
static const enum field release_v2[] = { F_QUERY_HASH, F_PARTICIPANTS,
	F_RESULT_HASH, F_RESULT_SHA256, F_VARIANCE, F_END };

static const enum field *
layout(int version, enum tlog_entry_type type)
{
	if (version == 2 && type == TLOG_ENTRY_RELEASE)
		return release_v2;
	if (version == 1)
		return layouts[type];
	return NULL;
}

static const char *const type_names[8] = {
	NULL, "QUERY", "CHARGE", "REFUSAL", "RELEASE", "FAILURE", "MEMBER",
	"POLICY"
};

static const char *const field_names[] = {
	"time", "body", "node_id", "query_hash", "result_hash", "reason",
	"signature", "variance", "charges", "participants", "result_sha256"
};

const char *
tlog_entry_type_name(int type)
{
	if (type < TLOG_ENTRY_QUERY || type > TLOG_ENTRY_POLICY)
		return NULL;
	return type_names[type];
}

/* A bounded writer: counts bytes even past 'cap' so the size is known. */
struct wbuf {
	uint8_t	*p;
	size_t	 cap;
	size_t	 len;
};

static void
put(struct wbuf *w, const void *src, size_t n)
{
	if (w->p != NULL && n > 0 && w->len <= w->cap && n <= w->cap - w->len)
		memcpy(w->p + w->len, src, n);
	w->len += n;
}

static void
put_be(struct wbuf *w, uint64_t v, int bytes)
{
	uint8_t b[8];

	for (int i = 0; i < bytes; i++)
		b[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
	put(w, b, (size_t)bytes);
}

static uint64_t
f64_bits(double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	return u;
}

static bool
real_ok(double d)
{
	return isfinite(d) && d >= 0.0;
}

static bool
month_ok(uint32_t m)
{
	return m >= 100001 && m <= 999912 && m % 100 >= 1 && m % 100 <= 12;
}

static int
put_bytes(struct wbuf *w, struct tlog_bytes b, size_t max, enum field f)
{
	if (b.len > max)
		return cairn_err(CAIRN_ERR_TOOBIG, "entry field %s of %zu bytes "
		    "is over %zu", field_names[f], b.len, max);
	put_be(w, b.len, 4);
	put(w, b.p, b.len);
	return CAIRN_OK;
}

static int
encode_field(struct wbuf *w, const struct tlog_entry *e, enum field f)
{
	switch (f) {
	case F_BODY:
		return put_bytes(w, e->body, TLOG_ENTRY_MAX_BODY, f);
	case F_NODE_ID:
		return put_bytes(w, e->node_id, TLOG_ENTRY_MAX_ID, f);
	case F_REASON:
		return put_bytes(w, e->reason, TLOG_ENTRY_MAX_REASON, f);
	case F_SIGNATURE:
		return put_bytes(w, e->signature, TLOG_ENTRY_MAX_SIG, f);
	case F_QUERY_HASH:
		put(w, e->query_hash, TLOG_HASH_LEN);
		return CAIRN_OK;
	case F_RESULT_HASH:
		put(w, e->result_hash, TLOG_HASH_LEN);
		return CAIRN_OK;
	case F_RESULT_SHA256:
		put(w, e->result_sha256, TLOG_HASH_LEN);
		return CAIRN_OK;
	case F_VARIANCE:
		if (!real_ok(e->variance))
			return cairn_err(CAIRN_ERR_RANGE, "entry variance is "
			    "negative or not finite");
		put_be(w, f64_bits(e->variance), 8);
		return CAIRN_OK;
	case F_CHARGES:
		if (e->ncharges > TLOG_ENTRY_MAX_CHARGES)
			return cairn_err(CAIRN_ERR_TOOBIG, "%zu charges, over "
			    "%d", e->ncharges, TLOG_ENTRY_MAX_CHARGES);
		put_be(w, e->ncharges, 2);
		for (size_t i = 0; i < e->ncharges; i++) {
			const struct tlog_charge *c = &e->charges[i];

			if (!month_ok(c->month))
				return cairn_err(CAIRN_ERR_RANGE, "charge %zu: "
				    "month %u is not YYYYMM", i, c->month);
			if (c->rho_nano == 0 || c->rho_nano > RHO_NANO_MAX ||
			    c->cumulative_nano > RHO_NANO_MAX)
				return cairn_err(CAIRN_ERR_RANGE, "charge %zu: "
				    "rho or cumulative is not in [1, 10^18] "
				    "nano-rho", i);
			put_be(w, c->month, 4);
			put_be(w, c->rho_nano, 8);
			put_be(w, c->cumulative_nano, 8);
		}
		return CAIRN_OK;
	case F_PARTICIPANTS:
		if (e->nparticipants > TLOG_ENTRY_MAX_PARTICIPANTS)
			return cairn_err(CAIRN_ERR_TOOBIG, "%zu participants, "
			    "over %d", e->nparticipants,
			    TLOG_ENTRY_MAX_PARTICIPANTS);
		put_be(w, e->nparticipants, 2);
		for (size_t i = 0; i < e->nparticipants; i++) {
			int r = put_bytes(w, e->participants[i],
			    TLOG_ENTRY_MAX_ID, f);

			if (r != CAIRN_OK)
				return r;
		}
		return CAIRN_OK;
	case F_END:
		break;
	}
	return cairn_err(CAIRN_ERR_INTERNAL, "entry field %d", (int)f);
}

int
tlog_entry_encode(const struct tlog_entry *e, uint8_t *out, size_t cap,
    size_t *len)
{
	struct wbuf w = { out, cap, 0 };
	const enum field *lay;
	int version = e->version == 0 ? TLOG_ENTRY_VERSION : e->version;
	int r;

	if (tlog_entry_type_name((int)e->type) == NULL)
		return cairn_err(CAIRN_ERR_UNSUPPORTED, "unknown entry type %d",
		    (int)e->type);
	if ((lay = layout(version, e->type)) == NULL)
		return cairn_err(CAIRN_ERR_UNSUPPORTED, "no version %d of the "
		    "%s entry", version, tlog_entry_type_name((int)e->type));
	put_be(&w, (uint64_t)version, 1);
	put_be(&w, (uint64_t)e->type, 1);
	put_be(&w, e->time, 8);
	for (int i = 0; lay[i] != F_END; i++)
		if ((r = encode_field(&w, e, lay[i])) != CAIRN_OK)
			return r;
	*len = w.len;
	if (w.len > cap)
		return cairn_err(CAIRN_ERR_TOOBIG, "entry needs %zu bytes, room "
		    "for %zu", w.len, cap);
	return CAIRN_OK;
}

/* A bounded reader over untrusted bytes. */
struct rbuf {
	const uint8_t	*p;
	size_t		 len;
	size_t		 at;
};

static int
need(struct rbuf *b, size_t n, enum field f)
{
	if (b->len - b->at < n)
		return cairn_err(CAIRN_ERR_FORMAT, "entry truncated at byte %zu "
		    "in field %s (%zu more bytes needed)", b->at,
		    field_names[f], n - (b->len - b->at));
	return CAIRN_OK;
}

static int
get_be(struct rbuf *b, int bytes, enum field f, uint64_t *v)
{
	uint64_t x = 0;
	int r;

	if ((r = need(b, (size_t)bytes, f)) != CAIRN_OK)
		return r;
	for (int i = 0; i < bytes; i++)
		x = x << 8 | b->p[b->at++];
	*v = x;
	return CAIRN_OK;
}

static int
get_real(struct rbuf *b, enum field f, double *d)
{
	uint64_t u;
	size_t at = b->at;
	int r;

	if ((r = get_be(b, 8, f, &u)) != CAIRN_OK)
		return r;
	memcpy(d, &u, sizeof(*d));
	if (!real_ok(*d))
		return cairn_err(CAIRN_ERR_FORMAT, "entry byte %zu, field %s: "
		    "real is negative or not finite", at, field_names[f]);
	return CAIRN_OK;
}

static int
get_bytes(struct rbuf *b, size_t max, enum field f, struct tlog_bytes *out)
{
	uint64_t n;
	size_t at = b->at;
	int r;

	if ((r = get_be(b, 4, f, &n)) != CAIRN_OK)
		return r;
	if (n > max)
		return cairn_err(CAIRN_ERR_FORMAT, "entry byte %zu, field %s: "
		    "length %llu is over %zu", at, field_names[f],
		    (unsigned long long)n, max);
	if ((r = need(b, (size_t)n, f)) != CAIRN_OK)
		return r;
	out->p = b->p + b->at;
	out->len = (size_t)n;
	b->at += (size_t)n;
	return CAIRN_OK;
}

static int
get_hash(struct rbuf *b, enum field f, uint8_t out[TLOG_HASH_LEN])
{
	int r;

	if ((r = need(b, TLOG_HASH_LEN, f)) != CAIRN_OK)
		return r;
	memcpy(out, b->p + b->at, TLOG_HASH_LEN);
	b->at += TLOG_HASH_LEN;
	return CAIRN_OK;
}

static int
decode_field(struct rbuf *b, struct tlog_entry *e, enum field f)
{
	uint64_t n, m;
	size_t at;
	int r;

	switch (f) {
	case F_BODY:
		return get_bytes(b, TLOG_ENTRY_MAX_BODY, f, &e->body);
	case F_NODE_ID:
		return get_bytes(b, TLOG_ENTRY_MAX_ID, f, &e->node_id);
	case F_REASON:
		return get_bytes(b, TLOG_ENTRY_MAX_REASON, f, &e->reason);
	case F_SIGNATURE:
		return get_bytes(b, TLOG_ENTRY_MAX_SIG, f, &e->signature);
	case F_QUERY_HASH:
		return get_hash(b, f, e->query_hash);
	case F_RESULT_HASH:
		return get_hash(b, f, e->result_hash);
	case F_RESULT_SHA256:
		return get_hash(b, f, e->result_sha256);
	case F_VARIANCE:
		return get_real(b, f, &e->variance);
	case F_CHARGES:
		at = b->at;
		if ((r = get_be(b, 2, f, &n)) != CAIRN_OK)
			return r;
		if (n > TLOG_ENTRY_MAX_CHARGES)
			return cairn_err(CAIRN_ERR_FORMAT, "entry byte %zu: %llu "
			    "charges, over %d", at, (unsigned long long)n,
			    TLOG_ENTRY_MAX_CHARGES);
		for (size_t i = 0; i < n; i++) {
			struct tlog_charge *c = &e->charges[i];

			at = b->at;
			if ((r = get_be(b, 4, f, &m)) != CAIRN_OK)
				return r;
			if (!month_ok((uint32_t)m))
				return cairn_err(CAIRN_ERR_FORMAT, "entry byte "
				    "%zu: charge month %llu is not YYYYMM", at,
				    (unsigned long long)m);
			c->month = (uint32_t)m;
			at = b->at;
			if ((r = get_be(b, 8, f, &c->rho_nano)) != CAIRN_OK ||
			    (r = get_be(b, 8, f, &c->cumulative_nano)) !=
			    CAIRN_OK)
				return r;
			if (c->rho_nano == 0 || c->rho_nano > RHO_NANO_MAX ||
			    c->cumulative_nano > RHO_NANO_MAX)
				return cairn_err(CAIRN_ERR_FORMAT, "entry byte "
				    "%zu: charge rho or cumulative is not in "
				    "[1, 10^18] nano-rho", at);
		}
		e->ncharges = (size_t)n;
		return CAIRN_OK;
	case F_PARTICIPANTS:
		at = b->at;
		if ((r = get_be(b, 2, f, &n)) != CAIRN_OK)
			return r;
		if (n > TLOG_ENTRY_MAX_PARTICIPANTS)
			return cairn_err(CAIRN_ERR_FORMAT, "entry byte %zu: %llu "
			    "participants, over %d", at, (unsigned long long)n,
			    TLOG_ENTRY_MAX_PARTICIPANTS);
		for (size_t i = 0; i < n; i++)
			if ((r = get_bytes(b, TLOG_ENTRY_MAX_ID, f,
			    &e->participants[i])) != CAIRN_OK)
				return r;
		e->nparticipants = (size_t)n;
		return CAIRN_OK;
	case F_END:
		break;
	}
	return cairn_err(CAIRN_ERR_INTERNAL, "entry field %d", (int)f);
}

int
tlog_entry_decode(const uint8_t *data, size_t len, struct tlog_entry *e)
{
	struct tlog_entry *t;
	struct rbuf b = { data, len, 0 };
	const enum field *lay;
	uint64_t v;
	int r;

	if (len < 2)
		return cairn_err(CAIRN_ERR_FORMAT, "entry of %zu bytes has no "
		    "header", len);
	if (data[0] < TLOG_ENTRY_VERSION || data[0] > TLOG_ENTRY_VERSION_MAX)
		return cairn_err(CAIRN_ERR_UNSUPPORTED, "entry version %u, "
		    "this program reads %d to %d", data[0], TLOG_ENTRY_VERSION,
		    TLOG_ENTRY_VERSION_MAX);
	if (tlog_entry_type_name(data[1]) == NULL)
		return cairn_err(CAIRN_ERR_UNSUPPORTED, "unknown entry type %u",
		    data[1]);
	if ((lay = layout(data[0], (enum tlog_entry_type)data[1])) == NULL)
		return cairn_err(CAIRN_ERR_UNSUPPORTED, "entry version %u has "
		    "no %s entry", data[0], tlog_entry_type_name(data[1]));
	/* Decode into a scratch copy so '*e' is untouched on failure. */
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return cairn_err(CAIRN_ERR_NOMEM, "decoding an entry");
	t->version = data[0];
	t->type = (enum tlog_entry_type)data[1];
	b.at = 2;
	if ((r = get_be(&b, 8, F_END, &v)) != CAIRN_OK)
		goto out;
	t->time = v;
	for (int i = 0; lay[i] != F_END; i++)
		if ((r = decode_field(&b, t, lay[i])) != CAIRN_OK)
			goto out;
	if (b.at != len) {
		r = cairn_err(CAIRN_ERR_FORMAT, "entry has %zu trailing bytes "
		    "after byte %zu", len - b.at, b.at);
		goto out;
	}
	memcpy(e, t, sizeof(*t));
	r = CAIRN_OK;
out:
	free(t);
	return r;
}
