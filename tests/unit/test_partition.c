/*
 * test_partition.c - the radix-partitioned grouping of queries from CSV
 * (node/engine/partition.c): thousands of subjects whose ids are packed hex of
 * odd and even lengths, long ids sharing their first 16 bytes, uppercase,
 * UTF-8 and quoted ids, read with 1 to 5 threads and 2 to 65536
 * partitions (most of them empty), must give the reference answer
 * (engine_ref.c) every time; the packed id form against a byte-by-byte
 * reference (SSE2 and portable); the hashed form of long ids (31..128
 * bytes): it keys apart ids that differ in their last digit only, never
 * equals a short id's form, changes with the run's key; ids over 128
 * bytes and ids starting with the hashed form's tag byte refused as bad
 * rows; the subject cap; a bad partition count.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>

#include "common/err.h"
#include "common/timeutil.h"
#include "node/engine/engine.h"
#include "node/engine/engine_int.h"
#include "tests/unit/engine_ref.h"

#define DAY0	20458		/* 2026-01-05 */
#define NSUB	3000
#define MAXEV	(NSUB * 8)

static const uint32_t regions[] = { 5, 17, 300, 4000000000u, 42 };
#define NREG	(sizeof(regions) / sizeof(regions[0]))

struct fixture {
	char		 dir[64], csv[128], cells[128];
	struct ref_event *ev;
	size_t		 n;
	struct engine_cellmap *cm;
};

/* Deterministic bytes from libsodium: the same data every run. */
static unsigned char rbuf[1 << 16];
static size_t rpos = sizeof(rbuf);
static unsigned char rseed[randombytes_SEEDBYTES];

static uint32_t
rnd(uint32_t n)
{
	uint32_t v;

	if (rpos + 4 > sizeof(rbuf)) {
		rseed[0]++;
		randombytes_buf_deterministic(rbuf, sizeof(rbuf), rseed);
		rpos = 0;
	}
	memcpy(&v, rbuf + rpos, 4);
	rpos += 4;
	return v % n;
}

/* Lengths of the long ids of kinds 8 and 9 (hashed from 31 hex on). */
static const int long_len[] = { 17, 30, 31, 32, 33, 64, 65, 100, 128 };
#define NLONG	(sizeof(long_len) / sizeof(long_len[0]))

/*
 * The id of subject s: ten kinds, each with its own first character so
 * no two subjects share an id.  Kind 0 gives pairs like "a12"/"a120" whose
 * packed forms differ only in the tag; kinds 2 and 3 are longer than 16
 * bytes and equal in their first 16 (kind 2: hex of 17..19, 64 and 65
 * digits, packed up to 64).  Kinds 8 (hex) and 9 (not hex) are of every
 * length of long_len, in pairs that differ only in their last digit.
 */
