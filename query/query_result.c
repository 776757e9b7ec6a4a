/*
 * query_result.c - `cairn query result`: the released vector fetched
 * (GetResult, streamed), its RELEASE and QUERY entries proven against a
 * checkpoint signed by the log key and cosigned by a quorum of witnesses,
 * then labelled with the regions (and categories) and written out as CSV
 * or JSON with a confidence interval per cell.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <sodium.h>

#include "common/err.h"
#include "common/file.h"
#include "common/rho.h"
#include "keys/keys.h"
#include "keys/keys_federation.h"
#include "protocol/cairn.pb-c.h"
#include "protocol/proto_service.h"
#include "protocol/qspec.h"
#include "protocol/secagg.h"
#include "protocol/tlog.h"
#include "protocol/tlog_entry.h"
#include "protocol/tlog_member.h"
#include "protocol/tlog_note.h"
#include "protocol/transport.h"
#include "query/query.h"
#include "query/query_int.h"

/* What GetResult streamed. */
struct collected {
	Cairn__V1__Release	*rel;	/* copy of the first message's */
	int64_t			*v;
	uint64_t		 n, got;
};

static int
on_chunk(const ProtobufCMessage *msg, void *arg)
{
	const Cairn__V1__ResultChunk *ch = (const Cairn__V1__ResultChunk *)msg;
	struct collected *co = arg;

	if (co->rel == NULL) {
		const Cairn__V1__Release *r = ch->release;

		if (r == NULL)
			return cairn_err(CAIRN_ERR_FORMAT, "GetResult: the "
			    "first message has no release");
		if (r->cells > PROTO_MAX_CELLS)
			return cairn_err(CAIRN_ERR_TOOBIG, "GetResult: %" PRIu64
			    " cells", r->cells);
		if ((co->rel = calloc(1, sizeof(*co->rel))) == NULL ||
		    (co->v = calloc(r->cells ? r->cells : 1,
		    sizeof(int64_t))) == NULL)
			return cairn_err(CAIRN_ERR_NOMEM, "result");
		cairn__v1__release__init(co->rel);
		co->rel->noise_variance = r->noise_variance;
		co->rel->cells = r->cells;
		co->rel->log_index = r->log_index;
		co->n = r->cells;
	}
	if (ch->offset != co->got || ch->n_values > co->n - co->got)
		return cairn_err(CAIRN_ERR_FORMAT, "GetResult: chunk at offset "
		    "%" PRIu64 " with %zu values, expected offset %" PRIu64
		    " of %" PRIu64, ch->offset, ch->n_values, co->got, co->n);
	if (ch->n_values > 0)
		memcpy(co->v + co->got, ch->values,
		    ch->n_values * sizeof(int64_t));
	co->got += ch->n_values;
	return 0;
}

/* ------------------------------------------- the release, verified */

/* What the log proves about a release. */
struct proven {
	Cairn__V1__Query	*q;		/* from the QUERY entry */
	uint8_t			 result_hash[32];
	bool			 has_sha256;	/* a version 2 RELEASE */
	uint8_t			 result_sha256[32];
	uint64_t		 variance;
	uint64_t		 size;		/* of the checkpoint */
	size_t			 cosignatures;
};

/*
 * Verify the release of query 'id' end to end: a checkpoint signed by the
 * coordinator's key in 'fed' with a majority of the nodes' cosignatures,
 * covering the RELEASE entry at 'rel_index' and the QUERY entry at
 * 'q_index', both included in it by proof; the QUERY entry is the signed
 * query 'id' and the RELEASE entry names its hash.  Fills '*out' ('out->q'
 * for the caller to free).
 */
static int
verify_release(struct transport_client *cl, const char *fedpath,
    const char *id, uint64_t q_index, uint64_t rel_index, unsigned wait_s,
    struct proven *out)
{
	Cairn__V1__GetEntriesResponse *rr = NULL, *qr = NULL;
	Cairn__V1__SignedQuery *sq = NULL;
	Cairn__V1__Query *q = NULL;
	struct keys_federation *fed = NULL;
	const struct keys_member *coord;
	struct tlog_verifier lk;
	struct tlog_checkpoint cp;
	struct tlog_entry *re = NULL, *qe = NULL;
	uint8_t qh[32];
	int r;

