/*
 * cmd_audit.c - `cairn audit`: the auditor's verification primitives.
 *
 * Each subcommand works on exported data alone (no server): it reads its
 * inputs from the command line or a file, verifies, and prints one line:
 * "ok" on stdout and exit 0, or the reason on stderr
 * ("cairn audit X: error: what: detail") and exit 1.  Hashes are hex of
 * any length so that malformed inputs are reported by the verifiers
 * themselves rather than rejected blindly (a hash that is not 32 bytes
 * never verifies).  docs/audit.md walks an auditor through them.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "common/err.h"
#include "common/file.h"
#include "audit/audit.h"
#include "audit/cmd_int.h"
#include "protocol/tlog.h"
#include "protocol/tlog_note.h"

#define HASH_HEX_MAX	256	/* hex digits of one command-line hash */
#define LEAF_LINE_MAX	(2 * 1024 * 1024)	/* hex digits per leaf */
#define MAX_KEYS	TLOG_NOTE_MAX_SIGS

/* A hash given on the command line, decoded. */
struct hexarg {
	uint8_t	b[HASH_HEX_MAX / 2];
	size_t	len;
};

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode n hex digits of s into out (room for cap bytes). */
static int
hex_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *len,
    const char *what)
{
	if (n % 2 != 0)
		return cairn_err(CAIRN_ERR_FORMAT, "%s: odd number of hex "
		    "digits", what);
	if (n / 2 > cap)
		return cairn_err(CAIRN_ERR_TOOBIG, "%s: over %zu bytes", what,
		    cap);
	for (size_t i = 0; i < n; i += 2) {
		int hi = hexval((unsigned char)s[i]);
		int lo = hexval((unsigned char)s[i + 1]);

		if (hi < 0 || lo < 0)
			return cairn_err(CAIRN_ERR_FORMAT, "%s: '%c%c' is not "
			    "hex", what, s[i], s[i + 1]);
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	*len = n / 2;
	return CAIRN_OK;
}

static int
parse_hash(const char *s, struct hexarg *h, const char *what)
{
	return hex_decode(s, strlen(s), h->b, sizeof(h->b), &h->len, what);
}

static int
parse_u64(const char *s, uint64_t *v, const char *what)
{
	uint64_t x = 0;

	if (*s == '\0')
		return cairn_err(CAIRN_ERR_ARG, "%s: empty number", what);
	for (const char *p = s; *p != '\0'; p++) {
		unsigned d;

		if (*p < '0' || *p > '9')
			return cairn_err(CAIRN_ERR_ARG, "%s: '%s' is not a "
			    "decimal number", what, s);
		d = (unsigned)(*p - '0');
		if (x > (UINT64_MAX - d) / 10)
			return cairn_err(CAIRN_ERR_ARG, "%s: '%s' is over "
			    "2^64-1", what, s);
		x = x * 10 + d;
	}
	*v = x;
	return CAIRN_OK;
}

/* Split "HEX,HEX,..." ("" = no hashes) into at most TLOG_MAX_PROOF. */
static int
parse_proof(const char *s, struct hexarg *proof, size_t *n)
{
	size_t k = 0;
	const char *p = s;
	char what[32];
	int r;

	if (*s == '\0') {
		*n = 0;
		return CAIRN_OK;
	}
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);

		if (k == TLOG_MAX_PROOF)
			return cairn_err(CAIRN_ERR_TOOBIG, "--proof: more than "
			    "%d hashes", TLOG_MAX_PROOF);
		snprintf(what, sizeof(what), "--proof hash %zu", k + 1);
		if ((r = hex_decode(p, len, proof[k].b, sizeof(proof[k].b),
		    &proof[k].len, what)) != CAIRN_OK)
			return r;
		k++;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	*n = k;
	return CAIRN_OK;
}

static struct tlog_bytes
as_bytes(const struct hexarg *h)
{
	struct tlog_bytes b = { h->b, h->len };

	return b;
}

static void
print_hex(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", b[i]);
	printf("\n");
}

/*
 * Read one line of 'in' into buf (room for 'cap' bytes, no NUL added),
 * without its '\n'.  Returns 1 with '*len' set, 0 at the end of the
 * file, or CAIRN_ERR_TOOBIG / CAIRN_ERR_IO.  A last line without '\n'
 * counts; bytes past 'cap' are never stored.
 */
