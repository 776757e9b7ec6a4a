/*
 * coord_public.c - the public directory of the log (docs/public.md): the
 * checkpoint with its cosignatures, the C2SP tlog-tiles hash tiles and
 * entry bundles of every checkpointed size (protocol/tlog_tiles.h) and a
 * JSON rendering of every entry (protocol/tlog_json.h), kept beside
 * log.db so that any static web server can serve the log.
 *
 * Every file is written to a temporary name in its own folder, flushed
 * and renamed, so a reader (or a crash) sees either no file or the whole
 * one.  The checkpoint is written last, after every tile it implies.  The
 * directory is derived from the database and never the other way round:
 * at start (and by `cairn-coordinator public-rebuild`) every file the
 * database implies is compared with its expected bytes or written when
 * missing, and any file that differs, or that no checkpointed size
 * implies, stops the coordinator with its path named.  After an append
 * or a cosignature only what is new is written; a failure then is logged
 * and retried at the next update (the entry itself is already durable in
 * log.db).
 *
 * A partial tile or bundle is superseded once the checkpoint shown implies
 * its full tile (C2SP tlog-tiles lets a log delete it then; readers fall
 * back to the full tile): right after that checkpoint is written, the
 * partials of the tile are removed, so the directory holds one full tile
 * and no partial per 256 entries instead of 255 partials.  A superseded
 * partial is no longer implied: never rewritten, and one found at start
 * (an older version's, or a removal a crash cut short) is removed without
 * being compared, since no reader is sent to it any more.
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fault.h"
#include "common/file.h"
#include "common/log.h"
#include "coordinator/coord_int.h"
#include "protocol/tlog_json.h"
#include "protocol/tlog_tiles.h"

/* The tile being extended at one level (level + 1: bundles at 0). */
struct tile_cache {
	bool		 valid;
	uint64_t	 n;
	unsigned	 count;		/* hashes or entries held */
	uint8_t		*buf;		/* hashes, or the bundle so far */
	size_t		 len;
	size_t		 cap;
};

#define NCACHE	(TLOG_TILE_MAX_LEVEL + 2)
/* Files written and not yet renamed, at most. */
#define PUBLIC_PENDING_MAX	1024

struct coord_public {
	char			 dir[4096];
	struct coord_log	*lg;		/* borrowed */
	size_t			 quorum;
	uint64_t		 synced;	/* tiles written up to here */
	char			*cp_written;	/* the checkpoint file's note */
	uint64_t		 shown;		/* its size */
	uint64_t		 pruned;	/* partials gone up to here */
	struct coord_public_report rep;
	struct tile_cache	 cache[NCACHE];
	char			*pending[PUBLIC_PENDING_MAX];
	size_t			 npending;
	/* for the directory scan (nftw has no context argument) */
	const uint64_t		*sizes;
	size_t			 nsizes;
	uint64_t		 size;
	uint64_t		 stale;		/* superseded found */
};

/* mkdir -p of the folders of 'rel' under p->dir. */
static int
make_parents(const struct coord_public *p, const char *rel)
{
	char path[4096 + TLOG_TILE_PATH_MAX + 32];
	size_t base = strlen(p->dir) + 1;

	if (snprintf(path, sizeof(path), "%s/%s", p->dir, rel) >=
	    (int)sizeof(path))
		return cairn_err(CAIRN_ERR_TOOBIG, "%s/%s: path too long",
		    p->dir, rel);
	for (char *s = path + base; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST) {
			int e = errno;

			return cairn_err(CAIRN_ERR_IO, "%s: %s", path,
			    strerror(e));
		}
		*s = '/';
	}
	return CAIRN_OK;
}

/*
 * Rename the pending temporary files to their names, after making their
 * bytes durable: one fsync each for a few, one syncfs() for many (a full
 * walk writes thousands), so that no name ever points at bytes that a
 * power loss could take back.  Tiles go before the checkpoint that
 * implies them because put_checkpoint() flushes before writing it.
 */