	if ((re = malloc(sizeof(*re))) == NULL ||
	    (qe = malloc(sizeof(*qe))) == NULL) {
		r = cairn_err(CAIRN_ERR_NOMEM, "log entries");
		goto out;
	}
	if ((r = keys_federation_load(fedpath, &fed)) != CAIRN_OK ||
	    (r = keys_federation_coordinator(fed, &coord)) != CAIRN_OK)
		goto out;
	tlog_fed_log_key(fed, coord, &lk);
	out->size = 0;
	if ((r = query_log_checkpoint(cl, fed, &lk, tlog_fed_majority(fed),
	    rel_index > q_index ? rel_index : q_index, wait_s, &cp)) !=
	    CAIRN_OK ||
	    (r = query_log_entry(cl, "RELEASE", rel_index, &cp, &rr, re)) !=
	    CAIRN_OK ||
	    (r = query_log_entry(cl, "QUERY", q_index, &cp, &qr, qe)) !=
	    CAIRN_OK)
		goto out;
	if (re->type != TLOG_ENTRY_RELEASE) {
		r = cairn_err(CAIRN_ERR_FORMAT, "log entry %" PRIu64 " is not "
		    "a RELEASE entry", rel_index);
		goto out;
	}
	if (qe->type != TLOG_ENTRY_QUERY ||
	    proto_unpack(&cairn__v1__signed_query__descriptor, qe->body.p,
	    qe->body.len, TLOG_ENTRY_MAX_BODY, (ProtobufCMessage **)&sq) !=
	    CAIRN_OK || proto_unpack(&cairn__v1__query__descriptor,
	    sq->query.data, sq->query.len, TLOG_ENTRY_MAX_BODY,
	    (ProtobufCMessage **)&q) != CAIRN_OK ||
	    strcmp(q->query_id, id) != 0) {
		r = cairn_err(CAIRN_ERR_FORMAT, "log entry %" PRIu64 " is not "
		    "the QUERY of '%s'", q_index, id);
		goto out;
	}
	crypto_hash_sha256(qh, sq->query.data, sq->query.len);
	if (sodium_memcmp(qh, re->query_hash, 32) != 0) {
		r = cairn_err(CAIRN_ERR_PROOF, "the RELEASE entry at log index "
		    "%" PRIu64 " is for another query than the QUERY entry "
		    "of '%s' at %" PRIu64, rel_index, id, q_index);
		goto out;
	}
	if (!(re->variance >= 1 && re->variance <= 9007199254740992.0)) {
		r = cairn_err(CAIRN_ERR_FORMAT, "the RELEASE entry at log "
		    "index %" PRIu64 " has variance %g", rel_index,
		    re->variance);
		goto out;
	}
	memcpy(out->result_hash, re->result_hash, 32);
	out->has_sha256 = re->version == 2;
	memcpy(out->result_sha256, re->result_sha256, 32);
	out->variance = (uint64_t)re->variance;
	out->size = cp.size;
	out->q = q;
	q = NULL;
out:
	if (q != NULL)
		protobuf_c_message_free_unpacked(&q->base, NULL);
	if (sq != NULL)
		protobuf_c_message_free_unpacked(&sq->base, NULL);
	if (rr != NULL)
		protobuf_c_message_free_unpacked(&rr->base, NULL);
	if (qr != NULL)
		protobuf_c_message_free_unpacked(&qr->base, NULL);
	keys_federation_free(fed);
	free(re);
	free(qe);
	return r;
}

/*
 * Open --output 'path' for writing: a regular file (or a new one) through
 * a temporary file beside it ('tmp', renamed by the caller on success);
 * anything else, a symbolic link included (/dev/stdout), directly ('tmp'
 * left empty).
 */
