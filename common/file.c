/*
 * file.c - capped whole-file reads (file.h).  One loop that grows its
 * buffer by doubling up to the caller's cap, so files whose size fstat
 * does not know (pipes, /dev/stdin) read the same way as regular ones.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/file.h>

#include "common/err.h"
#include "common/file.h"

int
file_read_fd(int fd, const char *path, uint8_t *buf, size_t size,
    size_t *got)
{
	size_t off = 0;
	ssize_t n;

	while (off < size) {
		n = read(fd, buf + off, size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cairn_err(CAIRN_ERR_IO, "%s: read: %s", path,
			    strerror(errno));
		if (n == 0)
			break;
		off += (size_t)n;
	}
	*got = off;
	return CAIRN_OK;
}

int
file_read_capped(const char *path, size_t max, char **out, size_t *len)
{
	char *buf = NULL;
	size_t n = 0, cap = 0;
	int fd, r;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return cairn_err(CAIRN_ERR_IO, "%s: %s", path, strerror(errno));
	for (;;) {
		ssize_t got;

		if (n == cap) {
			size_t nc = cap ? 2 * cap : 4096;
			char *nb;

			if (cap > max) {
				r = cairn_err(CAIRN_ERR_TOOBIG, "%s: over %zu "
				    "bytes", path, max);
				goto out;
			}
			if ((nb = realloc(buf, nc + 1)) == NULL) {
				r = cairn_err(CAIRN_ERR_NOMEM, "%s", path);
				goto out;
			}
			buf = nb;
			cap = nc;
		}
		got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = cairn_err(CAIRN_ERR_IO, "%s: read error", path);
			goto out;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	if (n > max) {
		r = cairn_err(CAIRN_ERR_TOOBIG, "%s: over %zu bytes", path,
		    max);
		goto out;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
	r = CAIRN_OK;
out:
	free(buf);
	close(fd);
	return r;
}

bool
file_changed(const char *path, struct file_stamp *st)
{
	struct stat sb;
	bool changed;

	if (path == NULL || stat(path, &sb) == -1)
		return false;
	changed = st->valid && (sb.st_dev != st->dev ||
	    sb.st_ino != st->ino || sb.st_size != st->size ||
	    sb.st_mtim.tv_sec != st->mtime.tv_sec ||
	    sb.st_mtim.tv_nsec != st->mtime.tv_nsec);
	st->valid = true;
	st->dev = sb.st_dev;
	st->ino = sb.st_ino;
	st->size = sb.st_size;
	st->mtime = sb.st_mtim;
	return changed;
}

int
file_lock_dir(const char *dir, const char *who, int *fd)
{
	char path[4096], pid[32];
	uint8_t held[32];
	size_t got = 0;
	int f, n;

	if (snprintf(path, sizeof(path), "%s/lock", dir) >= (int)sizeof(path))
		return cairn_err(CAIRN_ERR_ARG, "%s: path too long", dir);
	if ((f = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) < 0)
		return cairn_err(CAIRN_ERR_IO, "%s: %s", path,
		    strerror(errno));
	while (flock(f, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK) {
			if (file_read_fd(f, path, held, sizeof(held) - 1,
			    &got) != CAIRN_OK)
				got = 0;
			held[got] = '\0';
			held[strcspn((char *)held, "\n")] = '\0';
			close(f);
			return cairn_err(CAIRN_ERR_STATE, "%s is in use by "
			    "process %s (%s): %s needs it alone", dir,
			    got > 0 ? (char *)held : "?", path, who);
		}
		n = errno;
		close(f);
		return cairn_err(CAIRN_ERR_IO, "%s: lock: %s", path,
		    strerror(n));
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(f, 0) != 0 || pwrite(f, pid, (size_t)n, 0) != n) {
		n = errno;
		close(f);
		return cairn_err(CAIRN_ERR_IO, "%s: %s", path, strerror(n));
	}
	*fd = f;
	return CAIRN_OK;
}

void
file_unlock_dir(int fd)
{
	if (fd >= 0)
		close(fd);
}