static int
flush(struct coord_public *p)
{
	char path[4096 + TLOG_TILE_PATH_MAX + 32], tmp[sizeof(path) + 8];
	int fd, r = CAIRN_OK;

	if (p->npending == 0)
		return CAIRN_OK;
	if (p->npending > 8) {
		if ((fd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) <
		    0 || syncfs(fd) != 0) {
			r = cairn_err(CAIRN_ERR_IO, "%s: syncfs: %s", p->dir,
			    strerror(errno));
			if (fd >= 0)
				close(fd);
			goto out;
		}
		close(fd);
	} else
		for (size_t i = 0; i < p->npending; i++) {
			snprintf(tmp, sizeof(tmp), "%s/%s.tmp", p->dir,
			    p->pending[i]);
			if ((fd = open(tmp, O_RDONLY | O_NOFOLLOW |
			    O_CLOEXEC)) < 0 || fsync(fd) != 0) {
				r = cairn_err(CAIRN_ERR_IO, "%s: fsync: %s",
				    tmp, strerror(errno));
				if (fd >= 0)
					close(fd);
				goto out;
			}
			close(fd);
		}
	for (size_t i = 0; i < p->npending; i++) {
		snprintf(path, sizeof(path), "%s/%s", p->dir, p->pending[i]);
		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		fault_point("coord.public_before_rename");
		if (rename(tmp, path) != 0) {
			r = cairn_err(CAIRN_ERR_IO, "%s: rename: %s", path,
			    strerror(errno));
			goto out;
		}
	}
out:
	/* On a failure the temporary files left are rewritten by the next
	 * update or removed at the next start. */
	for (size_t i = 0; i < p->npending; i++)
		free(p->pending[i]);
	p->npending = 0;
	return r;
}

/* Whether 'rel' is written and waits for flush(). */
static bool
is_pending(const struct coord_public *p, const char *rel)
{
	for (size_t i = p->npending; i-- > 0;)
		if (strcmp(p->pending[i], rel) == 0)
			return true;
	return false;
}

/*
 * Write 'rel' (under p->dir) as 'len' bytes of 'data' to its temporary
 * name; flush() renames it.
 */
