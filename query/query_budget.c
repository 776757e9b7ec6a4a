/*
 * query_budget.c - `cairn query budget`: for each holder and data-month,
 * the budget, what is spent and what is left, derived from the log alone:
 * each node's latest signed POLICY entry (its monthly budget and the
 * data-months it declares it holds) and the CHARGE entries (the highest
 * cumulative spend of each holder and month).  Every entry read is proven
 * part of a checkpoint signed by the log key with a witness quorum
 * (query_log.c), so the coordinator cannot hide a charge or invent a
 * budget.  The planner (query_plan.c) reads the same table.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/rho.h"
#include "keys/keys.h"
#include "keys/keys_federation.h"
#include "protocol/cairn.pb-c.h"
#include "protocol/tlog_entry.h"
#include "protocol/tlog_member.h"
#include "protocol/tlog_note.h"
#include "query/query.h"
#include "query/query_int.h"

/* Caps on what a log can make the client hold. */
#define BUDGET_MAX_HOLDERS	4096
#define BUDGET_MAX_SPENDS	(1u << 20)
#define BUDGET_MAX_MONTHS	1200

static int
spend_cmp(const struct query_spend *s, const char *holder, uint32_t month)
{
	int c = strcmp(s->holder, holder);

	if (c != 0)
		return c;
	return s->month < month ? -1 : s->month > month;
}

