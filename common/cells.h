/*
 * cells.h - the compact encoding of a vector of signed counts, the one
 * way a node's ledger keeps a noisy vector and the coordinator keeps a
 * released result: the cell count, then each cell zigzag-mapped (0, -1,
 * 1, -2 .. to 0, 1, 2, 3 ..) as a LEB128 varint, so the small counts a
 * release is mostly made of take a byte or two instead of eight.
 */
#ifndef CAIRN_COMMON_CELLS_H
#define CAIRN_COMMON_CELLS_H

#include <stddef.h>
#include <stdint.h>

/* The most bytes cells_encode() writes for 'n' cells. */
#define CELLS_ENCODED_MAX(n)	(10 + (size_t)(n) * 10)

/*
 * Encode the 'n' cells of 'v' into a new buffer ('*out', '*len'; free() it,
 * common/bigmem.h: huge pages for a large vector).
 * CAIRN_ERR_NOMEM when it cannot be allocated (or 'n' is too large to).
 */
int	cells_encode(const int64_t *v, size_t n, uint8_t **out, size_t *len)
	    __attribute__((warn_unused_result));

/*
 * Decode 'len' bytes of 'b' into a new malloc vector ('*cells', '*n')
 * of at most 'max' cells.  CAIRN_ERR_FORMAT, with a message saying what
 * is wrong (a count over 'max' or over the bytes left, a cell cut short
 * or too long, bytes past the last cell) and nothing allocated;
 * CAIRN_ERR_NOMEM.
 */
int	cells_decode(const uint8_t *b, size_t len, uint64_t max,
	    int64_t **cells, size_t *n) __attribute__((warn_unused_result));

#endif