static int
write_atomic(struct coord_public *p, const char *rel, const void *data,
    size_t len)
{
	char path[4096 + TLOG_TILE_PATH_MAX + 32], tmp[sizeof(path) + 8];
	const uint8_t *b = data;
	size_t off = 0;
	int fd = -1, r;

	if ((r = make_parents(p, rel)) != CAIRN_OK)
		return r;
	if (p->npending == PUBLIC_PENDING_MAX && (r = flush(p)) != CAIRN_OK)
		return r;
	snprintf(path, sizeof(path), "%s/%s", p->dir, rel);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0644)) < 0) {
		r = cairn_err(CAIRN_ERR_IO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	while (off < len) {
		ssize_t w = write(fd, b + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			r = cairn_err(CAIRN_ERR_IO, "%s: write: %s", tmp,
			    strerror(errno));
			goto out;
		}
		off += (size_t)w;
	}
	if (close(fd) != 0) {
		fd = -1;
		r = cairn_err(CAIRN_ERR_IO, "%s: close: %s", tmp,
		    strerror(errno));
		goto out;
	}
	fd = -1;
	if ((p->pending[p->npending] = strdup(rel)) == NULL) {
		r = CAIRN_ERR_NOMEM;
		goto out;
	}
	p->npending++;
	p->rep.written++;
	r = CAIRN_OK;
out:
	if (fd >= 0)
		close(fd);
	if (r != CAIRN_OK)
		(void)unlink(tmp);
	return r;
}

/*
 * Make 'rel' hold exactly 'data': compare an existing file (a difference
 * is CAIRN_ERR_CONFLICT naming the path and the first differing byte),
 * write a missing one.
 */
static int
put_file(struct coord_public *p, const char *rel, const void *data,
    size_t len)
{
	char path[4096 + TLOG_TILE_PATH_MAX + 32];
	char *have = NULL;
	size_t hlen, i;
	int r;

	snprintf(path, sizeof(path), "%s/%s", p->dir, rel);
	if (is_pending(p, rel))
		return CAIRN_OK;	/* written in this walk, same bytes */
	if (access(path, F_OK) != 0)
		return write_atomic(p, rel, data, len);
	if ((r = file_read_capped(path, len + 1, &have, &hlen)) != CAIRN_OK) {
		if (r == CAIRN_ERR_TOOBIG)
			r = cairn_err(CAIRN_ERR_CONFLICT, "%s: longer than the "
			    "%zu bytes log.db implies", path, len);
		return r;
	}
	for (i = 0; i < hlen && i < len; i++)
		if (have[i] != ((const char *)data)[i])
			break;
	free(have);
	if (i < len || hlen != len)
		return cairn_err(CAIRN_ERR_CONFLICT, "%s: differs from log.db "
		    "at byte %zu (%zu bytes, log.db implies %zu)", path, i,
		    hlen, len);
	p->rep.checked++;
	return CAIRN_OK;
}

int
coord_public_put(struct coord_public *p, const char *rel, const void *data,
    size_t len, bool replace)
{
	char path[4096 + TLOG_TILE_PATH_MAX + 32];
	char *have = NULL;
	size_t hlen;
	bool same = false;
	int r;

	snprintf(path, sizeof(path), "%s/%s", p->dir, rel);
	if (!replace)
		r = put_file(p, rel, data, len);
	else {
		if (access(path, F_OK) == 0 && file_read_capped(path, len + 1,
		    &have, &hlen) == CAIRN_OK) {
			same = hlen == len && memcmp(have, data, len) == 0;
			free(have);
		}
		if (same)
			p->rep.checked++;
		r = same ? CAIRN_OK : write_atomic(p, rel, data, len);
	}
	/* Renamed now: a release file does not wait for the next tile. */
	return r == CAIRN_OK ? flush(p) : r;
}

static int
cache_room(struct tile_cache *c, size_t need)
{
	uint8_t *nb;
	size_t ncap;

	if (c->cap - c->len >= need)
		return CAIRN_OK;
	ncap = c->cap == 0 ? TLOG_TILE_BYTES : c->cap;
	while (ncap - c->len < need)
		ncap *= 2;
	if ((nb = realloc(c->buf, ncap)) == NULL)
		return cairn_err(CAIRN_ERR_NOMEM, "tile of %zu bytes", ncap);
	c->buf = nb;
	c->cap = ncap;
	return CAIRN_OK;
}

/* The JSON rendering of entry 'index' ('data', 'len'). */
static int
put_json(struct coord_public *p, uint64_t index, const uint8_t *data,
    size_t len)
{
	char rel[64], *json = NULL;
	size_t jlen;
	int r;

	if ((r = tlog_entry_json(index, data, len, &json, &jlen)) !=
	    CAIRN_OK)
		return cairn_err(r, "log entry %llu: JSON: %s",
		    (unsigned long long)index, cairn_errdesc(r));
	snprintf(rel, sizeof(rel), "json/%llu.json",
	    (unsigned long long)index);
	r = put_file(p, rel, json, jlen);
	free(json);
	return r;
}

/* Extend the cache of 't''s level to 't''s width and return its bytes. */
static int
tile_bytes(struct coord_public *p, const struct tlog_tile *t,
    const uint8_t **bytes, size_t *len)
{
	struct tile_cache *c = &p->cache[t->level + 1];
	struct tlog_store *s = p->lg->tlog;
	int r;

	if (!c->valid || c->n != t->n || c->count > t->width) {
		c->valid = true;
		c->n = t->n;
		c->count = 0;
		c->len = 0;
	}
	while (c->count < t->width) {
		uint64_t idx = t->n * TLOG_TILE_WIDTH + c->count;

		if (t->level == TLOG_TILE_ENTRIES) {
			uint8_t *data = NULL;
			size_t dl;

			if ((r = tlog_store_entry(s, idx, &data, &dl)) !=
			    CAIRN_OK)
				return r;
			if ((r = cache_room(c, dl + 2)) == CAIRN_OK &&
			    (r = tlog_bundle_add(c->buf, c->cap, &c->len, idx,
			    data, dl)) == CAIRN_OK)
				r = put_json(p, idx, data, dl);
			free(data);
			if (r != CAIRN_OK) {
				c->valid = false;
				return r;
			}
		} else {
			const struct tlog_hash_source *src =
			    tlog_store_source(s);

			if ((r = cache_room(c, TLOG_HASH_LEN)) != CAIRN_OK ||
			    (r = src->node(src->ctx, (unsigned)t->level *
			    TLOG_TILE_HEIGHT, idx, c->buf + c->len)) !=
			    CAIRN_OK) {
				c->valid = false;
				return r;
			}
			c->len += TLOG_HASH_LEN;
		}
		c->count++;
	}
	/* Bundle prefixes: the cache holds exactly 'width' entries. */
	*bytes = c->buf;
	*len = c->len;
	return CAIRN_OK;
}

/*
 * Whether the partials of tile 'n' at 'level' are superseded: the
 * checkpoint shown implies the full tile.
 */
static bool
is_superseded(const struct coord_public *p, int level, uint64_t n)
{
	unsigned sh = (unsigned)(level < 0 ? 0 : level) * TLOG_TILE_HEIGHT;

	return sh < 64 && (p->shown >> sh) / TLOG_TILE_WIDTH > n;
}

static int
put_tile(void *ctx, const struct tlog_tile *t)
{
	struct coord_public *p = ctx;
	char rel[TLOG_TILE_PATH_MAX];
	const uint8_t *bytes;
	size_t len;
	int r;

	/* The full walk meets every checkpointed size's partials. */
	if (t->width < TLOG_TILE_WIDTH && is_superseded(p, t->level, t->n))
		return CAIRN_OK;
	if ((r = tlog_tile_path(t, rel, sizeof(rel))) != CAIRN_OK ||
	    (r = tile_bytes(p, t, &bytes, &len)) != CAIRN_OK)
		return r;
	return put_file(p, rel, bytes, len);
}

/* The tree size of the checkpoint note 'note' (one of ours). */
static int
note_size(const char *note, uint64_t *size)
{
	struct tlog_note *n = NULL;
	struct tlog_checkpoint cp;
	int r;

	if ((r = tlog_note_parse(note, strlen(note), &n)) == CAIRN_OK &&
	    (r = tlog_checkpoint_parse(n->text, n->text_len, &cp)) ==
	    CAIRN_OK)
		*size = cp.size;
	tlog_note_free(n);
	return r == CAIRN_OK ? r : cairn_err(r, "the checkpoint to show does "
	    "not parse");
}

/* fsync() the folder 'path', making the renames in it durable. */
static int
sync_dir(const char *path)
{
	int fd, r = CAIRN_OK;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    fsync(fd) != 0)
		r = cairn_err(CAIRN_ERR_IO, "%s: fsync: %s", path,
		    strerror(errno));
	if (fd >= 0)
		close(fd);
	return r;
}