/* The index of (holder, month) in b->s, or where it would go. */
static size_t
spend_find(const struct query_budgets *b, const char *holder, uint32_t month,
    bool *found)
{
	size_t lo = 0, hi = b->ns;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = spend_cmp(&b->s[mid], holder, month);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int
note_charge(struct query_budgets *b, uint64_t index, const struct tlog_entry *e)
{
	char node[KEYS_NAME_MAX + 1];

	if (e->node_id.len == 0 || e->node_id.len >= sizeof(node))
		return cairn_err(CAIRN_ERR_FORMAT, "log entry %" PRIu64 ": "
		    "CHARGE with a node id of %zu bytes", index,
		    e->node_id.len);
	memcpy(node, e->node_id.p, e->node_id.len);
	node[e->node_id.len] = '\0';
	for (size_t k = 0; k < e->ncharges; k++) {
		const struct tlog_charge *ch = &e->charges[k];
		bool found;
		size_t i = spend_find(b, node, ch->month, &found);

		if (found) {
			if (ch->cumulative_nano > b->s[i].spent_nano)
				b->s[i].spent_nano = ch->cumulative_nano;
			continue;
		}
		if (b->ns == BUDGET_MAX_SPENDS)
			return cairn_err(CAIRN_ERR_TOOBIG, "log entry %" PRIu64
			    ": over %u (holder, data-month) spends", index,
			    BUDGET_MAX_SPENDS);
		if (b->ns == b->cap_s) {
			size_t nc = b->cap_s ? b->cap_s * 2 : 64;
			struct query_spend *nv;

			if ((nv = realloc(b->s, nc * sizeof(*nv))) == NULL)
				return cairn_err(CAIRN_ERR_NOMEM, "spends");
			b->s = nv;
			b->cap_s = nc;
		}
		memmove(&b->s[i + 1], &b->s[i], (b->ns - i) * sizeof(*b->s));
		memset(&b->s[i], 0, sizeof(b->s[i]));
		memcpy(b->s[i].holder, node, e->node_id.len + 1);
		b->s[i].month = ch->month;
		b->s[i].spent_nano = ch->cumulative_nano;
		b->ns++;
	}
	return CAIRN_OK;
}

static int
month_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int
note_policy(struct query_budgets *b, const struct keys_federation *fed,
    uint64_t index, const struct tlog_entry *e)
{
	const struct keys_member *m;
	struct query_budget_holder *h = NULL;
	Cairn__V1__Policy *p = NULL;
	char node[KEYS_NAME_MAX + 1];
	uint32_t *months = NULL;
	int r;

	if (e->node_id.len == 0 || e->node_id.len >= sizeof(node))
		return cairn_err(CAIRN_ERR_FORMAT, "log entry %" PRIu64 ": "
		    "POLICY with a node id of %zu bytes", index,
		    e->node_id.len);
	memcpy(node, e->node_id.p, e->node_id.len);
	node[e->node_id.len] = '\0';
	/* A node no longer enrolled cannot be a participant: skip it. */
	if ((m = keys_federation_find(fed, KEYS_ROLE_NODE, node)) == NULL)
		return CAIRN_OK;
	if ((r = tlog_policy_decode(e, m->pub.pk, &p)) != CAIRN_OK)
		return cairn_err(r, "log entry %" PRIu64 ": %s", index,
		    cairn_errmsg());
	if (p->n_data_months > BUDGET_MAX_MONTHS) {
		r = cairn_err(CAIRN_ERR_TOOBIG, "log entry %" PRIu64 ": POLICY "
		    "of '%s' declares %zu data-months", index, node,
		    p->n_data_months);
		goto out;
	}
	for (size_t i = 0; i < p->n_data_months; i++)
		if (p->data_months[i] % 100 < 1 ||
		    p->data_months[i] % 100 > 12 ||
		    p->data_months[i] > 999912) {
			r = cairn_err(CAIRN_ERR_FORMAT, "log entry %" PRIu64
			    ": POLICY of '%s': data-month %" PRIu32 " is not "
			    "YYYYMM", index, node, p->data_months[i]);
			goto out;
		}
	if (p->n_data_months > 0) {
		if ((months = calloc(p->n_data_months,
		    sizeof(*months))) == NULL) {
			r = cairn_err(CAIRN_ERR_NOMEM, "data-months");
			goto out;
		}
		memcpy(months, p->data_months, p->n_data_months *
		    sizeof(*months));
		qsort(months, p->n_data_months, sizeof(*months), month_cmp);
	}
	for (size_t i = 0; i < b->nh; i++)
		if (strcmp(b->h[i].name, node) == 0)
			h = &b->h[i];
	if (h == NULL) {
		struct query_budget_holder *nv;

		if (b->nh == BUDGET_MAX_HOLDERS) {
			r = cairn_err(CAIRN_ERR_TOOBIG, "over %u holders",
			    BUDGET_MAX_HOLDERS);
			goto out;
		}
		if ((nv = realloc(b->h, (b->nh + 1) * sizeof(*nv))) == NULL) {
			r = cairn_err(CAIRN_ERR_NOMEM, "holders");
			goto out;
		}
		b->h = nv;
		h = &b->h[b->nh++];
		memset(h, 0, sizeof(*h));
		snprintf(h->name, sizeof(h->name), "%s", node);
	}
	/* The latest POLICY is the one in force. */
	free(h->months);
	h->months = months;
	months = NULL;
	h->nmonths = p->n_data_months;
	h->budget_nano = p->budget_rho_per_month_nano;
	h->policy_index = index;
	r = CAIRN_OK;
out:
	free(months);
	cairn__v1__policy__free_unpacked(p, NULL);
	return r;
}

int
query_budgets_note(struct query_budgets *b, const struct keys_federation *fed,
    uint64_t index, const struct tlog_entry *e)
{
	if (index + 1 > b->size)
		b->size = index + 1;
	if (e->type == TLOG_ENTRY_CHARGE)
		return note_charge(b, index, e);
	if (e->type == TLOG_ENTRY_POLICY)
		return note_policy(b, fed, index, e);
	return CAIRN_OK;
}

const struct query_budget_holder *
query_budgets_holder(const struct query_budgets *b, const char *name)
{
	for (size_t i = 0; i < b->nh; i++)
		if (strcmp(b->h[i].name, name) == 0)
			return &b->h[i];
	return NULL;
}

uint64_t
query_budgets_spent(const struct query_budgets *b, const char *holder,
    uint32_t month)
{
	bool found;
	size_t i = spend_find(b, holder, month, &found);

	return found ? b->s[i].spent_nano : 0;
}

bool
query_budget_holds(const struct query_budget_holder *h, uint32_t month)
{
	if (h->nmonths == 0)
		return true;
	return bsearch(&month, h->months, h->nmonths, sizeof(*h->months),
	    month_cmp) != NULL;
}

void
query_budgets_release(struct query_budgets *b)
{
	for (size_t i = 0; i < b->nh; i++)
		free(b->h[i].months);
	free(b->h);
	free(b->s);
	memset(b, 0, sizeof(*b));
}

/* ------------------------------------------------- reading the log */

struct scan {
	struct query_budgets		*b;
	const struct keys_federation	*fed;
};

static int
on_entry(void *arg, uint64_t index, const struct tlog_entry *e)
{
	struct scan *s = arg;

	return query_budgets_note(s->b, s->fed, index, e);
}

int
query_budgets_fetch(const struct ctx *c, struct transport_client *cl,
    unsigned wait_s, struct query_budgets *out)
{
	struct keys_federation *fed = NULL;
	const struct keys_member *coord;
	struct tlog_verifier lk;
	struct tlog_checkpoint cp;
	struct query_budgets b;
	struct scan s;
	int r;

	memset(&b, 0, sizeof(b));
	if ((r = need(c, O_FED)) != CAIRN_OK ||
	    (r = keys_federation_load(c->o[O_FED], &fed)) != CAIRN_OK ||
	    (r = keys_federation_coordinator(fed, &coord)) != CAIRN_OK)
		goto out;
	tlog_fed_log_key(fed, coord, &lk);
	/* Any checkpoint with a quorum: index 0 is covered by every one
	   of a log that has its first entry. */
	if ((r = query_log_checkpoint(cl, fed, &lk, tlog_fed_majority(fed), 0,
	    wait_s, &cp)) != CAIRN_OK)
		goto out;
	s.b = &b;
	s.fed = fed;
	if ((r = query_log_scan(cl, &cp, on_entry, &s)) != CAIRN_OK)
		goto out;
	b.size = cp.size;
	*out = b;
	memset(&b, 0, sizeof(b));
out:
	query_budgets_release(&b);
	keys_federation_free(fed);
	return r;
}

/* ------------------------------------------------------ the command */

const char query_budget_usage[] =
    "[--participants a,b,...] [--timeout S] IDENTITY\n\n"
    "For each holder (node) and data-month: the budget, what is spent and\n"
    "what is left, from the log's POLICY entries (each node's signed\n"
    "monthly budget and the data-months it holds) and CHARGE entries (the\n"
    "highest cumulative spend of each month), every entry proven part of a\n"
    "checkpoint signed by the log key with a majority of the nodes'\n"
    "cosignatures (waited for up to --timeout S seconds, default 60).\n"
    "--participants limits the table to those holders.\n"
    "IDENTITY: --config analyst.conf, or --tls-key --tls-cert --ca\n"
    "--coordinator ADDR --federation federation.conf.\n";

static bool
listed(char **v, size_t n, const char *name)
{
	if (v == NULL)
		return true;
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], name) == 0)
			return true;
	return false;
}

