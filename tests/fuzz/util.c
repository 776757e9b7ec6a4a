/*
 * util.c - shared fixtures of the fuzz harnesses (util.h).
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "common/err.h"
#include "common/log.h"
#include "protocol/qspec.h"
#include "tests/fuzz/util.h"

static char dir[256];
static char path[512];

static void
rm_dir(void)
{
	char cmd[300];

	if (dir[0] == '\0')
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz: could not remove %s\n", dir);
}

const char *
fz_dir(void)
{
	const char *t;

	if (dir[0] != '\0')
		return dir;
	/* SQLite and the CSV reader hit the disk: prefer memory. */
	if ((t = getenv("TMPDIR")) == NULL || *t == '\0')
		t = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(dir, sizeof(dir), "%s/cairn-fuzz.XXXXXX", t);
	if (mkdtemp(dir) == NULL) {
		perror("fuzz: mkdtemp");
		abort();
	}
	atexit(rm_dir);
	return dir;
}

const char *
fz_file(const char *name, const void *data, size_t n)
{
	const char *p = data;
	ssize_t w;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", fz_dir(), name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0) {
		perror("fuzz: open");
		abort();
	}
	while (n > 0) {
		if ((w = write(fd, p, n)) <= 0) {
			perror("fuzz: write");
			abort();
		}
		p += w;
		n -= (size_t)w;
	}
	close(fd);
	return path;
}

void
fz_quiet(void)
{
	log_set_level(getenv("FUZZ_VERBOSE") != NULL ? LOG_LEVEL_INFO :
	    LOG_LEVEL_ERROR);
}

int
fz_mute(void)
{
	int fd, saved;

	if (getenv("FUZZ_VERBOSE") != NULL)
		return -1;
	fflush(stderr);
	if ((saved = dup(2)) < 0)
		return -1;
	if ((fd = open("/dev/null", O_WRONLY)) >= 0) {
		dup2(fd, 2);
		close(fd);
	}
	return saved;
}

void
fz_unmute(int saved)
{
	if (saved < 0)
		return;
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
}

uint8_t
fz_byte(const uint8_t **data, size_t *size)
{
	uint8_t b;

	if (*size == 0)
		return 0;
	b = **data;
	(*data)++;
	(*size)--;
	return b;
}

/*
 * Identities come from fixed seeds (byte i + 1, 32 times), written as
 * identity files and loaded, so signatures in seed inputs stay valid from
 * one run to the next.
 */
static void
member(struct fz_fed *f, size_t i, enum keys_role role, const char *name,
    struct keys_identity **id)
{
	struct keys_member *m = &f->members[i];
	char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
	char text[256], file[64];
	uint8_t seed[32];
	int n;

	memset(seed, (int)i + 1, sizeof(seed));
	sodium_bin2base64(b64, sizeof(b64), seed, sizeof(seed),
	    sodium_base64_VARIANT_ORIGINAL);
	n = snprintf(text, sizeof(text), "cairn-identity v1\nrole %s\n"
	    "name %s\nseed %s\n", keys_role_name(role), name, b64);
	snprintf(file, sizeof(file), "fixture-%s.key", name);
	if (keys_identity_load(fz_file(file, text, (size_t)n), id) !=
	    CAIRN_OK)
		abort();
	memset(m, 0, sizeof(*m));
	m->pub.role = role;
	snprintf(m->pub.name, sizeof(m->pub.name), "%s", name);
	keys_identity_public(*id, m->pub.pk);
	keys_fingerprint((const uint8_t *)name, strlen(name), m->cert_fpr);
}

const struct fz_fed *
fz_fed(void)
{
	static struct fz_fed f;
	static int done;
	char name[8];

	if (done)
		return &f;
	if (sodium_init() < 0)
		abort();
	member(&f, 0, KEYS_ROLE_COORDINATOR, "coord", &f.coord);
	member(&f, 1, KEYS_ROLE_ANALYST, "alice", &f.analyst);
	for (size_t i = 0; i < FZ_NODES; i++) {
		snprintf(name, sizeof(name), "n%zu", i + 1);
		member(&f, 2 + i, KEYS_ROLE_NODE, name, &f.node[i]);
	}
	snprintf(f.fed.name, sizeof(f.fed.name), "fz");
	keys_fingerprint((const uint8_t *)"ca", 2, f.fed.ca_fpr);
	f.fed.members = f.members;
	f.fed.n = 2 + FZ_NODES;
	done = 1;
	return &f;
}

void
fz_resign(const struct keys_identity *id, const char *purpose,
    const ProtobufCBinaryData *body, ProtobufCBinaryData *sig)
{
	uint8_t *s;

	if ((s = malloc(KEYS_SIG_LEN)) == NULL ||
	    keys_sign(id, purpose, body->data, body->len, s) != CAIRN_OK)
		abort();
	free(sig->data);
	sig->data = s;
	sig->len = KEYS_SIG_LEN;
}

const struct keys_identity *
fz_identity(const char *name)
{
	const struct fz_fed *f = fz_fed();

	if (name == NULL)
		return NULL;
	if (strcmp(name, "coord") == 0)
		return f->coord;
	if (strcmp(name, "alice") == 0)
		return f->analyst;
	for (size_t i = 0; i < FZ_NODES; i++)
		if (strcmp(name, f->members[2 + i].pub.name) == 0)
			return f->node[i];
	return NULL;
}

void
fz_signed_query(uint8_t **out, size_t *len)
{
	static const char spec[] = "{\"kind\":\"residents\","
	    "\"start\":\"2026-01-05\",\"end\":\"2026-01-08\"}";
	static char *parts[] = { "n1", "n2", "n3" };
	Cairn__V1__SignedQuery sq = CAIRN__V1__SIGNED_QUERY__INIT;
	Cairn__V1__QuerySpec sp = CAIRN__V1__QUERY_SPEC__INIT;
	Cairn__V1__MemberId an = CAIRN__V1__MEMBER_ID__INIT;
	Cairn__V1__Query q = CAIRN__V1__QUERY__INIT;
	struct qspec_proto_bufs bufs;
	struct qspec qs;
	uint8_t nonce[16], sig[KEYS_SIG_LEN], *qb, *b;
	size_t ql, l;

	if (qspec_parse_json(spec, strlen(spec), "spec", &qs) != CAIRN_OK)
		abort();
	qspec_to_proto(&qs, "g1", &sp, &bufs);
	an.role = CAIRN__V1__ROLE__ROLE_ANALYST;
	an.name = "alice";
	memset(nonce, 7, sizeof(nonce));
	q.query_id = "q1";
	q.analyst = &an;
	q.purpose = "fuzz";
	q.spec = &sp;
	q.rho_nano = 100000000;
	q.n_participants = 3;
	q.participants = parts;
	q.max_colluding = 1;
	q.submitted_unix = 1767571200;
	q.federation = "fz";
	q.nonce.data = nonce;
	q.nonce.len = sizeof(nonce);
	ql = cairn__v1__query__get_packed_size(&q);
	if ((qb = malloc(ql)) == NULL)
		abort();
	cairn__v1__query__pack(&q, qb);
	if (keys_sign(fz_fed()->analyst, "query", qb, ql, sig) != CAIRN_OK)
		abort();
	sq.query.data = qb;
	sq.query.len = ql;
	sq.signature.data = sig;
	sq.signature.len = sizeof(sig);
	l = cairn__v1__signed_query__get_packed_size(&sq);
	if ((b = malloc(l)) == NULL)
		abort();
	cairn__v1__signed_query__pack(&sq, b);
	free(qb);
	*out = b;
	*len = l;
}
