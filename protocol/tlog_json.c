/*
 * tlog_json.c - the JSON rendering of log entries (tlog_json.h).  Entry
 * fields come from tlog_entry_decode(); protobuf bodies are walked by
 * their protobuf-c descriptors, so a field added to cairn.proto appears
 * in the rendering without code here.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "common/err.h"
#include "protocol/cairn.pb-c.h"
#include "protocol/proto_service.h"
#include "protocol/tlog_entry.h"
#include "protocol/tlog_json.h"
#include "protocol/tlog_note.h"

/* A growing string; 'err' sticks at the first failed allocation. */
struct sbuf {
	char	*p;
	size_t	 len;
	size_t	 cap;
	bool	 err;
};

static void
sb_room(struct sbuf *b, size_t n)
{
	char *np;
	size_t ncap;

	if (b->err || b->cap - b->len > n)
		return;
	ncap = b->cap == 0 ? 1024 : b->cap;
	while (ncap - b->len <= n)
		ncap *= 2;
	if ((np = realloc(b->p, ncap)) == NULL) {
		b->err = true;
		return;
	}
	b->p = np;
	b->cap = ncap;
}

static void
sb_put(struct sbuf *b, const char *s, size_t n)
{
	sb_room(b, n);
	if (b->err)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void __attribute__((format(printf, 2, 3)))
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		b->err = true;
		return;
	}
	sb_put(b, tmp, (size_t)n);
}

/* Length of the valid UTF-8 sequence at 's' (n bytes left), or 0. */
static size_t
utf8_len(const uint8_t *s, size_t n)
{
	size_t need;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		need = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		need = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		need = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	if (n < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((need == 2 && cp < 0x80) || (need == 3 && cp < 0x800) ||
	    (need == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need;
}

/* A JSON string of 'n' bytes; invalid UTF-8 becomes U+FFFD. */
static void
sb_str(struct sbuf *b, const uint8_t *s, size_t n)
{
	sb_put(b, "\"", 1);
	for (size_t i = 0; i < n;) {
		size_t k;

		if (s[i] == '"' || s[i] == '\\') {
			sb_put(b, "\\", 1);
			sb_put(b, (const char *)s + i, 1);
			i++;
		} else if (s[i] < 0x20 || s[i] == 0x7f) {
			sb_printf(b, "\\u%04x", s[i]);
			i++;
		} else if ((k = utf8_len(s + i, n - i)) == 0) {
			sb_put(b, "\\ufffd", 6);
			i++;
		} else {
			sb_put(b, (const char *)s + i, k);
			i += k;
		}
	}
	sb_put(b, "\"", 1);
}

static void
sb_cstr(struct sbuf *b, const char *s)
{
	sb_str(b, (const uint8_t *)s, strlen(s));
}

static void
sb_b64(struct sbuf *b, const uint8_t *p, size_t n)
{
	size_t need = (n + 2) / 3 * 4 + 1;

	sb_put(b, "\"", 1);
	sb_room(b, need);
	if (!b->err && (n == 0 || tlog_b64_encode(p, n, b->p + b->len,
	    need) > 0))
		b->len += strlen(b->p + b->len);
	sb_put(b, "\"", 1);
}

static void
sb_hex(struct sbuf *b, const uint8_t *p, size_t n)
{
	sb_put(b, "\"", 1);
	for (size_t i = 0; i < n; i++)
		sb_printf(b, "%02x", p[i]);
	sb_put(b, "\"", 1);
}

/* ',"name":' (the comma unless 'first'). */
static void
sb_key(struct sbuf *b, const char *name)
{
	if (b->len > 0 && b->p[b->len - 1] != '{' && b->p[b->len - 1] != '[')
		sb_put(b, ",", 1);
	sb_cstr(b, name);
	sb_put(b, ":", 1);
}

static void sb_message(struct sbuf *b, const ProtobufCMessage *m);

/* One value of field 'f' at 'v'. */
static void
sb_value(struct sbuf *b, const ProtobufCFieldDescriptor *f, const void *v)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		sb_printf(b, "%d", (int)*(const int32_t *)v);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		sb_printf(b, "%u", (unsigned)*(const uint32_t *)v);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		sb_printf(b, "\"%lld\"", (long long)*(const int64_t *)v);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		sb_printf(b, "\"%llu\"",
		    (unsigned long long)*(const uint64_t *)v);
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		sb_printf(b, "%.9g", (double)*(const float *)v);
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		sb_printf(b, "%.17g", *(const double *)v);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		if (*(const protobuf_c_boolean *)v)
			sb_put(b, "true", 4);
		else
			sb_put(b, "false", 5);
		break;
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(
		    f->descriptor, *(const int *)v);

		if (ev != NULL)
			sb_cstr(b, ev->name);
		else
			sb_printf(b, "%d", *(const int *)v);
		break;
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)v;

		sb_cstr(b, s != NULL ? s : "");
		break;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *d = v;

		sb_b64(b, d->data, d->len);
		break;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *m = *(ProtobufCMessage *const *)v;

		if (m == NULL)
			sb_put(b, "null", 4);
		else
			sb_message(b, m);
		break;
	}
	}
}