/*
 * Remove the partials of tile 'n' at 'level' (the folder "<tile>.p/"
 * and every file in it, temporary ones included), after making the full
 * tile's name durable: a power loss never leaves neither.
 */
static int
prune_tile(struct coord_public *p, int level, uint64_t n)
{
	struct tlog_tile t = { level, n, TLOG_TILE_WIDTH };
	char rel[TLOG_TILE_PATH_MAX], path[4096 + TLOG_TILE_PATH_MAX + 32];
	struct dirent *de;
	char *slash;
	DIR *d;
	int r;

	if ((r = tlog_tile_path(&t, rel, sizeof(rel))) != CAIRN_OK)
		return r;
	snprintf(path, sizeof(path), "%s/%s.p", p->dir, rel);
	if ((d = opendir(path)) == NULL)
		return errno == ENOENT ? CAIRN_OK : cairn_err(CAIRN_ERR_IO,
		    "%s: %s", path, strerror(errno));
	snprintf(path, sizeof(path), "%s/%s", p->dir, rel);
	slash = strrchr(path, '/');
	*slash = '\0';
	if ((r = sync_dir(path)) != CAIRN_OK)
		goto out;
	*slash = '/';
	strcat(path, ".p");
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		fault_point("coord.public_prune");
		if (unlinkat(dirfd(d), de->d_name, 0) != 0) {
			r = cairn_err(CAIRN_ERR_IO, "%s/%s: %s", path,
			    de->d_name, strerror(errno));
			goto out;
		}
		p->rep.removed++;
	}
	if (errno != 0 || rmdir(path) != 0)
		r = cairn_err(CAIRN_ERR_IO, "%s: %s", path, strerror(errno));
