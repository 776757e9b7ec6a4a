/*
 * synth.h - `cairn synth`: a synthetic federation with ground truth.
 *
 * The generator builds a small country (regions on a grid with names and
 * outlines, cells per region and holder), draws a plan for every subscriber
 * (holder, home, work, trips, displacement, visitors) and, day by day, the
 * subscriber's events.  Everything is a pure function of the seed: every
 * random draw comes from a ChaCha20 keystream keyed by the seed, with one
 * stream per (purpose, subscriber, day), so the same events can be drawn
 * twice - once per subscriber to compute the ground truth, once per day to
 * write time-ordered CDR files - without ever holding all events in memory.
 *
 * The ground truth is computed by a deliberately plain implementation of
 * the query semantics of docs/queries.md (synth_truth_*), independent of
 * the node's engine.  docs/synth.md describes the model and the files.
 */
#ifndef CAIRN_TOOLS_SYNTH_H
#define CAIRN_TOOLS_SYNTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits of the command line (checked by synth_opts_check). */
#define SYNTH_MAX_HOLDERS	16
#define SYNTH_MAX_SUBSCRIBERS	50000000ULL
#define SYNTH_MAX_DAYS		366
#define SYNTH_MAX_REGIONS	1000
#define SYNTH_MIN_REGIONS	2
#define SYNTH_MIN_DAYS		2

/* ------------------------------------------------------------------ */
/* Random numbers: a ChaCha20 keystream (libsodium) read as uint32 words. */

struct synth_rng {
	const uint32_t	*pre;		/* words drawn beforehand (borrowed) */
	unsigned	 npre, ppos;	/* their number, next to read */
	uint8_t		 key[32];
	uint8_t		 nonce[8];
	uint64_t	 block;		/* next ChaCha20 block counter */
	uint32_t	 buf[32];	/* two blocks of keystream */
	unsigned	 pos;		/* next unread word of buf */
};

/*
 * Derive the 32-byte generator key of 'seed' (BLAKE2b of the seed under
 * a fixed domain string).
 */
void	synth_key_from_seed(uint64_t seed, uint8_t key[static 32]);

/*
 * Start the keystream of 'key' and the 64-bit stream number 'stream' (used
 * as the ChaCha20 nonce) at block 0.  Streams of distinct numbers are
 * independent; the same (key, stream) always gives the same words.
 */
void	synth_rng_init(struct synth_rng *g, const uint8_t key[static 32],
	    uint64_t stream);
/*
 * Like synth_rng_init, but read 'pre[0..npre)' first (words the caller
 * drew in bulk with synth_keystream) and only then the stream 'stream'.
 */
void	synth_rng_init_pre(struct synth_rng *g, const uint8_t key[static 32],
	    uint64_t stream, const uint32_t *pre, unsigned npre);
/*
 * Bulk draw: the keystream of 'stream' cut into items of 'nwords' words
 * (a multiple of 16, one ChaCha20 block), items first..first+count-1, into
 * words[0 .. count * nwords).  Item i always holds the same words, however
 * it is drawn; large batches use libsodium's vectorised code.
 */
void	synth_keystream(const uint8_t key[static 32], uint64_t stream,
	    uint64_t first, size_t count, unsigned nwords, uint32_t *words);
/* The next 32 bits of the stream (little-endian words). */
uint32_t	synth_rng_u32(struct synth_rng *g);
/* A draw in [0, n) for n >= 1 (multiply-shift; bias below 2^-32 * n). */
uint32_t	synth_rng_below(struct synth_rng *g, uint32_t n);
/* A draw in [0, 1) with 32 bits of resolution. */
double	synth_rng_unit(struct synth_rng *g);

/* ------------------------------------------------------------------ */
/* Queries and ground truth. */

enum synth_kind {
	SYNTH_PRESENCE = 0,
	SYNTH_RESIDENTS,
	SYNTH_OD,
	SYNTH_MIGRATION,
	SYNTH_VISITORS,
	SYNTH_POPULATION,
	SYNTH_DISPLACEMENT	/* start/end: the observation days */
};

/*
 * One query, as its JSON spec says (docs/queries.md).  Dates are days
 * since 1970-01-01 in local time; windows are [first, last).  Fields a
 * kind does not use are ignored.
 */
struct synth_query {
	const char	*name;		/* file name stem, e.g. "residents" */
	enum synth_kind	 kind;
	int64_t		 start, end;	/* presence..visitors, population */
	int		 utc_offset_min;
	bool		 hourly;	/* presence: bucket "hour" */
	unsigned	 k;		/* presence, visitors */
	unsigned	 night_start, night_end;
	int64_t		 base[2], comp[2];	/* migration windows;
						   displacement: base */
};

