/*
 * cellmap.c - the region domain of a node: a cell map "cell_id,region_id"
 * (cells of an operator) or a plain region list "region_id[,...]" (for
 * region-level inputs).  Region ids are kept sorted, so a region's index
 * orders like its id and "ties go to the smallest region id" becomes "ties
 * go to the smallest index".  Both files are read strictly: any bad line
 * is an error naming file:line and field, never skipped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "node/engine/engine_int.h"

struct engine_cellmap {
	struct engine_intern cells;
	uint32_t	*cell_region;	/* cell id -> region index */
	uint32_t	*regions;	/* ascending ids */
	size_t		 nregions;
};

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static bool
parse_region_id(const char *s, size_t n, uint32_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 10)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* Strip a CR and, on line 1, a UTF-8 BOM. */
static char *
clean_line(char *s, ssize_t *len, size_t lineno)
{
	if (*len > 0 && s[*len - 1] == '\n')
		s[--*len] = '\0';
	if (*len > 0 && s[*len - 1] == '\r')
		s[--*len] = '\0';
	if (lineno == 1 && *len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
		s += 3;
		*len -= 3;
	}
	return s;
}

bool
engine_region_index(const struct engine_cellmap *m, uint32_t id, uint32_t *ridx)
{
	size_t lo = 0, hi = m->nregions;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->regions[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < m->nregions && m->regions[lo] == id) {
		*ridx = (uint32_t)lo;
		return true;
	}
	return false;
}

/* Sort and deduplicate m->regions. */
static void
regions_unique(struct engine_cellmap *m)
{
	size_t j = 0;

	qsort(m->regions, m->nregions, sizeof(uint32_t), cmp_u32);
	for (size_t i = 0; i < m->nregions; i++)
		if (j == 0 || m->regions[j - 1] != m->regions[i])
			m->regions[j++] = m->regions[i];
	m->nregions = j;
}

/*
 * Add the cell 'line' of 'idlen' bytes in region id 'rid' (line 'lineno'
 * of 'path') to 'm', whose cell_region holds '*ccap' entries.
 */
static int
load_cell(struct engine_cellmap *m, const char *path, size_t lineno,
    const char *line, size_t idlen, uint32_t rid, size_t *ccap)
{
	uint64_t h;
	uint32_t cid;
	int r;

	if (idlen == 0 || idlen > ENGINE_MAX_FIELD)
		return cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: field "
		    "'cell_id': %s", path, lineno, idlen ? "longer "
		    "than 128 bytes" : "empty");
	h = engine_intern_hash(line, idlen);
	if (engine_intern_find(&m->cells, line, idlen, h, &cid))
		return cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: field "
		    "'cell_id': duplicate cell '%.*s'", path, lineno,
		    (int)idlen, line);
	if ((r = engine_intern_add(&m->cells, line, idlen, h, &cid)) !=
	    CAIRN_OK)
		return r;
	if (cid >= *ccap) {
		size_t nc = *ccap ? *ccap * 2 : 256;
		uint32_t *ncr;

		if ((ncr = realloc(m->cell_region, nc * sizeof(*ncr))) ==
		    NULL)
			return CAIRN_ERR_NOMEM;
		m->cell_region = ncr;
		*ccap = nc;
	}
	m->cell_region[cid] = rid;	/* an id until remapped */
	return CAIRN_OK;
}

