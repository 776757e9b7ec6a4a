/*
 * cells.c - the compact encoding of count vectors (cells.h): a LEB128
 * varint count, then one zigzag LEB128 varint per cell.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/bigmem.h"
#include "common/cells.h"
#include "common/err.h"

/* Append v as a LEB128 varint at p; returns the bytes written (<= 10). */
static size_t
put_varint(uint8_t *p, uint64_t v)
{
	size_t k = 0;

	while (v >= 0x80) {
		p[k++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[k++] = (uint8_t)v;
	return k;
}

/* Read a varint at *pos of p[0..len); false when cut short or too long. */
static bool
get_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *out)
{
	uint64_t v = 0;

	for (unsigned sh = 0; sh < 64 && *pos < len; sh += 7) {
		uint8_t b = p[(*pos)++];

		if (sh == 63 && b > 1)
			return false;
		v |= (uint64_t)(b & 0x7f) << sh;
		if ((b & 0x80) == 0) {
			*out = v;
			return true;
		}
	}
	return false;
}

int
cells_encode(const int64_t *v, size_t n, uint8_t **out, size_t *len)
{
	uint8_t *b;
	size_t k;

	if (n > (SIZE_MAX - 10) / 10 ||
	    (b = big_alloc(CELLS_ENCODED_MAX(n))) == NULL)
		return cairn_err(CAIRN_ERR_NOMEM, "vector of %zu cells", n);
	k = put_varint(b, (uint64_t)n);
	for (size_t i = 0; i < n; i++) {
		uint64_t u = (uint64_t)v[i];

		k += put_varint(b + k, (u << 1) ^ (0 - (u >> 63)));
	}
	*out = b;
	*len = k;
	return CAIRN_OK;
}

int
cells_decode(const uint8_t *b, size_t len, uint64_t max, int64_t **cells,
    size_t *n)
{
	uint64_t count, u;
	size_t pos = 0, i;
	int64_t *v;

	if (!get_varint(b, len, &pos, &count))
		return cairn_err(CAIRN_ERR_FORMAT, "no cell count in %zu "
		    "bytes", len);
	if (count > max || count > len - pos)
		return cairn_err(CAIRN_ERR_FORMAT, "%llu cells in %zu bytes "
		    "(at most %llu)", (unsigned long long)count, len - pos,
		    (unsigned long long)max);
	if ((v = malloc(count ? (size_t)count * sizeof(*v) : 1)) == NULL)
		return cairn_err(CAIRN_ERR_NOMEM, "vector of %llu cells",
		    (unsigned long long)count);
	for (i = 0; i < (size_t)count; i++) {
		if (!get_varint(b, len, &pos, &u)) {
			free(v);
			return cairn_err(CAIRN_ERR_FORMAT, "cut short at cell "
			    "%zu of %llu", i, (unsigned long long)count);
		}
		v[i] = (int64_t)((u >> 1) ^ (0 - (u & 1)));
	}
	if (pos != len) {
		free(v);
		return cairn_err(CAIRN_ERR_FORMAT, "%zu bytes past its %llu "
		    "cells", len - pos, (unsigned long long)count);
	}
	*cells = v;
	*n = (size_t)count;
	return CAIRN_OK;
}