static void
sub_name(int s, char *out, size_t len)
{
	int q = s / 10, l = long_len[(q / 2) % NLONG];

	switch (s % 10) {
	case 0:
		snprintf(out, len, "a%x", q);
		break;
	case 1:
		snprintf(out, len, "%016llx", (1ULL << 60) + (unsigned)q);
		break;
	case 2:
		/* packed long hex: 17..19 digits, a SHA-256's 64, and 65 raw */
		if (q % 3 == 0)
			snprintf(out, len, "0123456789abcdef%x", q);
		else
			snprintf(out, len, "0123456789abcdef%0*x",
			    q % 3 == 1 ? 48 : 49, q);
		break;
	case 3:
		snprintf(out, len, "0123456789abcdef-%d", q);
		break;
	case 4:
		snprintf(out, len, "S%X", q);
		break;
	case 5:
		snprintf(out, len, "z%015d", q);
		break;
	case 6:
		snprintf(out, len, "\xc3\xa9%d", q);
		break;
	case 8:
		snprintf(out, len, "c%0*x", l - 1, q);
		break;
	case 9:
		snprintf(out, len, "N%0*d", l - 1, q);
		break;
	default:
		snprintf(out, len, "\"q,%d\"", q);
		break;
	}
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	FILE *f;

	assert_non_null(fx);
	strcpy(fx->dir, "/tmp/cairn-test-part-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->csv, sizeof(fx->csv), "%s/cdr.csv", fx->dir);
	snprintf(fx->cells, sizeof(fx->cells), "%s/cells.csv", fx->dir);
	f = fopen(fx->cells, "w");
	assert_non_null(f);
	fprintf(f, "cell_id,region_id\n");
	for (size_t i = 0; i < NREG; i++)
		fprintf(f, "c%u,%u\n", regions[i], regions[i]);
	fclose(f);
	fx->ev = calloc(MAXEV, sizeof(*fx->ev));
	assert_non_null(fx->ev);
	/* every subject has events; a few regions each, so ties */
	for (int s = 0; s < NSUB; s++) {
		int ne = 1 + (int)rnd(7);

		for (int e = 0; e < ne; e++) {
			struct ref_event *x = &fx->ev[fx->n++];

			x->sub = s;
			x->t = (DAY0 + (int64_t)rnd(3)) * 86400 + rnd(86400);
			x->region = regions[(s + rnd(2)) % NREG];
			x->cat = -1;
		}
	}
	/* rows in a shuffled order: a subject's rows spread over the file */
	for (size_t i = fx->n - 1; i > 0; i--) {
		size_t j = rnd((uint32_t)i + 1);
		struct ref_event t = fx->ev[i];

		fx->ev[i] = fx->ev[j];
		fx->ev[j] = t;
	}
	f = fopen(fx->csv, "w");
	assert_non_null(f);
	fprintf(f, "subscriber_id,timestamp,cell_id\n");
	for (size_t i = 0; i < fx->n; i++) {
		char name[160];

		sub_name(fx->ev[i].sub, name, sizeof(name));
		fprintf(f, "%s,%lld,c%u\n", name, (long long)fx->ev[i].t,
		    fx->ev[i].region);
	}
	fclose(f);
	assert_int_equal(engine_cellmap_load(fx->cells, &fx->cm), CAIRN_OK);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->dir);
	assert_int_equal(system(cmd), 0);
	engine_cellmap_free(fx->cm);
	free(fx->ev);
	free(fx);
	return 0;
}

static void
input(struct fixture *fx, struct engine_input *in, char **paths,
    unsigned threads, unsigned bits)
{
	memset(in, 0, sizeof(*in));
	paths[0] = fx->csv;
	in->paths = paths;
	in->npaths = 1;
	in->cells = fx->cm;
	in->threads = threads;
	in->part_bits = bits;
	in->split_bytes = 4096;	/* many parts per thread */
}

static char *
run_text(struct fixture *fx, const struct qspec *q, unsigned threads,
    unsigned bits, uint64_t *subjects)
{
	struct engine_input in;
	struct engine_report rep;
	struct engine_result res;
	char *paths[1], *text = NULL;
	size_t len = 0;
	FILE *f;
	int r;

	input(fx, &in, paths, threads, bits);
	if ((r = engine_run_csv(q, &in, &rep, &res)) != CAIRN_OK)
		fail_msg("threads %u, bits %u: %s", threads, bits,
		    cairn_errdesc(r));
	assert_int_equal(rep.files[0].nbad, 0);
	assert_int_equal(rep.files[0].good, fx->n);
	f = open_memstream(&text, &len);
	assert_non_null(f);
	assert_int_equal(engine_result_write(&res, ENGINE_OUT_CSV, false, NULL,
	    f), CAIRN_OK);
	fclose(f);
	*subjects = res.subjects;
	engine_result_release(&res);
	engine_report_release(&rep);
	return text;
}

static void
query(struct qspec *q, enum qspec_kind kind)
{
	memset(q, 0, sizeof(*q));
	q->kind = kind;
	q->start = DAY0;
	q->end = DAY0 + 3;
	q->utc_offset_min = 90;
	q->night_start = 20;
	q->night_end = 8;
	q->k = 1;
}