static int
read_line(FILE *in, char *buf, size_t cap, size_t *len, const char *what)
{
	size_t n = 0;
	int c;

	while ((c = getc(in)) != EOF && c != '\n') {
		if (n == cap)
			return cairn_err(CAIRN_ERR_TOOBIG, "%s: leaf over %zu "
			    "hex digits", what, cap);
		buf[n++] = (char)c;
	}
	if (ferror(in))
		return cairn_err(CAIRN_ERR_IO, "%s: %s", what, strerror(errno));
	if (c == EOF && n == 0)
		return 0;
	*len = n;
	return 1;
}

static const char tree_root_usage[] = "--leaves FILE";
static const char tree_root_help[] =
	"Print the RFC 6962 Merkle tree root (hex) of the leaves in FILE:\n"
	"one leaf's data per line in hex, an empty line is an empty leaf.\n"
	"FILE '-' reads standard input.\n";

static int
cmd_tree_root(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "leaves", required_argument, NULL, 0 },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *prog = "cairn audit tree-root", *vals[2] = { NULL, NULL };
	struct tlog_frontier f;
	uint8_t root[TLOG_HASH_LEN], leaf[TLOG_HASH_LEN], *data = NULL;
	char *line = NULL, what[300];
	size_t lineno = 0, len, n = 0;
	FILE *in;
	int r, rc;

	if ((rc = audit_cli_opts(argc, argv, opts, vals, prog, tree_root_usage,
	    tree_root_help)) >= 0)
		return rc;
	if (vals[0] == NULL)
		return audit_cli_usage_fail(prog, tree_root_usage);
	if (strcmp(vals[0], "-") == 0)
		in = stdin;
	else if ((in = fopen(vals[0], "r")) == NULL)
		return cli_fail(prog, vals[0], cairn_err(CAIRN_ERR_IO, "%s",
		    strerror(errno)));
	if ((data = malloc(LEAF_LINE_MAX / 2)) == NULL ||
	    (line = malloc(LEAF_LINE_MAX)) == NULL) {
		r = cairn_err(CAIRN_ERR_NOMEM, "leaf buffer");
		goto out;
	}
	tlog_frontier_init(&f);
	for (;;) {
		lineno++;
		snprintf(what, sizeof(what), "%.256s:%zu", vals[0], lineno);
		if ((r = read_line(in, line, LEAF_LINE_MAX, &n, what)) < 0)
			goto out;
		if (r == 0)
			break;
		if ((r = hex_decode(line, n, data, LEAF_LINE_MAX / 2, &len,
		    what)) != CAIRN_OK)
			goto out;
		tlog_leaf_hash(data, len, leaf);
		if ((r = tlog_frontier_append(&f, leaf, NULL, NULL)) !=
		    CAIRN_OK)
			goto out;
	}
	tlog_frontier_root(&f, root);
	print_hex(root, sizeof(root));
	r = CAIRN_OK;
out:
	free(line);
	free(data);
	if (in != stdin)
		fclose(in);
	return r == CAIRN_OK ? 0 : cli_fail(prog, "cannot compute the root", r);
}

static const char incl_usage[] = "--leaf-hash HEX --index I --size N "
	"--root HEX --proof HEX,HEX,...";
static const char incl_help[] =
	"Verify an RFC 9162 inclusion proof: the leaf hash (SHA-256 of 0x00\n"
	"and the entry) is leaf I of the tree of N leaves with that root.\n"
	"--proof \"\" is the empty proof.  Prints 'ok' and exits 0 only when\n"
	"the proof verifies.\n";