static int
output_open(const char *path, char *tmp, size_t cap, FILE **out)
{
	struct stat st;
	int fd;

	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		if ((*out = fopen(path, "w")) == NULL)
			return cairn_err(CAIRN_ERR_IO, "%s: %s", path,
			    strerror(errno));
		return CAIRN_OK;
	}
	if ((size_t)snprintf(tmp, cap, "%s.XXXXXX", path) >= cap) {
		tmp[0] = '\0';
		return cairn_err(CAIRN_ERR_ARG, "--output: name too long");
	}
	if ((fd = mkstemp(tmp)) < 0 || (*out = fdopen(fd, "w")) == NULL) {
		int e = errno;

		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		tmp[0] = '\0';
		return cairn_err(CAIRN_ERR_IO, "%s: %s", path, strerror(e));
	}
	/* mkstemp makes it 0600; a result is as readable as a new file. */
	{
		mode_t um = umask(0);

		umask(um);
		(void)fchmod(fd, 0666 & ~um);
	}
	return CAIRN_OK;
}

const char query_result_usage[] =
    "QUERY_ID --regions regions.csv [--categories a,b,...]\n"
    "    [--format csv|json|geojson] [--outlines regions.geojson]\n"
    "    [--output F] [--delta D] [--timeout S]\n"
    "    [--spec Q.json --rho R] IDENTITY\n\n"
    "Fetch the released result, verify it against the log and write every\n"
    "cell labelled, with its 95% interval, and the query's rho and\n"
    "(epsilon, delta).  Verified first: a checkpoint signed by the log key\n"
    "with a majority of the nodes' cosignatures (waited for up to\n"
    "--timeout S seconds, default 60), the inclusion in it of the RELEASE\n"
    "and QUERY entries, the values against the RELEASE entry's result\n"
    "hash.  The spec and rho are the QUERY entry's unless --spec and --rho\n"
    "are given.  --regions must be the file federation.conf pins for the\n"
    "geography; each region id is printed with its name.  --format geojson\n"
    "(with --outlines, a GeoJSON FeatureCollection with\n"
    "properties.region_id) gives one Feature per cell: the region's\n"
    "outline, or for a flow a LineString between the regions' centroids.\n"
    "--output F is written whole or not at all.\n";

/*
 * The options of `query result` read before any call: the format
 * ('*json', '*geojson'), --delta and --rho into 'rel', the --timeout of
 * the wait for the log ('*wait_s'), and the options that go together.
 */
static int
result_options(struct ctx *c, struct query_release *rel, unsigned *wait_s,
    bool *json, bool *geojson)
{
	int r;

	if (c->arg == NULL)
		return cairn_err(CAIRN_ERR_ARG, "the query id is required");
	if (c->o[O_FORMAT] != NULL) {
		if (strcmp(c->o[O_FORMAT], "json") == 0)
			*json = true;
		else if (strcmp(c->o[O_FORMAT], "geojson") == 0)
			*geojson = true;
		else if (strcmp(c->o[O_FORMAT], "csv") != 0)
			return cairn_err(CAIRN_ERR_ARG, "--format: '%s' is not "
			    "csv, json or geojson", c->o[O_FORMAT]);
	}
	if (c->o[O_DELTA] != NULL && ((r = query_parse_real(c->o[O_DELTA],
	    "delta", &rel->delta)) != CAIRN_OK ||
	    !(rel->delta > 0 && rel->delta < 1)))
		return cairn_err(CAIRN_ERR_ARG, "--delta: must be in (0, 1)");
	if ((c->o[O_SPEC] == NULL) != (c->o[O_RHO] == NULL))
		return cairn_err(CAIRN_ERR_ARG, "--spec and --rho go together");
	if (c->o[O_TIMEOUT] != NULL) {
		uint32_t w;

		if ((r = query_parse_u32(c->o[O_TIMEOUT], "timeout", 86400,
		    &w)) != CAIRN_OK)
			return r;
		*wait_s = w;
	}
	if (*geojson && (r = need(c, O_OUTLINES)) != CAIRN_OK)
		return r;
	if (!*geojson && c->o[O_OUTLINES] != NULL)
		return cairn_err(CAIRN_ERR_ARG, "--outlines: only with --format "
		    "geojson");
	return CAIRN_OK;
}

