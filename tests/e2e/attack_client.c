/*
 * attack_client.c - the attacker of tests/e2e/attack_suite.sh.
 *
 * Each subcommand is one attack on a running federation, spoken with the
 * real protocol (protocol/transport.h) and real or forged credentials:
 *
 *   methods     call all 14 methods of cairn.v1.Coordinator with one
 *               identity (or none) and print each status
 *   resubmit    send the signed query of a logged QUERY entry again
 *   replay      send a captured request (raw bytes) again
 *   forge-share re-sign a captured share chunk for another query, attempt
 *               or size, or pad it with cells, and send it
 *   oversize    send a request of N bytes to a method
 *   slowloris   hold TCP, TLS and HTTP/2 streams and long polls open while
 *               probing the service with a legitimate client
 *   proxy       a malicious coordinator in front of the real one for one
 *               node: forwards its calls and can drop or duplicate a member
 *               in the roster, hold back its share (captured), serve a
 *               forked checkpoint or a 256 MiB one
 *   evidence    print the fork evidence a node's witness state holds
 *   gzip        send gzip bombs (1 MiB of gzip inflating to 1 GiB) to a
 *               method, several at once
 *   gzip-server a fake coordinator answering every call with a gzip bomb
 *   peak        run a command and print its peak memory
 *   call        call any path once, such as an unknown method
 *
 * Every call prints one line "Method: OK ..." or "Method: STATUS: detail"
 * on standard output; the script checks the lines.  Errors of the program
 * itself are "attack_client: error: what: detail" and exit 1.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sodium.h>
#include <zlib.h>

#include "common/cli.h"
#include "common/err.h"
#include "common/log.h"
#include "keys/keys.h"
#include "keys/keys_tls.h"
#include "protocol/cairn.pb-c.h"
#include "protocol/proto_service.h"
#include "protocol/tlog_entry.h"
#include "protocol/tlog_note.h"
#include "protocol/tlog_witness.h"
#include "protocol/transport.h"

#define PROG		"attack_client"
#define MAX_FILE	(16u * 1024 * 1024)
#define MAX_CONNS	20000
#define OVERSIZE_NOTE	(256u << 20)	/* proxy mode "oversize" */

static int
fail(const char *what, int code)
{
	return cli_fail(PROG, what, code);
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------- callers */

/* Who calls: a member folder (ca.crt, tls.crt, tls.key), optionally with
 * another CA to trust and without sending the certificate. */
struct ident {
	const char	*target;
	const char	*dir;
	const char	*ca;		/* trust this CA file instead */
	bool		 nocert;
	unsigned	 timeout_ms;
	size_t		 max_message;
};

enum { OPT_TARGET = 1000, OPT_DIR, OPT_CA, OPT_NOCERT, OPT_TIMEOUT };

#define IDENT_OPTIONS \
	{ "target", required_argument, NULL, OPT_TARGET }, \
	{ "dir", required_argument, NULL, OPT_DIR }, \
	{ "ca", required_argument, NULL, OPT_CA }, \
	{ "no-cert", no_argument, NULL, OPT_NOCERT }, \
	{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT }

/* Take an identity option; false when 'c' is not one. */
static bool
ident_opt(struct ident *id, int c, const char *arg)
{
	switch (c) {
	case OPT_TARGET: id->target = arg; return true;
	case OPT_DIR: id->dir = arg; return true;
	case OPT_CA: id->ca = arg; return true;
	case OPT_NOCERT: id->nocert = true; return true;
	case OPT_TIMEOUT: id->timeout_ms = (unsigned)strtoul(arg, NULL, 10);
		return true;
	}
	return false;
}

static int
tls_load_dir(const char *dir, struct keys_tls **out)
{
	char ca[4096], crt[4096], key[4096];

	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	snprintf(crt, sizeof(crt), "%s/tls.crt", dir);
	snprintf(key, sizeof(key), "%s/tls.key", dir);
	return keys_tls_load(ca, crt, key, out);
}

static int
client_open(const struct ident *id, struct transport_client **out)
{
	struct transport_client_config cc;
	struct keys_tls *tls = NULL;
	char *ca = NULL;
	size_t len;
	int r;

	if (id->target == NULL || id->dir == NULL)
		return cairn_err(CAIRN_ERR_ARG, "--target and --dir are "
		    "required");
	if ((r = tls_load_dir(id->dir, &tls)) != CAIRN_OK)
		return r;
	if (id->ca != NULL && (r = keys_file_read(id->ca, &ca, &len)) !=
	    CAIRN_OK) {
		keys_tls_free(tls);
		return r;
	}
	memset(&cc, 0, sizeof(cc));
	cc.target = id->target;
	cc.tls = tls;
	cc.ca_pem = ca;
	cc.no_client_cert = id->nocert;
	cc.max_message = id->max_message;
	cc.retries = 0;
	r = transport_client_new(&cc, out);
	keys_tls_free(tls);
	free(ca);
	return r;
}

/* Print the outcome of one call: "Method: OK" or the error line. */
static void
report(const struct proto_method_info *m, int r, const char *extra)
{
	if (r == CAIRN_OK)
		printf("%s: OK%s%s\n", m->name, extra != NULL ? " " : "",
		    extra != NULL ? extra : "");
	else
		printf("%s\n", cairn_errmsg());
	fflush(stdout);
}

static int
read_file(const char *path, uint8_t **buf, size_t *len)
{
	FILE *f;
	uint8_t *b;
	size_t n;

	if ((f = fopen(path, "rb")) == NULL)
		return cairn_err(CAIRN_ERR_IO, "%s: %s", path,
		    strerror(errno));
	if ((b = malloc(MAX_FILE)) == NULL) {
		fclose(f);
		return CAIRN_ERR_NOMEM;
	}
	n = fread(b, 1, MAX_FILE, f);
	fclose(f);
	*buf = b;
	*len = n;
	return CAIRN_OK;
}

static int
write_file(const char *path, const uint8_t *buf, size_t len)
{
	FILE *f;

	if ((f = fopen(path, "wb")) == NULL)
		return cairn_err(CAIRN_ERR_IO, "%s: %s", path,
		    strerror(errno));
	if (fwrite(buf, 1, len, f) != len || fclose(f) != 0)
		return cairn_err(CAIRN_ERR_IO, "%s: short write", path);
	return CAIRN_OK;
}

/* This process's peak resident memory, as "peak memory: N kB". */
static void
print_peak(void)
{
	char line[256];
	FILE *f;

	if ((f = fopen("/proc/self/status", "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmHWM:", 6) == 0)
			printf("peak memory: %lld kB\n",
			    strtoll(line + 6, NULL, 10));
	fclose(f);
}

/* -------------------------------------------------------------- methods */

static int
on_any(const ProtobufCMessage *msg, void *arg)
{
	(void)msg;
	(*(int *)arg)++;
	return 0;
}

static int
cmd_methods(int argc, char **argv)
{
	static const struct option lo[] = { IDENT_OPTIONS, { NULL, 0, NULL, 0 } };
	struct ident id = { 0 };
	struct transport_client *cl = NULL;
	int c, r;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1)
		if (!ident_opt(&id, c, optarg))
			return 2;
	if ((r = client_open(&id, &cl)) != CAIRN_OK)
		return fail("client", r);
	for (int i = 0; i < PROTO_NMETHODS; i++) {
		const struct proto_method_info *m =
		    proto_method((enum proto_method)i);
		ProtobufCMessage *req, *resp = NULL;
		int nmsg = 0;

		if ((req = calloc(1, m->request->sizeof_message)) == NULL)
			return fail("request", CAIRN_ERR_NOMEM);
		protobuf_c_message_init(m->request, req);
		if (m->server_streaming)
			r = transport_stream(cl, m, req, id.timeout_ms ?
			    id.timeout_ms : 3000, on_any, &nmsg);
		else
			r = transport_unary(cl, m, req, id.timeout_ms ?
			    id.timeout_ms : 3000, &resp);
		report(m, r, NULL);
		if (resp != NULL)
			protobuf_c_message_free_unpacked(resp, NULL);
		free(req);
	}
	transport_client_free(cl);
	print_peak();
	return 0;
}

/* ------------------------------------------------------------- resubmit */

static int
cmd_resubmit(int argc, char **argv)
{
	static const struct option lo[] = { IDENT_OPTIONS,
		{ "index", required_argument, NULL, 'i' },
		{ "save", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 } };
	Cairn__V1__GetEntriesRequest ge = CAIRN__V1__GET_ENTRIES_REQUEST__INIT;
	Cairn__V1__GetEntriesResponse *er = NULL;
	Cairn__V1__SubmitQueryResponse *sr = NULL;
	struct ident id = { 0 };
	struct transport_client *cl = NULL;
	struct tlog_entry *e = NULL;
	const char *save = NULL;
	char extra[64];
	size_t i;
	int c, r, rc = 1;

	ge.start = UINT64_MAX;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (ident_opt(&id, c, optarg))
			continue;
		if (c == 'i')
			ge.start = strtoull(optarg, NULL, 10);
		else if (c == 's')
			save = optarg;
		else
			return 2;
	}
	if (ge.start == UINT64_MAX)
		return fail("resubmit", cairn_err(CAIRN_ERR_ARG, "--index N "
		    "(a QUERY entry) is required"));
	if ((r = client_open(&id, &cl)) != CAIRN_OK)
		return fail("client", r);
	if ((e = malloc(sizeof(*e))) == NULL) {
		rc = fail("entry", CAIRN_ERR_NOMEM);
		goto out;
	}
	/* The first QUERY entry at or after N (MEMBER and POLICY entries
	 * open the log). */
	for (i = 0;; i++, ge.start++) {
		if (er != NULL)
			protobuf_c_message_free_unpacked(&er->base, NULL);
		er = NULL;
		ge.end = ge.start + 1;
		if ((r = transport_unary(cl, proto_method(PROTO_GET_ENTRIES),
		    &ge.base, 5000, (ProtobufCMessage **)&er)) != CAIRN_OK) {
			rc = fail("GetEntries", r);
			goto out;
		}
		if (er->n_entries == 1 && tlog_entry_decode(
		    er->entries[0]->data.data, er->entries[0]->data.len, e) ==
		    CAIRN_OK && e->type == TLOG_ENTRY_QUERY)
			break;
		if (i == 64) {
			rc = fail("resubmit", cairn_err(CAIRN_ERR_FORMAT, "no "
			    "QUERY entry in the 64 from the given index"));
			goto out;
		}
	}
	if (save != NULL && (r = write_file(save, e->body.p, e->body.len)) !=
	    CAIRN_OK) {
		rc = fail("save", r);
		goto out;
	}
	r = transport_unary_raw(cl, proto_method(PROTO_SUBMIT_QUERY),
	    e->body.p, e->body.len, 5000, (ProtobufCMessage **)&sr);
	if (r == CAIRN_OK)
		snprintf(extra, sizeof(extra), "log_index %llu",
		    (unsigned long long)sr->log_index);
	report(proto_method(PROTO_SUBMIT_QUERY), r, r == CAIRN_OK ? extra :
	    NULL);
	rc = 0;
out:
	free(e);
	if (sr != NULL)
		protobuf_c_message_free_unpacked(&sr->base, NULL);
	if (er != NULL)
		protobuf_c_message_free_unpacked(&er->base, NULL);
	transport_client_free(cl);
	return rc;
}

