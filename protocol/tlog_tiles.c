/*
 * tlog_tiles.c - paths, sets and bytes of the C2SP tlog-tiles layout
 * (tlog_tiles.h).  Pure computation: the coordinator writes the files
 * (coordinator/coord_public.c), the HTTP listener checks request paths
 * with tlog_tile_path_parse().
 */
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "protocol/tlog_tiles.h"

/* Append 'n' in 3-digit groups ("x001/x234/067") at buf + *off. */
static int
put_index(char *buf, size_t cap, size_t *off, uint64_t n)
{
	unsigned groups[7];
	int ng = 0, w;

	do {
		groups[ng++] = (unsigned)(n % 1000);
		n /= 1000;
	} while (n > 0);
	while (ng-- > 0) {
		w = snprintf(buf + *off, cap - *off, "%s%03u%s",
		    ng > 0 ? "x" : "", groups[ng], ng > 0 ? "/" : "");
		if (w < 0 || (size_t)w >= cap - *off)
			return cairn_err(CAIRN_ERR_TOOBIG, "tile path longer "
			    "than %zu bytes", cap);
		*off += (size_t)w;
	}
	return CAIRN_OK;
}

int
tlog_tile_path(const struct tlog_tile *t, char *buf, size_t cap)
{
	size_t off = 0;
	int w, r;

	if (t->level < TLOG_TILE_ENTRIES || t->level > TLOG_TILE_MAX_LEVEL ||
	    t->width < 1 || t->width > TLOG_TILE_WIDTH)
		return cairn_err(CAIRN_ERR_ARG, "tile level %d width %u is "
		    "out of range", t->level, t->width);
	if (t->level == TLOG_TILE_ENTRIES)
		w = snprintf(buf, cap, "tile/entries/");
	else
		w = snprintf(buf, cap, "tile/%d/", t->level);
	if (w < 0 || (size_t)w >= cap)
		return cairn_err(CAIRN_ERR_TOOBIG, "tile path longer than %zu "
		    "bytes", cap);
	off = (size_t)w;
	if ((r = put_index(buf, cap, &off, t->n)) != CAIRN_OK)
		return r;
	if (t->width < TLOG_TILE_WIDTH) {
		w = snprintf(buf + off, cap - off, ".p/%u", t->width);
		if (w < 0 || (size_t)w >= cap - off)
			return cairn_err(CAIRN_ERR_TOOBIG, "tile path longer "
			    "than %zu bytes", cap);
	}
	return CAIRN_OK;
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int
tlog_tile_path_parse(const char *path, struct tlog_tile *out)
{
	struct tlog_tile t;
	const char *p = path;
	unsigned groups = 0;

	memset(&t, 0, sizeof(t));
	if (strncmp(p, "tile/", 5) != 0)
		return cairn_err(CAIRN_ERR_FORMAT, "tile path: does not start "
		    "with tile/");
	p += 5;
	if (strncmp(p, "entries/", 8) == 0) {
		t.level = TLOG_TILE_ENTRIES;
		p += 8;
	} else {
		if (!is_digit(p[0]) || (p[0] == '0' && is_digit(p[1])))
			return cairn_err(CAIRN_ERR_FORMAT, "tile path: level "
			    "is not a number without leading zeros");
		while (is_digit(*p)) {
			t.level = t.level * 10 + (*p++ - '0');
			if (t.level > TLOG_TILE_MAX_LEVEL)
				return cairn_err(CAIRN_ERR_FORMAT, "tile path: "
				    "level over %d", TLOG_TILE_MAX_LEVEL);
		}
		if (*p++ != '/')
			return cairn_err(CAIRN_ERR_FORMAT, "tile path: no / "
			    "after the level");
	}
	for (;;) {
		bool more = *p == 'x';
		uint64_t g;

		if (more)
			p++;
		if (!is_digit(p[0]) || !is_digit(p[1]) || !is_digit(p[2]))
			return cairn_err(CAIRN_ERR_FORMAT, "tile path: index "
			    "group %u is not three digits", groups + 1);
		g = (uint64_t)((p[0] - '0') * 100 + (p[1] - '0') * 10 +
		    (p[2] - '0'));
		if (++groups > 7 || t.n > (UINT64_MAX - g) / 1000)
			return cairn_err(CAIRN_ERR_FORMAT, "tile path: index "
			    "too large");
		t.n = t.n * 1000 + g;
		p += 3;
		/* One spelling per number: no leading group of zeros. */
		if (groups == 1 && more && t.n == 0)
			return cairn_err(CAIRN_ERR_FORMAT, "tile path: index "
			    "has a leading group of zeros");
		if (!more)
			break;
		if (*p++ != '/')
			return cairn_err(CAIRN_ERR_FORMAT, "tile path: no / "
			    "after group %u", groups);
	}
	t.width = TLOG_TILE_WIDTH;
	if (*p == '.') {
		unsigned w = 0;

		if (strncmp(p, ".p/", 3) != 0)
			return cairn_err(CAIRN_ERR_FORMAT, "tile path: suffix "
			    "is not .p/<width>");
		p += 3;
		if (!is_digit(p[0]) || p[0] == '0')
			return cairn_err(CAIRN_ERR_FORMAT, "tile path: width "
			    "is not a number 1..255");
		while (is_digit(*p)) {
			w = w * 10 + (unsigned)(*p++ - '0');
			if (w > 255)
				return cairn_err(CAIRN_ERR_FORMAT, "tile path: "
				    "width over 255");
		}
		t.width = w;
	}
	if (*p != '\0')
		return cairn_err(CAIRN_ERR_FORMAT, "tile path: trailing "
		    "characters");
	*out = t;
	return CAIRN_OK;
}

int
tlog_tiles_between(uint64_t old, uint64_t size,
    int (*fn)(void *ctx, const struct tlog_tile *t), void *ctx)
{
	struct tlog_tile t;
	int r;

	if (old > size)
		return cairn_err(CAIRN_ERR_RANGE, "tiles from size %llu to the "
		    "smaller %llu", (unsigned long long)old,
		    (unsigned long long)size);
	for (int l = TLOG_TILE_ENTRIES; l <= TLOG_TILE_MAX_LEVEL; l++) {
		unsigned sh = (unsigned)(l < 0 ? 0 : l) * TLOG_TILE_HEIGHT;
		uint64_t at = sh >= 64 ? 0 : size >> sh;
		uint64_t was = sh >= 64 ? 0 : old >> sh;

		if (at == 0)
			break;
		t.level = l;
		t.width = TLOG_TILE_WIDTH;
		for (t.n = was / TLOG_TILE_WIDTH; t.n < at / TLOG_TILE_WIDTH;
		    t.n++)
			if ((r = fn(ctx, &t)) != CAIRN_OK)
				return r;
		if ((t.width = (unsigned)(at % TLOG_TILE_WIDTH)) != 0) {
			t.n = at / TLOG_TILE_WIDTH;
			if ((r = fn(ctx, &t)) != CAIRN_OK)
				return r;
		}
	}
	return CAIRN_OK;
}

int
tlog_tile_hashes(const struct tlog_hash_source *src, const struct tlog_tile *t,
    uint8_t out[static TLOG_TILE_BYTES], size_t *len)
{
	unsigned height;
	int r;

	if (t->level < 0 || t->level > TLOG_TILE_MAX_LEVEL || t->width < 1 ||
	    t->width > TLOG_TILE_WIDTH)
		return cairn_err(CAIRN_ERR_ARG, "hash tile level %d width %u",
		    t->level, t->width);
	height = (unsigned)t->level * TLOG_TILE_HEIGHT;
	for (unsigned i = 0; i < t->width; i++)
		if ((r = src->node(src->ctx, height, t->n * TLOG_TILE_WIDTH + i,
		    out + (size_t)i * TLOG_HASH_LEN)) != CAIRN_OK)
			return r;
	*len = (size_t)t->width * TLOG_HASH_LEN;
	return CAIRN_OK;
}

int
tlog_bundle_add(uint8_t *buf, size_t cap, size_t *used, uint64_t index,
    const uint8_t *data, size_t len)
{
	if (len > TLOG_TILE_MAX_ENTRY)
		return cairn_err(CAIRN_ERR_TOOBIG, "entry %llu is %zu bytes, "
		    "over the %d an entry bundle carries",
		    (unsigned long long)index, len, TLOG_TILE_MAX_ENTRY);
	if (cap - *used < len + 2)
		return cairn_err(CAIRN_ERR_TOOBIG, "entry bundle over %zu "
		    "bytes", cap);
	buf[(*used)++] = (uint8_t)(len >> 8);
	buf[(*used)++] = (uint8_t)len;
	if (len > 0)
		memcpy(buf + *used, data, len);
	*used += len;
	return CAIRN_OK;
}

int
tlog_bundle_split(const uint8_t *buf, size_t len,
    int (*fn)(void *ctx, const uint8_t *e, size_t elen), void *ctx,
    size_t *n)
{
	size_t off = 0, k = 0;
	int r;

	while (off < len) {
		size_t el;

		if (len - off < 2)
			return cairn_err(CAIRN_ERR_FORMAT, "entry bundle: "
			    "truncated length at byte %zu", off);
		el = (size_t)buf[off] << 8 | buf[off + 1];
		if (len - off - 2 < el)
			return cairn_err(CAIRN_ERR_FORMAT, "entry bundle: "
			    "entry %zu at byte %zu is truncated", k, off);
		if (k == TLOG_TILE_WIDTH)
			return cairn_err(CAIRN_ERR_FORMAT, "entry bundle: more "
			    "than %d entries", TLOG_TILE_WIDTH);
		if ((r = fn(ctx, buf + off + 2, el)) != CAIRN_OK)
			return r;
		off += 2 + el;
		k++;
	}
	*n = k;
	return CAIRN_OK;
}
