/*
 * fuzz_node_msg.c - the messages a node accepts from the coordinator,
 * unpacked and checked the way node/daemon.c and node/task.c do.  The
 * first byte chooses the message; its 0x10 bit asks the harness to sign
 * the inner signed parts with the fixture's keys first, so the fuzzer
 * reaches the checks behind the signatures:
 *   0  PollTaskResponse: the task's query (node_task_check_query: the
 *      analyst's signature, federation, participants, spec, policy);
 *   1  Roster: node_roster_check against the fixture query, with this
 *      node's own advertisement;
 *   2  Checkpoint: the note opened with the log key;
 *   3  GetEntriesResponse: every entry decoded;
 *   4  InclusionProof and 5 ConsistencyProof: verified against fixed
 *      roots.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "node/daemon_int.h"
#include "protocol/proto_service.h"
#include "protocol/tlog_entry.h"
#include "tests/fuzz/util.h"

static struct node_daemon *d;
static struct node_config cfg;
static struct node_task_query tq;
static Cairn__V1__SignedAdvertisement *own;

static char *kinds[] = { "presence", "residents", "od", "migration",
    "visitors", "population_by_category", "displacement" };
static char *analysts[] = { "alice" };

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const struct fz_fed *f;
	struct node_daemon_config dc;
	Cairn__V1__Task t = CAIRN__V1__TASK__INIT;
	ProtobufCMessage *m;
	const char *code;
	uint8_t *b;
	size_t len;

	(void)argc;
	(void)argv;
	fz_quiet();
	f = fz_fed();
	cfg.name = "n1";
	cfg.geography = "g1";
	cfg.policy.kinds.v = kinds;
	cfg.policy.kinds.n = 6;
	cfg.policy.analysts.v = analysts;
	cfg.policy.analysts.n = 1;
	cfg.policy.budget_rho_per_month_nano = 10000000000;
	cfg.policy.max_rho_per_query_nano = 1000000000;
	cfg.policy.min_participants = 2;
	cfg.policy.max_colluding = 1;
	cfg.policy.max_months_per_query = 12;
	cfg.policy.holders_per_person = 1;
	cfg.policy.retention_days = 7;
	memset(&dc, 0, sizeof(dc));
	dc.cfg = &cfg;
	dc.id = f->node[0];
	dc.fed = &f->fed;
	if (node_daemon_new(&dc, &d) != CAIRN_OK)
		abort();
	fz_signed_query(&b, &len);
	if (proto_unpack(&cairn__v1__signed_query__descriptor, b, len,
	    PROTO_MAX_SMALL, &m) != CAIRN_OK)
		abort();
	free(b);
	t.query_id = "q1";
	t.query = (Cairn__V1__SignedQuery *)m;
	if (node_task_check_query(d, &t, &tq, &code) != CAIRN_OK)
		abort();
	protobuf_c_message_free_unpacked(m, NULL);
	/* This node's advertisement, as the roster must carry it. */
	{
		Cairn__V1__Advertisement ad = CAIRN__V1__ADVERTISEMENT__INIT;
		Cairn__V1__SignedCharge sc = CAIRN__V1__SIGNED_CHARGE__INIT;
		Cairn__V1__Charge ch = CAIRN__V1__CHARGE__INIT;
		uint8_t x[32], csig[KEYS_SIG_LEN], *cb, *ab;
		size_t cl, al;

		ch.query_id = "q1";
		ch.query_hash.data = tq.qhash;
		ch.query_hash.len = 32;
		ch.node = "n1";
		ch.budget_rho_per_month_nano = 10000000000;
		ch.noise_variance = 100;
		ch.cells = 5;
		cl = cairn__v1__charge__get_packed_size(&ch);
		if ((cb = malloc(cl)) == NULL)
			abort();
		cairn__v1__charge__pack(&ch, cb);
		if (keys_sign(f->node[0], "charge", cb, cl, csig) != CAIRN_OK)
			abort();
		sc.charge.data = cb;
		sc.charge.len = cl;
		sc.signature.data = csig;
		sc.signature.len = sizeof(csig);
		memset(x, 9, sizeof(x));
		ad.query_id = "q1";
		ad.node = "n1";
		ad.x25519_public.data = x;
		ad.x25519_public.len = 32;
		ad.charge = &sc;
		al = cairn__v1__advertisement__get_packed_size(&ad);
		if ((own = calloc(1, sizeof(*own))) == NULL ||
		    (ab = malloc(al)) == NULL)
			abort();
		cairn__v1__signed_advertisement__init(own);
		cairn__v1__advertisement__pack(&ad, ab);
		own->advertisement.data = ab;
		own->advertisement.len = al;
		fz_resign(f->node[0], "advertisement", &own->advertisement,
		    &own->signature);
		free(cb);
	}
	return 0;
}

