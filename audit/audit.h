/*
 * audit.h - the auditor's full verification of a federation's log
 * (docs/federation.md §5, docs/audit.md "cairn audit verify").
 *
 * audit_verify() works on data alone: a signed checkpoint, the entries
 * it covers, federation.conf, optionally the checkpoint the auditor kept
 * from its last run and a node's ledger export.  It reports every rule
 * that does not hold as one finding line (through a callback) and keeps
 * going, so one run lists every problem.  The online command
 * (`cairn audit verify --coordinator`) only fetches these inputs.
 * Everything here is hostile input: sizes are capped before allocating.
 */
#ifndef CAIRN_AUDIT_H
#define CAIRN_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys/keys_federation.h"
#include "protocol/tlog.h"
#include "protocol/tlog_entry.h"
#include "protocol/tlog_note.h"

/* Most entries one verification takes (memory is O(entries)). */
#define AUDIT_MAX_ENTRIES	((uint64_t)1 << 28)
/* Most charges a ledger export may hold, and its longest line. */
#define AUDIT_LEDGER_MAX	(1u << 24)
#define AUDIT_LEDGER_LINE_MAX	(64 * 1024)
/* One data-month of a ledger charge, ρ in nano-ρ (common/rho.h). */
struct audit_ledger_month {
	uint32_t	month;		/* YYYYMM */
	uint64_t	rho_nano;
	uint64_t	cumulative_nano;
};

/* One line of `cairn-node ledger export` (docs/node.md, docs/audit.md). */
struct audit_ledger_charge {
	int64_t				 id;
	char				 node[KEYS_NAME_MAX + 1]; /* or "" */
	char				 query_id[TLOG_ENTRY_MAX_ID + 1];
	uint8_t				 query_hash[TLOG_HASH_LEN];
	size_t				 nmonths;
	struct audit_ledger_month	*months;
	int64_t				 log_index;	/* -1: not logged */
	bool				 have_budget, have_variance;
	uint64_t			 budget_nano;	/* per month */
	uint64_t			 variance;	/* noise_variance */
	size_t				 line;		/* in the file */
};

struct audit_ledger {
	struct audit_ledger_charge	*v;
	size_t				 n;
};

/*
 * Parse a ledger export: one JSON object per line (empty lines skipped)
 * with "id" (integer), "query_id", "query_hash" (64 hex digits), "months"
 * ([{"month": "YYYY-MM", "rho": R, "cumulative_rho": C}]) and
 * "log_index" (integer, or null / -1 while not logged); optional "node",
 * "budget_rho_per_month" and "noise_variance" are compared with the log
 * when present.  Each ρ is read from its "*_nano" integer twin when the
 * line has one ("rho_nano", "cumulative_rho_nano",
 * "budget_rho_per_month_nano"), else from the decimal number, which must
 * be exactly a whole number of nano-ρ (rho_from_double()); other fields
 * ("created", "label", ...) are ignored.
 * 'name' starts error details ("ledger.jsonl:3: field 'months': ...").
 * Returns CAIRN_OK and fills '*out' (free with audit_ledger_free()), or
 * CAIRN_ERR_FORMAT / CAIRN_ERR_TOOBIG naming the line and field.
 */
int	audit_ledger_parse(const char *text, size_t len, const char *name,
	    struct audit_ledger *out) __attribute__((warn_unused_result));
void	audit_ledger_free(struct audit_ledger *l);

/* What to verify. */
struct audit_verify_in {
	const struct keys_federation	*fed;
	const char			*checkpoint;	/* signed note */
	size_t				 checkpoint_len;
	const char			*state;		/* kept note or NULL */
	size_t				 state_len;
	size_t				 quorum;	/* witness cosignatures
							   required; 0: none */
	const struct tlog_bytes		*entries;	/* 0 .. n-1 */
	size_t				 nentries;
	const struct audit_ledger	*ledger;	/* or NULL */
	const char			*ledger_node;	/* whose ledger */
	/* Called once per finding with one line (no '\n'); may be NULL. */
	void				(*finding)(void *ctx, const char *line);
	void				*ctx;
};

/* What a verification went through. */
struct audit_verify_report {
	struct tlog_checkpoint	cp;		/* the verified checkpoint */
	size_t			cosignatures;	/* valid witness cosignatures */
	bool			log_ok;		/* signature, state, root ok */
	uint64_t		findings;
	uint64_t		queries, charges, restatements, refusals;
	uint64_t		releases, failures, others;
	uint64_t		members;	/* MEMBER entries */
	uint64_t		policies;	/* POLICY entries */
	uint64_t		ledger_charges;	/* ledger lines matched */
};

/*
 * Verify everything docs/federation.md §5 lists: the checkpoint's log
 * signature (the coordinator's identity key from 'fed', note name
 * "cairn/<federation>"), at least 'quorum' witness cosignatures of the
 * federation's nodes, consistency with 'state' (the root of its size,
 * recomputed from the entries), the entries' root, then every entry and
 * rule, and the ledger cross-check.  Every failed check is passed to
 * 'finding' and counted.  Returns CAIRN_OK when there is no finding,
 * CAIRN_ERR_CONFLICT when there is at least one (the detail gives the
 * count), or CAIRN_ERR_NOMEM / CAIRN_ERR_ARG (bad 'in') / CAIRN_ERR_CONFIG
 * (no coordinator in 'fed') when the verification could not run.
 * '*rep' (may be NULL) is filled whenever the verification ran.
 */
int	audit_verify(const struct audit_verify_in *in,
	    struct audit_verify_report *rep)
	    __attribute__((warn_unused_result));

/*
 * Write 'note' ('len' bytes) to 'path' atomically: a temporary file in
 * the same directory, fsync, rename, fsync of the directory.  Returns
 * CAIRN_OK or CAIRN_ERR_IO naming the path.
 */
int	audit_state_write(const char *path, const char *note, size_t len)
	    __attribute__((warn_unused_result));

/* `cairn audit verify` (audit/verify_cmd.c). */
int	audit_cmd_verify(int argc, char **argv);
/* `cairn audit fetch` (audit/verify_cmd.c): save checkpoint and entries. */
int	audit_cmd_fetch(int argc, char **argv);
/*
 * `cairn audit ...` (audit/cmd_audit.c): the auditor's subcommands;
 * argv[0] is "audit"; returns the exit code.
 */
int	cmd_audit(int argc, char **argv);

#endif
