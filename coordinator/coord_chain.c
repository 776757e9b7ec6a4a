/*
 * coord_chain.c - the per-node, per-data-month chain of logged cumulative
 * spend (coordinator/coord_chain.h): a sorted array searched by bisection,
 * filled from the log's CHARGE entries.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/rho.h"
#include "coordinator/coord_chain.h"

void
coord_chain_release(struct coord_chain *cc)
{
	free(cc->v);
	cc->v = NULL;
	cc->n = cc->cap = 0;
}

static int
item_cmp(const struct coord_chain_item *it, const char *node, uint32_t month)
{
	int c = strcmp(it->node, node);

	if (c != 0)
		return c;
	return it->month < month ? -1 : it->month > month;
}

/* The index of (node, month), or where it would go, and '*found'. */
static size_t
find(const struct coord_chain *cc, const char *node, uint32_t month,
    int *found)
{
	size_t lo = 0, hi = cc->n;

	*found = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = item_cmp(&cc->v[mid], node, month);

		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint64_t
coord_chain_last(const struct coord_chain *cc, const char *node,
    uint32_t month)
{
	int found;
	size_t i = find(cc, node, month, &found);

	return found ? cc->v[i].cumulative_nano : 0;
}

int
coord_chain_note(struct coord_chain *cc, const struct tlog_entry *e)
{
	char node[sizeof(cc->v[0].node)];

	if (e->type != TLOG_ENTRY_CHARGE)
		return CAIRN_OK;
	if (e->node_id.len >= sizeof(node))
		return cairn_err(CAIRN_ERR_TOOBIG, "CHARGE node id of %zu "
		    "bytes", e->node_id.len);
	memcpy(node, e->node_id.p, e->node_id.len);
	node[e->node_id.len] = '\0';
	for (size_t k = 0; k < e->ncharges; k++) {
		const struct tlog_charge *c = &e->charges[k];
		int found;
		size_t i = find(cc, node, c->month, &found);

		if (found) {
			if (c->cumulative_nano > cc->v[i].cumulative_nano)
				cc->v[i].cumulative_nano = c->cumulative_nano;
			continue;
		}
		if (cc->n == cc->cap) {
			size_t nc = cc->cap ? cc->cap * 2 : 64;
			struct coord_chain_item *nv;

			if (cc->n >= COORD_CHAIN_MAX)
				return cairn_err(CAIRN_ERR_TOOBIG, "over %u "
				    "(node, data-month) spends",
				    COORD_CHAIN_MAX);
			if ((nv = realloc(cc->v, nc * sizeof(*nv))) == NULL)
				return cairn_err(CAIRN_ERR_NOMEM,
				    "charge chain");
			cc->v = nv;
			cc->cap = nc;
		}
		memmove(&cc->v[i + 1], &cc->v[i], (cc->n - i) * sizeof(*cc->v));
		memset(&cc->v[i], 0, sizeof(cc->v[i]));
		memcpy(cc->v[i].node, node, e->node_id.len + 1);
		cc->v[i].month = c->month;
		cc->v[i].cumulative_nano = c->cumulative_nano;
		cc->n++;
	}
	return CAIRN_OK;
}

int
coord_chain_check(const struct coord_chain *cc, const char *node,
    const struct tlog_charge *ch, size_t n, const uint64_t *rho_nano,
    uint64_t budget_nano, const struct tlog_charge *logged, size_t nlogged,
    size_t *bad)
{
	char a[RHO_TEXT_MAX], b[RHO_TEXT_MAX], p[RHO_TEXT_MAX];

	*bad = 0;
	if (logged != NULL && nlogged != n)
		return cairn_err(CAIRN_ERR_BUDGET, "node %s: the charge names "
		    "%zu months, its logged CHARGE for this query %zu", node,
		    n, nlogged);
	for (size_t i = 0; i < n; i++) {
		const struct tlog_charge *c = &ch[i];

		if (logged == NULL)
			break;
		*bad = i;
		if (c->month != logged[i].month ||
		    c->rho_nano != logged[i].rho_nano ||
		    c->cumulative_nano != logged[i].cumulative_nano)
			return cairn_err(CAIRN_ERR_BUDGET, "node %s, month "
			    "%04u-%02u: cumulative %s given, %s expected (the "
			    "CHARGE it logged for this query)", node,
			    c->month / 100, c->month % 100,
			    rho_format(c->cumulative_nano, b),
			    rho_format(logged[i].cumulative_nano, a));
	}
	for (size_t i = 0; i < n; i++) {
		const struct tlog_charge *c = &ch[i];
		uint64_t prev = coord_chain_last(cc, node, c->month), want;

		*bad = i;
		if (c->rho_nano != rho_nano[i])	/* malformed, not spent */
			return cairn_err(CAIRN_ERR_ARG, "node %s, month "
			    "%04u-%02u: the charge is rho %s, the query's is "
			    "%s", node, c->month / 100, c->month % 100,
			    rho_format(c->rho_nano, b), rho_format(rho_nano[i],
			    a));
		want = prev + rho_nano[i];	/* both <= 10^18 */
		if (logged != NULL)	/* restated: checked above */
			want = c->cumulative_nano;
		if (c->cumulative_nano != want)
			return cairn_err(CAIRN_ERR_BUDGET, "node %s, month "
			    "%04u-%02u: cumulative %s given, %s expected (its "
			    "logged spend %s plus this charge)", node,
			    c->month / 100, c->month % 100,
			    rho_format(c->cumulative_nano, b),
			    rho_format(want, a), rho_format(prev, p));
		if (c->cumulative_nano > budget_nano)
			return cairn_err(CAIRN_ERR_BUDGET, "node %s, month "
			    "%04u-%02u: cumulative %s is over its budget %s",
			    node, c->month / 100, c->month % 100,
			    rho_format(c->cumulative_nano, b),
			    rho_format(budget_nano, a));
	}
	return CAIRN_OK;
}