/* Every thread count and partition count gives the reference answer. */
static void
test_grouping(void **state)
{
	static const enum qspec_kind kinds[] = { QSPEC_KIND_PRESENCE,
		QSPEC_KIND_OD, QSPEC_KIND_RESIDENTS };
	static const unsigned threads[] = { 1, 2, 3, 5 };
	static const unsigned bits[] = { 1, 4, 9, 16 };
	struct fixture *fx = *state;

	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		struct qspec q;
		char *want;

		query(&q, kinds[k]);
		want = ref_run(&q, fx->ev, fx->n);
		for (size_t t = 0; t < 4; t++)
			for (size_t b = 0; b < 4; b++) {
				uint64_t subjects;
				char *got = run_text(fx, &q, threads[t],
				    bits[b], &subjects);

				if (strcmp(got, want) != 0)
					fail_msg("%s, threads %u, bits %u:\n"
					    "--- engine\n%s--- reference\n%s",
					    qspec_kind_name(q.kind),
					    threads[t], bits[b], got, want);
				/* the offset moves a few events out */
				if (q.kind != QSPEC_KIND_RESIDENTS)
					assert_true(subjects > NSUB - 50 &&
					    subjects <= NSUB);
				free(got);
			}
		free(want);
	}
}

/* The number of subjects does not depend on how rows were split. */
static void
test_subjects(void **state)
{
	struct fixture *fx = *state;
	struct qspec q;
	uint64_t first = 0;

	query(&q, QSPEC_KIND_PRESENCE);
	q.start = DAY0 - 1;
	q.end = DAY0 + 4;
	for (unsigned t = 1; t <= 4; t++) {
		uint64_t subjects;
		char *text = run_text(fx, &q, t, 2 + 3 * t, &subjects);

		assert_int_equal(subjects, NSUB);
		if (t == 1)
			first = subjects;
		assert_int_equal(subjects, first);
		free(text);
	}
}

/* More distinct subjects than the cap: a clean error, any thread count. */
static void
test_subject_cap(void **state)
{
	struct fixture *fx = *state;
	struct engine_input in;
	struct engine_report rep;
	struct engine_result res;
	struct qspec q;
	char *paths[1];

	query(&q, QSPEC_KIND_PRESENCE);
	q.start = DAY0 - 1;
	q.end = DAY0 + 4;
	for (unsigned t = 1; t <= 3; t++) {
		input(fx, &in, paths, t, t == 3 ? 1 : 9);
		in.max_subjects = NSUB - 1;
		assert_int_equal(engine_run_csv(&q, &in, &rep, &res),
		    CAIRN_ERR_TOOBIG);
		assert_non_null(strstr(cairn_errmsg(), "more than 2999 "
		    "distinct keys"));
		engine_report_release(&rep);
		in.max_subjects = NSUB;
		assert_int_equal(engine_run_csv(&q, &in, &rep, &res), CAIRN_OK);
		assert_int_equal(res.subjects, NSUB);
		engine_result_release(&res);
		engine_report_release(&rep);
	}
}

static void
test_bad_bits(void **state)
{
	struct fixture *fx = *state;
	struct engine_input in;
	struct engine_report rep;
	struct engine_result res;
	struct qspec q;
	char *paths[1];

	query(&q, QSPEC_KIND_PRESENCE);
	input(fx, &in, paths, 2, PART_BITS_MAX + 1);
	assert_int_equal(engine_run_csv(&q, &in, &rep, &res), CAIRN_ERR_ARG);
	engine_report_release(&rep);
}

/* The packed form of an id, byte by byte (the definition), or 0. */
static size_t
pack_ref(const char *s, size_t n, unsigned char out[PART_PACKED_MAX])
{
	bool hex = n <= 64;

	memset(out, 0, PART_PACKED_MAX);
	for (size_t i = 0; i < n; i++)
		hex &= (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' &&
		    s[i] <= 'f');
	if (!hex)
		return 0;
	out[0] = (unsigned char)(128 + n);
	for (size_t i = 0; i < n; i++) {
		unsigned d = s[i] <= '9' ? (unsigned)(s[i] - '0') :
		    (unsigned)(s[i] - 'a' + 10);

		out[1 + i / 2] |= (unsigned char)(i % 2 ? d : d << 4);
	}
	return 1 + (n + 1) / 2;
}

