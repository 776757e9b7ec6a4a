/*
 * synth_cmd.c - the `cairn synth` command line: options in, one summary
 * line out (see docs/man/cairn-synth.1).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "common/err.h"
#include "common/timeutil.h"
#include "synth/synth.h"

#define PROG	"cairn synth"

static void
usage(FILE *f)
{
	fprintf(f,
"usage: cairn synth --out DIR [--holders H] [--subscribers S] [--days D]\n"
"           [--regions R] [--seed N] [--start YYYY-MM-DD] [--utc-offset MIN]\n"
"           [--epoch-timestamps] [--gzip] [--one-file] [--no-truth]\n"
"           [--threads 1|2] [--event DATE,REGION,SHARE] [--force]\n"
"           [--id-hex N] [--quiet]\n"
"\n"
"Generate a synthetic federation: R regions with names and outlines, H\n"
"mobile operators' CDR files and cell maps for S subscribers over D days,\n"
"an agency's region-level records, one query spec per kind and the exact\n"
"answer of every query per holder and for the federation.\n"
"\n"
"  --holders H          CDR holders (1..16, default 1)\n"
"  --subscribers S      subscribers over all holders (default 1000)\n"
"  --days D             days (2..366, default 7)\n"
"  --regions R          regions (2..1000, default 12)\n"
"  --seed N             seed of every random draw (default 1)\n"
"  --start DATE         first local date (default 2024-03-04)\n"
"  --utc-offset MIN     local time = UTC + MIN minutes (default 60)\n"
"  --epoch-timestamps   write epoch seconds instead of ISO-8601\n"
"  --gzip               write .csv.gz CDR and agency files\n"
"  --one-file           one CDR file per holder instead of one per day\n"
"  --no-truth           skip the ground truth\n"
"  --threads T          1, or 2 to compute the truth beside the writing\n"
"  --event DATE,REGION,SHARE\n"
"                       stage the displacement: on local DATE, SHARE\n"
"                       (0..1] of REGION's residents (a region id of\n"
"                       regions.csv) move to other regions (default: mid-\n"
"                       period, a large region, 0.30)\n"
"  --force              write into a folder that is not empty\n"
"  --id-hex N           pseudonyms of N hex digits, 10..64 (default 10;\n"
"                       operators use 16, or 64 for a SHA-256)\n"
"  --quiet              print no summary\n");
}

static int
parse_u64(const char *opt, const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (s[0] < '0' || s[0] > '9')
		return cairn_err(CAIRN_ERR_ARG, "%s: not a number: '%s'", opt,
		    s);
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return cairn_err(CAIRN_ERR_ARG, "%s: not a number: '%s'", opt,
		    s);
	if (v > max)
		return cairn_err(CAIRN_ERR_ARG, "%s: at most %" PRIu64 ": '%s'",
		    opt, max, s);
	*out = v;
	return CAIRN_OK;
}

/* --event DATE,REGION,SHARE into 'o' (the ranges: synth_opts_check). */
static int
parse_event(const char *s, struct synth_opts *o)
{
	char date[16], *end;
	const char *c1 = strchr(s, ','), *c2 = c1 ? strchr(c1 + 1, ',') :
	    NULL;
	unsigned long long reg;
	double share;

	if (c1 == NULL || c2 == NULL || (size_t)(c1 - s) >= sizeof(date))
		return cairn_err(CAIRN_ERR_ARG, "--event: '%s' is not "
		    "DATE,REGION,SHARE", s);
	memcpy(date, s, (size_t)(c1 - s));
	date[c1 - s] = '\0';
	if (time_parse_date(date, &o->event_day) != CAIRN_OK)
		return cairn_err(CAIRN_ERR_ARG, "--event: not a date "
		    "YYYY-MM-DD: '%s'", date);
	errno = 0;
	reg = strtoull(c1 + 1, &end, 10);
	if (c1[1] < '0' || c1[1] > '9' || end != c2 || errno != 0 ||
	    reg > UINT32_MAX)
		return cairn_err(CAIRN_ERR_ARG, "--event: not a region id: "
		    "'%.*s'", (int)(c2 - c1 - 1), c1 + 1);
	share = strtod(c2 + 1, &end);
	if (c2[1] == '\0' || *end != '\0')
		return cairn_err(CAIRN_ERR_ARG, "--event: not a share: '%s'",
		    c2 + 1);
	o->event = true;
	o->event_region = (uint32_t)reg;
	o->event_share = share;
	return CAIRN_OK;
}