out:
	closedir(d);
	return r;
}

/*
 * Remove the partials the checkpoint shown supersedes: those of every
 * tile it implies full, from where the last call stopped ('pruned').
 */
static int
prune(struct coord_public *p)
{
	int r;

	for (int level = TLOG_TILE_ENTRIES; level <= TLOG_TILE_MAX_LEVEL;
	    level++) {
		unsigned sh = (unsigned)(level < 0 ? 0 : level) *
		    TLOG_TILE_HEIGHT;
		uint64_t to, from;

		if (sh >= 64 || (to = (p->shown >> sh) / TLOG_TILE_WIDTH) == 0)
			break;
		from = (p->pruned >> sh) / TLOG_TILE_WIDTH;
		for (uint64_t n = from; n < to; n++)
			if ((r = prune_tile(p, level, n)) != CAIRN_OK)
				return r;
	}
	p->pruned = p->shown;
	return CAIRN_OK;
}

/*
 * Write the checkpoint file when it differs from the one to show; with
 * 'check', first make sure an existing one is a checkpoint of this log
 * (its origin, a size log.db has, that size's root).
 */
static int
put_checkpoint(struct coord_public *p, bool check)
{
	struct tlog_note *n = NULL;
	struct tlog_checkpoint cp;
	char path[4096 + 16], *note = NULL, *have = NULL;
	uint8_t root[TLOG_HASH_LEN];
	size_t hlen = 0;
	int r;

	/* Every tile a checkpoint implies has its name first. */
	if ((r = flush(p)) != CAIRN_OK)
		return r;
	if ((r = coord_log_checkpoint(p->lg, p->quorum, &note)) != CAIRN_OK)
		return r;
	if (p->cp_written != NULL && strcmp(p->cp_written, note) == 0) {
		free(note);
		/* A removal that failed before is tried again. */
		return p->pruned == p->shown ? CAIRN_OK : prune(p);
	}
	if ((r = note_size(note, &p->shown)) != CAIRN_OK)
		goto out;
	snprintf(path, sizeof(path), "%s/checkpoint", p->dir);
	if (check && access(path, F_OK) == 0) {
		if ((r = file_read_capped(path, 64 * 1024, &have, &hlen)) !=
		    CAIRN_OK)
			goto out;
		if (tlog_note_parse(have, hlen, &n) != CAIRN_OK ||
		    tlog_checkpoint_parse(n->text, n->text_len, &cp) !=
		    CAIRN_OK) {
			r = cairn_err(CAIRN_ERR_CONFLICT, "%s: not a signed "
			    "checkpoint", path);
			goto out;
		}
		if (strcmp(cp.origin, p->lg->origin) != 0) {
			r = cairn_err(CAIRN_ERR_CONFLICT, "%s: origin '%s' is "
			    "not this log's '%s'", path, cp.origin,
			    p->lg->origin);
			goto out;
		}
		if (cp.size > tlog_store_size(p->lg->tlog) ||
		    tlog_store_root_at(p->lg->tlog, cp.size, root) !=
		    CAIRN_OK || memcmp(root, cp.root, TLOG_HASH_LEN) != 0) {
			r = cairn_err(CAIRN_ERR_CONFLICT, "%s: size %llu with "
			    "a root log.db does not have (log.db holds %llu "
			    "entries)", path, (unsigned long long)cp.size,
			    (unsigned long long)tlog_store_size(p->lg->tlog));
			goto out;
		}
	}
	if (hlen != strlen(note) || have == NULL ||
	    memcmp(have, note, hlen) != 0) {
		if ((r = write_atomic(p, "checkpoint", note, strlen(note))) !=
		    CAIRN_OK || (r = flush(p)) != CAIRN_OK)
			goto out;
	}
	free(p->cp_written);
	p->cp_written = note;
	note = NULL;
	/* The checkpoint implying the full tiles is out: their partials go. */
	r = prune(p);
out:
	tlog_note_free(n);
	free(have);
	free(note);
	return r;
}