/*
 * One event of a subscriber (or one record of an entity): UTC seconds,
 * the region as an index into the region table (whose ids ascend with the
 * index, so a smaller index is a smaller id) and, for region-level
 * records, a category index (categories ascend bytewise with the index).
 */
struct synth_event {
	int64_t		 t;
	uint32_t	 region;
	uint32_t	 category;
};

/*
 * The exact answer of one query over the subscribers added so far: a dense
 * table of counts over the query's output domain.  Owned by the caller;
 * synth_truth_release() frees what synth_truth_init() allocated.
 */
struct synth_truth {
	const struct synth_query *q;	/* borrowed; must outlive the truth */
	unsigned	 nreg;		/* regions */
	unsigned	 ncat;		/* categories (population only) */
	unsigned	 ndays;		/* days of [start, end) */
	unsigned	 nbuckets;	/* presence: days or days * 24 */
	size_t		 ncells;
	uint32_t	*cnt;		/* ncells counts */
	uint32_t	*scratch;	/* nreg per-region event counts */
	uint32_t	*touched;	/* nreg region indexes seen */
	int32_t		*daymode;	/* ndays modal regions (od) */
	int64_t		*lday;		/* per event: local date */
	uint8_t		*lhour;		/* per event: local hour */
	size_t		 lcap;		/* room in lday/lhour */
};

/*
 * Size and zero a truth table for 'q' over 'nreg' regions and 'ncat'
 * categories.  Returns CAIRN_OK, CAIRN_ERR_ARG for an empty or reversed
 * window or a domain over 2^31 cells, or CAIRN_ERR_NOMEM.
 */
int	synth_truth_init(struct synth_truth *t, const struct synth_query *q,
	    unsigned nreg, unsigned ncat) __attribute__((warn_unused_result));
/* Free the tables of 't' (which may be zeroed or released already). */
void	synth_truth_release(struct synth_truth *t);

/*
 * Add the contribution of one subscriber (or entity) whose events are
 * 'ev[0..n)'.  'ev' is sorted by time in place when it is not already.
 * Region indexes must be < nreg and categories < ncat; returns CAIRN_OK,
 * CAIRN_ERR_RANGE (nothing is added then), CAIRN_ERR_TOOBIG for over
 * 2^24 events or CAIRN_ERR_NOMEM.
 */
int	synth_truth_add(struct synth_truth *t, struct synth_event *ev,
	    size_t n) __attribute__((warn_unused_result));

/*
 * Write the sum of the tables 'parts[0..nparts)' (all for the same query
 * and domain) as the query's CSV: header, rows in ascending order, zero
 * cells left out.  'region_id' maps region indexes to ids; 'categories'
 * names category indexes (population only).  Returns CAIRN_OK or
 * CAIRN_ERR_IO with the path in the detail.
 */
int	synth_truth_write(const struct synth_truth *const *parts,
	    size_t nparts, const uint32_t *region_id,
	    const char *const *categories, const char *path)
	    __attribute__((warn_unused_result));

/*
 * Write the JSON spec of 'q' to 'path' (only the fields its kind uses).
 * Returns CAIRN_OK or CAIRN_ERR_IO.
 */
int	synth_query_write(const struct synth_query *q, const char *path)
	    __attribute__((warn_unused_result));

/* ------------------------------------------------------------------ */
/* The generator. */

struct synth_opts {
	unsigned	 holders;	/* CDR holders, 1..SYNTH_MAX_HOLDERS */
	uint64_t	 subscribers;	/* 1..SYNTH_MAX_SUBSCRIBERS */
	unsigned	 days;		/* SYNTH_MIN_DAYS..SYNTH_MAX_DAYS */
	/* SYNTH_MIN_REGIONS..SYNTH_MAX_REGIONS */
	unsigned	 regions;
	uint64_t	 seed;
	const char	*out;		/* output folder */
	int64_t		 start_day;	/* first local date, days since epoch */
	int		 utc_offset_min;	/* local time = UTC + this */
	bool		 epoch_timestamps;	/* epoch seconds, not ISO */
	bool		 gzip;		/* write .csv.gz CDR and records */
	/* one CDR file per holder, not per day */
	bool		 one_file;
	bool		 force;		/* write into a non-empty folder */
	bool		 no_truth;	/* skip the ground truth */
	unsigned	 threads;	/* 1 or 2 */
	/* hex digits of a pseudonym, SYNTH_ID_LEN..SYNTH_ID_MAX (operators
	   use 16 or 64, a SHA-256) */
	unsigned	 id_hex;
	/* --event DATE,REGION,SHARE: the staged displacement (else the
	   model's: mid-period, a large region, 30 %) */
	bool		 event;
	int64_t		 event_day;	/* local date, after the first */
	uint32_t	 event_region;	/* region id */
	double		 event_share;	/* of its residents, (0, 1] */
};

