/*
 * fuzz_coord_msg.c - the requests the coordinator accepts: the first
 * byte picks one of the 14 methods of protocol/proto_service.h; the rest
 * is unpacked as that method's request under its size limit, as the
 * transport does, and then checked as the service does before it looks
 * at any open query:
 *   SubmitQuery  coord_check_query() (signature, fields, spec, geography,
 *                participants, limits);
 *   Refuse, Advertise, SubmitShare  the signature over the inner message,
 *                then the inner Refusal, Advertisement (and its Charge)
 *                or ShareManifest unpacked;
 *   Cosign       coord_log_cosign() against a log of one entry.
 * The selector's 0x80 bit signs the inner message with the caller's key
 * (alice for queries, else the node the message names) first, so the
 * fuzzer gets past the signature checks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "coordinator/coord_int.h"
#include "protocol/proto_service.h"
#include "tests/fuzz/util.h"

static struct coord_config cfg;
static struct coord_store *db;
static struct coord_log lg;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const struct fz_fed *f;
	struct tlog_entry e;
	char path[512];
	uint64_t index;

	(void)argc;
	(void)argv;
	fz_quiet();
	f = fz_fed();
	cfg.max_rho_per_query = 1.0;
	cfg.max_participants = 10;
	cfg.max_attempts = 3;
	snprintf(cfg.geos[0].name, sizeof(cfg.geos[0].name), "g1");
	cfg.geos[0].nregions = 4;
	cfg.ngeos = 1;
	snprintf(path, sizeof(path), "%s/coord.db", fz_dir());
	if (coord_store_open(path, &db) != CAIRN_OK)
		abort();
	snprintf(path, sizeof(path), "%s/log.db", fz_dir());
	if (coord_log_open(&lg, path, f->fed.name, f->coord, db) != CAIRN_OK)
		abort();
	memset(&e, 0, sizeof(e));
	e.type = TLOG_ENTRY_FAILURE;
	e.time = 1767571200;
	e.reason.p = (const uint8_t *)"fuzz";
	e.reason.len = 4;
	if (coord_log_append(&lg, &e, &index) != CAIRN_OK)
		abort();
	return 0;
}

/* The node named by the inner message's 'node' field, n1 if none. */
static const struct keys_identity *
node_of(const char *name)
{
	const struct keys_identity *id = fz_identity(name);

	return id != NULL ? id : fz_fed()->node[0];
}

static void
inner(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t n,
    const char *purpose, const ProtobufCBinaryData *sig)
{
	ProtobufCMessage *m;
	const struct fz_fed *f = fz_fed();
	bool ok = false;

	if (sig->len == KEYS_SIG_LEN)
		for (size_t i = 0; i < FZ_NODES && !ok; i++)
			ok = keys_verify(f->members[2 + i].pub.pk, purpose,
			    p, n, sig->data) == CAIRN_OK;
	if (!ok || proto_unpack(desc, p, n, PROTO_MAX_SMALL, &m) != CAIRN_OK)
		return;
	if (desc == &cairn__v1__advertisement__descriptor) {
		Cairn__V1__Advertisement *ad = (void *)m;

		if (ad->charge != NULL)
			inner(&cairn__v1__charge__descriptor,
			    ad->charge->charge.data, ad->charge->charge.len,
			    "charge", &ad->charge->signature);
	}
	protobuf_c_message_free_unpacked(m, NULL);
}

/* Name of the node in the inner message 'p' of type 'desc'. */
static const struct keys_identity *
signer_of(const ProtobufCMessageDescriptor *desc, const ProtobufCBinaryData *b)
{
	const struct keys_identity *id;
	ProtobufCMessage *m;
	const char *name = NULL;

	if (proto_unpack(desc, b->data, b->len, PROTO_MAX_SMALL, &m) !=
	    CAIRN_OK)
		return node_of(NULL);
	if (desc == &cairn__v1__refusal__descriptor)
		name = ((Cairn__V1__Refusal *)m)->node;
	else if (desc == &cairn__v1__advertisement__descriptor)
		name = ((Cairn__V1__Advertisement *)m)->node;
	else
		name = ((Cairn__V1__ShareManifest *)m)->node;
	id = node_of(name);
	protobuf_c_message_free_unpacked(m, NULL);
	return id;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t sel = fz_byte(&data, &size);
	const struct proto_method_info *mi =
	    proto_method((enum proto_method)((sel & 0x7f) % PROTO_NMETHODS));
	const struct fz_fed *f = fz_fed();
	bool sign = (sel & 0x80) != 0;
	const char *field;
	ProtobufCMessage *m;

	if (proto_unpack(mi->request, data, size, mi->max_request, &m) !=
	    CAIRN_OK)
		return 0;
	switch (mi->id) {
	case PROTO_SUBMIT_QUERY: {
		Cairn__V1__SignedQuery *sq = (void *)m;

		if (sign)
			fz_resign(f->analyst, "query", &sq->query,
			    &sq->signature);
		fz_ignore(coord_check_query(&cfg, &f->fed, "alice", sq, &field));
		break;
	}
	case PROTO_REFUSE: {
		Cairn__V1__SignedRefusal *sr = (void *)m;

		if (sign)
			fz_resign(signer_of(&cairn__v1__refusal__descriptor,
			    &sr->refusal), "refusal", &sr->refusal,
			    &sr->signature);
		inner(&cairn__v1__refusal__descriptor, sr->refusal.data,
		    sr->refusal.len, "refusal", &sr->signature);
		break;
	}
	case PROTO_ADVERTISE: {
		Cairn__V1__SignedAdvertisement *sa = (void *)m;

		if (sign)
			fz_resign(signer_of(
			    &cairn__v1__advertisement__descriptor,
			    &sa->advertisement), "advertisement",
			    &sa->advertisement, &sa->signature);
		inner(&cairn__v1__advertisement__descriptor,
		    sa->advertisement.data, sa->advertisement.len,
		    "advertisement", &sa->signature);
		break;
	}
	case PROTO_SUBMIT_SHARE: {
		Cairn__V1__MaskedShareChunk *ck = (void *)m;

		if (sign)
			fz_resign(signer_of(
			    &cairn__v1__share_manifest__descriptor,
			    &ck->manifest), "share", &ck->manifest,
			    &ck->signature);
		inner(&cairn__v1__share_manifest__descriptor,
		    ck->manifest.data, ck->manifest.len, "share",
		    &ck->signature);
		break;
	}
	case PROTO_COSIGN: {
		Cairn__V1__Cosignature *cs = (void *)m;
		const struct keys_identity *id = fz_identity(cs->witness);
		uint8_t pk[KEYS_PK_LEN];

		if (id == NULL)
			break;
		keys_identity_public(id, pk);
		fz_ignore(coord_log_cosign(&lg, cs->witness, pk, cs->tree_size,
		    cs->root_hash.data, cs->root_hash.len, cs->timestamp,
		    cs->signature.data, cs->signature.len));
		break;
	}
	default:
		break;
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}