static size_t
field_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_ENUM:
		return sizeof(int);
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	default:
		return 4;
	}
}

/* Every field of 'm', in the descriptor's order, defaults included. */
static void
sb_message(struct sbuf *b, const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const char *base = (const char *)m;

	sb_put(b, "{", 1);
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const void *v = base + f->offset;

		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0 &&
		    *(const uint32_t *)(base + f->quantifier_offset) != f->id)
			continue;
		sb_key(b, f->name);
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base +
			    f->quantifier_offset);
			const char *arr = *(char *const *)v;

			sb_put(b, "[", 1);
			for (size_t k = 0; k < n; k++) {
				if (k > 0)
					sb_put(b, ",", 1);
				sb_value(b, f, arr + k * field_size(f));
			}
			sb_put(b, "]", 1);
		} else
			sb_value(b, f, v);
	}
	sb_put(b, "}", 1);
}

/*
 * The body of a QUERY (SignedQuery, its query decoded), CHARGE (Charge),
 * REFUSAL (Refusal), MEMBER (MemberChange) or POLICY (Policy) entry.
 */
static void
sb_body(struct sbuf *b, const struct tlog_entry *e)
{
	const ProtobufCMessageDescriptor *d = NULL;
	ProtobufCMessage *m = NULL, *q = NULL;
	uint8_t h[32];

	switch (e->type) {
	case TLOG_ENTRY_QUERY:
		d = &cairn__v1__signed_query__descriptor;
		break;
	case TLOG_ENTRY_CHARGE:
		d = &cairn__v1__charge__descriptor;
		break;
	case TLOG_ENTRY_REFUSAL:
		d = &cairn__v1__refusal__descriptor;
		break;
	case TLOG_ENTRY_MEMBER:
		d = &cairn__v1__member_change__descriptor;
		break;
	case TLOG_ENTRY_POLICY:
		d = &cairn__v1__policy__descriptor;
		break;
	default:
		return;
	}
	sb_key(b, "body_base64");
	sb_b64(b, e->body.p, e->body.len);
	if (proto_unpack(d, e->body.p, e->body.len, TLOG_ENTRY_MAX_BODY, &m)
	    != CAIRN_OK) {
		sb_key(b, "body_error");
		sb_cstr(b, cairn_errmsg());
		return;
	}
	sb_key(b, "body");
	if (e->type == TLOG_ENTRY_QUERY) {
		const Cairn__V1__SignedQuery *sq =
		    (const Cairn__V1__SignedQuery *)m;

		sb_put(b, "{", 1);
		sb_key(b, "query_base64");
		sb_b64(b, sq->query.data, sq->query.len);
		sb_key(b, "signature");
		sb_b64(b, sq->signature.data, sq->signature.len);
		crypto_hash_sha256(h, sq->query.data, sq->query.len);
		sb_key(b, "query_hash");
		sb_hex(b, h, sizeof(h));
		if (proto_unpack(&cairn__v1__query__descriptor, sq->query.data,
		    sq->query.len, TLOG_ENTRY_MAX_BODY, &q) == CAIRN_OK) {
			sb_key(b, "query");
			sb_message(b, q);
			protobuf_c_message_free_unpacked(q, NULL);
		} else {
			sb_key(b, "query_error");
			sb_cstr(b, cairn_errmsg());
		}
		sb_put(b, "}", 1);
	} else
		sb_message(b, m);
	protobuf_c_message_free_unpacked(m, NULL);
}

