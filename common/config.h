/*
 * config.h - INI configuration files read against a schema.
 *
 * A program describes its keys once (section, name, type, range, where the
 * value goes in its own struct) and config_load() fills the struct.  An
 * unknown section or key, a value of the wrong type or out of range, a key
 * given twice and a missing required key are errors whose detail names the
 * file and line ("node.conf:7: key 'budget_rho' in [policy]: ...").
 * A key's default is in its descriptor, as the text the file would hold,
 * so the table says everything about a key in one line.
 */
#ifndef CAIRN_CONFIG_H
#define CAIRN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum config_type {
	CONFIG_STRING,		/* char * (malloc'd, freed by config_release) */
	CONFIG_INT,		/* int64_t within [min, max] */
	CONFIG_BOOL,		/* bool: true/false/yes/no/1/0 */
	CONFIG_DOUBLE,		/* double within [dmin, dmax], finite */
	CONFIG_RHO,		/* uint64_t nano-ρ within [min, max], from
				   exact decimal text (common/rho.h) */
	CONFIG_STRLIST		/* struct config_strlist; the key may repeat */
};

struct config_strlist {
	char	**v;
	size_t	  n;
};

struct config_key {
	const char	*section;	/* "" for keys before any section */
	const char	*name;
	enum config_type type;
	size_t		 offset;	/* offsetof(struct yours, field) */
	bool		 required;
	int64_t		 min, max;	/* CONFIG_INT; CONFIG_RHO: nano-ρ */
	double		 dmin, dmax;	/* CONFIG_DOUBLE */
	/*
	 * The value of an absent key, written as in the file ("30", "0.001",
	 * "127.0.0.1:7443"), or NULL to leave the field as the caller set
	 * it.  Parsed like a value from the file but not range-checked, so
	 * a default may say "unset" with a value no file may give (node.conf
	 * witness_quorum -1: a majority).  Not for CONFIG_STRLIST.
	 */
	const char	*def;
};

/* Longest value accepted, and most entries in one CONFIG_STRLIST. */
#define CONFIG_MAX_VALUE	4096
#define CONFIG_MAX_LIST		1024

/*
 * Parse the INI file 'path' against the 'n' keys of 'schema', storing
 * values into 'target'.  An absent key with a default ('def') gets it;
 * the fields of other absent keys keep the value the caller put there.
 * Returns CAIRN_OK, CAIRN_ERR_IO when the file cannot be read,
 * CAIRN_ERR_CONFIG with the detail naming file:line and key, or
 * CAIRN_ERR_INTERNAL for a default its own type cannot parse (a bug in
 * the table).  On failure 'target' may hold some parsed values:
 * config_release() it either way.
 */
int	config_load(const char *path, const struct config_key *schema, size_t n,
	    void *target) __attribute__((warn_unused_result));

/* Free the strings and lists config_load() stored in 'target'. */
void	config_release(const struct config_key *schema, size_t n, void *target);

/*
 * Parse all of 's' as a decimal integer (an optional '-', then 0 or
 * digits not starting with 0, within int64_t) or a decimal number (the
 * same, then an optional fraction ".DIGITS" and exponent "e[+-]DIGITS",
 * finite and not underflowing to 0): the grammar of JSON numbers,
 * docs/config.md "Numbers".  False on anything else: blanks, '+',
 * hexadecimal ("0x10"), "inf", "nan", ".5", "5.", "1e3" as an integer,
 * trailing junk.  's' may be hostile; *out is set on success only.
 */
bool	config_parse_int(const char *s, int64_t *out);
bool	config_parse_double(const char *s, double *out);

/*
 * The next value of a comma-separated list, in place: the first call
 * gives the list 's' (written to), later ones NULL with the same 'save'.
 * Blanks (space, tab) around a value are cut and empty values skipped
 * ("a, ,b" is a and b).  NULL after the last value.
 */
char	*config_list_next(char *s, char **save);

/* Most keys a schema given to config_reload() may have. */
#define CONFIG_RELOAD_MAX	128

/*
 * A running daemon's reload (SIGHUP): compare 'cur', the target it runs
 * with, to 'next', the same schema loaded again (config_load() and the
 * daemon's own checks passed), key by key.  A changed key named in
 * 'reloadable' (a NULL-terminated list of "section.name"; never a
 * CONFIG_STRLIST) is copied into 'cur' (a string duplicated, the old one
 * freed) and listed in 'applied'; any other changed key stays as it is in
 * 'cur' and is listed in 'fixed' ("[section] name, ..."; both buffers
 * cut at 'alen' and 'flen').  The caller holds whatever lock guards
 * 'cur'.  Returns CAIRN_OK, CAIRN_ERR_NOMEM ('cur' unchanged) or
 * CAIRN_ERR_INTERNAL for a schema over CONFIG_RELOAD_MAX keys.
 */
int	config_reload(const struct config_key *schema, size_t n, void *cur,
	    const void *next, const char *const *reloadable, char *applied,
	    size_t alen, char *fixed, size_t flen)
	    __attribute__((warn_unused_result));

#endif
