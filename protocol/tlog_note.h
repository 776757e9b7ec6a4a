/*
 * tlog_note.h - C2SP signed notes, checkpoints and cosignatures.
 *
 * A signed note is a text (UTF-8, ending in '\n'), a blank line, and
 * signature lines "— <name> <base64(keyID[4] || signature)>\n" (the dash
 * is U+2014).  Key ID = SHA-256(name || 0x0A || type || public key)[:4];
 * verifier keys read "name+hex8(keyID)+base64(type || public key)".
 * Types: 0x01 Ed25519 over the text (C2SP signed-note), 0x04 Ed25519
 * timestamped cosignature (C2SP tlog-cosignature): signature bytes =
 * keyID || u64be time || Ed25519 over "cosignature/v1\ntime <time>\n" ||
 * text.  A checkpoint (C2SP tlog-checkpoint) is a note text of an origin
 * line, the decimal tree size, the base64 root and optional extension
 * lines.
 *
 * Private keys never enter this module: signing goes through struct
 * tlog_signer, a request to whoever holds the key (keys/, or libsodium
 * directly in tests).  Everything parsed here may come from a hostile
 * peer; sizes are capped before anything is allocated.
 */
#ifndef CAIRN_TLOG_NOTE_H
#define CAIRN_TLOG_NOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/tlog.h"

#define TLOG_NOTE_MAX		65536	/* bytes of a signed note */
#define TLOG_NOTE_MAX_SIGS	64	/* signature lines kept (>= 16) */
#define TLOG_NAME_MAX		255	/* bytes of a key name */
#define TLOG_SIG_MAX		128	/* bytes of one signature */
#define TLOG_CP_EXT_MAX		4096	/* bytes of extension lines */

#define TLOG_KEY_ED25519	0x01
#define TLOG_KEY_COSIGNATURE	0x04

/*
 * A signing request: 'sign' signs 'len' bytes of 'msg' with the private
 * key of 'pub' into 'sig' and returns CAIRN_OK or a negative code.
 * 'name' is the key name written in signature lines (borrowed).
 */
struct tlog_signer {
	const char	*name;
	uint8_t		 pub[32];
	int		(*sign)(void *ctx, const uint8_t *msg, size_t len,
			    uint8_t sig[64]);
	void		*ctx;
};

/* A parsed verifier key. */
struct tlog_verifier {
	char		name[TLOG_NAME_MAX + 1];
	uint8_t		type;		/* TLOG_KEY_* */
	uint8_t		key_id[4];
	uint8_t		pub[32];
};

/* One signature line of a note (decoded, not yet verified). */
struct tlog_note_sig {
	char		name[TLOG_NAME_MAX + 1];
	uint8_t		key_id[4];
	uint8_t		sig[TLOG_SIG_MAX];
	size_t		sig_len;	/* without the key ID */
};

/* A parsed note; 'text' points into a copy owned by the note. */
struct tlog_note {
	char			*text;		/* NUL-terminated */
	size_t			 text_len;
	size_t			 nsigs;
	struct tlog_note_sig	 sigs[TLOG_NOTE_MAX_SIGS];
};

/* A checkpoint body. */
struct tlog_checkpoint {
	char		origin[TLOG_NAME_MAX + 1];
	uint64_t	size;
	uint8_t		root[TLOG_HASH_LEN];
	char		ext[TLOG_CP_EXT_MAX + 1];	/* extensions */
	size_t		ext_len;
};

/* Key ID of 'name' (NUL-terminated) with key 'type' and 'pub'. */
void	tlog_key_id(const char *name, uint8_t type, const uint8_t pub[32],
	    uint8_t out[4]);

/*
 * Parse the verifier key 'vkey' (NUL-terminated).  Checks the name (no
 * '+', space or control bytes, 1..TLOG_NAME_MAX bytes), the 8 lowercase
 * hex digits, the type (0x01 or 0x04) and the key ID against the key.
 * Returns CAIRN_OK or CAIRN_ERR_FORMAT / CAIRN_ERR_UNSUPPORTED with a
 * detail.  '*out' is set only on success.
 */
int	tlog_verifier_parse(const char *vkey, struct tlog_verifier *out)
	    __attribute__((warn_unused_result));

/*
 * Write the verifier key of ('name', 'type', 'pub') into 'out' (room for
 * 'cap' bytes, NUL included).  CAIRN_ERR_TOOBIG or CAIRN_ERR_FORMAT.
 */
int	tlog_verifier_format(const char *name, uint8_t type,
	    const uint8_t pub[32], char *out, size_t cap);

/*
 * Parse the signed note 'buf' ('len' bytes, untrusted) into a new
 * '*out' (free with tlog_note_free()).  Refuses notes over TLOG_NOTE_MAX,
 * text not ending in '\n', NUL bytes, invalid UTF-8, missing blank line,
 * no signature, malformed signature lines; signature lines beyond
 * TLOG_NOTE_MAX_SIGS are refused (CAIRN_ERR_TOOBIG).
 */
