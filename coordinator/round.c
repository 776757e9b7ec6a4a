/*
 * round.c - one secure-aggregation round as the coordinator sees it (see
 * round.h).  Participants are kept sorted by identity key, which is the
 * roster order, so a lookup is a binary search and the roster needs no
 * second sort.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/bigmem.h"
#include "common/err.h"
#include "coordinator/round.h"

struct participant {
	uint8_t	id[32];
	uint8_t	epk[32];
	uint8_t	share_hash[32];
	bool	advertised;
	bool	shared;
};

struct coord_round {
	uint8_t			 qhash[32];
	uint8_t			 sid[32];
	struct participant	*p;
	size_t			 n;
	size_t			 ncells;
	uint64_t		*acc;
	size_t			 advertised;
	size_t			 shared;
	enum coord_phase	 phase;
	int64_t			 advertise_deadline;
	int64_t			 share_deadline;
	char			 failure[256];
};

static int
id_cmp(const void *a, const void *b)
{
	return memcmp(((const struct participant *)a)->id,
	    ((const struct participant *)b)->id, 32);
}

int
coord_round_new(const uint8_t qhash[static 32], const uint8_t (*ids)[32],
    size_t n, size_t ncells, int64_t advertise_deadline,
    int64_t share_deadline, struct coord_round **out)
{
	struct coord_round *r;

	if (n < SECAGG_MIN_MEMBERS || n > SECAGG_MAX_MEMBERS)
		return cairn_err(CAIRN_ERR_ARG, "round of %zu participants "
		    "(must be %d to %d)", n, SECAGG_MIN_MEMBERS,
		    SECAGG_MAX_MEMBERS);
	if (ncells < 2 || ncells > COORD_ROUND_MAX_CELLS)
		return cairn_err(ncells < 2 ? CAIRN_ERR_ARG : CAIRN_ERR_TOOBIG,
		    "round vector of %zu cells (2 to %llu)", ncells,
		    (unsigned long long)COORD_ROUND_MAX_CELLS);
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->p = calloc(n, sizeof(*r->p))) == NULL ||
	    (r->acc = big_alloc(ncells * sizeof(*r->acc))) == NULL) {
		coord_round_free(r);
		return cairn_err(CAIRN_ERR_NOMEM, "round of %zu cells", ncells);
	}
	/* Zeroed now, at the first advertisement: the pages are touched
	 * while the last node still computes, not when the shares arrive. */
	memset(r->acc, 0, ncells * sizeof(*r->acc));
	memcpy(r->qhash, qhash, 32);
	for (size_t i = 0; i < n; i++)
		memcpy(r->p[i].id, ids[i], 32);
	qsort(r->p, n, sizeof(*r->p), id_cmp);
	for (size_t i = 1; i < n; i++)
		if (memcmp(r->p[i - 1].id, r->p[i].id, 32) == 0) {
			coord_round_free(r);
			return cairn_err(CAIRN_ERR_ARG,
			    "participant listed twice");
		}
	r->n = n;
	r->ncells = ncells;
	r->phase = COORD_ADVERTISING;
	r->advertise_deadline = advertise_deadline;
	r->share_deadline = share_deadline;
	*out = r;
	return CAIRN_OK;
}

void
coord_round_free(struct coord_round *r)
{
	if (r == NULL)
		return;
	free(r->p);
	if (r->acc != NULL)
		sodium_memzero(r->acc, r->ncells * sizeof(*r->acc));
	free(r->acc);
	free(r);
}

enum coord_phase
coord_round_phase(const struct coord_round *r)
{
	return r->phase;
}

const char *
coord_round_failure(const struct coord_round *r)
{
	return r->failure;
}

size_t
coord_round_advertised(const struct coord_round *r)
{
	return r->advertised;
}

size_t
coord_round_shared(const struct coord_round *r)
{
	return r->shared;
}

void
coord_round_fail(struct coord_round *r, const char *reason)
{
	if (r->phase == COORD_FAILED || r->phase == COORD_SUMMED)
		return;
	r->phase = COORD_FAILED;
	snprintf(r->failure, sizeof(r->failure), "%s", reason);
	/* A partial sum is worth nothing and reveals something: drop it. */
	sodium_memzero(r->acc, r->ncells * sizeof(*r->acc));
}

static struct participant *
find(struct coord_round *r, const uint8_t id[static 32])
{
	struct participant key;

	memcpy(key.id, id, 32);
	return bsearch(&key, r->p, r->n, sizeof(*r->p), id_cmp);
}

static const char *const phase_names[] = {
	"advertising", "masking", "summed", "failed"
};

static int
wrong_phase(const struct coord_round *r, const char *what)
{
	return cairn_err(CAIRN_ERR_STATE, "%s while the round is %s%s%s", what,
	    phase_names[r->phase], r->phase == COORD_FAILED ? ": " : "",
	    r->failure);
}