static int
cmd_inclusion_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "leaf-hash", required_argument, NULL, 0 },
		{ "index", required_argument, NULL, 0 },
		{ "size", required_argument, NULL, 0 },
		{ "root", required_argument, NULL, 0 },
		{ "proof", required_argument, NULL, 0 },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *prog = "cairn audit inclusion-verify", *v[6] = { NULL };
	struct hexarg leaf, root, *proof = NULL;
	struct tlog_bytes pb[TLOG_MAX_PROOF];
	uint64_t index, size;
	size_t n;
	int r, rc;

	if ((rc = audit_cli_opts(argc, argv, opts, v, prog, incl_usage,
	    incl_help)) >= 0)
		return rc;
	for (int i = 0; i < 5; i++)
		if (v[i] == NULL)
			return audit_cli_usage_fail(prog, incl_usage);
	if ((proof = calloc(TLOG_MAX_PROOF, sizeof(*proof))) == NULL)
		return cli_fail(prog, "memory", CAIRN_ERR_NOMEM);
	if ((r = parse_hash(v[0], &leaf, "--leaf-hash")) != CAIRN_OK ||
	    (r = parse_u64(v[1], &index, "--index")) != CAIRN_OK ||
	    (r = parse_u64(v[2], &size, "--size")) != CAIRN_OK ||
	    (r = parse_hash(v[3], &root, "--root")) != CAIRN_OK ||
	    (r = parse_proof(v[4], proof, &n)) != CAIRN_OK) {
		free(proof);
		return cli_fail(prog, "bad argument", r);
	}
	for (size_t i = 0; i < n; i++)
		pb[i] = as_bytes(&proof[i]);
	r = tlog_inclusion_verify_bytes(as_bytes(&leaf), index, size, pb, n,
	    as_bytes(&root));
	free(proof);
	if (r != CAIRN_OK)
		return cli_fail(prog, "inclusion proof does not verify", r);
	printf("ok\n");
	return 0;
}

static const char cons_usage[] = "--size1 M --size2 N --root1 HEX "
	"--root2 HEX --proof HEX,HEX,...";
static const char cons_help[] =
	"Verify an RFC 9162 consistency proof: the tree of M leaves with\n"
	"root1 is a prefix of the tree of N leaves with root2.  M = N needs\n"
	"an empty proof (--proof \"\") and equal roots; M = 0 is refused as\n"
	"meaningless (every tree extends the empty one).  Prints 'ok' and\n"
	"exits 0 only when the proof verifies.\n";

static int
cmd_consistency_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size1", required_argument, NULL, 0 },
		{ "size2", required_argument, NULL, 0 },
		{ "root1", required_argument, NULL, 0 },
		{ "root2", required_argument, NULL, 0 },
		{ "proof", required_argument, NULL, 0 },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *prog = "cairn audit consistency-verify", *v[6] = { NULL };
	struct hexarg root1, root2, *proof = NULL;
	struct tlog_bytes pb[TLOG_MAX_PROOF];
	uint64_t size1, size2;
	size_t n;
	int r, rc;

	if ((rc = audit_cli_opts(argc, argv, opts, v, prog, cons_usage,
	    cons_help)) >= 0)
		return rc;
	for (int i = 0; i < 5; i++)
		if (v[i] == NULL)
			return audit_cli_usage_fail(prog, cons_usage);
	if ((proof = calloc(TLOG_MAX_PROOF, sizeof(*proof))) == NULL)
		return cli_fail(prog, "memory", CAIRN_ERR_NOMEM);
	if ((r = parse_u64(v[0], &size1, "--size1")) != CAIRN_OK ||
	    (r = parse_u64(v[1], &size2, "--size2")) != CAIRN_OK ||
	    (r = parse_hash(v[2], &root1, "--root1")) != CAIRN_OK ||
	    (r = parse_hash(v[3], &root2, "--root2")) != CAIRN_OK ||
	    (r = parse_proof(v[4], proof, &n)) != CAIRN_OK) {
		free(proof);
		return cli_fail(prog, "bad argument", r);
	}
	for (size_t i = 0; i < n; i++)
		pb[i] = as_bytes(&proof[i]);
	r = tlog_consistency_verify_bytes(size1, size2, as_bytes(&root1),
	    as_bytes(&root2), pb, n);
	free(proof);
	if (r != CAIRN_OK)
		return cli_fail(prog, "consistency proof does not verify", r);
	printf("ok\n");
	return 0;
}

static const char cp_usage[] = "--checkpoint FILE --key VKEY [--key VKEY "
	"...] [--quorum Q]";
