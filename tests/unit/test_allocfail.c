/*
 * test_allocfail.c - allocation-failure injection (docs/security.md,
 * "Allocation failures").  The binary is linked with
 * -Wl,--wrap=malloc,calloc,realloc,strdup,strndup,big_alloc
 * (LDFLAGS_test_allocfail in the Makefile; big_alloc is common/bigmem.h's
 * large arrays), so every allocation libcairn.a makes itself goes
 * through the counters below, while those inside the shared libraries
 * (SQLite, gRPC, OpenSSL, libsodium, protobuf-c) do not.  Each request
 * path of the coordinator and the node is run with allocation n failing,
 * for n = 1, 2, ... until a run makes fewer than n allocations (it
 * succeeded untouched).  Every failing run must return a CAIRN_ERR_* code
 * (never crash, never claim success it did not have), and under make
 * check LeakSanitizer fails the test if any run leaked.  The coordinator's
 * request paths run through its real handlers over the in-process
 * transport of fake_transport.h.
 */
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <sodium.h>

#include "common/err.h"
#include "common/log.h"
#include "coordinator/coord_int.h"
#include "coordinator/round.h"
#include "node/daemon_int.h"
#include "node/ledger.h"
#include "node/engine/engine.h"
#include "protocol/proto_service.h"
#include "protocol/qspec.h"
#include "protocol/secagg.h"
#include "protocol/tlog_note.h"
#include "protocol/tlog_store.h"
#include "protocol/tlog_witness.h"
#include "tests/unit/fake_transport.h"

#include <math.h>
/* ρ as a test writes it (a double) to nano-ρ. */
#define NANO(x)	((uint64_t)llround((double)(x) * 1e9))

/* ------------------------------------------------------ the wrappers */

void	*__real_malloc(size_t n);
void	*__real_big_alloc(size_t n);
void	*__wrap_big_alloc(size_t n);
void	*__real_calloc(size_t n, size_t m);
void	*__real_realloc(void *p, size_t n);
char	*__real_strdup(const char *s);
char	*__real_strndup(const char *s, size_t n);
void	*__wrap_malloc(size_t n);
void	*__wrap_calloc(size_t n, size_t m);
void	*__wrap_realloc(void *p, size_t n);
char	*__wrap_strdup(const char *s);
char	*__wrap_strndup(const char *s, size_t n);

static atomic_long calls;	/* allocations counted since arming */
static atomic_long fail_at;	/* the one to fail; 0: none */
static atomic_bool armed;
static bool manual;		/* the path arms itself (arm()) */

static void
arm(bool on)
{
	atomic_store(&armed, on);
}

/* The client side of a path (signing, masking) never fails: pause. */
static bool
pause_arm(void)
{
	return atomic_exchange(&armed, false);
}

static bool
fail_now(void)
{
	long c;

	if (!atomic_load(&armed))
		return false;
	c = atomic_fetch_add(&calls, 1) + 1;
	return c == atomic_load(&fail_at);
}

void *
__wrap_malloc(size_t n)
{
	return fail_now() ? NULL : __real_malloc(n);
}

void *
__wrap_big_alloc(size_t n)
{
	return fail_now() ? NULL : __real_big_alloc(n);
}

void *
__wrap_calloc(size_t n, size_t m)
{
	return fail_now() ? NULL : __real_calloc(n, m);
}

void *
__wrap_realloc(void *p, size_t n)
{
	return fail_now() ? NULL : __real_realloc(p, n);
}

char *
__wrap_strdup(const char *s)
{
	return fail_now() ? NULL : __real_strdup(s);
}

char *
__wrap_strndup(const char *s, size_t n)
{
	return fail_now() ? NULL : __real_strndup(s, n);
}

/*
 * Run 'fn' with allocation n failing for n = 1, 2, ... until a run
 * allocates fewer than n times; it must then succeed.  Returns the number
 * of allocation points exercised, which must be at least 'min_points'
 * (a path that stops allocating in libcairn is worth knowing about).
 */