/* Whether some checkpointed size has 'v' = size >> shift. */
static bool
some_size_is(const struct coord_public *p, unsigned shift, uint64_t v)
{
	size_t lo = 0, hi = p->nsizes;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t m = p->sizes[mid] >> shift;

		if (m == v)
			return true;
		if (m < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static struct coord_public *scan_p;

/* nftw callback: every file under tile/ and json/ must be implied. */
static int
scan_one(const char *path, const struct stat *sb, int type, struct FTW *fw)
{
	struct coord_public *p = scan_p;
	const char *rel = path + strlen(p->dir) + 1;
	struct tlog_tile t;
	size_t rl = strlen(rel);
	int r;

	(void)sb;
	(void)fw;
	if (type == FTW_D || type == FTW_DP)
		return 0;
	if (rl > 4 && strcmp(rel + rl - 4, ".tmp") == 0) {
		/* A write cut short by a crash: never renamed, unseen. */
		(void)unlink(path);
		return 0;
	}
	if (type != FTW_F) {
		r = cairn_err(CAIRN_ERR_CONFLICT, "%s: not a regular file",
		    path);
		goto bad;
	}
	if (strncmp(rel, "json/", 5) == 0) {
		char *end;
		unsigned long long i;

		errno = 0;
		i = strtoull(rel + 5, &end, 10);
		if (errno == 0 && rel[5] >= '0' && rel[5] <= '9' &&
		    strcmp(end, ".json") == 0 && i < p->size &&
		    (rel[5] != '0' || end == rel + 6))
			return 0;
		r = cairn_err(CAIRN_ERR_CONFLICT, "%s: no entry of log.db (%llu "
		    "entries) has this name", path,
		    (unsigned long long)p->size);
		goto bad;
	}
	if (tlog_tile_path_parse(rel, &t) != CAIRN_OK) {
		r = cairn_err(CAIRN_ERR_CONFLICT, "%s: not a tile path", path);
		goto bad;
	} else {
		unsigned sh = (unsigned)(t.level < 0 ? 0 : t.level) *
		    TLOG_TILE_HEIGHT;
		uint64_t at = sh >= 64 ? 0 : p->size >> sh;

		if (t.width == TLOG_TILE_WIDTH ? at / TLOG_TILE_WIDTH > t.n :
		    (sh < 64 && t.n <= UINT64_MAX / TLOG_TILE_WIDTH &&
		    some_size_is(p, sh, t.n * TLOG_TILE_WIDTH + t.width))) {
			/* prune() removes it after the checkpoint. */
			if (t.width < TLOG_TILE_WIDTH &&
			    is_superseded(p, t.level, t.n))
				p->stale++;
			return 0;
		}
		r = cairn_err(CAIRN_ERR_CONFLICT, "%s: no checkpointed size "
		    "of log.db (%llu entries) implies this tile", path,
		    (unsigned long long)p->size);
	}
bad:
	p->rep.first_error = r;
	return 1;
}

/* Every file under tile/ and json/ must be one the database implies. */
static int
scan(struct coord_public *p)
{
	char path[4096 + 16];
	const char *sub[] = { "tile", "json" };

	p->rep.first_error = CAIRN_OK;
	scan_p = p;
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", p->dir, sub[i]);
		if (access(path, F_OK) != 0)
			continue;
		if (nftw(path, scan_one, 16, FTW_PHYS) != 0) {
			scan_p = NULL;
			return p->rep.first_error != CAIRN_OK ?
			    p->rep.first_error : cairn_err(CAIRN_ERR_IO,
			    "%s: %s", path, strerror(errno));
		}
	}
	scan_p = NULL;
	return CAIRN_OK;
}

/*
 * Bring the whole directory up to the database: every checkpointed size's
 * tiles compared or written, no file the database does not imply, then
 * the checkpoint.
 */
static int
sync_all(struct coord_public *p)
{
	uint64_t *sizes = NULL, prev = 0;
	char *note = NULL;
	size_t n = 0;
	bool at_start = p->cp_written == NULL;
	int r;

	if ((r = tlog_store_checkpoint_sizes(p->lg->tlog, &sizes, &n)) !=
	    CAIRN_OK)
		return r;
	/* Which partials are superseded: by the checkpoint about to be
	 * shown, and from tile 0 on (a directory of an older version). */
	if ((r = coord_log_checkpoint(p->lg, p->quorum, &note)) != CAIRN_OK ||
	    (r = note_size(note, &p->shown)) != CAIRN_OK)
		goto out;
	p->pruned = 0;
	p->stale = 0;
	p->size = tlog_store_size(p->lg->tlog);
	p->sizes = sizes;
	p->nsizes = n;
	if ((r = scan(p)) != CAIRN_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (sizes[i] > p->size)
			break;
		if ((r = tlog_tiles_between(prev, sizes[i], put_tile, p)) !=
		    CAIRN_OK)
			goto out;
		prev = sizes[i];
	}
	p->synced = prev;
	p->rep.size = prev;
	if ((r = put_checkpoint(p, true)) == CAIRN_OK && at_start &&
	    p->stale > 0)
		log_info("public directory %s: removed %llu partial tiles and "
		    "bundles superseded by their full tiles (left by an older "
		    "version, or by a crash before their removal)", p->dir,
		    (unsigned long long)p->stale);
out:
	p->sizes = NULL;
	p->nsizes = 0;
	free(sizes);
	free(note);
	return r;
}

int
coord_public_open(const char *dir, struct coord_log *lg, size_t quorum,
    struct coord_public **out)
{
	struct coord_public *p;
	int r;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return CAIRN_ERR_NOMEM;
	if (snprintf(p->dir, sizeof(p->dir), "%s", dir) >=
	    (int)sizeof(p->dir) - TLOG_TILE_PATH_MAX) {
		free(p);
		return cairn_err(CAIRN_ERR_CONFIG, "[public] dir: path too "
		    "long");
	}
	p->lg = lg;
	p->quorum = quorum;
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		r = cairn_err(CAIRN_ERR_IO, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	if ((r = sync_all(p)) != CAIRN_OK)
		goto fail;
	*out = p;
	return CAIRN_OK;
fail:
	coord_public_close(p);
	return r;
}

int
coord_public_update(struct coord_public *p)
{
	uint64_t size;
	int r;

	if (p == NULL)
		return CAIRN_OK;
	size = tlog_store_size(p->lg->tlog);
	if (size > p->synced + 1)
		/* Missed updates: the full walk finds what is missing. */
		r = sync_all(p);
	else if (size > p->synced) {
		if ((r = tlog_tiles_between(p->synced, size, put_tile, p)) ==
		    CAIRN_OK && (r = flush(p)) == CAIRN_OK) {
			p->synced = size;
			p->rep.size = size;
			fault_point("coord.public_after_tiles");
			r = put_checkpoint(p, false);
		}
	} else
		r = put_checkpoint(p, false);
	if (r != CAIRN_OK) {
		p->rep.failures++;
		log_error("public directory %s: %s (retried at the next "
		    "update)", p->dir, cairn_errmsg());
	}
	return r;
}

size_t
coord_public_quorum(const struct coord_config *cfg)
{
	return (size_t)(cfg->pub_quorum > 0 ? cfg->pub_quorum :
	    cfg->witness_quorum);
}

const struct coord_public_report *
coord_public_report(const struct coord_public *p)
{
	return &p->rep;
}

void
coord_public_close(struct coord_public *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < NCACHE; i++)
		free(p->cache[i].buf);
	for (size_t i = 0; i < p->npending; i++)
		free(p->pending[i]);
	free(p->cp_written);
	free(p);
}
