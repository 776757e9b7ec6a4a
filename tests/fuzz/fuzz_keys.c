/*
 * fuzz_keys.c - key files (keys/): the first byte chooses a public
 * identity file (NAME.pub), a secret identity file, a certificate or a
 * CSR (PEM, through keys_cert_info/keys_csr_info) or a member URI; the
 * rest is the content.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "keys/keys.h"
#include "keys/keys_tls.h"
#include "tests/fuzz/util.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[KEYS_NAME_MAX + 1];
	struct keys_identity *id;
	struct keys_cert_info ci;
	struct keys_public pub;
	enum keys_role role;
	uint8_t sig[KEYS_SIG_LEN], pk[KEYS_PK_LEN];
	char *pem;

	switch (fz_byte(&data, &size) % 5) {
	case 0:
		if (keys_public_load(fz_file("member.pub", data, size), &pub) ==
		    CAIRN_OK && !keys_name_is_valid(pub.name))
			abort();
		break;
	case 1:
		if (keys_identity_load(fz_file("identity.key", data, size),
		    &id) != CAIRN_OK)
			break;
		/* A loaded identity must sign what its public half verifies. */
		keys_identity_public(id, pk);
		if (keys_sign(id, "fuzz", data, size, sig) != CAIRN_OK ||
		    keys_verify(pk, "fuzz", data, size, sig) != CAIRN_OK)
			abort();
		keys_identity_free(id);
		break;
	case 2:
		if ((pem = malloc(size + 1)) == NULL)
			abort();
		memcpy(pem, data, size);
		pem[size] = '\0';
		fz_ignore(keys_cert_info(pem, size, &ci));
		free(pem);
		break;
	case 3:
		if ((pem = malloc(size + 1)) == NULL)
			abort();
		memcpy(pem, data, size);
		pem[size] = '\0';
		fz_ignore(keys_csr_info(pem, size, &ci));
		free(pem);
		break;
	default:
		if (keys_uri_parse((const char *)data, size, &role, name) ==
		    CAIRN_OK && !keys_name_is_valid(name))
			abort();
		break;
	}
	return 0;
}