int
cmd_synth(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "holders", required_argument, NULL, 'H' },
		{ "subscribers", required_argument, NULL, 'S' },
		{ "days", required_argument, NULL, 'D' },
		{ "regions", required_argument, NULL, 'R' },
		{ "seed", required_argument, NULL, 'N' },
		{ "out", required_argument, NULL, 'o' },
		{ "start", required_argument, NULL, 's' },
		{ "utc-offset", required_argument, NULL, 'u' },
		{ "epoch-timestamps", no_argument, NULL, 'e' },
		{ "gzip", no_argument, NULL, 'z' },
		{ "one-file", no_argument, NULL, '1' },
		{ "no-truth", no_argument, NULL, 'n' },
		{ "threads", required_argument, NULL, 't' },
		{ "force", no_argument, NULL, 'f' },
		{ "event", required_argument, NULL, 'E' },
		{ "id-hex", required_argument, NULL, 'I' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct synth_opts o;
	struct synth_stats st;
	bool quiet = false;
	uint64_t v;
	int c, r = CAIRN_OK;

	synth_opts_default(&o);
	optind = 0;
	opterr = 0;
	while (r == CAIRN_OK &&
	    (c = getopt_long(argc, argv, ":hq", longopts, NULL)) != -1) {
		switch (c) {
		case 'H':
			if ((r = parse_u64("--holders", optarg, 1000, &v)) ==
			    CAIRN_OK)
				o.holders = (unsigned)v;
			break;
		case 'S':
			if ((r = parse_u64("--subscribers", optarg,
			    UINT64_MAX, &v)) == CAIRN_OK)
				o.subscribers = v;
			break;
		case 'D':
			if ((r = parse_u64("--days", optarg, 100000, &v)) ==
			    CAIRN_OK)
				o.days = (unsigned)v;
			break;
		case 'R':
			if ((r = parse_u64("--regions", optarg, 100000, &v)) ==
			    CAIRN_OK)
				o.regions = (unsigned)v;
			break;
		case 'N':
			r = parse_u64("--seed", optarg, UINT64_MAX, &o.seed);
			break;
		case 'o':
			o.out = optarg;
			break;
		case 's':
			if (time_parse_date(optarg, &o.start_day) != CAIRN_OK)
				r = cairn_err(CAIRN_ERR_ARG, "--start: not a "
				    "date YYYY-MM-DD: '%s'", optarg);
			break;
		case 'u':
			if (optarg[0] == '-') {
				if ((r = parse_u64("--utc-offset", optarg + 1,
				    720, &v)) == CAIRN_OK)
					o.utc_offset_min = -(int)v;
			} else if ((r = parse_u64("--utc-offset", optarg, 840,
			    &v)) == CAIRN_OK)
				o.utc_offset_min = (int)v;
			break;
		case 'e':
			o.epoch_timestamps = true;
			break;
		case 'z':
			o.gzip = true;
			break;
		case '1':
			o.one_file = true;
			break;
		case 'n':
			o.no_truth = true;
			break;
		case 't':
			if ((r = parse_u64("--threads", optarg, 100, &v)) ==
			    CAIRN_OK)
				o.threads = (unsigned)v;
			break;
		case 'f':
			o.force = true;
			break;
		case 'I':
			if ((r = parse_u64("--id-hex", optarg, 1000, &v)) ==
			    CAIRN_OK)
				o.id_hex = (unsigned)v;
			break;
		case 'E':
			r = parse_event(optarg, &o);
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			r = cairn_err(CAIRN_ERR_ARG, "%s: needs a value",
			    argv[optind - 1]);
			break;
		default:
			r = cairn_err(CAIRN_ERR_ARG, "unknown option '%s' "
			    "(try '" PROG " --help')", argv[optind - 1]);
			break;
		}
	}
	if (r == CAIRN_OK && optind < argc)
		r = cairn_err(CAIRN_ERR_ARG, "unexpected argument '%s'",
		    argv[optind]);
	if (r == CAIRN_OK)
		r = synth_opts_check(&o);
	if (r != CAIRN_OK)
		return cli_fail(PROG, "bad arguments", r);
	if ((r = synth_run(&o, &st)) != CAIRN_OK)
		return cli_fail(PROG, "generation failed", r);
	if (!quiet) {
		char day[TIME_DATE_LEN] = "?";
		double sd = (double)o.subscribers * o.days;

		(void)time_format_date(st.displacement_day, day);
		printf("%s: %" PRIu64 " CDR rows (%.2f per subscriber-day) and "
		    "%" PRIu64 " agency rows, %.3f GB, in %.2f s: %.2f M "
		    "rows/s\n", PROG, st.cdr_rows, st.cdr_rows / sd,
		    st.agency_rows, st.bytes / 1e9, st.seconds,
		    (st.cdr_rows + st.agency_rows) / st.seconds / 1e6);
		printf("%s: displacement on %s from region %" PRIu32
		    "; files in %s\n", PROG, day, st.displacement_origin,
		    o.out);
	}
	return 0;
}