static long
sweep(const char *name, int (*fn)(void), long min_points)
{
	long n, made, errors = 0;
	int r;

	for (n = 1; n < 100000; n++) {
		atomic_store(&calls, 0);
		atomic_store(&fail_at, n);
		atomic_store(&armed, !manual);
		r = fn();
		atomic_store(&armed, false);
		made = atomic_load(&calls);
		if (made < n) {
			if (r != CAIRN_OK)
				fail_msg("%s: untouched run failed: %s", name,
				    cairn_errdesc(r));
			break;
		}
		/* A failed allocation must give an error code, not a broken
		 * invariant (CAIRN_ERR_INTERNAL), or a success the path
		 * earned without it. */
		if (r > 0 || r <= CAIRN_ERR__LAST || r == CAIRN_ERR_INTERNAL)
			fail_msg("%s: allocation %ld failed: return %d (%s)",
			    name, n, r, cairn_errdesc(r));
		if (r != CAIRN_OK)
			errors++;
	}
	printf("# allocation failures: %-26s %3ld points, %3ld errors, "
	    "%3ld absorbed\n", name, n - 1, errors, n - 1 - errors);
	assert_true(n - 1 >= min_points);
	return n - 1;
}

/* -------------------------------------------------------- the fixture */

static char dir[64];
static struct keys_identity *analyst, *coord_id, *nodes[3];
static struct keys_member members[5];
static struct keys_federation fed;
static uint8_t *sq_bytes;
static size_t sq_len;
static uint8_t pset_sorted[32];	/* of n1 n2 n3, in that order */
static struct node_config ncfg;
static struct coord_config ccfg;
static char *kinds[] = { "residents" };
static char *analysts[] = { "alice" };
static const char spec_json[] = "{\"kind\":\"residents\","
    "\"start\":\"2026-01-05\",\"end\":\"2026-01-08\"}";

static void
member(size_t i, enum keys_role role, const char *name,
    struct keys_identity **id)
{
	assert_int_equal(keys_identity_generate(role, name, id), CAIRN_OK);
	members[i].pub.role = role;
	snprintf(members[i].pub.name, sizeof(members[i].pub.name), "%s",
	    name);
	keys_identity_public(*id, members[i].pub.pk);
	keys_fingerprint((const uint8_t *)name, strlen(name),
	    members[i].cert_fpr);
}

static void
make_query(void)
{
	/* Not in name order: the participant-set hash must sort them. */
	static char *parts[] = { "n3", "n1", "n2" };
	Cairn__V1__SignedQuery sq = CAIRN__V1__SIGNED_QUERY__INIT;
	Cairn__V1__QuerySpec sp = CAIRN__V1__QUERY_SPEC__INIT;
	Cairn__V1__MemberId an = CAIRN__V1__MEMBER_ID__INIT;
	Cairn__V1__Query q = CAIRN__V1__QUERY__INIT;
	struct qspec_proto_bufs bufs;
	struct qspec qs;
	uint8_t nonce[16], sig[KEYS_SIG_LEN], *qb;
	size_t ql;

	assert_int_equal(qspec_parse_json(spec_json, strlen(spec_json), "s",
	    &qs), CAIRN_OK);
	qspec_to_proto(&qs, "g1", &sp, &bufs);
	an.role = CAIRN__V1__ROLE__ROLE_ANALYST;
	an.name = "alice";
	memset(nonce, 7, sizeof(nonce));
	q.query_id = "q1";
	q.analyst = &an;
	q.spec = &sp;
	q.rho_nano = NANO(0.1);
	q.n_participants = 3;
	q.participants = parts;
	q.max_colluding = 1;
	q.federation = "fz";
	q.nonce.data = nonce;
	q.nonce.len = sizeof(nonce);
	assert_int_equal(proto_pack(&q.base, PROTO_MAX_SMALL, &qb, &ql),
	    CAIRN_OK);
	assert_int_equal(keys_sign(analyst, "query", qb, ql, sig), CAIRN_OK);
	sq.query.data = qb;
	sq.query.len = ql;
	sq.signature.data = sig;
	sq.signature.len = sizeof(sig);
	assert_int_equal(proto_pack(&sq.base, PROTO_MAX_SMALL, &sq_bytes,
	    &sq_len), CAIRN_OK);
	free(qb);
}