static const char cp_help[] =
	"Verify a signed checkpoint (C2SP tlog-checkpoint in a C2SP signed\n"
	"note): at least Q of the given verifier keys (name+keyid+base64,\n"
	"Ed25519 type 0x01 or cosignature type 0x04) have a valid signature,\n"
	"and the body is a well-formed checkpoint.  Q defaults to the number\n"
	"of keys.  Signatures of other keys are ignored.\n";

static int
cmd_checkpoint_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "checkpoint", required_argument, NULL, 0 },
		{ "key", required_argument, NULL, 0 },
		{ "quorum", required_argument, NULL, 0 },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *prog = "cairn audit checkpoint-verify";
	struct tlog_verifier *keys = NULL;
	struct tlog_checkpoint *cp = NULL;
	const char *file = NULL, *quorum_s = NULL;
	char *note = NULL;
	size_t nkeys = 0, len = 0;
	uint64_t quorum;
	int c, idx, r, rc = 1;

	if ((keys = calloc(MAX_KEYS, sizeof(*keys))) == NULL ||
	    (cp = malloc(sizeof(*cp))) == NULL) {
		rc = cli_fail(prog, "memory", CAIRN_ERR_NOMEM);
		goto out;
	}
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, &idx)) != -1) {
		if (c == 'h') {
			printf("usage: %s %s\n\n%s", prog, cp_usage, cp_help);
			rc = 0;
			goto out;
		}
		if (c != 0) {
			fprintf(stderr, "%s: error: unknown or incomplete "
			    "option '%s'\n", prog, argv[optind - 1]);
			goto out;
		}
		if (idx == 0)
			file = optarg;
		else if (idx == 2)
			quorum_s = optarg;
		else if (nkeys == MAX_KEYS) {
			rc = cli_fail(prog, "--key", cairn_err(CAIRN_ERR_TOOBIG,
			    "more than %d keys", MAX_KEYS));
			goto out;
		} else if ((r = tlog_verifier_parse(optarg, &keys[nkeys])) !=
		    CAIRN_OK) {
			rc = cli_fail(prog, "bad --key", r);
			goto out;
		} else
			nkeys++;
	}
	if (optind != argc || file == NULL || nkeys == 0) {
		rc = audit_cli_usage_fail(prog, cp_usage);
		goto out;
	}
	quorum = nkeys;
	if (quorum_s != NULL) {
		if ((r = parse_u64(quorum_s, &quorum, "--quorum")) != CAIRN_OK) {
			rc = cli_fail(prog, "bad argument", r);
			goto out;
		}
		if (quorum == 0 || quorum > nkeys) {
			rc = cli_fail(prog, "bad argument", cairn_err(
			    CAIRN_ERR_ARG, "--quorum %llu is not within 1..%zu "
			    "(the number of keys)", (unsigned long long)quorum,
			    nkeys));
			goto out;
		}
	}
	if ((r = file_read_capped(file, TLOG_NOTE_MAX, &note, &len)) !=
	    CAIRN_OK) {
		rc = cli_fail(prog, "cannot read the checkpoint", r);
		goto out;
	}
	if ((r = tlog_checkpoint_open(note, len, keys, nkeys, (size_t)quorum,
	    NULL, cp)) != CAIRN_OK) {
		rc = cli_fail(prog, "checkpoint does not verify", r);
		goto out;
	}
	printf("ok\n");
	rc = 0;
out:
	free(note);
	free(cp);
	free(keys);
	return rc;
}

static const struct cli_cmd audit_cmds[] = {
	{ "tree-root", cmd_tree_root, "print the Merkle root of leaves" },
	{ "inclusion-verify", cmd_inclusion_verify,
	    "verify an inclusion proof" },
	{ "consistency-verify", cmd_consistency_verify,
	    "verify a consistency proof" },
	{ "checkpoint-verify", cmd_checkpoint_verify,
	    "verify a signed checkpoint against verifier keys" },
	{ "verify", audit_cmd_verify,
	    "verify the whole log and the federation's rules" },
	{ "fetch", audit_cmd_fetch,
	    "save a coordinator's checkpoint and entries to files" },
};

int
cmd_audit(int argc, char **argv)
{
	return cli_dispatch("cairn audit", audit_cmds,
	    sizeof(audit_cmds) / sizeof(audit_cmds[0]), argc, argv);
}
