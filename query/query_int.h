/*
 * query_int.h - private to query/cmd_query.c and the query_*.c files of
 * its subcommands: the parsed command line (struct ctx), the option
 * table, and the helpers the subcommands share.
 */
#ifndef CAIRN_QUERY_INT_H
#define CAIRN_QUERY_INT_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/cli.h"
#include "common/err.h"
#include "protocol/cairn.pb-c.h"
#include "protocol/transport.h"

#define PROG		"cairn query"
#define CALL_MS		30000


enum opt {
	O_CONFIG, O_KEY, O_TLS_KEY, O_TLS_CERT, O_CA, O_COORD, O_FED,
	O_KIND, O_START, O_END, O_BUCKET, O_K, O_UTC, O_NIGHT_START,
	O_NIGHT_END, O_BASELINE, O_COMPARISON, O_SPEC, O_GEO, O_RHO,
	O_PURPOSE, O_PARTS, O_COLL, O_HOLDERS, O_ID, O_TIMEOUT, O_FORMAT,
	O_OUTPUT, O_REGIONS, O_CATS, O_DELTA, O_INPUT, O_NORMAL,
	O_NORMAL_DAYS, O_N
};

/* The long options, indexed by enum opt (cmd_query.c). */
extern const struct option query_opts[];

/* analyst.conf */
struct aconf {
	char	*key, *tls_key, *tls_cert, *ca, *coord, *fed;
};

struct ctx {
	const char	*sub;		/* "submit" */
	const char	*o[O_N];
	const char	*arg;		/* the positional query id */
	struct aconf	 conf;
	bool		 have_conf;
};

/* The exit code for a failed subcommand: the error printed as cli_fail(). */
static inline int
fail(const struct ctx *c, int code)
{
	return cli_fail(PROG, c->sub, code);
}

/* CAIRN_OK if option 'o' was given, else CAIRN_ERR_ARG naming it. */
static inline int
need(const struct ctx *c, enum opt o)
{
	if (c->o[o] != NULL)
		return CAIRN_OK;
	return cairn_err(CAIRN_ERR_ARG, "--%s is required", query_opts[o].name);
}

/*
 * Dial the coordinator named by --coordinator with --ca, --tls-cert,
 * --tls-key (required) and --federation.  *out is the caller's on success.
 */
int	query_connect(const struct ctx *c, struct transport_client **out);

/* Parse decimal 's' for option 'what' into *out, at most 'max'. */
int	query_parse_u32(const char *s, const char *what, uint32_t max,
	    uint32_t *out);

/* Parse a finite real 's' for option 'what' into *out. */
int	query_parse_real(const char *s, const char *what, double *out);

/*
 * Split "a,b,c" (option 'what', at most 'max' items) into a new array of
 * new strings, *out and *n; free it with query_free_list().
 */
int	query_split_list(const char *s, const char *what, size_t max,
	    char ***out, size_t *n);

/* Free 'n' strings of 'v' and 'v'; NULL is fine. */
void	query_free_list(char **v, size_t n);

/* Ask for the status of query 'id' (caller frees *out). */
int	query_get_status(struct transport_client *cl, const char *id,
	    Cairn__V1__QueryStatus **out);

/* The name of query state 's' as printed ("released"). */
const char *query_state_name(Cairn__V1__QueryState s);

/* Print status 's' as `cairn query status` does, to 'f'. */
void	query_print_status(const Cairn__V1__QueryStatus *s, FILE *f);

/*
 * The subcommands, each with its usage text: the exit code (0 on
 * success).  submit in query_submit.c; status, wait and list in
 * query_status.c; result in query_result.c.
 */
extern const char query_submit_usage[];
extern const char query_status_usage[];
extern const char query_wait_usage[];
extern const char query_result_usage[];
extern const char query_list_usage[];
extern const char query_derive_usage[];
int	query_cmd_submit(struct ctx *c);
int	query_cmd_status(struct ctx *c);
int	query_cmd_wait(struct ctx *c);
int	query_cmd_result(struct ctx *c);
int	query_cmd_list(struct ctx *c);
/* derive (query_derive.c): from a released displacement result. */
int	query_cmd_derive(struct ctx *c);

#endif /* CAIRN_QUERY_INT_H */