/* engine_part_pack (n <= 16) or _pack_long, checked against the bytes form */
static size_t
pack(const char *s, size_t n, unsigned char out[PART_PACKED_MAX])
{
	char buf[96];
	unsigned char ob[PART_PACKED_MAX];
	size_t m;

	/* bytes after the id must not matter */
	memset(buf, 'f', sizeof(buf));
	memcpy(buf, s, n);
	memset(out, 0, PART_PACKED_MAX);
	if (n <= 16) {
		uint64_t o[2] = { 0, 0 };

		m = engine_part_pack(buf, n, o);
		memcpy(out, o, 16);
	} else {
		uint64_t o[PART_PACK_MAX / 16];

		m = engine_part_pack_long(buf, n, o) ? 1 + (n + 1) / 2 : 0;
		out[0] = (unsigned char)(PART_RAW_MAX + n);
		memcpy(out + 1, o, PART_PACK_MAX / 2);
	}
	/* the SSE2 and the portable forms agree */
	assert_int_equal(engine_part_pack_bytes(buf, n, ob), m);
	if (m > 0)
		assert_memory_equal(out, ob, m);
	return m;
}

static void
test_pack(void **state)
{
	static const char *fixed[] = { "0", "a", "f", "g", "A", "abc", "abc0",
		"0123456789abcdef", "0123456789abcdeF", "ffffffffffffffff",
		"9999999999999999", "12345", "x1", "1x", "/", ":", "`", "@" };
	static const char alphabet[] = "0123456789abcdefgABCDEF:/`@-";
	unsigned char a[PART_PACKED_MAX], b[PART_PACKED_MAX];
	size_t ma, mb;

	(void)state;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		size_t n = strlen(fixed[i]);

		ma = pack(fixed[i], n, a);
		mb = pack_ref(fixed[i], n, b);
		assert_int_equal(ma, mb);
		if (ma > 0)
			assert_memory_equal(a, b, ma);
	}
	/* equal packed bytes, lengths differ: the forms differ */
	ma = pack("abc", 3, a);
	mb = pack("abc0", 4, b);
	assert_int_equal(ma, 3);
	assert_int_equal(mb, 3);
	assert_memory_not_equal(a, b, ma);
	assert_int_equal(a[0], 0x83);
	assert_int_equal(pack("0123456789abcdef", 16, a), 9);
	assert_int_equal(a[0], 0x90);
	assert_int_equal(pack("0123456789ABCDEF", 16, a), 0);
	assert_int_equal(pack("a", 1, a), 2);
	/* hashed MSISDNs: 17..64 digits packed, 65 and more raw */
	assert_int_equal(pack("0123456789abcdef0", 17, a), 10);
	assert_int_equal(a[0], 0x91);
	assert_int_equal(pack("0123456789abcdef0123456789abcdef0123456789abcdef"
	    "0123456789abcdef", 64, a), 33);
	assert_int_equal(a[0], 0xc0);
	assert_int_equal(pack("0123456789abcdef0123456789abcdef0123456789abcdef"
	    "0123456789abcdef0", 65, a), 0);
	assert_int_equal(pack("0123456789abcdef0123456789abcdef0123456789abcdeg"
	    "0123456789abcdef", 64, a), 0);
	for (int it = 0; it < 40000; it++) {
		char s[80];
		size_t n = 1 + rnd(it % 4 < 2 ? 16 : 70);

		for (size_t i = 0; i < n; i++)
			s[i] = alphabet[rnd(it % 2 ? 16 : sizeof(alphabet) -
			    1)];
		ma = pack(s, n, a);
		mb = pack_ref(s, n, b);
		assert_int_equal(ma, mb);
		if (ma > 0)
			assert_memory_equal(a, b, PART_PACKED_MAX);
	}
}