/* Sign every advertisement and its charge with the key of its node. */
static void
resign_roster(Cairn__V1__Roster *ro)
{
	for (size_t i = 0; i < ro->n_advertisements; i++) {
		Cairn__V1__SignedAdvertisement *sa = ro->advertisements[i];
		const struct keys_identity *id;
		Cairn__V1__Advertisement *ad;
		ProtobufCMessage *m;
		size_t l;

		if (proto_unpack(&cairn__v1__advertisement__descriptor,
		    sa->advertisement.data, sa->advertisement.len,
		    PROTO_MAX_SMALL, &m) != CAIRN_OK)
			continue;
		ad = (Cairn__V1__Advertisement *)m;
		if ((id = fz_identity(ad->node)) != NULL) {
			if (ad->charge != NULL)
				fz_resign(id, "charge", &ad->charge->charge,
				    &ad->charge->signature);
			l = cairn__v1__advertisement__get_packed_size(ad);
			free(sa->advertisement.data);
			if ((sa->advertisement.data = malloc(l + 1)) == NULL)
				abort();
			sa->advertisement.len =
			    cairn__v1__advertisement__pack(ad,
			    sa->advertisement.data);
			fz_resign(id, "advertisement", &sa->advertisement,
			    &sa->signature);
		}
		protobuf_c_message_free_unpacked(m, NULL);
	}
}

static void
proof(const ProtobufCBinaryData *h, size_t n, struct tlog_bytes **out)
{
	struct tlog_bytes *v;

	if ((v = calloc(n + 1, sizeof(*v))) == NULL)
		abort();
	for (size_t i = 0; i < n; i++) {
		v[i].p = h[i].data;
		v[i].len = h[i].len;
	}
	*out = v;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const ProtobufCMessageDescriptor *const desc[] = {
		&cairn__v1__poll_task_response__descriptor,
		&cairn__v1__roster__descriptor,
		&cairn__v1__checkpoint__descriptor,
		&cairn__v1__get_entries_response__descriptor,
		&cairn__v1__inclusion_proof__descriptor,
		&cairn__v1__consistency_proof__descriptor,
	};
	uint8_t sel = fz_byte(&data, &size), root[32], leaf[32];
	struct secagg_member members[SECAGG_MAX_MEMBERS];
	struct node_task_query x;
	struct tlog_checkpoint cp;
	struct tlog_entry *e;
	struct tlog_bytes *pv, r1, r2, lf;
	ProtobufCMessage *m;
	const char *code;
	size_t self, k = (size_t)(sel & 0x0f) % 6;

	if (proto_unpack(desc[k], data, size, PROTO_MAX_MESSAGE, &m) !=
	    CAIRN_OK)
		return 0;
	memset(root, 1, sizeof(root));
	memset(leaf, 2, sizeof(leaf));
	r1.p = root;
	r1.len = r2.len = lf.len = 32;
	r2.p = root;
	lf.p = leaf;
	switch (k) {
	case 0: {
		Cairn__V1__PollTaskResponse *pr = (void *)m;

		if (pr->task == NULL)
			break;
		if ((sel & 0x10) && pr->task->query != NULL)
			fz_resign(fz_fed()->analyst, "query",
			    &pr->task->query->query,
			    &pr->task->query->signature);
		if (node_task_check_query(d, pr->task, &x, &code) ==
		    CAIRN_OK)
			node_task_query_release(&x);
		break;
	}
	case 1:
		if (sel & 0x10)
			resign_roster((Cairn__V1__Roster *)m);
		fz_ignore(node_roster_check(d, &tq, 0, 5,
		    (Cairn__V1__Roster *)m, own, members, &self));
		break;
	case 2: {
		const char *note = ((Cairn__V1__Checkpoint *)m)->note;

		fz_ignore(tlog_checkpoint_open(note, strlen(note),
		    &d->logkey, 1, 1, d->origin, &cp));
		break;
	}
	case 3: {
		Cairn__V1__GetEntriesResponse *er = (void *)m;

		if ((e = malloc(sizeof(*e))) == NULL)
			abort();
		for (size_t i = 0; i < er->n_entries; i++)
			fz_ignore(tlog_entry_decode(er->entries[i]->data.data,
			    er->entries[i]->data.len, e));
		free(e);
		break;
	}
	case 4: {
		Cairn__V1__InclusionProof *ip = (void *)m;

		proof(ip->hashes, ip->n_hashes, &pv);
		fz_ignore(tlog_inclusion_verify_bytes(lf, ip->index,
		    ip->tree_size, pv, ip->n_hashes, r1));
		free(pv);
		break;
	}
	default: {
		Cairn__V1__ConsistencyProof *cpf = (void *)m;

		proof(cpf->hashes, cpf->n_hashes, &pv);
		fz_ignore(tlog_consistency_verify_bytes(cpf->old_size,
		    cpf->new_size, r1, r2, pv, cpf->n_hashes));
		free(pv);
		break;
	}
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}