int	tlog_note_parse(const char *buf, size_t len, struct tlog_note **out)
	    __attribute__((warn_unused_result));
void	tlog_note_free(struct tlog_note *n);

/*
 * Count the keys of 'keys' (nkeys entries) that have a valid signature on
 * 'n': a signature line counts for a key when name and key ID match and
 * the Ed25519 (type 0x01) or cosignature (type 0x04) verifies; lines for
 * unknown keys are ignored; each key counts once.  '*nvalid' (may be
 * NULL) gets the count, and 'valid' (may be NULL, nkeys entries) which
 * keys signed.  Returns CAIRN_OK when at least 'quorum' (>= 1) keys
 * signed, else CAIRN_ERR_SIGNATURE with a detail.
 */
int	tlog_note_verify(const struct tlog_note *n,
	    const struct tlog_verifier *keys, size_t nkeys, size_t quorum,
	    size_t *nvalid, bool *valid) __attribute__((warn_unused_result));

/*
 * Sign 'text' ('len' bytes, ending in '\n') with Ed25519 (type 0x01)
 * through each of the 'n' signers and return the signed note in a new
 * NUL-terminated buffer '*out' ('*out_len' bytes without the NUL).
 */
int	tlog_note_sign(const char *text, size_t len,
	    const struct tlog_signer *signers, size_t n, char **out,
	    size_t *out_len) __attribute__((warn_unused_result));

/*
 * Append the signature lines 'lines' ('len' bytes, each "— name sig\n")
 * to the signed note 'note', returning a new note; the lines are checked
 * for form, not verified.  Used to add cosignatures to a checkpoint.
 */
int	tlog_note_add_lines(const char *note, size_t note_len,
	    const char *lines, size_t len, char **out, size_t *out_len)
	    __attribute__((warn_unused_result));

/*
 * Parse the checkpoint body 'text' ('len' bytes, untrusted): an origin
 * line (1..TLOG_NAME_MAX bytes), the size in decimal without leading
 * zeros, the root in standard padded base64 of exactly 32 bytes, then
 * non-empty extension lines.  Returns CAIRN_OK or CAIRN_ERR_FORMAT naming
 * the line.
 */
int	tlog_checkpoint_parse(const char *text, size_t len,
	    struct tlog_checkpoint *out) __attribute__((warn_unused_result));

/*
 * Write the body of 'cp' into 'out' (room for 'cap' bytes, NUL
 * included); '*len' gets its length.  CAIRN_ERR_TOOBIG or
 * CAIRN_ERR_FORMAT (bad origin or extension lines).
 */
int	tlog_checkpoint_format(const struct tlog_checkpoint *cp, char *out,
	    size_t cap, size_t *len) __attribute__((warn_unused_result));

/*
 * Parse the signed checkpoint 'note', verify that at least 'quorum' of
 * the 'nkeys' keys signed it and, when 'origin' is not NULL, that its
 * origin is 'origin'.  Returns CAIRN_OK and '*cp', or the first error of
 * tlog_note_parse(), tlog_note_verify(), tlog_checkpoint_parse(), or
 * CAIRN_ERR_FORMAT for an unexpected origin.
 */
int	tlog_checkpoint_open(const char *note, size_t len,
	    const struct tlog_verifier *keys, size_t nkeys, size_t quorum,
	    const char *origin, struct tlog_checkpoint *cp)
	    __attribute__((warn_unused_result));

/*
 * Cosign the checkpoint body 'text' at 'time' (seconds since the epoch)
 * through 'signer' and write the signature line (with its '\n') into
 * 'line' (room for 'cap' bytes, NUL included).
 */
int	tlog_cosign(const char *text, size_t len, uint64_t time,
	    const struct tlog_signer *signer, char *line, size_t cap)
	    __attribute__((warn_unused_result));

/*
 * The time a cosignature line for key 'key' (type 0x04) on note 'n'
 * carries, when that cosignature verifies.  CAIRN_ERR_NOTFOUND when the
 * note has no valid cosignature from 'key'.
 */
int	tlog_cosignature_time(const struct tlog_note *n,
	    const struct tlog_verifier *key, uint64_t *time)
	    __attribute__((warn_unused_result));

/*
 * Standard padded base64 (RFC 4648 §4).  Decode the 'len' characters of
 * 's' (untrusted) into 'out' (room for 'cap' bytes): CAIRN_OK and
 * '*out_len', or CAIRN_ERR_FORMAT for bad characters, padding or a result
 * over 'cap'.  Encode 'len' bytes into 'out' (NUL-terminated): returns the
 * length without the NUL, or 0 when 'cap' is too small.
 */
int	tlog_b64_decode(const char *s, size_t len, uint8_t *out, size_t cap,
	    size_t *out_len) __attribute__((warn_unused_result));
size_t	tlog_b64_encode(const uint8_t *in, size_t len, char *out,
	    size_t cap);

#endif
