/*
 * fuzz_coord_msg.c - the requests the coordinator accepts, through its
 * real handlers (coordinator/coord_service.c and the files it
 * dispatches to) over the in-process transport of
 * tests/unit/fake_transport.h.  Each input starts a fresh
 * coordinator (federation "fz" of the fixture, geography g1 of 4
 * regions), submits the fixture query q1 (analyst alice, nodes n1 n2 n3),
 * then plays the input as a list of calls:
 *
 *	sel (1 byte)  method = (sel & 0x7f) % 14 in protocol/proto_service.h
 *	              order; bit 0x80: sign the inner message(s) with the
 *	              caller's key first, so the fuzzer reaches the checks
 *	              behind the signatures
 *	who (1 byte)  the caller: who % 5 of coord, alice, n1, n2, n3
 *	len (2 bytes, little-endian) and len bytes: the request, unpacked
 *	              under the method's size limit as the transport does
 *
 * and stops the coordinator.  A crash, a sanitizer report, a leak or a
 * call never answered is a finding.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "coordinator/coord_int.h"
#include "protocol/proto_service.h"
#include "tests/fuzz/util.h"
#include "tests/unit/fake_transport.h"

static struct coord_config cfg;
static char datadir[512];
static uint8_t *sq_bytes;
static size_t sq_len;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const struct fz_fed *f;
	static char fedpath[512], keypath[512];

	(void)argc;
	(void)argv;
	fz_quiet();
	f = fz_fed();
	snprintf(fedpath, sizeof(fedpath), "%s/federation.conf", fz_dir());
	snprintf(keypath, sizeof(keypath), "%s/coord.key", fz_dir());
	snprintf(datadir, sizeof(datadir), "%s/data", fz_dir());
	if (keys_federation_create(fedpath, f->fed.name, f->fed.ca_fpr) !=
	    CAIRN_OK)
		abort();
	for (size_t i = 0; i < f->fed.n; i++)
		if (keys_federation_add(fedpath, &f->members[i]) != CAIRN_OK)
			abort();
	/* Geography g1 below, pinned to the (zero) hash it is given. */
	if (keys_federation_pin_geography(fedpath, "g1", cfg.geos[0].sha256) !=
	    CAIRN_OK)
		abort();
	if (keys_identity_save(f->coord, keypath) != CAIRN_OK)
		abort();
	cfg.identity_key = keypath;
	cfg.federation = fedpath;
	cfg.data_dir = datadir;
	cfg.listen = "in-process";
	cfg.workers = 1;
	cfg.advertise_seconds = 600;
	cfg.share_seconds = 600;
	cfg.redeliver_seconds = 600;
	cfg.max_rho_per_query_nano = 1000000000;
	cfg.max_participants = 10;
	cfg.max_attempts = 3;
	snprintf(cfg.geos[0].name, sizeof(cfg.geos[0].name), "g1");
	cfg.geos[0].nregions = 4;
	cfg.ngeos = 1;
	fz_signed_query(&sq_bytes, &sq_len);
	return 0;
}

/* Empty the data folder: each input starts from nothing. */
static void
clean(void)
{
	struct dirent *de;
	char p[1024];
	DIR *d;

	if ((d = opendir(datadir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", datadir, de->d_name);
		unlink(p);
	}
	closedir(d);
}

/* Pack the changed message 'm' again into 'b'. */
static void
repack(const ProtobufCMessage *m, ProtobufCBinaryData *b)
{
	size_t l = protobuf_c_message_get_packed_size(m);

	free(b->data);
	if ((b->data = malloc(l + 1)) == NULL)
		abort();
	b->len = protobuf_c_message_pack(m, b->data);
}

/* Sign what 'req' of method 'm' carries with 'id' ('id' may be NULL). */
static void
sign(enum proto_method m, ProtobufCMessage *req,
    const struct keys_identity *id)
{
	ProtobufCMessage *in;

	if (id == NULL)
		return;
	switch (m) {
	case PROTO_SUBMIT_QUERY: {
		Cairn__V1__SignedQuery *sq = (void *)req;

		fz_resign(id, "query", &sq->query, &sq->signature);
		break;
	}
	case PROTO_REFUSE: {
		Cairn__V1__SignedRefusal *sr = (void *)req;

		fz_resign(id, "refusal", &sr->refusal, &sr->signature);
		break;
	}
	case PROTO_ADVERTISE: {
		Cairn__V1__SignedAdvertisement *sa = (void *)req;
		Cairn__V1__Advertisement *ad;

		if (proto_unpack(&cairn__v1__advertisement__descriptor,
		    sa->advertisement.data, sa->advertisement.len,
		    PROTO_MAX_SMALL, &in) == CAIRN_OK) {
			ad = (Cairn__V1__Advertisement *)in;
			if (ad->charge != NULL) {
				fz_resign(id, "charge", &ad->charge->charge,
				    &ad->charge->signature);
				repack(in, &sa->advertisement);
			}
			protobuf_c_message_free_unpacked(in, NULL);
		}
		fz_resign(id, "advertisement", &sa->advertisement,
		    &sa->signature);
		break;
	}
	case PROTO_SUBMIT_SHARE: {
		Cairn__V1__MaskedShareChunk *ck = (void *)req;

		fz_resign(id, "share", &ck->manifest, &ck->signature);
		break;
	}
	default:
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct fz_fed *f = fz_fed();
	const struct proto_method_info *mi;
	const struct keys_member *who;
	ProtobufCMessage *m;
	struct coord *c;
	size_t len;
	uint8_t sel;

	clean();
	if (coord_start(&cfg, &c) != CAIRN_OK)
		abort();
	if (proto_unpack(&cairn__v1__signed_query__descriptor, sq_bytes,
	    sq_len, PROTO_MAX_SMALL, &m) != CAIRN_OK)
		abort();
	if (fake_call(PROTO_SUBMIT_QUERY, &f->members[1], m, 0, NULL, NULL) !=
	    CAIRN_OK)
		abort();
	protobuf_c_message_free_unpacked(m, NULL);
	while (size >= 4) {
		sel = data[0];
		who = &f->members[data[1] % f->fed.n];
		len = (size_t)data[2] | (size_t)data[3] << 8;
		data += 4;
		size -= 4;
		if (len > size)
			len = size;
		mi = proto_method((enum proto_method)((sel & 0x7f) %
		    PROTO_NMETHODS));
		if (proto_unpack(mi->request, data, len, mi->max_request, &m) ==
		    CAIRN_OK) {
			if (sel & 0x80)
				sign(mi->id, m, fz_identity(who->pub.name));
			/* Every answer comes at once but the streamed one. */
			if (fake_call(mi->id, who, m, mi->id ==
			    PROTO_GET_RESULT ? 10000 : 0, NULL, NULL) ==
			    CAIRN_ERR_TIMEOUT && mi->id == PROTO_GET_RESULT)
				abort();
			protobuf_c_message_free_unpacked(m, NULL);
		}
		data += len;
		size -= len;
	}
	coord_stop(c);
	return 0;
}