static int
setup(void **state)
{
	(void)state;
	log_set_level(LOG_LEVEL_ERROR);
	fake_alloc = __real_malloc;
	if (sodium_init() < 0)
		return -1;
	/* SQLite syncs every commit: a memory file system keeps it fast. */
	snprintf(dir, sizeof(dir), "%s/cairn-allocfail.XXXXXX",
	    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (mkdtemp(dir) == NULL)
		return -1;
	member(0, KEYS_ROLE_COORDINATOR, "coord", &coord_id);
	member(1, KEYS_ROLE_ANALYST, "alice", &analyst);
	member(2, KEYS_ROLE_NODE, "n1", &nodes[0]);
	member(3, KEYS_ROLE_NODE, "n2", &nodes[1]);
	member(4, KEYS_ROLE_NODE, "n3", &nodes[2]);
	snprintf(fed.name, sizeof(fed.name), "fz");
	fed.members = members;
	fed.n = 5;
	make_query();
	{
		crypto_hash_sha256_state st;

		crypto_hash_sha256_init(&st);
		crypto_hash_sha256_update(&st,
		    (const uint8_t *)"cairn/v1/pset\nn1\nn2\nn3\n", 23);
		crypto_hash_sha256_final(&st, pset_sorted);
	}
	ncfg.name = "n1";
	ncfg.geography = "g1";
	ncfg.policy.kinds.v = kinds;
	ncfg.policy.kinds.n = 1;
	ncfg.policy.analysts.v = analysts;
	ncfg.policy.analysts.n = 1;
	ncfg.policy.budget_rho_per_month_nano = NANO(10.0);
	ncfg.policy.max_rho_per_query_nano = NANO(1.0);
	ncfg.policy.min_participants = 2;
	ncfg.policy.max_colluding = 1;
	ncfg.policy.max_months_per_query = 12;
	ncfg.policy.holders_per_person = 1;
	ccfg.max_rho_per_query_nano = NANO(1.0);
	ccfg.max_participants = 10;
	ccfg.max_attempts = 3;
	snprintf(ccfg.geos[0].name, sizeof(ccfg.geos[0].name), "g1");
	ccfg.geos[0].nregions = 4;
	ccfg.ngeos = 1;
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	free(sq_bytes);
	keys_identity_free(analyst);
	keys_identity_free(coord_id);
	for (size_t i = 0; i < 3; i++)
		keys_identity_free(nodes[i]);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
put(const char *name, const char *text)
{
	char p[128];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_non_null(f = fopen(p, "w"));
	fputs(text, f);
	fclose(f);
}

/* ------------------------------------------------------ the node side */

static int
path_spec(void)
{
	struct qspec q;

	return qspec_parse_json(spec_json, strlen(spec_json), "q.json", &q);
}

/* The task's query: unpack, analyst signature, fields, spec, policy. */
static int
path_task_check(void)
{
	Cairn__V1__Task t = CAIRN__V1__TASK__INIT;
	struct node_daemon_config dc;
	struct node_task_query tq;
	struct node_daemon *d = NULL;
	ProtobufCMessage *m = NULL;
	const char *code;
	int r;

	memset(&dc, 0, sizeof(dc));
	dc.cfg = &ncfg;
	dc.id = nodes[0];
	dc.fed = &fed;
	if ((r = node_daemon_new(&dc, &d)) != CAIRN_OK)
		return r;
	if ((r = proto_unpack(&cairn__v1__signed_query__descriptor, sq_bytes,
	    sq_len, PROTO_MAX_SMALL, &m)) != CAIRN_OK)
		goto out;
	t.query_id = "q1";
	t.query = (Cairn__V1__SignedQuery *)m;
	if ((r = node_task_check_query(d, &t, &tq, &code)) == CAIRN_OK) {
		/* Found again by a retry only if it never depends on memory. */
		if (memcmp(tq.pset, pset_sorted, 32) != 0)
			r = cairn_err(CAIRN_ERR_INTERNAL, "participant-set "
			    "hash differs");
		node_task_query_release(&tq);
	}
out:
	if (m != NULL)
		protobuf_c_message_free_unpacked(m, NULL);
	node_daemon_free(d);
	return r;
}

/* The engine on small data: cell map, CSV, residents. */
static int
path_engine(void)
{
	char cells[128], cdr[128], *paths[1];
	struct engine_cellmap *map = NULL;
	struct engine_report rep;
	struct engine_result res;
	struct engine_input in;
	struct qspec q;
	int r;

	snprintf(cells, sizeof(cells), "%s/cells.csv", dir);
	snprintf(cdr, sizeof(cdr), "%s/cdr.csv", dir);
	if ((r = qspec_parse_json(spec_json, strlen(spec_json), "q", &q)) !=
	    CAIRN_OK ||
	    (r = engine_cellmap_load(cells, &map)) != CAIRN_OK)
		return r;
	paths[0] = cdr;
	memset(&in, 0, sizeof(in));
	in.paths = paths;
	in.npaths = 1;
	in.cells = map;
	in.max_bad_fraction = 0.5;
	in.threads = 1;
	memset(&rep, 0, sizeof(rep));
	memset(&res, 0, sizeof(res));
	if ((r = engine_run_csv(&q, &in, &rep, &res)) == CAIRN_OK)
		engine_result_release(&res);
	engine_report_release(&rep);
	engine_cellmap_free(map);
	return r;
}

/* A ledger charge in a new ledger, read back. */
static int
path_ledger(void)
{
	static const int32_t months[] = { 2026 * 12 };
	static const int64_t cells[] = { 1, -2, 3, 4 };
	struct node_ledger_charge_req req;
	struct node_ledger *l = NULL;
	char p[128];
	int64_t id, spent;
	int r;

	snprintf(p, sizeof(p), "%s/ledger.db", dir);
	unlink(p);
	if ((r = node_ledger_open(p, &l)) != CAIRN_OK)
		return r;
	memset(&req, 0, sizeof(req));
	memset(req.query_hash, 1, 32);
	memset(req.pset_hash, 2, 32);
	req.months = months;
	req.nmonths = 1;
	req.rho_nano = 100000000;
	req.budget_nano = 1000000000;
	req.label = "residents alice";
	req.query_id = "q1";
	req.noise_variance = 9;
	req.cells = cells;
	req.ncells = 4;
	if ((r = node_ledger_charge(l, &req, &id)) == CAIRN_OK &&
	    (r = node_ledger_spent(l, months[0], &spent)) == CAIRN_OK &&
	    spent != req.rho_nano)
		r = CAIRN_ERR_INTERNAL;
	node_ledger_free(l);
	return r;
}

/* -------------------------------------- the round, both sides of it */

/*
 * Advertise (coordinator round), roster, each node masking its vector
 * (share build), SubmitShare's aggregation and the result.
 */
static int
path_round(void)
{
	uint8_t ids[3][32], epk[3][32], esk[3][32], qh[32], sid[32];
	struct secagg_member roster[3];
	struct coord_round *rd = NULL;
	int64_t x[5] = { 1, 2, 3, 4, 0 }, out[4];
	uint64_t y[5];
	int r;

	memset(qh, 5, sizeof(qh));
	for (size_t i = 0; i < 3; i++) {
		keys_identity_public(nodes[i], ids[i]);
		if ((r = secagg_keypair(epk[i], esk[i])) != CAIRN_OK)
			return r;
	}
	if ((r = coord_round_new(qh, (const uint8_t (*)[32])ids, 3, 5,
	    INT64_MAX / 2, INT64_MAX / 2 + 1, &rd)) != CAIRN_OK)
		return r;
	for (size_t i = 0; i < 3; i++)
		if ((r = coord_round_advertise(rd, ids[i], epk[i])) !=
		    CAIRN_OK)
			goto out;
	if ((r = coord_round_roster(rd, roster, 3, sid)) != CAIRN_OK)
		goto out;
	for (size_t i = 0; i < 3; i++) {
		long self = secagg_roster_find(roster, 3, ids[i]);

		x[4] = (int64_t)secagg_check_value(sid);
		if (self < 0) {
			r = CAIRN_ERR_INTERNAL;
			goto out;
		}
		if ((r = secagg_mask(esk[i], roster, 3, (size_t)self, sid, x,
		    y, 5)) != CAIRN_OK ||
		    (r = coord_round_share(rd, ids[i], y, 5)) != CAIRN_OK)
			goto out;
	}
	if ((r = coord_round_result(rd, out, 4)) == CAIRN_OK &&
	    out[0] != 3)
		r = CAIRN_ERR_INTERNAL;
out:
	coord_round_free(rd);
	return r;
}

/* ------------------------------------------------ the coordinator side */

/* SubmitQuery's checks of the signed query. */
static int
path_submit_checks(void)
{
	ProtobufCMessage *m = NULL;
	const char *field;
	int r;

	if ((r = proto_unpack(&cairn__v1__signed_query__descriptor, sq_bytes,
	    sq_len, PROTO_MAX_SMALL, &m)) != CAIRN_OK)
		return r;
	r = coord_check_query(&ccfg, &fed, "alice",
	    (Cairn__V1__SignedQuery *)m, &field);
	protobuf_c_message_free_unpacked(m, NULL);
	return r;
}

/* The log append of SubmitQuery/Advertise: store, log, two entries. */
static int
path_log_append(void)
{
	struct coord_store *db = NULL;
	struct coord_log lg;
	struct tlog_entry e;
	char p[256], *note = NULL;
	uint64_t index;
	bool open = false;
	int r;

	snprintf(p, sizeof(p), "rm -f '%s'/coord.db* '%s'/log.db*", dir, dir);
	if (system(p) != 0)
		return CAIRN_ERR_IO;
	snprintf(p, sizeof(p), "%s/coord.db", dir);
	if ((r = coord_store_open(p, &db)) != CAIRN_OK)
		return r;
	snprintf(p, sizeof(p), "%s/log.db", dir);
	memset(&lg, 0, sizeof(lg));
	if ((r = coord_log_open(&lg, p, fed.name, coord_id, db)) != CAIRN_OK)
		goto out;
	open = true;
	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_QUERY;
	e.time = 1767571200;
	e.body.p = sq_bytes;
	e.body.len = sq_len;
	if ((r = coord_log_append(&lg, &e, &index)) != CAIRN_OK)
		goto out;
	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_FAILURE;
	e.time = 1767571201;
	e.reason.p = (const uint8_t *)"deadline";
	e.reason.len = 8;
	if ((r = coord_log_append(&lg, &e, &index)) != CAIRN_OK)
		goto out;
	r = coord_log_checkpoint(&lg, 0, &note);
	free(note);
out:
	if (open)
		coord_log_close(&lg);
	coord_store_close(db);
	return r;
}

/* Log reads: an entry, inclusion and consistency proofs, the checkpoint. */
static int
path_log_read(void)
{
	uint8_t proof[64][TLOG_HASH_LEN], *data = NULL;
	struct tlog_checkpoint cp;
	struct tlog_store *s = NULL;
	char p[128], *note = NULL;
	size_t len, n;
	int r;

	snprintf(p, sizeof(p), "%s/log.db", dir);
	if ((r = tlog_store_open(p, 0, &s)) != CAIRN_OK)
		return r;
	if ((r = tlog_store_entry(s, 0, &data, &len)) == CAIRN_OK &&
	    (r = tlog_store_inclusion_proof(s, 0, 2, proof, 64, &n)) ==
	    CAIRN_OK &&
	    (r = tlog_store_consistency_proof(s, 1, 2, proof, 64, &n)) ==
	    CAIRN_OK)
		r = tlog_store_checkpoint_latest(s, &note, &len, &cp);
	free(data);
	free(note);
	tlog_store_close(s);
	return r;
}

static int
note_sign(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[64])
{
	return keys_sign_note(ctx, msg, len, sig);
}

/* A checkpoint signed, parsed, opened, witnessed and cosigned (node). */
static int
path_note(void)
{
	static const char body[] = "cairn/fz\n2\n"
	    "AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=\n";
	struct tlog_signer ls, ws;
	struct tlog_verifier v;
	struct tlog_witness_req req;
	struct tlog_checkpoint cp;
	struct tlog_witness *w = NULL;
	struct tlog_note *n = NULL;
	char *note = NULL, *both = NULL, line[512];
	size_t len, blen;
	int r;

	ls.name = "cairn/fz";
	keys_identity_public(coord_id, ls.pub);
	ls.sign = note_sign;
	ls.ctx = coord_id;
	ws.name = "n1";
	keys_identity_public(nodes[0], ws.pub);
	ws.sign = note_sign;
	ws.ctx = nodes[0];
	snprintf(v.name, sizeof(v.name), "cairn/fz");
	v.type = TLOG_KEY_ED25519;
	memcpy(v.pub, ls.pub, 32);
	tlog_key_id(v.name, v.type, v.pub, v.key_id);
	if ((r = tlog_note_sign(body, strlen(body), &ls, 1, &note, &len)) !=
	    CAIRN_OK)
		return r;
	if ((r = tlog_note_parse(note, len, &n)) != CAIRN_OK ||
	    (r = tlog_checkpoint_open(note, len, &v, 1, 1, "cairn/fz", &cp))
	    != CAIRN_OK ||
	    (r = tlog_witness_open(":memory:", &w)) != CAIRN_OK)
		goto out;
	memset(&req, 0, sizeof(req));
	req.note = note;
	req.note_len = len;
	req.log_keys = &v;
	req.nkeys = 1;
	req.quorum = 1;
	if ((r = tlog_witness_add(w, &req, &ws, 1767571200, line,
	    sizeof(line))) != CAIRN_OK)
		goto out;
	r = tlog_note_add_lines(note, len, line, strlen(line), &both, &blen);
out:
	free(both);
	tlog_witness_close(w);
	tlog_note_free(n);
	free(note);
	return r;
}


/* ------------------------------- the coordinator's service, in process */

/* Call method 'm' as member 'who' (index into members[]) with 'req'. */
static int
call(enum proto_method m, size_t who, const ProtobufCMessage *req)
{
	int r = fake_call(m, &members[who], req, 10000, NULL, NULL);

	if (r == CAIRN_ERR_TIMEOUT)
		fail_msg("%s was never answered", proto_method(m)->name);
	return r;
}

enum stage { S_START, S_SUBMIT, S_ADVERTISE, S_SHARE, S_READS };
static enum stage stage;
static char fedpath[128], keypath[128], datadir[128];
static uint8_t qhash[32];
static struct coord_config svc_cfg;

static void
svc_files(void)
{
	char ca[KEYS_FPR_LEN];

	snprintf(fedpath, sizeof(fedpath), "%s/federation.conf", dir);
	snprintf(keypath, sizeof(keypath), "%s/coord.key", dir);
	snprintf(datadir, sizeof(datadir), "%s/data", dir);
	keys_fingerprint((const uint8_t *)"ca", 2, ca);
	assert_int_equal(keys_federation_create(fedpath, "fz", ca), CAIRN_OK);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(keys_federation_add(fedpath, &members[i]),
		    CAIRN_OK);
	/* The coordinator refuses an unpinned geography. */
	assert_int_equal(keys_federation_pin_geography(fedpath, "g1",
	    ccfg.geos[0].sha256), CAIRN_OK);
	assert_int_equal(keys_identity_save(coord_id, keypath), CAIRN_OK);
	{
		Cairn__V1__SignedQuery *sq;

		sq = cairn__v1__signed_query__unpack(NULL, sq_len, sq_bytes);
		assert_non_null(sq);
		crypto_hash_sha256(qhash, sq->query.data, sq->query.len);
		cairn__v1__signed_query__free_unpacked(sq, NULL);
	}
	svc_cfg = ccfg;
	svc_cfg.identity_key = keypath;
	svc_cfg.federation = fedpath;
	svc_cfg.data_dir = datadir;
	svc_cfg.listen = "in-process";
	svc_cfg.workers = 1;
	svc_cfg.advertise_seconds = 600;
	svc_cfg.share_seconds = 600;
}

/* Sign 'm' for 'purpose' by node 'i': bytes and signature, malloc'd. */
static void
signed_msg(size_t i, const char *purpose, const ProtobufCMessage *m,
    ProtobufCBinaryData *body, ProtobufCBinaryData *sig)
{
	size_t l = protobuf_c_message_get_packed_size(m);
	bool was = pause_arm();

	body->data = __real_malloc(l + 1);
	sig->data = __real_malloc(KEYS_SIG_LEN);
	assert_true(body->data != NULL && sig->data != NULL);
	body->len = protobuf_c_message_pack(m, body->data);
	sig->len = KEYS_SIG_LEN;
	assert_int_equal(keys_sign(nodes[i], purpose, body->data, body->len,
	    sig->data), CAIRN_OK);
	arm(was);
}

static int
advertise(size_t i, const uint8_t epk[32])
{
	Cairn__V1__Advertisement ad = CAIRN__V1__ADVERTISEMENT__INIT;
	Cairn__V1__SignedAdvertisement sa =
	    CAIRN__V1__SIGNED_ADVERTISEMENT__INIT;
	Cairn__V1__SignedCharge sc = CAIRN__V1__SIGNED_CHARGE__INIT;
	Cairn__V1__MonthCharge mc = CAIRN__V1__MONTH_CHARGE__INIT;
	Cairn__V1__Charge ch = CAIRN__V1__CHARGE__INIT;
	Cairn__V1__MonthCharge *mcs[1] = { &mc };
	int r;

	ch.query_id = "q1";
	ch.query_hash.data = qhash;
	ch.query_hash.len = 32;
	ch.node = members[2 + i].pub.name;
	mc.month = "2026-01";
	/* dp_requirement: residents in January, rho 0.1, 2 honest nodes:
	   x = 1 nano-rho, sigma^2 = 6, the month pays 83333334 + 1 */
	mc.rho_nano = 83333335;
	mc.cumulative_rho_nano = 83333335;
	ch.n_months = 1;
	ch.months = mcs;
	ch.budget_rho_per_month_nano = NANO(10);
	ch.noise_variance = 100;
	ch.cells = 5;
	signed_msg(i, "charge", &ch.base, &sc.charge, &sc.signature);
	ad.query_id = "q1";
	ad.node = members[2 + i].pub.name;
	ad.x25519_public.data = (uint8_t *)epk;
	ad.x25519_public.len = 32;
	ad.charge = &sc;
	signed_msg(i, "advertisement", &ad.base, &sa.advertisement,
	    &sa.signature);
	r = call(PROTO_ADVERTISE, 2 + i, &sa.base);
	free(sc.charge.data);
	free(sc.signature.data);
	free(sa.advertisement.data);
	free(sa.signature.data);
	return r;
}

static int
share(size_t i, const uint8_t esk[32], const struct secagg_member *roster,
    const uint8_t sid[32])
{
	Cairn__V1__ShareManifest mf = CAIRN__V1__SHARE_MANIFEST__INIT;
	Cairn__V1__MaskedShareChunk ck = CAIRN__V1__MASKED_SHARE_CHUNK__INIT;
	crypto_generichash_state st;
	uint8_t id[32], dg[32], le[8];
	int64_t x[5] = { 1, 0, 2, 0, 0 };
	uint64_t y[5];
	bool was = pause_arm();
	long self;
	int r;

	keys_identity_public(nodes[i], id);
	self = secagg_roster_find(roster, 3, id);
	x[4] = (int64_t)secagg_check_value(sid);
	assert_true(self >= 0);
	assert_int_equal(secagg_mask(esk, roster, 3, (size_t)self, sid, x, y,
	    5), CAIRN_OK);
	arm(was);
	crypto_generichash_init(&st, NULL, 0, 32);
	for (size_t k = 0; k < 5; k++) {
		for (int b = 0; b < 8; b++)
			le[b] = (uint8_t)(y[k] >> (8 * b));
		crypto_generichash_update(&st, le, 8);
	}
	crypto_generichash_final(&st, dg, 32);
	mf.query_id = "q1";
	mf.node = members[2 + i].pub.name;
	mf.sid.data = (uint8_t *)sid;
	mf.sid.len = 32;
	mf.cells = 5;
	mf.chunk_count = 1;
	mf.digest.data = dg;
	mf.digest.len = 32;
	signed_msg(i, "share", &mf.base, &ck.manifest, &ck.signature);
	ck.n_cells = 5;
	ck.cells = y;
	r = call(PROTO_SUBMIT_SHARE, 2 + i, &ck.base);
	free(ck.manifest.data);
	free(ck.signature.data);
	return r;
}

/* The log reads and the analyst's reads after a release. */
static int
reads(void)
{
	Cairn__V1__GetCheckpointRequest gc =
	    CAIRN__V1__GET_CHECKPOINT_REQUEST__INIT;
	Cairn__V1__GetEntriesRequest ge = CAIRN__V1__GET_ENTRIES_REQUEST__INIT;
	Cairn__V1__GetInclusionProofRequest gi =
	    CAIRN__V1__GET_INCLUSION_PROOF_REQUEST__INIT;
	Cairn__V1__GetConsistencyProofRequest gp =
	    CAIRN__V1__GET_CONSISTENCY_PROOF_REQUEST__INIT;
	Cairn__V1__GetQueryRequest gq = CAIRN__V1__GET_QUERY_REQUEST__INIT;
	Cairn__V1__GetResultRequest gr = CAIRN__V1__GET_RESULT_REQUEST__INIT;
	Cairn__V1__ListQueriesRequest gl =
	    CAIRN__V1__LIST_QUERIES_REQUEST__INIT;
	int r;

	ge.start = 0;
	ge.end = 5;
	gi.index = 0;
	gi.tree_size = 5;
	gp.old_size = 1;
	gp.new_size = 5;
	gq.query_id = "q1";
	gr.query_id = "q1";
	if ((r = call(PROTO_GET_CHECKPOINT, 2, &gc.base)) != CAIRN_OK ||
	    (r = call(PROTO_GET_ENTRIES, 2, &ge.base)) != CAIRN_OK ||
	    (r = call(PROTO_GET_INCLUSION_PROOF, 2, &gi.base)) != CAIRN_OK ||
	    (r = call(PROTO_GET_CONSISTENCY_PROOF, 2, &gp.base)) !=
	    CAIRN_OK ||
	    (r = call(PROTO_GET_QUERY, 1, &gq.base)) != CAIRN_OK ||
	    (r = call(PROTO_LIST_QUERIES, 1, &gl.base)) != CAIRN_OK)
		return r;
	return call(PROTO_GET_RESULT, 1, &gr.base);
}

/*
 * One whole query through the service: SubmitQuery, three Advertise
 * calls with their charges, three SubmitShare calls (the last one
 * releases), then the reads.  Only the stage under test is armed; the
 * first error is returned and the coordinator is stopped in every case.
 */
static int
svc_query(void)
{
	uint8_t epk[3][32], esk[3][32], sid[32];
	struct secagg_member roster[3];
	struct coord *c = NULL;
	ProtobufCMessage *sq = NULL;
	char cmd[256];
	int r;

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", datadir);
	if (system(cmd) != 0)
		return CAIRN_ERR_IO;
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(secagg_keypair(epk[i], esk[i]), CAIRN_OK);
		keys_identity_public(nodes[i], roster[i].id);
		memcpy(roster[i].epk, epk[i], 32);
	}
	secagg_roster_sort(roster, 3);
	assert_int_equal(secagg_sid(qhash, roster, 3, sid), CAIRN_OK);
	sq = (ProtobufCMessage *)cairn__v1__signed_query__unpack(NULL,
	    sq_len, sq_bytes);
	assert_non_null(sq);
	arm(stage == S_START);
	r = coord_start(&svc_cfg, &c);
	arm(false);
	if (r != CAIRN_OK)
		goto out;
	arm(stage == S_SUBMIT);
	r = call(PROTO_SUBMIT_QUERY, 1, sq);
	arm(false);
	if (r != CAIRN_OK)
		goto out;
	for (size_t i = 0; i < 3 && r == CAIRN_OK; i++) {
		arm(stage == S_ADVERTISE);
		r = advertise(i, epk[i]);
		arm(false);
	}
	for (size_t i = 0; i < 3 && r == CAIRN_OK; i++) {
		arm(stage == S_SHARE);
		r = share(i, esk[i], roster, sid);
		arm(false);
	}
	if (r == CAIRN_OK) {
		arm(stage == S_READS);
		r = reads();
		arm(false);
	}
out:
	coord_stop(c);
	protobuf_c_message_free_unpacked(sq, NULL);
	return r;
}

static void
t_service_paths(void **state)
{
	static const struct {
		enum stage	 s;
		const char	*name;
	} stages[] = {
		{ S_START, "coordinator start" },
		{ S_SUBMIT, "SubmitQuery" },
		{ S_ADVERTISE, "Advertise (charges)" },
		{ S_SHARE, "SubmitShare (release)" },
		{ S_READS, "log and result reads" },
	};

	(void)state;
	svc_files();
	manual = true;
	for (size_t i = 0; i < sizeof(stages) / sizeof(stages[0]); i++) {
		stage = stages[i].s;
		sweep(stages[i].name, svc_query, 1);
	}
	manual = false;
}

/* ---------------------------------------------------------- the tests */

static void
t_node_paths(void **state)
{
	(void)state;
	put("cells.csv", "cell_id,region_id\nc1,1\nc2,2\nc3,3\n");
	put("cdr.csv", "subscriber_id,timestamp,cell_id\n"
	    "s1,2026-01-05T23:00:00Z,c1\ns1,2026-01-06T23:00:00Z,c1\n"
	    "s2,2026-01-05T22:30:00Z,c2\ns3,2026-01-06T01:00:00Z,c3\n"
	    "s3,bad,c3\n"
	    "a-subscriber-id-longer-than-16,2026-01-06T23:30:00Z,c2\n"
	    "0f3a,2026-01-06T23:40:00Z,c1\n");
	sweep("spec parse", path_spec, 0);
	sweep("task check (node)", path_task_check, 1);
	sweep("engine (node)", path_engine, 1);
	sweep("ledger charge (node)", path_ledger, 1);
	sweep("checkpoint cosign (node)", path_note, 1);
}

static void
t_coord_paths(void **state)
{
	(void)state;
	sweep("SubmitQuery checks", path_submit_checks, 1);
	sweep("round: advertise..share", path_round, 1);
	sweep("log append (coord)", path_log_append, 1);
	sweep("log reads (coord)", path_log_read, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_node_paths),
		cmocka_unit_test(t_coord_paths),
		cmocka_unit_test(t_service_paths),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
