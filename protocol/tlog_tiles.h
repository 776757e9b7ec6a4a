/*
 * tlog_tiles.h - the C2SP tlog-tiles layout of the transparency log: the
 * paths of hash tiles and entry bundles, which tiles a tree size
 * implies, and their bytes (docs/tlog.md, "Static tiles").
 *
 * A tile at level L, index N holds the hashes of the complete subtrees of
 * height 8L numbered N*256 .. N*256+W-1 (W = 256 for a full tile, 1..255
 * for a partial one): level 0 holds leaf hashes.  The entry bundle N holds
 * the entries of level-0 tile N, each as a big-endian uint16 length and
 * the exact leaf bytes, so an entry of the tiled log is at most
 * TLOG_TILE_MAX_ENTRY bytes.  Paths: "tile/<L>/<N>[.p/<W>]" and
 * "tile/entries/<N>[.p/<W>]", N in groups of three digits, every group
 * but the last prefixed with 'x' (1234067 -> "x001/x234/067").
 *
 * Everything here is pure computation; hashes are read through a struct
 * tlog_hash_source (tlog.h), so the SQLite store and tests share it.
 */
#ifndef CAIRN_TLOG_TILES_H
#define CAIRN_TLOG_TILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/tlog.h"

#define TLOG_TILE_HEIGHT	8
#define TLOG_TILE_WIDTH		256
#define TLOG_TILE_BYTES		(TLOG_TILE_WIDTH * TLOG_HASH_LEN)
/* Largest entry a bundle can carry (its length is a uint16). */
#define TLOG_TILE_MAX_ENTRY	65535
/* The level of entry bundles in struct tlog_tile. */
#define TLOG_TILE_ENTRIES	(-1)
/* Highest hash-tile level (tlog-tiles allows 0..63). */
#define TLOG_TILE_MAX_LEVEL	63
/* Room for any path this module writes, with its NUL. */
#define TLOG_TILE_PATH_MAX	80

/* One tile: 'width' 256 is a full tile, 1..255 a partial one. */
struct tlog_tile {
	int		level;	/* 0..63, or TLOG_TILE_ENTRIES */
	uint64_t	n;
	unsigned	width;
};

/*
 * The path of 't' ("tile/0/x001/234.p/5") into 'buf' ('cap' bytes,
 * TLOG_TILE_PATH_MAX always suffices).  Returns CAIRN_OK, CAIRN_ERR_ARG
 * for a level or width out of range, CAIRN_ERR_TOOBIG when 'cap' is short.
 */
int	tlog_tile_path(const struct tlog_tile *t, char *buf, size_t cap)
	    __attribute__((warn_unused_result));

/*
 * Parse 'path' (hostile: an HTTP request path without the leading '/',
 * or a file name) as a tile path in its one canonical spelling: no
 * leading zeros in L, three digits per group, no empty or extra part,
 * W in 1..255.  Returns CAIRN_OK and '*t', or CAIRN_ERR_FORMAT naming
 * what is wrong.  '*t' is set only on success.
 */
int	tlog_tile_path_parse(const char *path, struct tlog_tile *t)
	    __attribute__((warn_unused_result));

/*
 * The tiles a tree of 'size' leaves implies that a tree of 'old' leaves
 * (old <= size) did not: every full tile, hash and bundle, completed
 * between the two sizes, then the partial tiles of 'size' (one per level
 * with a non-zero width, and its bundle).  With old = 0 these are all the
 * tiles of 'size'.  Calls 'fn' for each, lowest level first (bundles
 * before level 0), and stops at its first error, which it returns.
 * Returns CAIRN_OK, or CAIRN_ERR_RANGE when old > size.
 */
int	tlog_tiles_between(uint64_t old, uint64_t size,
	    int (*fn)(void *ctx, const struct tlog_tile *t), void *ctx)
	    __attribute__((warn_unused_result));

/*
 * The bytes of hash tile 't' (level >= 0): its width hashes, read from
 * 'src', into 'out' (room for TLOG_TILE_BYTES); '*len' = width * 32.
 * The caller makes sure the tree holds the tile.  Returns CAIRN_OK,
 * CAIRN_ERR_ARG or the source's error.
 */
int	tlog_tile_hashes(const struct tlog_hash_source *src,
	    const struct tlog_tile *t, uint8_t out[static TLOG_TILE_BYTES],
	    size_t *len) __attribute__((warn_unused_result));

/*
 * Append one entry ('len' bytes) to the bundle 'buf' ('*used' of 'cap'
 * bytes): its uint16 big-endian length, then the bytes.  Returns CAIRN_OK,
 * CAIRN_ERR_TOOBIG for an entry over TLOG_TILE_MAX_ENTRY (named by
 * 'index') or a full buffer.
 */
int	tlog_bundle_add(uint8_t *buf, size_t cap, size_t *used,
	    uint64_t index, const uint8_t *data, size_t len)
	    __attribute__((warn_unused_result));

/*
 * Split the bundle 'buf' ('len' bytes, hostile) into its entries: calls
 * 'fn' with each entry's bytes in order.  Returns CAIRN_OK with '*n' the
 * number of entries, CAIRN_ERR_FORMAT for a truncated entry (naming its
 * offset) or more than TLOG_TILE_WIDTH entries, or fn's error.
 */
int	tlog_bundle_split(const uint8_t *buf, size_t len,
	    int (*fn)(void *ctx, const uint8_t *e, size_t elen), void *ctx,
	    size_t *n) __attribute__((warn_unused_result));

#endif