/* --------------------------------------------------------------- replay */

static int
cmd_replay(int argc, char **argv)
{
	static const struct option lo[] = { IDENT_OPTIONS,
		{ "method", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 } };
	const struct proto_method_info *m = NULL;
	struct ident id = { 0 };
	struct transport_client *cl = NULL;
	ProtobufCMessage *resp = NULL;
	uint8_t *buf = NULL;
	size_t len;
	int c, r;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (ident_opt(&id, c, optarg))
			continue;
		if (c == 'm')
			m = proto_method_by_name(optarg);
		else
			return 2;
	}
	if (m == NULL || optind != argc - 1)
		return fail("replay", cairn_err(CAIRN_ERR_ARG, "--method NAME "
		    "and one FILE of request bytes are required"));
	if ((r = read_file(argv[optind], &buf, &len)) != CAIRN_OK)
		return fail("replay", r);
	if ((r = client_open(&id, &cl)) != CAIRN_OK) {
		free(buf);
		return fail("client", r);
	}
	r = transport_unary_raw(cl, m, buf, len, id.timeout_ms ?
	    id.timeout_ms : 5000, &resp);
	report(m, r, NULL);
	if (resp != NULL)
		protobuf_c_message_free_unpacked(resp, NULL);
	free(buf);
	transport_client_free(cl);
	return 0;
}

/* ---------------------------------------------------------- forge-share */