/* What a run produced, for the summary line. */
struct synth_stats {
	uint64_t	 cdr_rows;
	uint64_t	 agency_rows;
	uint64_t	 bytes;		/* CDR and record bytes before gzip */
	double		 seconds;	/* wall time of the whole run */
	int64_t		 displacement_day;	/* local date */
	uint32_t	 displacement_origin;	/* region id */
};

/* Fill 'o' with the defaults (1 holder, 1000 subscribers, 7 days, ...). */
void	synth_opts_default(struct synth_opts *o);

/*
 * Check 'o' against the limits above.  Returns CAIRN_OK, CAIRN_ERR_ARG
 * with the option named in the detail ("--days: must be 2..366"), or
 * CAIRN_ERR_TOOBIG when the ground truth tables would pass 4 GiB.
 */
int	synth_opts_check(const struct synth_opts *o)
	    __attribute__((warn_unused_result));

/*
 * Generate the federation of 'o' into o->out (created when missing;
 * refused when not empty unless o->force).  On success fills 'st'.
 * Returns CAIRN_OK, CAIRN_ERR_ARG, CAIRN_ERR_EXISTS, CAIRN_ERR_IO or
 * CAIRN_ERR_NOMEM with a detail naming the option or the path.
 */
int	synth_run(const struct synth_opts *o, struct synth_stats *st)
	    __attribute__((warn_unused_result));

/* ------------------------------------------------------------------ */
/* The model (synth_model.c): country, subscriber plans, daily events.   */

#define SYNTH_NCAT		5	/* agency categories */
#define SYNTH_MAX_DAY_EVENTS	96	/* events of one subscriber-day */
#define SYNTH_ID_LEN		10	/* hex digits of an id, by default */
#define SYNTH_ID_MAX		64	/* --id-hex at most (SHA-256 in hex) */
#define SYNTH_CELL_LEN		7	/* characters of a cell id */

/* Stream numbers (ChaCha20 nonces): purpose in the top byte. */
#define SYNTH_STREAM(purpose, day, idx) \
	((uint64_t)(purpose) << 56 | (uint64_t)(day) << 32 | (uint64_t)(idx))
enum synth_purpose {
	SYNTH_P_COUNTRY = 1,
	SYNTH_P_PLAN = 2,		/* items: subscribers */
	SYNTH_P_DAY = 3,		/* per day; items: subscribers */
	SYNTH_P_ENTITY = 4,
	SYNTH_P_ENTITY_DAY = 5,
	SYNTH_P_PLAN_MORE = 6,		/* words past SYNTH_PLAN_WORDS */
	SYNTH_P_DAY_MORE = 7		/* words past SYNTH_DAY_WORDS */
};
#define SYNTH_PLAN_WORDS	32	/* bulk-drawn words of a plan */
#define SYNTH_DAY_WORDS		48	/* bulk-drawn words of a day */

/* Category names of the agency records, ascending bytewise. */
extern const char *const synth_categories[SYNTH_NCAT];

/*
 * The synthetic country: regions on a cols x rows grid (ids ascending with
 * the index), their weights (population shares), neighbours, the holders'
 * market shares and cells, the displacement event and the id keys.
 */
struct synth_country {
	unsigned	 nreg, nhold, days;
	int		 offset_min;
	int64_t		 start_day;
	uint8_t		 key[32];
	unsigned	 cols, rows;
	uint32_t	*region_id;		/* nreg */
	char		(*region_name)[32];	/* nreg */
	double		*vlon, *vlat;		/* (cols+1)*(rows+1) vertices */
	double		*weight;		/* nreg, sum 1 */
	uint32_t	*pop_cdf;		/* nreg cumulative, of 2^32 */
	uint16_t	(*nb)[4];		/* nreg neighbours */
	uint8_t		*nnb;			/* nreg neighbour counts */
	double		 share[SYNTH_MAX_HOLDERS];	/* market shares */
	uint32_t	 share_cdf[SYNTH_MAX_HOLDERS];
	uint32_t	 ncells;
	uint32_t	*cell_first, *cell_n;	/* nhold*nreg: holder's cells */
	uint32_t	*cell_region;		/* ncells region indexes */
	uint8_t		*cell_holder;		/* ncells */
	char		(*cell_name)[SYNTH_CELL_LEN + 1];	/* ncells */
	uint8_t		 hour_of[1024];		/* diurnal inverse CDF */
	double		 emean[2][256];		/* exp(-mean): weekday, end */
	unsigned	 disp_day;		/* day index of displacement */
	uint32_t	 disp_origin;		/* region index */
	double		 disp_share;		/* of the origin's residents */
	uint64_t	 nentities;		/* agency entities */
	uint8_t		 sub_key[16], ent_key[16];	/* id permutations */
};