/* The form of a long id, with 15 readable bytes after it. */
static size_t
form(const struct engine_part_hkey *hk, const char *id, size_t n,
    unsigned char out[PART_FORM])
{
	char buf[PART_RAW_MAX + 16];

	memset(buf, 'f', sizeof(buf));
	memcpy(buf, id, n);
	return engine_part_form_long(hk, buf, n, out);
}

/* The hashed form by its definition, a byte at a time. */
static void
hash_ref(const struct engine_part_hkey *hk, const unsigned char *s, size_t n,
    unsigned char out[PART_FORM])
{
	uint64_t a[4];

	for (int j = 0; j < 4; j++) {
		a[j] = hk->k[0][j] + (uint64_t)n * hk->k[1][j];
		for (size_t i = 0; i < n; i++)
			a[j] += ((uint64_t)s[i] << 8 * (i % 4)) *
			    hk->k[2 + i / 4][j];
	}
	out[0] = PART_HASHED;
	for (int i = 0; i < PART_FORM - 1; i++)
		out[1 + i] = (unsigned char)(a[i / 4] >> (56 - 8 * (i % 4)));
}

/* The form of a long id by its definition (docs/benchmarks.md). */
static size_t
form_ref(const struct engine_part_hkey *hk, const char *id, size_t n,
    unsigned char out[PART_FORM])
{
	unsigned char pk[PART_PACKED_MAX], msg[8 + PART_PACK_MAX / 2];
	size_t m = engine_part_pack_bytes(id, n, pk);

	if (m == 0) {
		hash_ref(hk, (const unsigned char *)id, n, out);
		return PART_FORM;
	}
	if (m <= PART_FORM) {
		memcpy(out, pk, PART_FORM);
		return m;
	}
	/* the tag alone in the first 8 bytes, then the packed digits */
	memset(msg, 0, 8);
	msg[0] = pk[0];
	memcpy(msg + 8, pk + 1, m - 1);
	hash_ref(hk, msg, 8 + m - 1, out);
	return PART_FORM;
}

static int
cmp_form(const void *a, const void *b)
{
	return memcmp(a, b, PART_FORM);
}

/*
 * Long ids: packed while that fits 16 bytes, hashed beyond; ids differing
 * in their last digit only keep apart; a hashed form starts with a byte no
 * short id's form starts with; the run's key changes every hashed form.
 */
static void
test_long_forms(void **state)
{
	static const char digits[] = "0123456789abcdef";
	struct engine_part_hkey hk, hk2;
	unsigned char a[PART_FORM], b[PART_FORM], pk[PART_PACKED_MAX];
	unsigned char (*all)[PART_FORM];
	char id[PART_RAW_MAX + 1];
	size_t nall = 0;

	(void)state;
	assert_int_equal(engine_part_hkey_init(&hk), CAIRN_OK);
	assert_int_equal(engine_part_hkey_init(&hk2), CAIRN_OK);
	all = calloc(2 * 16 * 16 * NLONG, PART_FORM);
	assert_non_null(all);
	for (size_t li = 0; li < NLONG; li++)
		for (int hex = 0; hex < 2; hex++) {
			size_t n = (size_t)long_len[li], m;
			bool packs = hex && n <= PART_PACK_MAX;

			for (int r = 0; r < 16; r++) {
				/* the same first n - 1 characters ... */
				for (size_t i = 0; i + 1 < n; i++)
					id[i] = hex ? digits[rnd(16)] :
					    "xyz-"[rnd(4)];
				/* ... and each of 16 last digits */
				for (int d = 0; d < 16; d++) {
					id[n - 1] = digits[d];
					m = form(&hk, id, n, a);
					assert_int_equal(form_ref(&hk, id, n,
					    b), m);
					assert_memory_equal(a, b, PART_FORM);
					/* the same id, the same form */
					assert_int_equal(form(&hk, id, n, b),
					    m);
					assert_memory_equal(a, b, PART_FORM);
					if (packs && 1 + (n + 1) / 2 <=
					    PART_FORM) {
						/* packed: the packed form */
						assert_int_equal(m,
						    1 + (n + 1) / 2);
						assert_int_equal(
						    engine_part_pack_bytes(id,
						    n, pk), m);
						assert_memory_equal(a, pk, m);
						continue;
					}
					assert_int_equal(m, PART_FORM);
					assert_int_equal(a[0], PART_HASHED);
					/* another run's key, another form */
					form(&hk2, id, n, b);
					assert_int_equal(b[0], PART_HASHED);
					assert_memory_not_equal(a, b,
					    PART_FORM);
					memcpy(all[nall++], a, PART_FORM);
				}
			}
		}
	/* every hashed form differs from every other (all ids differ) */
	assert_true(nall > 1000);
	qsort(all, nall, PART_FORM, cmp_form);
	for (size_t i = 1; i < nall; i++)
		if (memcmp(all[i - 1], all[i], PART_FORM) == 0)
			fail_msg("two long ids share hashed form %zu", i);
	free(all);
	/* no packed tag is the hashed one, nor a UTF-8 id's first byte */
	assert_true(PART_RAW_MAX + PART_PACK_MAX < PART_HASHED);
	memset(id, '0', sizeof(id));
	assert_int_equal(pack(id, 16, pk), 9);
	assert_int_not_equal(pk[0], PART_HASHED);
	assert_int_equal(pack(id, PART_PACK_MAX, pk), PART_PACKED_MAX);
	assert_int_not_equal(pk[0], PART_HASHED);
}