static int
cmd_forge_share(int argc, char **argv)
{
	static const struct option lo[] = { IDENT_OPTIONS,
		{ "identity", required_argument, NULL, 'k' },
		{ "query-id", required_argument, NULL, 'q' },
		{ "attempt", required_argument, NULL, 'a' },
		{ "manifest-cells", required_argument, NULL, 'n' },
		{ "extra-cells", required_argument, NULL, 'x' },
		{ NULL, 0, NULL, 0 } };
	Cairn__V1__MaskedShareChunk *ck = NULL;
	Cairn__V1__ShareManifest *mf = NULL;
	struct keys_identity *key = NULL;
	struct ident id = { 0 };
	struct transport_client *cl = NULL;
	ProtobufCMessage *resp = NULL;
	const char *keyfile = NULL, *qid = NULL;
	uint8_t *buf = NULL, *mbytes = NULL, sig[KEYS_SIG_LEN];
	uint64_t *cells = NULL, mcells = 0, extra = 0;
	ProtobufCBinaryData om = { 0, NULL }, os = { 0, NULL };
	uint64_t *oc = NULL;
	char *oq = NULL;
	long attempt = -1;
	size_t len, mlen, on = 0;
	int c, r, rc = 1;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (ident_opt(&id, c, optarg))
			continue;
		switch (c) {
		case 'k': keyfile = optarg; break;
		case 'q': qid = optarg; break;
		case 'a': attempt = strtol(optarg, NULL, 10); break;
		case 'n': mcells = strtoull(optarg, NULL, 10); break;
		case 'x': extra = strtoull(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	if (keyfile == NULL || optind != argc - 1)
		return fail("forge-share", cairn_err(CAIRN_ERR_ARG,
		    "--identity KEY and one captured chunk FILE are required"));
	if ((r = read_file(argv[optind], &buf, &len)) != CAIRN_OK ||
	    (r = keys_identity_load(keyfile, &key)) != CAIRN_OK ||
	    (r = proto_unpack(&cairn__v1__masked_share_chunk__descriptor, buf,
	    len, MAX_FILE, (ProtobufCMessage **)&ck)) != CAIRN_OK ||
	    (r = proto_unpack(&cairn__v1__share_manifest__descriptor,
	    ck->manifest.data, ck->manifest.len, PROTO_MAX_SMALL,
	    (ProtobufCMessage **)&mf)) != CAIRN_OK) {
		rc = fail("forge-share", r);
		goto out;
	}
	om = ck->manifest;
	os = ck->signature;
	oc = ck->cells;
	on = ck->n_cells;
	oq = mf->query_id;
	if (qid != NULL)
		mf->query_id = (char *)qid;
	if (attempt >= 0)
		mf->attempt = (uint32_t)attempt;
	if (mcells != 0)
		mf->cells = mcells;
	if ((r = proto_pack(&mf->base, PROTO_MAX_SMALL, &mbytes, &mlen)) !=
	    CAIRN_OK || (r = keys_sign(key, "share", mbytes, mlen, sig)) !=
	    CAIRN_OK) {
		rc = fail("forge-share", r);
		goto out;
	}
	ck->manifest.data = mbytes;
	ck->manifest.len = mlen;
	ck->signature.data = sig;
	ck->signature.len = KEYS_SIG_LEN;
	if (extra != 0) {
		if (extra > PROTO_CHUNK_CELLS || (cells = calloc(ck->n_cells +
		    extra, sizeof(*cells))) == NULL) {
			rc = fail("forge-share", CAIRN_ERR_NOMEM);
			goto out;
		}
		memcpy(cells, ck->cells, ck->n_cells * sizeof(*cells));
		ck->cells = cells;
		ck->n_cells += extra;
	}
	if ((r = client_open(&id, &cl)) != CAIRN_OK) {
		rc = fail("client", r);
		goto out;
	}
	r = transport_unary(cl, proto_method(PROTO_SUBMIT_SHARE), &ck->base,
	    5000, &resp);
	report(proto_method(PROTO_SUBMIT_SHARE), r, NULL);
	rc = 0;
out:
	/* Unpacked messages are freed with their own pointers. */
	if (oq != NULL) {
		ck->manifest = om;
		ck->signature = os;
		ck->cells = oc;
		ck->n_cells = on;
		mf->query_id = oq;
	}
	if (mf != NULL)
		protobuf_c_message_free_unpacked(&mf->base, NULL);
	if (ck != NULL)
		protobuf_c_message_free_unpacked(&ck->base, NULL);
	if (resp != NULL)
		protobuf_c_message_free_unpacked(resp, NULL);
	transport_client_free(cl);
	free(cells);
	free(mbytes);
	free(buf);
	keys_identity_free(key);
	return rc;
}

/* ------------------------------------------------------------- oversize */

static int
cmd_oversize(int argc, char **argv)
{
	static const struct option lo[] = { IDENT_OPTIONS,
		{ "method", required_argument, NULL, 'm' },
		{ "bytes", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 } };
	const struct proto_method_info *m = NULL;
	struct ident id = { 0 };
	struct transport_client *cl = NULL;
	ProtobufCMessage *resp = NULL;
	uint8_t *buf;
	size_t n = 0, k = 0;
	int c, r;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (ident_opt(&id, c, optarg))
			continue;
		if (c == 'm')
			m = proto_method_by_name(optarg);
		else if (c == 'b')
			n = strtoull(optarg, NULL, 10);
		else
			return 2;
	}
	if (m == NULL || n < 16 || n > 512u * 1024 * 1024)
		return fail("oversize", cairn_err(CAIRN_ERR_ARG, "--method "
		    "NAME and --bytes N (16 B to 512 MiB) are required"));
	/* Field 1, length-delimited, filling the message to n bytes. */
	if ((buf = calloc(1, n)) == NULL)
		return fail("oversize", CAIRN_ERR_NOMEM);
	buf[k++] = 0x0a;
	for (size_t v = n - 1 - 5; ; v >>= 7) {
		buf[k++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		if (v <= 0x7f)
			break;
	}
	/* Pad the varint to five bytes so the total is exactly n. */
	while (k < 6) {
		buf[k - 1] |= 0x80;
		buf[k++] = 0;
	}
	id.max_message = n + 4096;
	if ((r = client_open(&id, &cl)) != CAIRN_OK) {
		free(buf);
		return fail("client", r);
	}
	r = transport_unary_raw(cl, m, buf, n, id.timeout_ms ? id.timeout_ms :
	    20000, &resp);
	report(m, r, NULL);
	if (resp != NULL)
		protobuf_c_message_free_unpacked(resp, NULL);
	free(buf);
	transport_client_free(cl);
	return 0;
}

/* ------------------------------------------------------------ slowloris */

static int
tcp_dial(const char *target)
{
	struct sockaddr_in sa;
	char host[64];
	const char *colon = strrchr(target, ':');
	int fd;

	if (colon == NULL || (size_t)(colon - target) >= sizeof(host))
		return -1;
	memcpy(host, target, (size_t)(colon - target));
	host[colon - target] = '\0';
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -1;
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static SSL_CTX *
tls_ctx(const char *dir)
{
	static const unsigned char alpn[] = { 2, 'h', '2' };
	char ca[4096], crt[4096], key[4096];
	SSL_CTX *ctx;

	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	snprintf(crt, sizeof(crt), "%s/tls.crt", dir);
	snprintf(key, sizeof(key), "%s/tls.key", dir);
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return NULL;
	if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1 ||
	    SSL_CTX_use_certificate_chain_file(ctx, crt) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn)) != 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* One HTTP/2 frame header. */
static size_t
h2_frame(uint8_t *p, size_t len, uint8_t type, uint8_t flags, uint32_t sid)
{
	p[0] = (uint8_t)(len >> 16);
	p[1] = (uint8_t)(len >> 8);
	p[2] = (uint8_t)len;
	p[3] = type;
	p[4] = flags;
	p[5] = (uint8_t)(sid >> 24);
	p[6] = (uint8_t)(sid >> 16);
	p[7] = (uint8_t)(sid >> 8);
	p[8] = (uint8_t)sid;
	return 9;
}

/* An HPACK literal header field without indexing, new name. */
static size_t
hpack_lit(uint8_t *p, const char *name, const char *value)
{
	size_t k = 0, nl = strlen(name), vl = strlen(value);

	p[k++] = 0x00;
	p[k++] = (uint8_t)nl;
	memcpy(p + k, name, nl);
	k += nl;
	p[k++] = (uint8_t)vl;
	memcpy(p + k, value, vl);
	return k + vl;
}

/*
 * On an established TLS connection: the HTTP/2 preface and 'streams'
 * gRPC calls whose headers are sent and whose message never ends (a
 * 5-byte prefix announcing 64 bytes, then 3 of them).
 */
static int
h2_hold_streams(SSL *ssl, unsigned streams)
{
	static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	uint8_t buf[1024], hb[512];
	size_t k, hl;

	if (SSL_write(ssl, preface, (int)strlen(preface)) <= 0)
		return -1;
	k = h2_frame(buf, 0, 0x4, 0, 0);	/* SETTINGS */
	if (SSL_write(ssl, buf, (int)k) <= 0)
		return -1;
	for (unsigned i = 0; i < streams; i++) {
		uint32_t sid = 2 * i + 1;

		hl = 0;
		hl += hpack_lit(hb + hl, ":method", "POST");
		hl += hpack_lit(hb + hl, ":scheme", "https");
		hl += hpack_lit(hb + hl, ":path",
		    proto_method(PROTO_GET_CHECKPOINT)->path);
		hl += hpack_lit(hb + hl, ":authority", "localhost");
		hl += hpack_lit(hb + hl, "content-type", "application/grpc");
		hl += hpack_lit(hb + hl, "te", "trailers");
		k = h2_frame(buf, hl, 0x1, 0x4, sid);	/* END_HEADERS */
		memcpy(buf + k, hb, hl);
		k += hl;
		k += h2_frame(buf + k, 8, 0x0, 0, sid);	/* DATA, not END */
		memcpy(buf + k, "\0\0\0\0\x40" "abc", 8);
		k += 8;
		if (SSL_write(ssl, buf, (int)k) <= 0)
			return -1;
	}
	return 0;
}

/* Drain what the server sent; true once it closed the connection. */
static bool
tls_closed_by_peer(SSL *ssl, int fd)
{
	char buf[4096];
	int n, e;

	if (fd < 0 || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
		return false;
	for (;;) {
		n = SSL_read(ssl, buf, sizeof(buf));
		if (n > 0)
			continue;
		e = SSL_get_error(ssl, n);
		ERR_clear_error();
		return e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE;
	}
}

struct poll_job {
	struct ident	*id;
	unsigned	 hold_ms;
	unsigned	 redials;	/* calls that found no connection */
	int		 r;
	char		 msg[256];
};

/* Hold one PollTask call open for the whole hold time. */
static void *
poll_thread(void *arg)
{
	struct poll_job *j = arg;
	Cairn__V1__PollTaskRequest req = CAIRN__V1__POLL_TASK_REQUEST__INIT;
	struct transport_client *cl = NULL;
	ProtobufCMessage *resp = NULL;
	int64_t until = mono_ms() + j->hold_ms;

	if ((j->r = client_open(j->id, &cl)) != CAIRN_OK) {
		snprintf(j->msg, sizeof(j->msg), "%s", cairn_errmsg());
		return NULL;
	}
	while (mono_ms() < until) {
		int64_t left = until - mono_ms();

		req.wait_ms = (uint32_t)(left > 1000 ? left : 1000);
		j->r = transport_unary(cl, proto_method(PROTO_POLL_TASK),
		    &req.base, req.wait_ms + 2000, &resp);
		if (resp != NULL)
			protobuf_c_message_free_unpacked(resp, NULL);
		resp = NULL;
		/*
		 * A connection the flood kept from being made (UNAVAILABLE)
		 * says nothing of the coordinator's limits: dial again while
		 * the hold lasts, as a real node would.  What the coordinator
		 * answers (held, or refused over the limit) still counts.
		 */
		if (j->r == CAIRN_ERR_NET && mono_ms() + 250 < until) {
			j->redials++;
			sleep_ms(200);
			continue;
		}
		if (j->r != CAIRN_OK) {
			snprintf(j->msg, sizeof(j->msg), "%s", cairn_errmsg());
			break;
		}
	}
	transport_client_free(cl);
	return NULL;
}

static int
cmd_slowloris(int argc, char **argv)
{
	static const struct option lo[] = { IDENT_OPTIONS,
		{ "tcp", required_argument, NULL, 'c' },
		{ "tls", required_argument, NULL, 's' },
		{ "h2", required_argument, NULL, 'h' },
		{ "streams", required_argument, NULL, 'n' },
		{ "polls", required_argument, NULL, 'p' },
		{ "poll-dir", required_argument, NULL, 'P' },
		{ "hold", required_argument, NULL, 'H' },
		{ "probe-dir", required_argument, NULL, 'r' },
		{ "max-probe-ms", required_argument, NULL, 'M' },
		{ NULL, 0, NULL, 0 } };
	Cairn__V1__GetCheckpointRequest gc =
	    CAIRN__V1__GET_CHECKPOINT_REQUEST__INIT;
	struct ident id = { 0 }, pid = { 0 }, rid = { 0 };
	struct transport_client *probe = NULL;
	struct poll_job *jobs = NULL;
	pthread_t *th = NULL;
	SSL_CTX *ctx = NULL;
	SSL **ssl = NULL;
	int *fds = NULL;
	unsigned ntcp = 0, ntls = 0, nh2 = 0, nstreams = 100, npolls = 0;
	unsigned hold_s = 5, max_probe_ms = 2000, opened = 0, tls_ok = 0;
	unsigned probes = 0, probe_fail = 0, polls_failed = 0, polls_ended = 0;
	unsigned redials = 0;
	int64_t worst = 0, until;
	int c, r, rc = 1;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (ident_opt(&id, c, optarg))
			continue;
		switch (c) {
		case 'c': ntcp = (unsigned)atoi(optarg); break;
		case 's': ntls = (unsigned)atoi(optarg); break;
		case 'h': nh2 = (unsigned)atoi(optarg); break;
		case 'n': nstreams = (unsigned)atoi(optarg); break;
		case 'p': npolls = (unsigned)atoi(optarg); break;
		case 'P': pid.dir = optarg; break;
		case 'H': hold_s = (unsigned)atoi(optarg); break;
		case 'r': rid.dir = optarg; break;
		case 'M': max_probe_ms = (unsigned)atoi(optarg); break;
		default: return 2;
		}
	}
	if (id.target == NULL || id.dir == NULL || rid.dir == NULL ||
	    ntcp + ntls + nh2 > MAX_CONNS || nstreams > 10000 ||
	    npolls > 64 || (npolls > 0 && pid.dir == NULL))
		return fail("slowloris", cairn_err(CAIRN_ERR_ARG, "--target, "
		    "--dir (TLS identity), --probe-dir are required; at most "
		    "%d connections, 64 polls (with --poll-dir)", MAX_CONNS));
	signal(SIGPIPE, SIG_IGN);
	pid.target = rid.target = id.target;
	if ((fds = calloc(ntcp + ntls + nh2 + 1, sizeof(*fds))) == NULL ||
	    (ssl = calloc(ntls + nh2 + 1, sizeof(*ssl))) == NULL ||
	    (jobs = calloc(npolls + 1, sizeof(*jobs))) == NULL ||
	    (th = calloc(npolls + 1, sizeof(*th))) == NULL) {
		rc = fail("slowloris", CAIRN_ERR_NOMEM);
		goto out;
	}
	for (unsigned i = 0; i < ntcp + ntls + nh2; i++)
		fds[i] = -1;
	/* Bare TCP connections that never start TLS. */
	for (unsigned i = 0; i < ntcp; i++)
		if ((fds[i] = tcp_dial(id.target)) >= 0)
			opened++;
	/* TLS handshakes completed, then silence or half-open streams. */
	if (ntls + nh2 > 0 && (ctx = tls_ctx(id.dir)) == NULL) {
		rc = fail("slowloris", cairn_err(CAIRN_ERR_CRYPTO, "TLS "
		    "context for %s", id.dir));
		goto out;
	}
	for (unsigned i = 0; i < ntls + nh2; i++) {
		int fd = tcp_dial(id.target);

		fds[ntcp + i] = fd;
		if (fd < 0 || (ssl[i] = SSL_new(ctx)) == NULL)
			continue;
		SSL_set_fd(ssl[i], fd);
		if (SSL_connect(ssl[i]) != 1)
			continue;
		if (i >= ntls && h2_hold_streams(ssl[i], nstreams) != 0)
			continue;
		tls_ok++;
	}
	for (unsigned i = 0; i < npolls; i++) {
		jobs[i].id = &pid;
		jobs[i].hold_ms = hold_s * 1000;
		if (pthread_create(&th[i], NULL, poll_thread, &jobs[i]) != 0) {
			rc = fail("slowloris", cairn_err(CAIRN_ERR_INTERNAL,
			    "thread"));
			npolls = i;
			goto join;
		}
	}
	printf("held: %u tcp, %u tls (%u with %u open streams each), "
	    "%u polls\n", opened, tls_ok, nh2, nstreams, npolls);
	fflush(stdout);
	/* The legitimate client: one call every 200 ms while held. */
	if ((r = client_open(&rid, &probe)) != CAIRN_OK) {
		rc = fail("probe", r);
		goto join;
	}
	until = mono_ms() + (int64_t)hold_s * 1000;
	while (mono_ms() < until) {
		ProtobufCMessage *resp = NULL;
		int64_t t0 = mono_ms(), dt;

		r = transport_unary(probe, proto_method(PROTO_GET_CHECKPOINT),
		    &gc.base, max_probe_ms, &resp);
		dt = mono_ms() - t0;
		probes++;
		if (r != CAIRN_OK) {
			probe_fail++;
			fprintf(stderr, "probe: %s\n", cairn_errmsg());
		}
		if (dt > worst)
			worst = dt;
		if (resp != NULL)
			protobuf_c_message_free_unpacked(resp, NULL);
		sleep_ms(200);
	}
	rc = 0;
join:
	for (unsigned i = 0; i < npolls; i++) {
		pthread_join(th[i], NULL);
		/* Refused, or ended early by the deadline of a slow reply. */
		if (jobs[i].r == CAIRN_ERR_TOOBIG)
			polls_failed++;
		else if (jobs[i].r != CAIRN_OK)
			polls_ended++;
		if (jobs[i].r != CAIRN_OK)
			fprintf(stderr, "poll: %s\n", jobs[i].msg);
		redials += jobs[i].redials;
	}
	if (rc == 0) {
		unsigned tcp_closed = 0, tls_closed = 0;

		for (unsigned i = 0; i < ntcp; i++) {
			char b;

			if (fds[i] >= 0 && recv(fds[i], &b, 1,
			    MSG_PEEK | MSG_DONTWAIT) == 0)
				tcp_closed++;
		}
		for (unsigned i = 0; i < ntls; i++)
			if (ssl[i] != NULL && tls_closed_by_peer(ssl[i],
			    fds[ntcp + i]))
				tls_closed++;
		printf("closed by the server: %u of %u tcp, %u of %u tls\n",
		    tcp_closed, opened, tls_closed, ntls);
		printf("probe: %u calls, %u failed, slowest %lld ms\n", probes,
		    probe_fail, (long long)worst);
		printf("polls: %u held, %u refused, %u ended early (%u "
		    "calls dialled again)\n", npolls, polls_failed,
		    polls_ended, redials);
	}
out:
	transport_client_free(probe);
	for (unsigned i = 0; ssl != NULL && i < ntls + nh2; i++)
		if (ssl[i] != NULL)
			SSL_free(ssl[i]);
	for (unsigned i = 0; fds != NULL && i < ntcp + ntls + nh2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	SSL_CTX_free(ctx);
	free(fds);
	free(ssl);
	free(jobs);
	free(th);
	return rc;
}

/* ---------------------------------------------------------------- proxy */

struct proxy {
	struct transport_client	*up;
	struct keys_identity	*logkey;
	const char		*mode_file;
	const char		*capture;
	pthread_mutex_t		 mu;
	pthread_cond_t		 idle;
	unsigned		 busy;
	char			*last_note;	/* last checkpoint relayed */
};

struct proxy_job {
	struct proxy		*px;
	struct transport_call	*call;
	const ProtobufCMessage	*req;
};

/* The first word of the mode file: forward (default), roster-missing,
 * roster-dup, hold-share, fork or oversize (a 256 MiB checkpoint). */
static void
proxy_mode(const struct proxy *px, char *mode, size_t cap)
{
	FILE *f;

	snprintf(mode, cap, "forward");
	if (px->mode_file == NULL || (f = fopen(px->mode_file, "r")) == NULL)
		return;
	if (fscanf(f, "%31s", mode) != 1)
		snprintf(mode, cap, "forward");
	fclose(f);
}

static int
note_sign_cb(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[64])
{
	return keys_sign_note(ctx, msg, len, sig);
}

/* The same checkpoint with another root, signed with the log key. */
static int
forge_checkpoint(struct proxy *px, const char *note, char **out)
{
	struct tlog_checkpoint cp;
	struct tlog_signer sg;
	struct tlog_note *n = NULL;
	char body[TLOG_NOTE_MAX];
	size_t blen, olen;
	int r;

	if ((r = tlog_note_parse(note, strlen(note), &n)) != CAIRN_OK)
		return r;
	r = tlog_checkpoint_parse(n->text, n->text_len, &cp);
	tlog_note_free(n);
	if (r != CAIRN_OK)
		return r;
	cp.root[0] ^= 0xff;
	if ((r = tlog_checkpoint_format(&cp, body, sizeof(body), &blen)) !=
	    CAIRN_OK)
		return r;
	memset(&sg, 0, sizeof(sg));
	sg.name = cp.origin;
	keys_identity_public(px->logkey, sg.pub);
	sg.sign = note_sign_cb;
	sg.ctx = px->logkey;
	return tlog_note_sign(body, blen, &sg, 1, out, &olen);
}

/* Keep the request of an Advertise or SubmitShare in the capture folder. */
static void
proxy_capture(struct proxy *px, const struct proto_method_info *m,
    const ProtobufCMessage *req)
{
	ProtobufCMessage *inner = NULL;
	uint8_t *buf = NULL;
	char path[4096];
	size_t len;

	if (px->capture == NULL || proto_pack(req, PROTO_MAX_MESSAGE, &buf,
	    &len) != CAIRN_OK)
		return;
	if (m->id == PROTO_ADVERTISE) {
		const Cairn__V1__SignedAdvertisement *sa = (const void *)req;
		Cairn__V1__Advertisement *ad;

		if (proto_unpack(&cairn__v1__advertisement__descriptor,
		    sa->advertisement.data, sa->advertisement.len,
		    PROTO_MAX_SMALL, &inner) != CAIRN_OK)
			goto out;
		ad = (Cairn__V1__Advertisement *)inner;
		snprintf(path, sizeof(path), "%s/advertise-%s-%u.bin",
		    px->capture, ad->query_id, ad->attempt);
	} else {
		const Cairn__V1__MaskedShareChunk *ck = (const void *)req;
		Cairn__V1__ShareManifest *mf;

		if (proto_unpack(&cairn__v1__share_manifest__descriptor,
		    ck->manifest.data, ck->manifest.len, PROTO_MAX_SMALL,
		    &inner) != CAIRN_OK)
			goto out;
		mf = (Cairn__V1__ShareManifest *)inner;
		snprintf(path, sizeof(path), "%s/share-%s-%u-%u.bin",
		    px->capture, mf->query_id, mf->attempt, ck->chunk_index);
	}
	if (write_file(path, buf, len) != CAIRN_OK)
		log_warn("%s", cairn_errmsg());
out:
	if (inner != NULL)
		protobuf_c_message_free_unpacked(inner, NULL);
	free(buf);
}

/* Tamper with a reply according to 'mode'; undo() restores it. */
struct tamper {
	Cairn__V1__SignedAdvertisement	*saved;
	size_t				 n;
	char				*note;
	char				*forged;
};

static void
tamper(struct proxy *px, const char *mode, const struct proto_method_info *m,
    ProtobufCMessage *resp, struct tamper *t)
{
	int r;

	memset(t, 0, sizeof(*t));
	if (m->id == PROTO_GET_ROSTER) {
		Cairn__V1__Roster *ro = (Cairn__V1__Roster *)resp;

		t->n = ro->n_advertisements;
		if (ro->n_advertisements < 2)
			return;
		if (strcmp(mode, "roster-missing") == 0) {
			ro->n_advertisements--;
			log_warn("proxy: roster of '%s' sent without its last "
			    "member", ro->query_id);
		} else if (strcmp(mode, "roster-dup") == 0) {
			t->saved = ro->advertisements[1];
			ro->advertisements[1] = ro->advertisements[0];
			log_warn("proxy: roster of '%s' sent with its first "
			    "member twice", ro->query_id);
		}
	} else if (m->id == PROTO_GET_CHECKPOINT &&
	    strcmp(mode, "fork") == 0) {
		Cairn__V1__Checkpoint *cp = (Cairn__V1__Checkpoint *)resp;

		/* Another root for the size the node saw last. */
		pthread_mutex_lock(&px->mu);
		r = forge_checkpoint(px, px->last_note != NULL ?
		    px->last_note : cp->note, &t->forged);
		pthread_mutex_unlock(&px->mu);
		if (r != CAIRN_OK) {
			log_warn("proxy: cannot forge: %s", cairn_errmsg());
			return;
		}
		t->note = cp->note;
		cp->note = t->forged;
		log_warn("proxy: served a forked checkpoint");
	}
}

static void
undo(const struct proto_method_info *m, ProtobufCMessage *resp,
    struct tamper *t)
{
	if (m->id == PROTO_GET_ROSTER) {
		Cairn__V1__Roster *ro = (Cairn__V1__Roster *)resp;

		ro->n_advertisements = t->n;
		if (t->saved != NULL)
			ro->advertisements[1] = t->saved;
	} else if (m->id == PROTO_GET_CHECKPOINT && t->note != NULL)
		((Cairn__V1__Checkpoint *)resp)->note = t->note;
	free(t->forged);
}

/* Keep the checkpoint the node is about to see (when relayed as is). */
static void
remember(struct proxy *px, const struct proto_method_info *m,
    const ProtobufCMessage *resp)
{
	const char *note = NULL;
	char mode[32], *copy;

	/*
	 * Every genuine checkpoint the node is sent, in every mode but the
	 * two that replace it: a checkpoint relayed while a roster was being
	 * tampered with was cosigned too, and forking from an older one made
	 * the node refuse it as older, not as a fork (a CI flake).
	 */
	proxy_mode(px, mode, sizeof(mode));
	if (strcmp(mode, "fork") == 0 || strcmp(mode, "oversize") == 0)
		return;
	if (m->id == PROTO_GET_CHECKPOINT)
		note = ((const Cairn__V1__Checkpoint *)resp)->note;
	else if (m->id == PROTO_POLL_TASK) {
		const Cairn__V1__PollTaskResponse *pr = (const void *)resp;

		if (pr->task != NULL && pr->task->checkpoint != NULL)
			note = pr->task->checkpoint->note;
	}
	if (note == NULL || (copy = strdup(note)) == NULL)
		return;
	pthread_mutex_lock(&px->mu);
	free(px->last_note);
	px->last_note = copy;
	pthread_mutex_unlock(&px->mu);
}

static void *
proxy_thread(void *arg)
{
	struct proxy_job *j = arg;
	struct proxy *px = j->px;
	const struct proto_method_info *m = transport_call_method(j->call);
	ProtobufCMessage *resp = NULL;
	struct tamper t;
	char mode[32];
	int64_t left;
	int r;

	proxy_mode(px, mode, sizeof(mode));
	if (m->id == PROTO_ADVERTISE || m->id == PROTO_SUBMIT_SHARE)
		proxy_capture(px, m, j->req);
	if (m->server_streaming) {
		(void)transport_call_fail(j->call, CAIRN_ERR_UNSUPPORTED,
		    NULL, "the proxy does not relay streams");
		goto done;
	}
	if (m->id == PROTO_SUBMIT_SHARE && strcmp(mode, "hold-share") == 0) {
		const Cairn__V1__MaskedShareChunk *ck = (const void *)j->req;
		Cairn__V1__SubmitShareResponse sr =
		    CAIRN__V1__SUBMIT_SHARE_RESPONSE__INIT;

		sr.received_cells = ck->offset + ck->n_cells;
		log_warn("proxy: share chunk %u held back", ck->chunk_index);
		(void)transport_call_reply(j->call, &sr.base);
		goto done;
	}
	left = transport_call_remaining_ms(j->call);
	if (left < 100)
		left = 100;
	r = transport_unary(px->up, m, j->req, (unsigned)left, &resp);
	if (r != CAIRN_OK) {
		(void)transport_call_fail(j->call, r, NULL, cairn_errmsg());
		goto done;
	}
	remember(px, m, resp);
	if (m->id == PROTO_GET_CHECKPOINT && strcmp(mode, "oversize") == 0) {
		Cairn__V1__Checkpoint big = CAIRN__V1__CHECKPOINT__INIT;

		if ((big.note = malloc(OVERSIZE_NOTE + 1)) != NULL) {
			memset(big.note, 'A', OVERSIZE_NOTE);
			big.note[OVERSIZE_NOTE] = '\0';
			log_warn("proxy: sent a checkpoint of %u MiB",
			    OVERSIZE_NOTE >> 20);
			(void)transport_call_reply(j->call, &big.base);
			free(big.note);
			protobuf_c_message_free_unpacked(resp, NULL);
			goto done;
		}
	}
	tamper(px, mode, m, resp, &t);
	(void)transport_call_reply(j->call, resp);
	undo(m, resp, &t);
	protobuf_c_message_free_unpacked(resp, NULL);
done:
	pthread_mutex_lock(&px->mu);
	if (--px->busy == 0)
		pthread_cond_broadcast(&px->idle);
	pthread_mutex_unlock(&px->mu);
	free(j);
	return NULL;
}

static void
proxy_handle(struct transport_call *call, const ProtobufCMessage *req,
    void *arg)
{
	struct proxy *px = arg;
	struct proxy_job *j;
	pthread_attr_t at;
	pthread_t t;

	if ((j = malloc(sizeof(*j))) == NULL) {
		(void)transport_call_fail(call, CAIRN_ERR_NOMEM, NULL,
		    "out of memory");
		return;
	}
	j->px = px;
	j->call = call;
	j->req = req;
	pthread_mutex_lock(&px->mu);
	px->busy++;
	pthread_mutex_unlock(&px->mu);
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &at, proxy_thread, j) != 0) {
		pthread_mutex_lock(&px->mu);
		px->busy--;
		pthread_mutex_unlock(&px->mu);
		free(j);
		(void)transport_call_fail(call, CAIRN_ERR_INTERNAL, NULL,
		    "no thread");
	}
	pthread_attr_destroy(&at);
}

static int
cmd_proxy(int argc, char **argv)
{
	static const struct option lo[] = { IDENT_OPTIONS,
		{ "listen", required_argument, NULL, 'l' },
		{ "port-file", required_argument, NULL, 'f' },
		{ "server-ca", required_argument, NULL, 'a' },
		{ "server-cert", required_argument, NULL, 'c' },
		{ "server-key", required_argument, NULL, 'k' },
		{ "log-key", required_argument, NULL, 'g' },
		{ "mode-file", required_argument, NULL, 'm' },
		{ "capture", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 } };
	struct transport_handler h[PROTO_NMETHODS];
	struct transport_server_config sc;
	struct transport_server *srv = NULL;
	struct keys_tls *stls = NULL;
	struct ident id = { 0 };
	struct proxy px;
	const char *listen = "127.0.0.1:0", *port_file = NULL;
	const char *sca = NULL, *scert = NULL, *skey = NULL, *lkey = NULL;
	char port[32];
	sigset_t ss;
	int c, r, sig, rc = 1;

	memset(&px, 0, sizeof(px));
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (ident_opt(&id, c, optarg))
			continue;
		switch (c) {
		case 'l': listen = optarg; break;
		case 'f': port_file = optarg; break;
		case 'a': sca = optarg; break;
		case 'c': scert = optarg; break;
		case 'k': skey = optarg; break;
		case 'g': lkey = optarg; break;
		case 'm': px.mode_file = optarg; break;
		case 'p': px.capture = optarg; break;
		default: return 2;
		}
	}
	if (sca == NULL || scert == NULL || skey == NULL || lkey == NULL ||
	    port_file == NULL)
		return fail("proxy", cairn_err(CAIRN_ERR_ARG, "--server-ca, "
		    "--server-cert, --server-key, --log-key and --port-file "
		    "are required"));
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	pthread_sigmask(SIG_BLOCK, &ss, NULL);
	pthread_mutex_init(&px.mu, NULL);
	pthread_cond_init(&px.idle, NULL);
	if ((r = keys_identity_load(lkey, &px.logkey)) != CAIRN_OK ||
	    (r = keys_tls_load(sca, scert, skey, &stls)) != CAIRN_OK ||
	    (r = client_open(&id, &px.up)) != CAIRN_OK) {
		rc = fail("proxy", r);
		goto out;
	}
	for (int i = 0; i < PROTO_NMETHODS; i++) {
		h[i].method = proto_method((enum proto_method)i);
		h[i].fn = proxy_handle;
		h[i].cancel = NULL;
		h[i].arg = &px;
	}
	memset(&sc, 0, sizeof(sc));
	sc.listen = listen;
	sc.tls = stls;
	sc.max_message = OVERSIZE_NOTE + 4096;
	if ((r = transport_server_start(&sc, h, PROTO_NMETHODS, &srv)) !=
	    CAIRN_OK) {
		rc = fail("proxy", r);
		goto out;
	}
	snprintf(port, sizeof(port), "%d\n", transport_server_port(srv));
	if ((r = write_file(port_file, (const uint8_t *)port,
	    strlen(port))) != CAIRN_OK) {
		rc = fail("proxy", r);
		goto out;
	}
	log_info("proxy for %s on port %d", id.target,
	    transport_server_port(srv));
	sigwait(&ss, &sig);
	rc = 0;
out:
	transport_server_stop(srv);
	pthread_mutex_lock(&px.mu);
	while (px.busy > 0)
		pthread_cond_wait(&px.idle, &px.mu);
	pthread_mutex_unlock(&px.mu);
	transport_client_free(px.up);
	free(px.last_note);
	keys_tls_free(stls);
	keys_identity_free(px.logkey);
	pthread_cond_destroy(&px.idle);
	pthread_mutex_destroy(&px.mu);
	return rc;
}