int
coord_round_advertise(struct coord_round *r, const uint8_t id[static 32],
    const uint8_t epk[static 32])
{
	struct participant *p;
	struct secagg_member *m;
	int rc;

	if ((p = find(r, id)) == NULL)
		return cairn_err(CAIRN_ERR_UNAUTH,
		    "advertisement from a node outside the participant set");
	if (p->advertised) {
		if (sodium_memcmp(p->epk, epk, 32) == 0)
			return CAIRN_OK;
		coord_round_fail(r, "a node advertised two ephemeral keys");
		return cairn_err(CAIRN_ERR_CONFLICT,
		    "node advertised a second, different ephemeral key");
	}
	if (r->phase != COORD_ADVERTISING)
		return wrong_phase(r, "advertisement");
	memcpy(p->epk, epk, 32);
	p->advertised = true;
	if (++r->advertised < r->n)
		return CAIRN_OK;
	/* Everyone is in: fix the roster and its session id. */
	if ((m = calloc(r->n, sizeof(*m))) == NULL) {
		coord_round_fail(r, "out of memory building the roster");
		return cairn_err(CAIRN_ERR_NOMEM, "roster");
	}
	for (size_t i = 0; i < r->n; i++) {
		memcpy(m[i].id, r->p[i].id, 32);
		memcpy(m[i].epk, r->p[i].epk, 32);
	}
	rc = secagg_sid(r->qhash, m, r->n, r->sid);
	free(m);
	if (rc != CAIRN_OK) {
		/* Two nodes sent the same ephemeral key. */
		coord_round_fail(r, cairn_errmsg());
		return rc;
	}
	r->phase = COORD_MASKING;
	return CAIRN_OK;
}

int
coord_round_refuse(struct coord_round *r, const uint8_t id[static 32],
    const char *reason)
{
	char why[256];

	if (find(r, id) == NULL)
		return cairn_err(CAIRN_ERR_UNAUTH,
		    "refusal from a node outside the participant set");
	if (r->phase != COORD_ADVERTISING && r->phase != COORD_MASKING)
		return wrong_phase(r, "refusal");
	snprintf(why, sizeof(why), "a participant refused: %s", reason);
	coord_round_fail(r, why);
	return CAIRN_OK;
}

int
coord_round_roster(const struct coord_round *r, struct secagg_member *out,
    size_t n, uint8_t sid[static 32])
{
	if (r->phase != COORD_MASKING && r->phase != COORD_SUMMED)
		return wrong_phase(r, "roster requested");
	if (n != r->n)
		return cairn_err(CAIRN_ERR_ARG, "roster of %zu, not %zu", r->n,
		    n);
	for (size_t i = 0; i < n; i++) {
		memcpy(out[i].id, r->p[i].id, 32);
		memcpy(out[i].epk, r->p[i].epk, 32);
	}
	memcpy(sid, r->sid, 32);
	return CAIRN_OK;
}

int
coord_round_share(struct coord_round *r, const uint8_t id[static 32],
    const uint64_t *y, size_t len)
{
	uint8_t h[32];

	secagg_cells_digest(y, len, h);
	return coord_round_share_digest(r, id, y, len, h);
}

int
coord_round_share_digest(struct coord_round *r, const uint8_t id[static 32],
    const uint64_t *y, size_t len, const uint8_t h[static 32])
{
	struct participant *p;

	if ((p = find(r, id)) == NULL)
		return cairn_err(CAIRN_ERR_UNAUTH,
		    "share from a node outside the participant set");
	if (len != r->ncells)
		return cairn_err(CAIRN_ERR_FORMAT, "share of %zu cells, the "
		    "round has %zu", len, r->ncells);
	if (p->shared) {
		if (sodium_memcmp(h, p->share_hash, 32) == 0)
			return CAIRN_OK;
		coord_round_fail(r, "a node sent two different shares");
		return cairn_err(CAIRN_ERR_CONFLICT,
		    "node sent a second, different share");
	}
	if (r->phase != COORD_MASKING)
		return wrong_phase(r, "share");
	memcpy(p->share_hash, h, 32);
	p->shared = true;
	secagg_sum_add(r->acc, y, len);
	if (++r->shared < r->n)
		return CAIRN_OK;
	if (!secagg_check_is_valid(r->acc[r->ncells - 1], r->n, r->sid)) {
		coord_round_fail(r, "the check cell of the sum is wrong: the "
		    "nodes did not mask for the same roster");
		return cairn_err(CAIRN_ERR_CONFLICT, "%s", r->failure);
	}
	r->phase = COORD_SUMMED;
	return CAIRN_OK;
}

bool
coord_round_expire(struct coord_round *r, int64_t now)
{
	char why[128];

	if (r->phase == COORD_ADVERTISING && now > r->advertise_deadline) {
		snprintf(why, sizeof(why), "deadline passed with %zu of %zu "
		    "advertisements", r->advertised, r->n);
		coord_round_fail(r, why);
		return true;
	}
	if (r->phase == COORD_MASKING && now > r->share_deadline) {
		snprintf(why, sizeof(why), "deadline passed with %zu of %zu "
		    "shares", r->shared, r->n);
		coord_round_fail(r, why);
		return true;
	}
	return false;
}

int
coord_round_result(const struct coord_round *r, int64_t *out, size_t n)
{
	if (r->phase != COORD_SUMMED)
		return wrong_phase(r, "result requested");
	if (n != r->ncells - 1)
		return cairn_err(CAIRN_ERR_ARG, "result of %zu cells, not %zu",
		    r->ncells - 1, n);
	for (size_t i = 0; i < n; i++)
		out[i] = secagg_decode(r->acc[i]);
	return CAIRN_OK;
}