/*
 * The values received against what the log proved of them ('pv'): the
 * RELEASE entry's result hash, its SHA-256 (the one a browser checks)
 * and the noise variance.
 */
static int
result_values_check(const struct collected *co, const struct proven *pv)
{
	uint8_t h[32];

	secagg_cells_digest((const uint64_t *)co->v, co->n, h);
	if (sodium_memcmp(h, pv->result_hash, 32) != 0)
		return cairn_err(CAIRN_ERR_PROOF, "GetResult: the values do "
		    "not match the result hash of the RELEASE entry at log "
		    "index %" PRIu64, co->rel->log_index);
	secagg_cells_sha256((const uint64_t *)co->v, co->n, h);
	if (pv->has_sha256 && sodium_memcmp(h, pv->result_sha256, 32) != 0)
		return cairn_err(CAIRN_ERR_PROOF, "GetResult: the values do "
		    "not match the result SHA-256 of the RELEASE entry at log "
		    "index %" PRIu64, co->rel->log_index);
	if (co->rel->noise_variance != pv->variance)
		return cairn_err(CAIRN_ERR_PROOF, "GetResult: variance %"
		    PRIu64 ", the RELEASE entry at log index %" PRIu64 " says %"
		    PRIu64, co->rel->noise_variance, co->rel->log_index,
		    pv->variance);
	return CAIRN_OK;
}

/*
 * Write the result as CSV, JSON or GeoJSON ('ol' the outlines) to
 * --output, which appears whole or not at all, or to standard output.
 */
static int
result_output(struct ctx *c, bool json, bool geojson,
    const struct query_domain *dom, const struct query_release *rel,
    const struct collected *co, const struct query_outlines *ol)
{
	char tmp[4096];
	FILE *f = NULL;
	int r;

	tmp[0] = '\0';
	if (c->o[O_OUTPUT] != NULL &&
	    (r = output_open(c->o[O_OUTPUT], tmp, sizeof(tmp), &f)) !=
	    CAIRN_OK)
		return r;
	if (geojson)
		r = query_geojson_write(f ? f : stdout, dom, rel, co->v, co->n,
		    ol);
	else
		r = query_result_write(f ? f : stdout, json, dom, rel, co->v,
		    co->n);
	if (f != NULL && fclose(f) != 0 && r == CAIRN_OK)
		r = cairn_err(CAIRN_ERR_IO, "%s: %s", c->o[O_OUTPUT],
		    strerror(errno));
	if (tmp[0] != '\0') {
		if (r == CAIRN_OK && rename(tmp, c->o[O_OUTPUT]) != 0)
			r = cairn_err(CAIRN_ERR_IO, "%s: %s", c->o[O_OUTPUT],
			    strerror(errno));
		if (r != CAIRN_OK)
			(void)unlink(tmp);
	}
	return r;
}