/* ------------------------------------------------------------- evidence */

static int
cmd_evidence(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "witness", required_argument, NULL, 'w' },
		{ "origin", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 } };
	struct tlog_witness *w = NULL;
	const char *path = NULL, *origin = NULL;
	uint64_t n = 0;
	int c, r;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == 'w')
			path = optarg;
		else if (c == 'o')
			origin = optarg;
		else
			return 2;
	}
	if (path == NULL || origin == NULL)
		return fail("evidence", cairn_err(CAIRN_ERR_ARG, "--witness "
		    "FILE and --origin ORIGIN are required"));
	if ((r = tlog_witness_open(path, &w)) != CAIRN_OK ||
	    (r = tlog_witness_evidence_count(w, origin, &n)) != CAIRN_OK) {
		tlog_witness_close(w);
		return fail("evidence", r);
	}
	printf("evidence %llu fork %s\n", (unsigned long long)n,
	    tlog_witness_has_fork(w, origin) ? "yes" : "no");
	tlog_witness_close(w);
	return 0;
}

/* ------------------------------------------------------------ gzip bombs */

/*
 * The only part of the attacker that speaks the gRPC C core itself:
 * cairn's transport never compresses, and calls only the methods of
 * proto_service.h, so a compressed message or an unknown path must be
 * made here.  A bomb is BOMB_BYTES of a protobuf field (a length-delimited
 * field 1 of zeros) gzip-compressed to about 1 MiB and sent as an already
 * compressed byte buffer with "grpc-encoding: gzip": gRPC sends it as it
 * is, and only a peer that inflates it pays the gibibyte.
 */