int
tlog_entry_json(uint64_t index, const uint8_t *data, size_t len, char **out,
    size_t *olen)
{
	struct tlog_entry *e;
	struct sbuf b = { NULL, 0, 0, false };
	uint8_t leaf[TLOG_HASH_LEN];
	char when[32];
	struct tm tm;
	time_t t;
	int r;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return CAIRN_ERR_NOMEM;
	if ((r = tlog_entry_decode(data, len, e)) != CAIRN_OK)
		goto out;
	tlog_leaf_hash(data, len, leaf);
	sb_put(&b, "{", 1);
	sb_key(&b, "json_version");
	sb_printf(&b, "%d", TLOG_JSON_VERSION);
	sb_key(&b, "index");
	sb_printf(&b, "%llu", (unsigned long long)index);
	sb_key(&b, "entry_version");
	sb_printf(&b, "%u", (unsigned)e->version);
	sb_key(&b, "type");
	sb_cstr(&b, tlog_entry_type_name((int)e->type));
	sb_key(&b, "time");
	sb_printf(&b, "%llu", (unsigned long long)e->time);
	t = (time_t)e->time;
	if (e->time <= 253402300799ull && gmtime_r(&t, &tm) != NULL &&
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) > 0) {
		sb_key(&b, "time_utc");
		sb_cstr(&b, when);
	}
	sb_key(&b, "leaf_hash");
	sb_hex(&b, leaf, sizeof(leaf));
	sb_key(&b, "entry");
	sb_b64(&b, data, len);
	switch (e->type) {
	case TLOG_ENTRY_CHARGE:
	case TLOG_ENTRY_REFUSAL:
	case TLOG_ENTRY_POLICY:
		sb_key(&b, "node_id");
		sb_str(&b, e->node_id.p, e->node_id.len);
		break;
	default:
		break;
	}
	if (e->type == TLOG_ENTRY_CHARGE || e->type == TLOG_ENTRY_REFUSAL ||
	    e->type == TLOG_ENTRY_RELEASE || e->type == TLOG_ENTRY_FAILURE) {
		sb_key(&b, "query_hash");
		sb_hex(&b, e->query_hash, TLOG_HASH_LEN);
	}
	if (e->type == TLOG_ENTRY_CHARGE) {
		sb_key(&b, "charges");
		sb_put(&b, "[", 1);
		for (size_t i = 0; i < e->ncharges; i++)
			sb_printf(&b, "%s{\"month\":%u,\"rho_nano\":\"%llu\","
			    "\"cumulative_nano\":\"%llu\"}", i > 0 ? "," : "",
			    (unsigned)e->charges[i].month,
			    (unsigned long long)e->charges[i].rho_nano,
			    (unsigned long long)e->charges[i].cumulative_nano);
		sb_put(&b, "]", 1);
	}
	if (e->type == TLOG_ENTRY_REFUSAL || e->type == TLOG_ENTRY_FAILURE) {
		sb_key(&b, "reason");
		sb_str(&b, e->reason.p, e->reason.len);
	}
	if (e->type == TLOG_ENTRY_RELEASE) {
		sb_key(&b, "participants");
		sb_put(&b, "[", 1);
		for (size_t i = 0; i < e->nparticipants; i++) {
			if (i > 0)
				sb_put(&b, ",", 1);
			sb_str(&b, e->participants[i].p,
			    e->participants[i].len);
		}
		sb_put(&b, "]", 1);
		sb_key(&b, "result_hash");
		sb_hex(&b, e->result_hash, TLOG_HASH_LEN);
		if (e->version == 2) {
			sb_key(&b, "result_sha256");
			sb_hex(&b, e->result_sha256, TLOG_HASH_LEN);
		}
		sb_key(&b, "variance");
		sb_printf(&b, "%.17g", e->variance);
	}
	sb_body(&b, e);
	if (e->type != TLOG_ENTRY_RELEASE && e->type != TLOG_ENTRY_FAILURE &&
	    e->type != TLOG_ENTRY_QUERY) {
		sb_key(&b, "signature");
		sb_b64(&b, e->signature.p, e->signature.len);
	}
	sb_put(&b, "}\n", 2);
	if (b.err) {
		r = cairn_err(CAIRN_ERR_NOMEM, "JSON of entry %llu",
		    (unsigned long long)index);
		goto out;
	}
	*out = b.p;
	*olen = b.len;
	b.p = NULL;
	r = CAIRN_OK;
out:
	free(b.p);
	free(e);
	return r;
}