/* Write 'rows' as a CSV with a header and read it: report and result. */
static void
run_rows(struct fixture *fx, const char *rows, struct engine_report *rep,
    struct engine_result *res)
{
	struct engine_input in;
	struct qspec q;
	char *paths[1];
	FILE *f = fopen(fx->csv, "w");

	assert_non_null(f);
	fprintf(f, "subscriber_id,timestamp,cell_id\n%s", rows);
	fclose(f);
	query(&q, QSPEC_KIND_PRESENCE);
	input(fx, &in, paths, 2, 4);
	in.max_bad_fraction = 0.5;
	assert_int_equal(engine_run_csv(&q, &in, rep, res), CAIRN_OK);
}

/*
 * An id over 128 bytes, and one starting with the hashed form's tag byte
 * (not UTF-8), are bad rows by name; the rest counts.
 */
static void
test_long_refused(void **state)
{
	struct fixture *fx = *state;
	struct engine_report rep;
	struct engine_result res;
	char rows[8192], id200[201], id128[129];
	unsigned long long t = (DAY0 + 1) * 86400ULL;
	size_t len;

	memset(id200, 'e', 200);
	id200[200] = '\0';
	memset(id128, 'e', 128);
	id128[128] = '\0';
	len = (size_t)snprintf(rows, sizeof(rows), "%s,%llu,c5\n"
	    "\xff\xc3\xa9x0123456789abc,%llu,c5\n"
	    "\xff" "abcdef0123456789abcdef,%llu,c5\n", id200, t, t, t);
	/* 2 subjects */
	for (int i = 0; i < 40; i++)
		len += (size_t)snprintf(rows + len, sizeof(rows) - len,
		    "%s,%llu,c%u\n", i % 2 ? id128 : "e", t + 60 * (unsigned)i,
		    regions[i % 2]);
	assert_true(len < sizeof(rows) - 1);
	run_rows(fx, rows, &rep, &res);
	assert_int_equal(rep.files[0].good, 40);
	assert_int_equal(rep.files[0].nbad, 3);
	assert_int_equal(rep.files[0].bad[ENGINE_BAD_LONG_FIELD], 1);
	assert_int_equal(rep.files[0].bad[ENGINE_BAD_ENCODING], 2);
	assert_int_equal(res.subjects, 2);
	engine_result_release(&res);
	engine_report_release(&rep);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pack),
		cmocka_unit_test(test_long_forms),
		cmocka_unit_test_setup_teardown(test_long_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_grouping, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_subjects, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_subject_cap, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_bits, setup,
		    teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