#define BOMB_BYTES	(1024u * 1024 * 1024)
#define BOMB_BLOCK	(1024u * 1024)

/* Raw deflate of 'len' bytes of 'in' ending in a full flush, appended at
 * 'out' + *off (cap bytes in all). */
static int
deflate_part(z_stream *z, const uint8_t *in, size_t len, int flush,
    uint8_t *out, size_t cap, size_t *off)
{
	z->next_in = (Bytef *)in;
	z->avail_in = (uInt)len;
	z->next_out = out + *off;
	z->avail_out = (uInt)(cap - *off);
	if (deflate(z, flush) == Z_STREAM_ERROR || z->avail_in != 0 ||
	    z->avail_out == 0)
		return cairn_err(CAIRN_ERR_INTERNAL, "deflate");
	*off = cap - z->avail_out;
	return CAIRN_OK;
}

/*
 * The gzip bomb: a gzip header, a raw deflate stream and the trailer
 * (CRC-32, size).  A full flush resets the compressor, so every MiB of
 * zeros after the first compresses to the same bytes: they are deflated
 * once and repeated, which takes milliseconds instead of seconds.
 */
static int
gzip_bomb(uint8_t **out, size_t *outlen)
{
	static const uint8_t gzhead[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0,
	    3 };
	static uint8_t zero[BOMB_BLOCK];
	uint8_t head[6], *buf, *blk = NULL;
	size_t cap = 4u << 20, off = 0, b0, blen;
	uLong crc, zcrc;
	z_stream z;
	int r;

	/* Field 1, length-delimited, the length a 5-byte varint. */
	head[0] = 0x0a;
	for (size_t i = 0, v = BOMB_BYTES - sizeof(head); i < 5; i++, v >>= 7)
		head[1 + i] = (uint8_t)((v & 0x7f) | (i < 4 ? 0x80 : 0));
	if ((buf = malloc(cap)) == NULL)
		return CAIRN_ERR_NOMEM;
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY) !=
	    Z_OK) {
		free(buf);
		return cairn_err(CAIRN_ERR_INTERNAL, "deflateInit2");
	}
	memcpy(buf, gzhead, sizeof(gzhead));
	off = sizeof(gzhead);
	/* The field's head and the first MiB less its 6 bytes. */
	if ((r = deflate_part(&z, head, sizeof(head), Z_FULL_FLUSH, buf, cap,
	    &off)) != CAIRN_OK || (r = deflate_part(&z, zero, BOMB_BLOCK -
	    sizeof(head), Z_FULL_FLUSH, buf, cap, &off)) != CAIRN_OK)
		goto out;
	/* One MiB of zeros; the next must come out the same. */
	b0 = off;
	if ((r = deflate_part(&z, zero, BOMB_BLOCK, Z_FULL_FLUSH, buf, cap,
	    &off)) != CAIRN_OK)
		goto out;
	blen = off - b0;
	if ((blk = malloc(blen)) == NULL) {
		r = CAIRN_ERR_NOMEM;
		goto out;
	}
	memcpy(blk, buf + b0, blen);
	if ((r = deflate_part(&z, zero, BOMB_BLOCK, Z_FULL_FLUSH, buf, cap,
	    &off)) != CAIRN_OK)
		goto out;
	if (off - b0 != 2 * blen || memcmp(buf + b0 + blen, blk, blen) != 0) {
		r = cairn_err(CAIRN_ERR_INTERNAL, "deflate blocks differ");
		goto out;
	}
	for (size_t i = 3; i < BOMB_BYTES / BOMB_BLOCK; i++) {
		if (off + blen > cap - 64) {
			r = cairn_err(CAIRN_ERR_INTERNAL, "bomb too large");
			goto out;
		}
		memcpy(buf + off, blk, blen);
		off += blen;
	}
	if ((r = deflate_part(&z, NULL, 0, Z_FINISH, buf, cap, &off)) !=
	    CAIRN_OK)
		goto out;
	crc = crc32(0, head, sizeof(head));
	crc = crc32(crc, zero, BOMB_BLOCK - sizeof(head));
	zcrc = crc32(0, zero, BOMB_BLOCK);
	for (size_t i = 1; i < BOMB_BYTES / BOMB_BLOCK; i++)
		crc = crc32_combine(crc, zcrc, BOMB_BLOCK);
	for (int i = 0; i < 4; i++)
		buf[off++] = (uint8_t)(crc >> (8 * i));
	for (int i = 0; i < 4; i++)
		buf[off++] = (uint8_t)((uint32_t)BOMB_BYTES >> (8 * i));
	*out = buf;
	*outlen = off;
	buf = NULL;
	r = CAIRN_OK;
