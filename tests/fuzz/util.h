/*
 * util.h - what the fuzz harnesses share: a private temporary folder
 * for parsers that read files, quiet logging, and a small federation
 * (identities made once per process) for the harnesses that need keys.
 * Linked into every harness, both the libFuzzer build (make fuzz) and the
 * replay build that make test runs.
 */
#ifndef CAIRN_FUZZ_UTIL_H
#define CAIRN_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "keys/keys.h"
#include "keys/keys_federation.h"

/* libFuzzer's entry points, defined by each harness. */
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int	LLVMFuzzerInitialize(int *argc, char ***argv);

/* The process's temporary folder (created on first use, removed at exit). */
const char	*fz_dir(void);
/*
 * Write 'n' bytes to the file 'name' of fz_dir(), replacing it; returns
 * its path (static storage, valid until the next call), or aborts when
 * the file cannot be written (a harness fault, not a finding).
 */
const char	*fz_file(const char *name, const void *data, size_t n);
/* Keep cairn's log to errors (to info with FUZZ_VERBOSE set). */
void		 fz_quiet(void);
/*
 * Send stderr to /dev/null around a call that prints its one-line error
 * (a command's refusal); returns the saved descriptor for fz_unmute().
 * With FUZZ_VERBOSE set in the environment nothing is muted, so a
 * sanitizer report of a replayed input is seen.
 */
int		 fz_mute(void);
void		 fz_unmute(int saved);

/*
 * The fixture federation "fz": coordinator "coord", analyst "alice",
 * nodes "n1", "n2", "n3".  Identities come from fixed seeds, so signed
 * seed inputs verify in every run; the federation is built in memory.
 */
#define FZ_NODES	3
struct fz_fed {
	struct keys_federation	 fed;
	struct keys_member	 members[2 + FZ_NODES];
	struct keys_identity	*coord, *analyst, *node[FZ_NODES];
};
const struct fz_fed	*fz_fed(void);

/* Drop a result the harness does not judge (warn_unused_result). */
static inline void
fz_ignore(int r)
{
	(void)r;
}

/* Consume the first byte of *data (0 when empty). */
uint8_t	fz_byte(const uint8_t **data, size_t *size);



#include "protocol/cairn.pb-c.h"

/* Replace 'sig' (freeing its data) by 'id''s keys_sign(purpose, body). */
void	fz_resign(const struct keys_identity *id, const char *purpose,
	    const ProtobufCBinaryData *body, ProtobufCBinaryData *sig);
/* The member identity named 'name' of the fixture, or NULL. */
const struct keys_identity	*fz_identity(const char *name);

/*
 * A valid SignedQuery of analyst "alice" in federation "fz" (query id
 * "q1", residents of 2026-01-05..08 on geography "g1", rho 0.1,
 * participants n1 n2 n3, max_colluding 1), packed into a new buffer.
 */
void	fz_signed_query(uint8_t **out, size_t *len);
#endif
