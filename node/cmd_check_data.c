/*
 * cmd_check_data.c - `cairn-node check-data`: read the input and print the
 * bad-row report without running a query.  Exits 1 when a file would be
 * refused under --max-bad-fraction.  With --source, per table the rows a
 * query would read and those it would refuse, by reason; on a ClickHouse
 * cluster with the option 'cluster', per shard the subscribers that also
 * have events on another shard (exit 1 when there is one).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/cli.h"
#include "common/err.h"
#include "node/cmd_int.h"

#define PROG	"cairn-node check-data"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: cairn-node check-data --cdr PATH... (--cells FILE | "
	    "--regions FILE)\n"
	    "       cairn-node check-data --source URI [--source-option "
	    "KEY=VALUE]... --cells FILE\n"
	    "           [--max-bad-fraction F] [--threads N]\n\n"
	    "Read the input files and report bad rows by reason, with the "
	    "first examples\nas file:line: reason.  Exits 1 when a file "
	    "would be refused.\n");
}

/*
 * Report what a SQL source would read and refuse, per table; *refused
 * is set when a table's refused share is over 'max_bad'.  On a sharded
 * ClickHouse source with a cluster, also per shard the subscribers that
 * have events on another shard too, and *refused when there is one:
 * per-subscriber rules would then run on each part of such a subscriber
 * apart, and every output would be wrong (docs/sources.md, "check-data").
 * Both are counted before anything is printed.
 */
static int
check_source(struct cmd_input *ci, bool *refused)
{
	struct engine_source_table_report rep[ENGINE_SOURCE_MAX_TABLES];
	const struct engine_source *s = &ci->src;
	uint64_t split[ENGINE_SOURCE_MAX_SHARDS], total = 0;
	int r;

	if ((r = engine_check_source(s, ci->cells, rep)) != CAIRN_OK)
		return r;
	if (s->nshards > 0 && s->cluster != NULL &&
	    (r = engine_check_split(s, split)) != CAIRN_OK)
		return r;
	for (size_t i = 0; i < s->ntables; i++) {
		const struct engine_source_table_report *t = &rep[i];
		uint64_t bad = t->empty_id + t->bad_time + t->no_cell +
		    t->unmapped;

		printf("%s: %" PRIu64 " rows, %" PRIu64 " read, %" PRIu64
		    " refused (%" PRIu64 " empty subscriber, %" PRIu64
		    " bad time, %" PRIu64 " NULL or empty location, %" PRIu64
		    " unmapped location)\n", t->table, t->rows, t->rows - bad,
		    bad, t->empty_id, t->bad_time, t->no_cell, t->unmapped);
		if (t->rows > 0 && (double)bad / (double)t->rows >
		    ci->max_bad) {
			fprintf(stderr, "%s: error: %s: %.4f%% of rows "
			    "refused, over the limit of %g%%\n", PROG, t->table,
			    100.0 * (double)bad / (double)t->rows,
			    100.0 * ci->max_bad);
			*refused = true;
		}
	}
	if (s->nshards == 0)
		return CAIRN_OK;
	if (s->cluster == NULL) {
		printf("shards: subscribers on more than one shard not counted "
		    "(set the source option cluster)\n");
		return CAIRN_OK;
	}
	for (size_t i = 0; i < s->nshards; i++) {
		printf("shard %s: %" PRIu64 " subscribers also on another "
		    "shard\n", s->shards[i], split[i]);
		total += split[i];
	}
	if (total > 0) {
		fprintf(stderr, "%s: error: the data is not sharded by "
		    "subscriber:", PROG);
		for (size_t i = 0; i < s->nshards; i++)
			if (split[i] > 0)
				fprintf(stderr, " shard %s holds %" PRIu64 " "
				    "subscribers with events on another shard;",
				    s->shards[i], split[i]);
		fprintf(stderr, " each shard would count them apart\n");
		*refused = true;
	}
	return CAIRN_OK;
}

int
node_cmd_check_data(int argc, char **argv)
{
	static const struct option opts[] = {
		CMD_INPUT_OPTIONS,
		{ NULL, 0, NULL, 0 }
	};
	struct cmd_input ci;
	struct engine_report rep;
	int c, r, rc = 1;

	cmd_input_init(&ci);
	memset(&rep, 0, sizeof(rep));
	optind = 1;
	opterr = 0;
	for (;;) {
		if ((r = cmd_input_next(&ci, argc, argv, opts, &c)) != CAIRN_OK)
			goto fail;
		if (c == -1)
			break;
		if (c == OPT_HELP) {
			usage(stdout);
			rc = 0;
			goto out;
		}
	}
	if ((r = cmd_input_open(&ci, true)) != CAIRN_OK)
		goto fail;
	if (ci.have_source) {
		bool refused = false;

		if ((r = check_source(&ci, &refused)) != CAIRN_OK)
			goto fail;
		rc = refused ? 1 : 0;
		goto out;
	}
	if ((r = engine_check_data(&ci.in, &rep)) != CAIRN_OK)
		goto fail;
	engine_report_print(&rep, stdout);
	rc = 0;
	for (size_t i = 0; i < rep.nfiles; i++)
		if (rep.files[i].refused) {
			fprintf(stderr, "%s: error: %s: %.4f%% of rows bad, "
			    "over the limit of %g%%\n", PROG, rep.files[i].path,
			    100.0 * (double)rep.files[i].nbad /
			    (double)rep.files[i].rows, 100.0 * ci.max_bad);
			rc = 1;
		}
	goto out;
fail:
	rc = cli_fail(PROG, "check-data", r);
out:
	engine_report_release(&rep);
	cmd_input_release(&ci);
	return rc;
}