out:
	deflateEnd(&z);
	free(blk);
	free(buf);
	return r;
}

/* A byte buffer holding the bomb, marked as gzip-compressed. */
static grpc_byte_buffer *
bomb_bb(const uint8_t *gz, size_t len)
{
	grpc_slice s = grpc_slice_from_copied_buffer((const char *)gz, len);
	grpc_byte_buffer *bb = grpc_raw_compressed_byte_buffer_create(&s, 1,
	    GRPC_COMPRESS_GZIP);

	grpc_slice_unref(s);
	return bb;
}

/* Channel arguments of a peer that compresses everything with gzip. */
#define GZIP_ARGS(name) \
	grpc_arg name##_a[] = { \
		{ GRPC_ARG_INTEGER, \
		    GRPC_COMPRESSION_CHANNEL_DEFAULT_ALGORITHM, \
		    { .integer = GRPC_COMPRESS_GZIP } }, \
		{ GRPC_ARG_INTEGER, GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, \
		    { .integer = -1 } }, \
		{ GRPC_ARG_INTEGER, GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, \
		    { .integer = -1 } }, \
	}; \
	grpc_channel_args name = { sizeof(name##_a) / sizeof(name##_a[0]), \
	    name##_a }

struct bomb_call {
	grpc_call		*call;
	grpc_byte_buffer	*send, *recv;
	grpc_metadata_array	 imd, tmd;
	grpc_status_code	 st;
	grpc_slice		 details;
};

/*
 * gzip: send 'calls' gzip bombs at once to --method (a request that
 * inflates to 1 GiB) and print each call's status.
 */
static int
cmd_gzip(int argc, char **argv)
{
	static const struct option lo[] = { IDENT_OPTIONS,
		{ "method", required_argument, NULL, 'm' },
		{ "calls", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 } };
	const struct proto_method_info *m = NULL;
	struct ident id = { 0 };
	struct keys_tls *tls = NULL;
	struct bomb_call *bc = NULL;
	grpc_ssl_pem_key_cert_pair pair;
	grpc_channel_credentials *creds;
	grpc_channel *ch = NULL;
	grpc_completion_queue *cq = NULL;
	uint8_t *gz = NULL;
	size_t gzlen = 0;
	unsigned calls = 1;
	grpc_slice path;
	gpr_timespec dl;
	int c, r, rc = 1;
	GZIP_ARGS(args);

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (ident_opt(&id, c, optarg))
			continue;
		if (c == 'm')
			m = proto_method_by_name(optarg);
		else if (c == 'n')
			calls = (unsigned)atoi(optarg);
		else
			return 2;
	}
	if (m == NULL || id.target == NULL || id.dir == NULL || calls < 1 ||
	    calls > 16 || m->server_streaming)
		return fail("gzip", cairn_err(CAIRN_ERR_ARG, "--target, --dir "
		    "and --method (a unary one) are required; 1 to 16 "
		    "--calls"));
	if ((r = gzip_bomb(&gz, &gzlen)) != CAIRN_OK ||
	    (r = tls_load_dir(id.dir, &tls)) != CAIRN_OK) {
		free(gz);
		return fail("gzip", r);
	}
	printf("bomb: %zu bytes of gzip inflating to %u bytes\n", gzlen,
	    BOMB_BYTES);
	fflush(stdout);
	if ((bc = calloc(calls, sizeof(*bc))) == NULL) {
		rc = fail("gzip", CAIRN_ERR_NOMEM);
		goto out;
	}
	grpc_init();
	pair.private_key = keys_tls_key_pem(tls);
	pair.cert_chain = keys_tls_cert_pem(tls);
	creds = grpc_ssl_credentials_create(keys_tls_ca_pem(tls), &pair, NULL,
	    NULL);
	ch = grpc_channel_create(id.target, creds, &args);
	grpc_channel_credentials_release(creds);
	cq = grpc_completion_queue_create_for_next(NULL);
	path = grpc_slice_from_static_string(m->path);
	dl = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(
	    id.timeout_ms ? id.timeout_ms : 30000, GPR_TIMESPAN));
	for (unsigned i = 0; i < calls; i++) {
		grpc_op ops[6];

		bc[i].call = grpc_channel_create_call(ch, NULL,
		    GRPC_PROPAGATE_DEFAULTS, cq, path, NULL, dl, NULL);
		bc[i].send = bomb_bb(gz, gzlen);
		bc[i].details = grpc_empty_slice();
		grpc_metadata_array_init(&bc[i].imd);
		grpc_metadata_array_init(&bc[i].tmd);
		memset(ops, 0, sizeof(ops));
		ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
		ops[1].op = GRPC_OP_SEND_MESSAGE;
		ops[1].data.send_message.send_message = bc[i].send;
		ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
		ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
		ops[3].data.recv_initial_metadata.recv_initial_metadata =
		    &bc[i].imd;
		ops[4].op = GRPC_OP_RECV_MESSAGE;
		ops[4].data.recv_message.recv_message = &bc[i].recv;
		ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
		ops[5].data.recv_status_on_client.trailing_metadata =
		    &bc[i].tmd;
		ops[5].data.recv_status_on_client.status = &bc[i].st;
		ops[5].data.recv_status_on_client.status_details =
		    &bc[i].details;
		if (grpc_call_start_batch(bc[i].call, ops, 6, &bc[i], NULL) !=
		    GRPC_CALL_OK) {
			rc = fail("gzip", cairn_err(CAIRN_ERR_INTERNAL,
			    "start_batch"));
			calls = i + 1;	/* its call is unref'd below */
			goto done;
		}
	}
	for (unsigned i = 0; i < calls; i++) {
		grpc_event ev = grpc_completion_queue_next(cq,
		    gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
		struct bomb_call *b = ev.tag;
		char *d = grpc_slice_to_c_string(b->details);
		static const char *const names[] = { "OK", "CANCELLED",
		    "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
		    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED",
		    "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
		    "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE",
		    "DATA_LOSS", "UNAUTHENTICATED" };

		printf("%s: %s: %.200s%s\n", m->name, (unsigned)b->st < 17 ?
		    names[b->st] : "UNKNOWN", d, b->recv != NULL ?
		    " (a reply came)" : "");
		gpr_free(d);
	}
	rc = 0;
done:
	for (unsigned i = 0; i < calls; i++) {
		if (bc[i].call != NULL)
			grpc_call_unref(bc[i].call);
		if (bc[i].send != NULL)
			grpc_byte_buffer_destroy(bc[i].send);
		if (bc[i].recv != NULL)
			grpc_byte_buffer_destroy(bc[i].recv);
		grpc_slice_unref(bc[i].details);
		grpc_metadata_array_destroy(&bc[i].imd);
		grpc_metadata_array_destroy(&bc[i].tmd);
	}
	grpc_channel_destroy(ch);
	grpc_completion_queue_shutdown(cq);
	while (grpc_completion_queue_next(cq, gpr_inf_future(
	    GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(cq);
	grpc_shutdown();
out:
	free(bc);
	free(gz);
	keys_tls_free(tls);
	return rc;
}

/*
 * call: one call with an empty message to any --path (or to "/x" and
 * --path-bytes more 'A's), the way a client of another service would, and
 * print "PATH: STATUS: detail" (the path cut to 80 bytes) and the length
 * of the detail.
 */
static int
cmd_call(int argc, char **argv)
{
	static const struct option lo[] = { IDENT_OPTIONS,
		{ "path", required_argument, NULL, 'p' },
		{ "path-bytes", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 } };
	static const char *const names[] = { "OK", "CANCELLED", "UNKNOWN",
	    "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
	    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
	    "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
	    "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED" };
	struct ident id = { 0 };
	struct keys_tls *tls = NULL;
	grpc_ssl_pem_key_cert_pair pair;
	grpc_channel_credentials *creds;
	grpc_channel *ch;
	grpc_completion_queue *cq;
	grpc_call *call;
	grpc_byte_buffer *send, *recv = NULL;
	grpc_metadata_array imd, tmd;
	grpc_status_code st = GRPC_STATUS_UNKNOWN;
	grpc_slice details = grpc_empty_slice(), empty = grpc_empty_slice();
	grpc_op ops[6];
	char *path = NULL, *d;
	size_t extra = 0;
	int c, r, tag;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (ident_opt(&id, c, optarg))
			continue;
		if (c == 'p')
			path = strdup(optarg);
		else if (c == 'b')
			extra = strtoull(optarg, NULL, 10);
		else
			return 2;
	}
	if (path == NULL && extra > 0 && extra < 65536 &&
	    (path = malloc(extra + 3)) != NULL) {
		memcpy(path, "/x", 2);
		memset(path + 2, 'A', extra);
		path[extra + 2] = '\0';
	}
	if (id.target == NULL || id.dir == NULL || path == NULL) {
		free(path);
		return fail("call", cairn_err(CAIRN_ERR_ARG, "--target, --dir "
		    "and --path (or --path-bytes below 65536) are required"));
	}
	if ((r = tls_load_dir(id.dir, &tls)) != CAIRN_OK) {
		free(path);
		return fail("call", r);
	}
	grpc_init();
	pair.private_key = keys_tls_key_pem(tls);
	pair.cert_chain = keys_tls_cert_pem(tls);
	creds = grpc_ssl_credentials_create(keys_tls_ca_pem(tls), &pair, NULL,
	    NULL);
	ch = grpc_channel_create(id.target, creds, NULL);
	grpc_channel_credentials_release(creds);
	cq = grpc_completion_queue_create_for_pluck(NULL);
	{
		grpc_slice ps = grpc_slice_from_copied_string(path);

		call = grpc_channel_create_call(ch, NULL,
		    GRPC_PROPAGATE_DEFAULTS, cq, ps, NULL, gpr_time_add(
		    gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(
		    id.timeout_ms ? id.timeout_ms : 30000, GPR_TIMESPAN)),
		    NULL);
		grpc_slice_unref(ps);
	}
	send = grpc_raw_byte_buffer_create(&empty, 1);
	grpc_metadata_array_init(&imd);
	grpc_metadata_array_init(&tmd);
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = send;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &imd;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &recv;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.trailing_metadata = &tmd;
	ops[5].data.recv_status_on_client.status = &st;
	ops[5].data.recv_status_on_client.status_details = &details;
	if (grpc_call_start_batch(call, ops, 6, &tag, NULL) == GRPC_CALL_OK)
		grpc_completion_queue_pluck(cq, &tag,
		    gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	d = grpc_slice_to_c_string(details);
	printf("%.80s: %s: %s\n", path, (unsigned)st < 17 ? names[st] :
	    "UNKNOWN", d);
	printf("detail length: %zu\n", strlen(d));
	gpr_free(d);
	grpc_slice_unref(details);
	grpc_metadata_array_destroy(&imd);
	grpc_metadata_array_destroy(&tmd);
	grpc_byte_buffer_destroy(send);
	if (recv != NULL)
		grpc_byte_buffer_destroy(recv);
	grpc_call_unref(call);
	grpc_channel_destroy(ch);
	grpc_completion_queue_shutdown(cq);
	while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(
	    GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(cq);
	grpc_shutdown();
	keys_tls_free(tls);
	free(path);
	return 0;
}

static volatile sig_atomic_t bomb_stop;

static void
on_term(int sig)
{
	(void)sig;
	bomb_stop = 1;
}

/* One call of the fake coordinator: new (request), then its reply. */
struct bomb_srv_call {
	bool			 replying;
	grpc_call		*call;
	grpc_call_details	 details;
	grpc_metadata_array	 md;
	grpc_byte_buffer	*send;
	int			 cancelled;
};

static struct bomb_srv_call *
bomb_request(grpc_server *srv, grpc_completion_queue *cq)
{
	struct bomb_srv_call *b;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	grpc_call_details_init(&b->details);
	grpc_metadata_array_init(&b->md);
	if (grpc_server_request_call(srv, &b->call, &b->details, &b->md, cq,
	    cq, b) != GRPC_CALL_OK) {
		grpc_call_details_destroy(&b->details);
		grpc_metadata_array_destroy(&b->md);
		free(b);
		return NULL;
	}
	return b;
}

static void
bomb_srv_free(struct bomb_srv_call *b)
{
	if (b->call != NULL)
		grpc_call_unref(b->call);
	if (b->send != NULL)
		grpc_byte_buffer_destroy(b->send);
	grpc_call_details_destroy(&b->details);
	grpc_metadata_array_destroy(&b->md);
	free(b);
}

/*
 * gzip-server: a fake coordinator with the coordinator's certificate that
 * answers every call, whatever its method, with a gzip bomb (a reply that
 * inflates to 1 GiB) and status OK, until SIGTERM.
 */
static int
cmd_gzip_server(int argc, char **argv)
{
	static int shutdown_tag;
	static const struct option lo[] = {
		{ "server-ca", required_argument, NULL, 'a' },
		{ "server-cert", required_argument, NULL, 'c' },
		{ "server-key", required_argument, NULL, 'k' },
		{ "port-file", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 } };
	const char *sca = NULL, *scert = NULL, *skey = NULL, *port_file = NULL;
	struct keys_tls *tls = NULL;
	grpc_ssl_pem_key_cert_pair pair;
	grpc_server_credentials *creds;
	grpc_server *srv = NULL;
	grpc_completion_queue *cq = NULL;
	uint8_t *gz = NULL;
	size_t gzlen = 0;
	unsigned served = 0;
	char port[32];
	int c, r, p, rc = 1;
	GZIP_ARGS(args);

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'a': sca = optarg; break;
		case 'c': scert = optarg; break;
		case 'k': skey = optarg; break;
		case 'f': port_file = optarg; break;
		default: return 2;
		}
	}
	if (sca == NULL || scert == NULL || skey == NULL || port_file == NULL)
		return fail("gzip-server", cairn_err(CAIRN_ERR_ARG,
		    "--server-ca, --server-cert, --server-key and --port-file "
		    "are required"));
	if ((r = gzip_bomb(&gz, &gzlen)) != CAIRN_OK ||
	    (r = keys_tls_load(sca, scert, skey, &tls)) != CAIRN_OK) {
		free(gz);
		return fail("gzip-server", r);
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	grpc_init();
	pair.private_key = keys_tls_key_pem(tls);
	pair.cert_chain = keys_tls_cert_pem(tls);
	creds = grpc_ssl_server_credentials_create_ex(keys_tls_ca_pem(tls),
	    &pair, 1,
	    GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY, NULL);
	srv = grpc_server_create(&args, NULL);
	cq = grpc_completion_queue_create_for_next(NULL);
	grpc_server_register_completion_queue(srv, cq, NULL);
	p = grpc_server_add_http2_port(srv, "127.0.0.1:0", creds);
	grpc_server_credentials_release(creds);
	if (p == 0) {
		rc = fail("gzip-server", cairn_err(CAIRN_ERR_NET, "cannot "
		    "listen"));
		grpc_server_destroy(srv);
		goto out;
	}
	grpc_server_start(srv);
	for (int i = 0; i < 8; i++)
		(void)bomb_request(srv, cq);
	snprintf(port, sizeof(port), "%d\n", p);
	if ((r = write_file(port_file, (const uint8_t *)port,
	    strlen(port))) != CAIRN_OK) {
		rc = fail("gzip-server", r);
		bomb_stop = 1;
	} else
		log_info("gzip bomb server on port %d (%zu bytes of gzip)", p,
		    gzlen);
	while (!bomb_stop) {
		grpc_event ev = grpc_completion_queue_next(cq, gpr_time_add(
		    gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(200,
		    GPR_TIMESPAN)), NULL);
		struct bomb_srv_call *b = ev.tag;
		grpc_op ops[4];

		if (ev.type != GRPC_OP_COMPLETE)
			continue;
		if (b->replying || !ev.success) {
			bomb_srv_free(b);
			continue;
		}
		(void)bomb_request(srv, cq);
		b->replying = true;
		b->send = bomb_bb(gz, gzlen);
		memset(ops, 0, sizeof(ops));
		ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
		ops[1].op = GRPC_OP_SEND_MESSAGE;
		ops[1].data.send_message.send_message = b->send;
		ops[2].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
		ops[2].data.send_status_from_server.status = GRPC_STATUS_OK;
		ops[3].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
		ops[3].data.recv_close_on_server.cancelled = &b->cancelled;
		if (grpc_call_start_batch(b->call, ops, 4, b, NULL) !=
		    GRPC_CALL_OK) {
			bomb_srv_free(b);
			continue;
		}
		served++;
		log_info("gzip bomb sent as the reply to %.*s",
		    (int)(GRPC_SLICE_LENGTH(b->details.method) > 100 ? 100 :
		    GRPC_SLICE_LENGTH(b->details.method)),
		    (const char *)GRPC_SLICE_START_PTR(b->details.method));
	}
	rc = 0;
	log_info("gzip bomb server: %u replies sent", served);
	grpc_server_shutdown_and_notify(srv, cq, &shutdown_tag);
	grpc_server_cancel_all_calls(srv);
	for (;;) {
		grpc_event ev = grpc_completion_queue_next(cq,
		    gpr_inf_future(GPR_CLOCK_REALTIME), NULL);

		if (ev.type != GRPC_OP_COMPLETE)
			break;
		if (ev.tag == &shutdown_tag)
			break;
		bomb_srv_free(ev.tag);
	}
	grpc_server_destroy(srv);
out:
	if (cq != NULL) {
		grpc_completion_queue_shutdown(cq);
		for (;;) {
			grpc_event ev = grpc_completion_queue_next(cq,
			    gpr_inf_future(GPR_CLOCK_REALTIME), NULL);

			if (ev.type == GRPC_QUEUE_SHUTDOWN)
				break;
			if (ev.type == GRPC_OP_COMPLETE &&
			    ev.tag != &shutdown_tag)
				bomb_srv_free(ev.tag);
		}
		grpc_completion_queue_destroy(cq);
	}
	grpc_shutdown();
	free(gz);
	keys_tls_free(tls);
	return rc;
}

/* ----------------------------------------------------------------- peak */

/*
 * peak CMD [ARG...]: run CMD, then print its peak resident memory as
 * "peak memory: N kB" (wait4's ru_maxrss) and exit with its status.
 */
static int
cmd_peak(int argc, char **argv)
{
	struct rusage ru;
	pid_t pid;
	int st;

	if (argc < 2)
		return fail("peak", cairn_err(CAIRN_ERR_ARG, "a command is "
		    "required"));
	fflush(stdout);
	if ((pid = fork()) < 0)
		return fail("peak", cairn_err(CAIRN_ERR_INTERNAL, "fork: %s",
		    strerror(errno)));
	if (pid == 0) {
		execvp(argv[1], argv + 1);
		fprintf(stderr, "%s: %s\n", argv[1], strerror(errno));
		_exit(127);
	}
	if (wait4(pid, &st, 0, &ru) != pid)
		return fail("peak", cairn_err(CAIRN_ERR_INTERNAL, "wait4: %s",
		    strerror(errno)));
	printf("peak memory: %ld kB\n", ru.ru_maxrss);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ----------------------------------------------------------------- main */

static const struct cli_cmd cmds[] = {
	{ "methods", cmd_methods, "call all 14 methods, print each status" },
	{ "resubmit", cmd_resubmit, "send a logged QUERY's signed bytes "
	    "again" },
	{ "replay", cmd_replay, "send captured request bytes again" },
	{ "forge-share", cmd_forge_share, "re-sign a captured share chunk "
	    "and send it" },
	{ "oversize", cmd_oversize, "send a request of N bytes" },
	{ "slowloris", cmd_slowloris, "hold connections, streams and polls "
	    "while probing" },
	{ "proxy", cmd_proxy, "a malicious coordinator in front of the real "
	    "one" },
	{ "evidence", cmd_evidence, "print a witness state's fork evidence" },
	{ "gzip", cmd_gzip, "send gzip bombs (1 MiB inflating to 1 GiB)" },
	{ "gzip-server", cmd_gzip_server, "a fake coordinator replying with "
	    "gzip bombs" },
	{ "peak", cmd_peak, "run a command, print its peak memory" },
	{ "call", cmd_call, "call any path (an unknown method) once" },
};

#define IDENT_USAGE "--target HOST:PORT --dir MEMBER_DIR [--ca CA] [--no-cert] " \
	"[--timeout-ms MS]"

static const struct {
	const char	*cmd;
	const char	*usage;
} usages[] = {
	{ "methods", "methods " IDENT_USAGE },
	{ "resubmit", "resubmit " IDENT_USAGE " --index N (the first QUERY at or after N) [--save FILE]" },
	{ "replay", "replay " IDENT_USAGE " --method NAME FILE" },
	{ "forge-share", "forge-share " IDENT_USAGE " --identity KEY "
	    "[--query-id Q] [--attempt A] [--manifest-cells N] "
	    "[--extra-cells K] CHUNK_FILE" },
	{ "oversize", "oversize " IDENT_USAGE " --method NAME --bytes N" },
	{ "slowloris", "slowloris " IDENT_USAGE " --probe-dir DIR [--tcp N] "
	    "[--tls N] [--h2 N --streams N] [--polls N --poll-dir DIR] "
	    "[--hold S] [--max-probe-ms MS]" },
	{ "proxy", "proxy " IDENT_USAGE " --server-ca CA --server-cert CRT "
	    "--server-key KEY --log-key IDENTITY_KEY --port-file FILE "
	    "[--listen ADDR] [--mode-file FILE] [--capture DIR]" },
	{ "evidence", "evidence --witness FILE --origin ORIGIN" },
	{ "gzip", "gzip " IDENT_USAGE " --method NAME [--calls N]" },
	{ "gzip-server", "gzip-server --server-ca CA --server-cert CRT "
	    "--server-key KEY --port-file FILE" },
	{ "peak", "peak COMMAND [ARG...]" },
	{ "call", "call " IDENT_USAGE " --path PATH | --path-bytes N" },
};

int
main(int argc, char **argv)
{
	log_set_prog(PROG);
	if (argc >= 3 && cli_is_help(argv[2]))
		for (size_t i = 0; i < sizeof(usages) / sizeof(usages[0]); i++)
			if (strcmp(argv[1], usages[i].cmd) == 0) {
				printf("usage: %s %s\n", PROG, usages[i].usage);
				return 0;
			}
	if (sodium_init() < 0)
		return fail("sodium", CAIRN_ERR_CRYPTO);
	return cli_dispatch(PROG, cmds, sizeof(cmds) / sizeof(cmds[0]), argc,
	    argv);
}
