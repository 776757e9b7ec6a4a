/*
 * file.h - reading whole files with a cap, the one way every module does
 * it (audit, query, keys; node/store.c keeps its own for now).
 *
 * Errors name the file: "PATH: reason".  A file that may come from
 * anyone is read at most up to the cap the caller gives, so a hostile or
 * mistaken file cannot make us allocate without bound.  Key files, which
 * must also be opened without following a symbolic link and be checked
 * for their owner and mode, are opened by keys/ (O_NOFOLLOW, fstat) and
 * read here with file_read_fd().
 *
 * A daemon's data folder is also guarded here (file_lock_dir()): one
 * process at a time may serve from it or rewrite it.
 */
#ifndef CAIRN_COMMON_FILE_H
#define CAIRN_COMMON_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/*
 * Read the file 'path' (at most 'max' bytes; pipes and devices too) into
 * a new malloc buffer with a NUL after the 'len' bytes read.  Returns
 * CAIRN_OK with '*out' (owned by the caller, free()) and '*len' set;
 * CAIRN_ERR_IO when the file cannot be opened or read, CAIRN_ERR_TOOBIG
 * when it holds more than 'max' bytes ("PATH: over MAX bytes"),
 * CAIRN_ERR_NOMEM.  '*out' and '*len' are untouched on failure.
 */
int	file_read_capped(const char *path, size_t max, char **out, size_t *len)
	    __attribute__((warn_unused_result));

/*
 * Read up to 'size' bytes from the open descriptor 'fd' into 'buf'
 * (borrowed, at least 'size' bytes), retrying on EINTR and stopping at
 * end of file; '*got' is the number read.  Returns CAIRN_OK or
 * CAIRN_ERR_IO ("PATH: read: reason", 'path' only names the file).
 */
int	file_read_fd(int fd, const char *path, uint8_t *buf, size_t size,
	    size_t *got) __attribute__((warn_unused_result));

/* What tells a file that was replaced or rewritten from the one seen. */
struct file_stamp {
	bool		valid;
	dev_t		dev;
	ino_t		ino;
	off_t		size;
	struct timespec	mtime;
};

/*
 * Whether 'path' differs from the stamp 'st' (another file renamed over
 * it, or a new size or modification time), updating 'st'.  The first call
 * on a zeroed stamp records the file and returns false; a file that
 * cannot be read is not a change (the caller keeps what it has), and
 * neither is a NULL 'path' (a configuration given in memory, as the
 * tests and embedders do, has no file to watch).
 */
bool	file_changed(const char *path, struct file_stamp *st);

/*
 * Take the exclusive lock of the folder 'dir' for this process, without
 * waiting: flock(2) on 'dir'/lock (made 0600 if absent), which then holds
 * this process's id as text.  The lock lasts until file_unlock_dir() or
 * the process ends, a crash included (the kernel drops it with the
 * descriptor, so a stale file never blocks anyone).  'who' names the
 * caller in the error.  Returns CAIRN_OK with '*fd' set; CAIRN_ERR_STATE
 * when another process holds it ("DIR is in use by process PID (DIR/lock):
 * WHO needs it alone"); CAIRN_ERR_IO when the file cannot be made.
 */
int	file_lock_dir(const char *dir, const char *who, int *fd)
	    __attribute__((warn_unused_result));

/* Let go of a lock from file_lock_dir(); -1 is ignored. */
void	file_unlock_dir(int fd);

#endif