int
query_cmd_result(struct ctx *c)
{
	Cairn__V1__GetResultRequest req = CAIRN__V1__GET_RESULT_REQUEST__INIT;
	Cairn__V1__QueryStatus *s = NULL;
	Cairn__V1__Query *q = NULL;
	struct transport_client *cl = NULL;
	struct collected co;
	struct query_domain dom;
	struct query_release rel;
	struct proven pv;
	struct qspec spec;
	unsigned wait_s = RESULT_WAIT_DEFAULT_S;
	uint32_t *regions = NULL;
	char **cats = NULL, *text = NULL, **names = NULL;
	size_t nregions = 0, ncats = 0, len;
	bool json = false, geojson = false;
	struct query_outlines *ol = NULL;
	int r;

	memset(&co, 0, sizeof(co));
	memset(&rel, 0, sizeof(rel));
	memset(&pv, 0, sizeof(pv));
	rel.delta = QUERY_DEFAULT_DELTA;
	if ((r = result_options(c, &rel, &wait_s, &json, &geojson)) !=
	    CAIRN_OK)
		goto out;
	if (geojson && (r = query_outlines_load(c->o[O_OUTLINES], &ol)) !=
	    CAIRN_OK)
		goto out;
	if ((r = need(c, O_REGIONS)) != CAIRN_OK ||
	    (r = file_read_capped(c->o[O_REGIONS], (size_t)64 << 20, &text,
	    &len)) != CAIRN_OK || (r = query_regions_parse(text, len,
	    c->o[O_REGIONS], &regions, &nregions)) != CAIRN_OK ||
	    (r = query_regions_names(text, len, c->o[O_REGIONS], regions,
	    nregions, &names)) != CAIRN_OK)
		goto out;
	if (c->o[O_CATS] != NULL && (r = query_split_list(c->o[O_CATS],
	    "categories", QUERY_MAX_CATEGORIES, &cats, &ncats)) != CAIRN_OK)
		goto out;
	if (c->o[O_SPEC] != NULL && ((r = qspec_load_json(c->o[O_SPEC],
	    &spec)) != CAIRN_OK || (r = rho_parse_field("--rho",
	    c->o[O_RHO], &rel.rho_nano)) != CAIRN_OK))
		goto out;
	if ((r = query_connect(c, &cl)) != CAIRN_OK ||
	    (r = query_get_status(cl, c->arg, &s)) != CAIRN_OK)
		goto out;
	if (s->state != CAIRN__V1__QUERY_STATE__QUERY_STATE_RELEASED) {
		r = cairn_err(CAIRN_ERR_STATE, "query '%s' is %s, not released",
		    c->arg, query_state_name(s->state));
		goto out;
	}
	req.query_id = (char *)c->arg;
	if ((r = transport_stream(cl, proto_method(PROTO_GET_RESULT),
	    &req.base, CALL_MS * 4, on_chunk, &co)) != CAIRN_OK)
		goto out;
	if (co.rel == NULL || co.got != co.n) {
		r = cairn_err(CAIRN_ERR_FORMAT, "GetResult: %" PRIu64 " of %"
		    PRIu64 " values received", co.got, co.n);
		goto out;
	}
	/* Nothing the coordinator says is taken on its word: the log. */
	if ((r = verify_release(cl, c->o[O_FED], c->arg, s->log_index,
	    co.rel->log_index, wait_s, &pv)) != CAIRN_OK)
		goto out;
	q = pv.q;
	/* The names and ids are the pinned geography's. */
	if ((r = query_regions_pinned(c->o[O_FED], q->spec != NULL ?
	    q->spec->geography : "", c->o[O_REGIONS])) != CAIRN_OK)
		goto out;
	if (c->o[O_SPEC] == NULL) {
		if ((r = qspec_from_proto(q->spec, "logged query", &spec)) !=
		    CAIRN_OK)
			goto out;
		rel.rho_nano = q->rho_nano;
	}
	if ((r = query_domain_init(&dom, &spec, regions, nregions,
	    (const char *const *)cats, ncats)) != CAIRN_OK)
		goto out;
	dom.names = (const char *const *)names;
	if ((r = result_values_check(&co, &pv)) != CAIRN_OK)
		goto out;
	rel.query_id = c->arg;
	rel.variance = pv.variance;
	rel.log_index = co.rel->log_index;
	r = result_output(c, json, geojson, &dom, &rel, &co, ol);
out:
	query_outlines_free(ol);
	if (q != NULL)
		protobuf_c_message_free_unpacked(&q->base, NULL);
	if (s != NULL)
		protobuf_c_message_free_unpacked(&s->base, NULL);
	free(co.rel);
	free(co.v);
	query_free_list(names, nregions);
	free(regions);
	free(text);
	query_free_list(cats, ncats);
	transport_client_free(cl);
	return r == CAIRN_OK ? 0 : fail(c, r);
}