/* Plan flags. */
#define SYNTH_EMPLOYED	0x01
#define SYNTH_ROAMER	0x02
#define SYNTH_DISPLACED	0x04
#define SYNTH_NO_DAY	0xffff

/* What a subscriber does over the period, drawn once from its stream. */
struct synth_plan {
	uint16_t	 home, work, newhome;	/* region indexes */
	uint16_t	 v1, v2;		/* roamer: regions */
	uint16_t	 trip_region[2];
	uint16_t	 trip_day[2];		/* SYNTH_NO_DAY: no trip */
	uint8_t		 trip_len[2];
	uint8_t		 holder;		/* 0..nhold-1 */
	uint8_t		 flags;
	uint8_t		 lambda4;		/* mean events per day * 4 */
	uint8_t		 leave_q, ret_q;	/* commute, quarter hours */
	uint8_t		 outing;		/* chance of an outing, /256 */
	uint16_t	 arrive, depart, switchday;	/* roamer days */
};

/*
 * One event of a subscriber-day: local second of day, region index, cell
 * index (for an agency record: the category index).
 */
struct synth_dev {
	uint32_t	 sec;
	uint32_t	 region;
	uint32_t	 cell;
};

/* An agency entity: home region, second region, category. */
struct synth_entity {
	uint16_t	 home, other;
	uint8_t		 category;
};

/*
 * Build the country of 'o' (regions, grid, names, cells, displacement).
 * Returns CAIRN_OK or CAIRN_ERR_NOMEM; release with synth_country_release.
 */
int	synth_country_init(struct synth_country *c,
	    const struct synth_opts *o) __attribute__((warn_unused_result));
void	synth_country_release(struct synth_country *c);

/*
 * Draw the plan of subscriber 's' (a pure function of key and s).  'pre'
 * is item s of synth_keystream(SYNTH_STREAM(SYNTH_P_PLAN, 0, 0), ...,
 * SYNTH_PLAN_WORDS) when the caller drew it in bulk, else NULL.
 */
void	synth_plan_draw(const struct synth_country *c, uint64_t s,
	    const uint32_t *pre, struct synth_plan *p);

/*
 * The events of subscriber 's' with plan 'p' on day index 'd', sorted by
 * local second; returns their number (0 when absent that day).  'pre' is
 * item s of the stream SYNTH_STREAM(SYNTH_P_DAY, d, 0) in items of
 * SYNTH_DAY_WORDS, or NULL to draw it here.
 */
size_t	synth_day_events(const struct synth_country *c,
	    const struct synth_plan *p, uint64_t s, unsigned d,
	    const uint32_t *pre,
	    struct synth_dev out[static SYNTH_MAX_DAY_EVENTS]);

/*
 * The holder (0..nhold-1) with which agency entity 'e' is also
 * registered: its records go to that holder's region-level file too, so
 * the holders' files partition the agency's.
 */
unsigned	synth_entity_holder(const struct synth_country *c, uint64_t e);

/* Draw agency entity 'e'. */
void	synth_entity_draw(const struct synth_country *c, uint64_t e,
	    struct synth_entity *en);
/* Records of entity 'e' on day 'd' (unsorted); returns their number. */
size_t	synth_entity_day(const struct synth_country *c,
	    const struct synth_entity *en, uint64_t e, unsigned d,
	    struct synth_dev out[static SYNTH_MAX_DAY_EVENTS]);

/*
 * The pseudonym of subscriber 's' (or, with 'entity', of agency entity
 * 's'): 'len' lowercase hex digits, SYNTH_ID_LEN..SYNTH_ID_MAX.  The
 * last SYNTH_ID_LEN come from a keyed permutation of 40-bit numbers, so
 * distinct indexes give distinct ids; the digits before them (len >
 * SYNTH_ID_LEN) are a keyed BLAKE2b of that number, so the whole id
 * looks like an operator's hashed MSISDN.  Not terminated.
 */
void	synth_id(const struct synth_country *c, uint64_t s, bool entity,
	    unsigned len, char *out);

/*
 * `cairn synth` (synth/synth_cmd.c): synthetic federation data with
 * ground truth; argv[0] is "synth"; returns the exit code.
 */
int	cmd_synth(int argc, char **argv);

#endif