int
query_cmd_budget(struct ctx *c)
{
	struct transport_client *cl = NULL;
	struct query_budgets b;
	char **parts = NULL, t[3][RHO_TEXT_MAX];
	size_t nparts = 0;
	unsigned wait_s = RESULT_WAIT_DEFAULT_S;
	int r;

	memset(&b, 0, sizeof(b));
	if (c->o[O_TIMEOUT] != NULL) {
		uint32_t w;

		if ((r = query_parse_u32(c->o[O_TIMEOUT], "timeout", 86400,
		    &w)) != CAIRN_OK)
			goto out;
		wait_s = w;
	}
	if (c->o[O_PARTS] != NULL && (r = query_split_list(c->o[O_PARTS],
	    "participants", QUERY_MAX_PARTICIPANTS, &parts, &nparts)) !=
	    CAIRN_OK)
		goto out;
	if ((r = query_connect(c, &cl)) != CAIRN_OK ||
	    (r = query_budgets_fetch(c, cl, wait_s, &b)) != CAIRN_OK)
		goto out;
	printf("# budgets from %" PRIu64 " log entries, proven against a "
	    "signed, witnessed checkpoint\n", b.size);
	printf("holder,month,budget,spent,left,held\n");
	for (size_t i = 0; i < b.nh; i++) {
		const struct query_budget_holder *h = &b.h[i];
		bool any = false;

		if (!listed(parts, nparts, h->name))
			continue;
		rho_format(h->budget_nano, t[0]);
		/* Months charged, then declared months not yet charged. */
		for (size_t k = 0; k < b.ns; k++) {
			const struct query_spend *s = &b.s[k];
			uint64_t left;

			if (strcmp(s->holder, h->name) != 0)
				continue;
			any = true;
			left = s->spent_nano < h->budget_nano ?
			    h->budget_nano - s->spent_nano : 0;
			printf("%s,%04u-%02u,%s,%s,%s,%s\n", h->name,
			    s->month / 100, s->month % 100, t[0],
			    rho_format(s->spent_nano, t[1]),
			    rho_format(left, t[2]), h->nmonths == 0 ?
			    "undeclared" : query_budget_holds(h, s->month) ?
			    "yes" : "no");
		}
		for (size_t k = 0; k < h->nmonths; k++) {
			bool found;

			(void)spend_find(&b, h->name, h->months[k], &found);
			if (found)
				continue;
			any = true;
			printf("%s,%04u-%02u,%s,0,%s,yes\n", h->name,
			    h->months[k] / 100, h->months[k] % 100, t[0],
			    t[0]);
		}
		if (!any)
			printf("%s,*,%s,0,%s,undeclared\n", h->name, t[0],
			    t[0]);
	}
	for (size_t i = 0; i < nparts; i++)
		if (query_budgets_holder(&b, parts[i]) == NULL)
			printf("%s,*,-,-,-,no POLICY logged\n", parts[i]);
	if (fflush(stdout) != 0)
		r = cairn_err(CAIRN_ERR_IO, "stdout: %s", strerror(errno));
out:
	query_budgets_release(&b);
	query_free_list(parts, nparts);
	transport_client_free(cl);
	return r == CAIRN_OK ? 0 : fail(c, r);
}