static int
load(const char *path, bool with_cells, struct engine_cellmap **out)
{
	struct engine_cellmap *m = NULL;
	FILE *f = NULL;
	char *buf = NULL, *line;
	size_t cap = 0, lineno = 0, rcap = 0, ccap = 0;
	ssize_t len;
	int r;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return CAIRN_ERR_NOMEM;
	if ((r = engine_intern_init(&m->cells, 1024, ENGINE_MAX_CELLS)) !=
	    CAIRN_OK)
		goto out;
	if ((f = fopen(path, "r")) == NULL) {
		r = cairn_err(CAIRN_ERR_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	while ((len = getline(&buf, &cap, f)) != -1) {
		char *comma, *idf;
		size_t idlen;
		uint32_t rid;

		lineno++;
		line = clean_line(buf, &len, lineno);
		if ((size_t)len != strlen(line)) {
			r = cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: NUL byte",
			    path, lineno);
			goto out;
		}
		if (lineno == 1) {
			bool okh = with_cells ?
			    strcmp(line, "cell_id,region_id") == 0 :
			    strncmp(line, "region_id", 9) == 0 &&
			    (line[9] == '\0' || line[9] == ',');

			if (!okh) {
				r = cairn_err(CAIRN_ERR_FORMAT, "%s:1: header "
				    "must be '%s'", path, with_cells ?
				    "cell_id,region_id" : "region_id[,...]");
				goto out;
			}
			continue;
		}
		if (len == 0) {
			r = cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: empty line",
			    path, lineno);
			goto out;
		}
		comma = strchr(line, ',');
		if (with_cells) {
			if (comma == NULL || strchr(comma + 1, ',') != NULL) {
				r = cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: "
				    "expected 2 fields (cell_id,region_id)",
				    path, lineno);
				goto out;
			}
			idf = comma + 1;
			idlen = strlen(idf);
		} else {
			idf = line;
			idlen = comma ? (size_t)(comma - line) : (size_t)len;
		}
		if (!parse_region_id(idf, idlen, &rid)) {
			r = cairn_err(CAIRN_ERR_FORMAT, "%s:%zu: field "
			    "'region_id': '%.*s' is not an integer in "
			    "[0, 2^32)", path, lineno, (int)(idlen > 40 ? 40 :
			    idlen), idf);
			goto out;
		}
		if (m->nregions == rcap) {
			size_t nc = rcap ? rcap * 2 : 256;
			uint32_t *nr;

			if (nc > ENGINE_MAX_CELLS) {
				r = cairn_err(CAIRN_ERR_TOOBIG, "%s:%zu: too "
				    "many lines", path, lineno);
				goto out;
			}
			if ((nr = realloc(m->regions, nc * sizeof(*nr))) ==
			    NULL) {
				r = CAIRN_ERR_NOMEM;
				goto out;
			}
			m->regions = nr;
			rcap = nc;
		}
		m->regions[m->nregions++] = rid;
		if (!with_cells)
			continue;
		if ((r = load_cell(m, path, lineno, line,
		    (size_t)(comma - line), rid, &ccap)) != CAIRN_OK)
			goto out;
	}
	if (ferror(f)) {
		r = cairn_err(CAIRN_ERR_IO, "%s: read error", path);
		goto out;
	}
	if (lineno == 0) {
		r = cairn_err(CAIRN_ERR_FORMAT, "%s:1: empty file (no header)",
		    path);
		goto out;
	}
	if (m->nregions == 0) {
		r = cairn_err(CAIRN_ERR_FORMAT, "%s: no regions", path);
		goto out;
	}
	regions_unique(m);
	if (m->nregions > ENGINE_MAX_REGIONS) {
		r = cairn_err(CAIRN_ERR_TOOBIG, "%s: more than %u regions",
		    path, ENGINE_MAX_REGIONS);
		goto out;
	}
	for (uint32_t i = 0; i < m->cells.n; i++)
		if (!engine_region_index(m, m->cell_region[i],
		    &m->cell_region[i])) {
			r = CAIRN_ERR_INTERNAL;
			goto out;
		}
	*out = m;
	m = NULL;
	r = CAIRN_OK;
out:
	free(buf);
	if (f != NULL)
		fclose(f);
	engine_cellmap_free(m);
	return r;
}

int
engine_cellmap_load(const char *path, struct engine_cellmap **out)
{
	return load(path, true, out);
}

int
engine_regions_load(const char *path, struct engine_cellmap **out)
{
	return load(path, false, out);
}

int
engine_regions_from_ids(const uint32_t *ids, size_t n,
    struct engine_cellmap **out)
{
	struct engine_cellmap *m;
	int r;

	if (n == 0 || n > ENGINE_MAX_REGIONS)
		return cairn_err(CAIRN_ERR_RANGE, "region count %zu", n);
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return CAIRN_ERR_NOMEM;
	if ((r = engine_intern_init(&m->cells, 16, 0)) != CAIRN_OK ||
	    (m->regions = malloc(n * sizeof(uint32_t))) == NULL) {
		engine_cellmap_free(m);
		return r != CAIRN_OK ? r : CAIRN_ERR_NOMEM;
	}
	memcpy(m->regions, ids, n * sizeof(uint32_t));
	m->nregions = n;
	regions_unique(m);
	*out = m;
	return CAIRN_OK;
}

void
engine_cellmap_free(struct engine_cellmap *m)
{
	if (m == NULL)
		return;
	engine_intern_release(&m->cells);
	free(m->cell_region);
	free(m->regions);
	free(m);
}

size_t
engine_cellmap_nregions(const struct engine_cellmap *m)
{
	return m->nregions;
}

const uint32_t *
engine_cellmap_regions(const struct engine_cellmap *m)
{
	return m->regions;
}

size_t
engine_cellmap_ncells(const struct engine_cellmap *m)
{
	return m->cells.n;
}

const char *
engine_cellmap_cell(const struct engine_cellmap *m, size_t i, size_t *len,
    uint32_t *region)
{
	*region = m->regions[m->cell_region[i]];
	return engine_intern_key(&m->cells, (uint32_t)i, len);
}

bool
engine_cellmap_lookup(const struct engine_cellmap *m, const char *cell,
    size_t len, uint32_t *ridx)
{
	uint32_t id;

	if (m->cells.n == 0 ||
	    !engine_intern_find(&m->cells, cell, len, engine_intern_hash(cell,
	    len), &id))
		return false;
	*ridx = m->cell_region[id];
	return true;
}

bool
engine_cellmap_lookup_k(const struct engine_cellmap *m, const char *cell,
    size_t len, uint64_t h, const uint64_t k[2], uint32_t *ridx)
{
	uint32_t id;

	if (m->cells.n == 0 || !engine_intern_find_k(&m->cells, cell, len, h, k,
	    &id))
		return false;
	*ridx = m->cell_region[id];
	return true;
}
