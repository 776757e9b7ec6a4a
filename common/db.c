/*
 * db.c - SQLite's codes enter cairn here and go no further (db.h).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/db.h"
#include "common/err.h"

int
db_code(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return CAIRN_OK;
	default:
		return CAIRN_ERR_DB;
	}
}

int
db_error(struct sqlite3 *db, const char *prefix, const char *what)
{
	int rc = sqlite3_errcode(db), code = db_code(rc);
	const char *damaged = "";

	if (code == CAIRN_OK)
		code = CAIRN_ERR_DB;
	if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB)
		damaged = " (the store is damaged)";
	if (what == NULL)
		return cairn_err(code, "%s: %s%s", prefix, sqlite3_errmsg(db),
		    damaged);
	return cairn_err(code, "%s: %s: %s%s", prefix, what,
	    sqlite3_errmsg(db), damaged);
}

int
db_open(const char *path, int flags, const char *what, struct sqlite3 **out)
{
	sqlite3 *db = NULL;
	int r;

	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
		if (db == NULL)
			return cairn_err(CAIRN_ERR_NOMEM, "opening %s", path);
		r = db_error(db, path, what);
		sqlite3_close(db);
		return r;
	}
	sqlite3_busy_timeout(db, DB_BUSY_TIMEOUT_MS);
	*out = db;
	return CAIRN_OK;
}

int
db_exec(struct sqlite3 *db, const char *prefix, const char *sql,
    const char *what)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_error(db, prefix, what);
	return CAIRN_OK;
}

int
db_integrity(struct sqlite3 *db, const char *prefix)
{
	sqlite3_stmt *st = NULL;
	const char *msg;
	int rc, r = CAIRN_OK;

	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check(1)", -1, &st,
	    NULL) != SQLITE_OK)
		return db_error(db, prefix, "integrity check");
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		r = db_error(db, prefix, "integrity check");
	else if ((msg = (const char *)sqlite3_column_text(st, 0)) == NULL ||
	    strcmp(msg, "ok") != 0) {
		char line[512];
		size_t k = 0;

		/* One line: skip SQLite's "*** in database main ***". */
		if (msg != NULL && strncmp(msg, "*** ", 4) == 0 &&
		    strchr(msg, '\n') != NULL)
			msg = strchr(msg, '\n') + 1;
		for (; msg != NULL && *msg != '\0' && k + 1 < sizeof(line);
		    msg++)
			line[k++] = *msg == '\n' ? ';' : *msg;
		line[k] = '\0';
		r = cairn_err(CAIRN_ERR_FORMAT, "%s: SQLite integrity check "
		    "failed: %s", prefix, k > 0 ? line : "no answer");
	}
	sqlite3_finalize(st);
	return r;
}

int
db_backup(struct sqlite3 *src, const char *dest)
{
	char tmp[4096], dir[4096], *slash;
	sqlite3_backup *b;
	sqlite3 *d = NULL;
	struct stat sb;
	int fd, rc, r;

	if (stat(dest, &sb) == 0)
		return cairn_err(CAIRN_ERR_EXISTS, "%s: exists already", dest);
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", dest) >= (int)sizeof(tmp))
		return cairn_err(CAIRN_ERR_ARG, "%s: path too long", dest);
	(void)unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600))
	    < 0)
		return cairn_err(CAIRN_ERR_IO, "%s: %s", tmp, strerror(errno));
	close(fd);
	if ((r = db_open(tmp, SQLITE_OPEN_READWRITE, "backup", &d)) !=
	    CAIRN_OK)
		goto out;
	if ((b = sqlite3_backup_init(d, "main", src, "main")) == NULL) {
		r = db_error(d, tmp, "backup");
		goto out;
	}
	rc = sqlite3_backup_step(b, -1);
	(void)sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		r = cairn_err(CAIRN_ERR_DB, "%s: backup: %s", dest,
		    sqlite3_errstr(rc));
		goto out;
	}
	if (sqlite3_close(d) != SQLITE_OK) {
		d = NULL;
		r = cairn_err(CAIRN_ERR_DB, "%s: closing the copy", tmp);
		goto out;
	}
	d = NULL;
	if ((fd = open(tmp, O_RDONLY)) < 0 || fsync(fd) != 0) {
		r = cairn_err(CAIRN_ERR_IO, "%s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	close(fd);
	if (rename(tmp, dest) != 0) {
		r = cairn_err(CAIRN_ERR_IO, "%s: %s", dest, strerror(errno));
		goto out;
	}
	snprintf(dir, sizeof(dir), "%s", dest);
	if ((slash = strrchr(dir, '/')) != NULL) {
		*slash = '\0';
		if ((fd = open(dir[0] != '\0' ? dir : "/", O_RDONLY |
		    O_DIRECTORY)) >= 0) {
			(void)fsync(fd);
			close(fd);
		}
	}
	return CAIRN_OK;
out:
	sqlite3_close(d);
	(void)unlink(tmp);
	return r;
}
