/*
 * verify_ledger.c - the cross-check of a node's local ledger against the
 * log, for audit_verify() (verify.c): every charge the ledger holds must
 * be a CHARGE entry of that node with the same query, months, rho and
 * cumulative rho, and every CHARGE entry of that node must be in the
 * ledger.  Each difference is a finding.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "audit/audit_int.h"
#include "common/err.h"
#include "keys/keys.h"

static bool
ledger_matches(const struct audit_ledger_charge *lc,
    const struct tlog_entry *e)
{
	if (memcmp(lc->query_hash, e->query_hash, TLOG_HASH_LEN) != 0 ||
	    lc->nmonths != e->ncharges)
		return false;
	for (size_t i = 0; i < lc->nmonths; i++)
		if (lc->months[i].month != e->charges[i].month ||
		    lc->months[i].rho_nano != e->charges[i].rho_nano ||
		    lc->months[i].cumulative_nano !=
		    e->charges[i].cumulative_nano)
			return false;
	return true;
}

void
audit_verify_ledger(struct vctx *v, struct tlog_entry *e)
{
	const struct audit_ledger *l = v->in->ledger;
	const char *node = v->in->ledger_node;
	uint8_t key[HT_KEY_MAX];
	char hb[17];
	bool *seen;

	if (strlen(node) > KEYS_NAME_MAX) {
		find(v, "ledger: node name '%s' is too long", node);
		return;
	}
	if ((seen = calloc(v->charges.cap + 1, sizeof(bool))) == NULL) {
		find(v, "ledger: out of memory");
		return;
	}
	for (size_t i = 0; i < l->n; i++) {
		const struct audit_ledger_charge *lc = &l->v[i];
		struct vcharge *vc;
		size_t kn = audit_charge_key(key, node, lc->query_hash);

		if (lc->node[0] != '\0' && strcmp(lc->node, node) != 0) {
			find(v, "ledger line %zu: charge %" PRId64 " is of "
			    "node '%s', not '%s'", lc->line, lc->id, lc->node,
			    node);
			continue;
		}
		vc = audit_ht_get(&v->charges, key, kn);
		if (vc == NULL) {
			find(v, "ledger line %zu: charge %" PRId64 " (query "
			    "'%s', %s) is missing from the log", lc->line,
			    lc->id, lc->query_id, short_hash(lc->query_hash,
			    hb));
			continue;
		}
		seen[audit_ht_index(&v->charges, key, kn)] = true;
		if (lc->log_index >= 0) {
			uint64_t li = (uint64_t)lc->log_index;
			struct tlog_bytes d;
			char nb[KEYS_NAME_MAX + 1];

			if (li >= v->in->nentries) {
				find(v, "ledger line %zu: charge %" PRId64
				    " is recorded at log index %" PRIu64
				    ", beyond the log", lc->line, lc->id, li);
				continue;
			}
			d = v->in->entries[li];
			if (tlog_entry_decode(d.p, d.len, e) != CAIRN_OK ||
			    e->type != TLOG_ENTRY_CHARGE ||
			    !audit_bytes_name(e->node_id, nb) ||
			    strcmp(nb, node) != 0) {
				find(v, "ledger line %zu: charge %" PRId64 ": "
				    "log entry %" PRIu64 " is not a CHARGE of "
				    "'%s'", lc->line, lc->id, li, node);
				continue;
			}
			if (!ledger_matches(lc, e)) {
				find(v, "ledger line %zu: charge %" PRId64 ": "
				    "log entry %" PRIu64 " has different "
				    "fields", lc->line, lc->id, li);
				continue;
			}
		} else {
			struct tlog_bytes d = v->in->entries[vc->index];

			if (tlog_entry_decode(d.p, d.len, e) != CAIRN_OK ||
			    !ledger_matches(lc, e)) {
				find(v, "ledger line %zu: charge %" PRId64 ": "
				    "log entry %" PRIu64 " has different "
				    "fields", lc->line, lc->id, vc->index);
				continue;
			}
		}
		if ((lc->have_budget && lc->budget_nano !=
		    vc->c->budget_rho_per_month_nano) ||
		    (lc->have_variance &&
		    lc->variance != vc->c->noise_variance)) {
			find(v, "ledger line %zu: charge %" PRId64 ": budget "
			    "or noise variance differs from the signed charge "
			    "of log entry %" PRIu64, lc->line, lc->id,
			    vc->index);
			continue;
		}
		v->rep->ledger_charges++;
	}
	/* Every CHARGE of the node in the log is in the ledger. */
	for (size_t i = 0; i < v->charges.cap; i++) {
		struct hent *h = &v->charges.v[i];
		const struct vcharge *vc;

		if (h->key == NULL || seen[i] || strcmp((const char *)h->key,
		    node) != 0)
			continue;
		vc = h->val;
		find(v, "log entry %" PRIu64 ": CHARGE of '%s' for query '%s' "
		    "is missing from the ledger", vc->index, node,
		    vc->c->query_id);
	}
	free(seen);
}
