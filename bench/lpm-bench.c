/*
 * lpm-bench.c - bin/lpm-bench: nmbox's lpm4/lpm6 against DPDK's rte_lpm/rte_lpm6, same run,
 * same table, same keys.
 *
 *   bin/lpm-bench [--table FILE] [--family 4|6] [--runs N] [--json] [--json-out FILE]
 *
 * Measures, each the median of N runs (default 3): build time (nmbox: lpm*_replace of the
 * whole table, and one add per route; DPDK: create + one add per route, in file order),
 * memory (nmbox: lookup structure and total with the route store; DPDK: heap bytes its
 * table allocated), Mlookups/s for 2^20 uniformly random keys and 2^20 keys drawn inside
 * random prefixes of the table, one at a time and in bursts of 64, and updates/s (a delete
 * then a re-add of random prefixes of the table; each counts as one update; a run stops
 * after 100k pairs or 0.5 s). It checks that
 * both libraries give the same answer for every key. Without DPDK it prints the nmbox rows
 * and says so. --json prints one {"system","metric","value","unit"} object per line instead
 * of the table; --json-out FILE writes those lines to FILE and still prints the table
 * (bench/lpm.sh). Exit status 1 if the two libraries disagree on any key.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/lpm-bench-dpdk.h"
#include "lpm/lpm4.h"
#include "lpm/lpm6.h"
#include "lpm/tests/table.h"

#define NKEYS     (1u << 20)
#define PASSES    8       /* passes over the keys per lookup measurement */
#define NH_MASK   0xfffff /* next hops both libraries accept (rte_lpm6: 21 bits) */
#define UPD_PAIRS 100000  /* at most this many delete+add pairs per update run */
#define UPD_SECS  0.5     /* and at most this long */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- results ---- */

struct row {
	const char *metric, *unit, *what;
	double nmbox, dpdk; /* < 0: not measured */
	int higher_better;
	double target; /* issue 4's minimum "better by" ratio; 0: none */
};

static struct row rows[32];
static int nrows;

static struct row *row(const char *metric, const char *unit, const char *what, int higher_better,
                       double target)
{
	struct row *r = &rows[nrows++];
	*r = (struct row){metric, unit, what, -1, -1, higher_better, target};
	return r;
}

/* ---- the run ---- */

struct ctx {
	unsigned w; /* 32 / 128 */
	int runs;
	struct table tb;
	/* keys: random, in-table, and the same in-table keys grouped by the length of the
	 * prefix each was drawn from (a diagnostic: same loads, predictable walk depths) */
	uint32_t *k4[3];
	uint8_t (*k6[3])[16];
	int have_dpdk;
	uint32_t *ans_n, *ans_d;
	size_t mismatches, compared;
};

static void key_bytes(u128 k, uint8_t a[16])
{
	unkey6(k, a);
}

static void make_keys(struct ctx *c)
{
	uint64_t s = 0xbe5c4;
	uint8_t *len = malloc(NKEYS);
	size_t at[130] = {0};
	for (int j = 0; j < 3; j++) {
		if (c->w == 32)
			c->k4[j] = malloc(NKEYS * sizeof(uint32_t));
		else
			c->k6[j] = malloc(NKEYS * 16);
	}
	for (size_t i = 0; i < NKEYS; i++) {
		u128 r = (u128)rnd64(&s) << 64 | rnd64(&s);
		size_t p = rnd64(&s) % c->tb.n;
		u128 h = (u128)rnd64(&s) << 64 | rnd64(&s);
		u128 in = c->tb.key[p] | (h & ~mask128(c->tb.len[p]));
		len[i] = c->tb.len[p];
		at[len[i] + 1]++;
		if (c->w == 32) {
			c->k4[0][i] = (uint32_t)(r >> 96);
			c->k4[1][i] = (uint32_t)(in >> 96);
		} else {
			key_bytes(r, c->k6[0][i]);
			key_bytes(in, c->k6[1][i]);
		}
	}
	for (int l = 1; l < 130; l++) /* counting sort by length, stable */
		at[l] += at[l - 1];
	for (size_t i = 0; i < NKEYS; i++) {
		size_t o = at[len[i]]++;
		if (c->w == 32)
			c->k4[2][o] = c->k4[1][i];
		else
			memcpy(c->k6[2][o], c->k6[1][i], 16);
	}
	free(len);
}

static volatile uint32_t sink;

/* nmbox lookups over one key set: mode 0 single, 1 bulk. Returns Mlookups/s. */
static double nmbox_lookups(struct ctx *c, void *t, int set, int mode, uint32_t *answers)
{
	uint32_t x = 0, out[64];
	double t0 = now();
	for (int p = 0; p < (answers ? 1 : PASSES); p++) {
		if (c->w == 32) {
			const uint32_t *k = c->k4[set];
			if (mode == 0)
				for (size_t i = 0; i < NKEYS; i++)
					x ^= lpm4_lookup(t, k[i]);
			else
				for (size_t i = 0; i < NKEYS; i += 64) {
					lpm4_lookup_bulk(t, k + i, out, 64);
					for (int j = 0; j < 64; j++)
						x ^= out[j];
					if (answers)
						memcpy(answers + i, out, sizeof(out));
				}
		} else {
			const uint8_t(*k)[16] = c->k6[set];
			if (mode == 0)
				for (size_t i = 0; i < NKEYS; i++)
					x ^= lpm6_lookup(t, k[i]);
			else
				for (size_t i = 0; i < NKEYS; i += 64) {
					lpm6_lookup_bulk(t, k + i, out, 64);
					for (int j = 0; j < 64; j++)
						x ^= out[j];
					if (answers)
						memcpy(answers + i, out, sizeof(out));
				}
		}
	}
	double dt = now() - t0;
	sink ^= x;
	return (answers ? 1.0 : PASSES) * NKEYS / dt / 1e6;
}

static double dpdk_lookups(struct ctx *c, void *t, int set, int mode, uint32_t *answers)
{
	uint32_t x = 0;
	double t0 = now();
	for (int p = 0; p < (answers ? 1 : PASSES); p++) {
		if (c->w == 32) {
			const uint32_t *k = c->k4[set];
			x ^= mode ? bench_lpm4_bulk(t, k, NKEYS, answers)
			          : bench_lpm4_single(t, k, NKEYS, answers);
		} else {
			const uint8_t(*k)[16] = c->k6[set];
			x ^= mode ? bench_lpm6_bulk(t, k, NKEYS, answers)
			          : bench_lpm6_single(t, k, NKEYS, answers);
		}
	}
	double dt = now() - t0;
	sink ^= x;
	return (answers ? 1.0 : PASSES) * NKEYS / dt / 1e6;
}

/* nmbox table built by replace. */
/* Bytes in use on the malloc heap (small chunks and mmap'd ones), headers included. */
static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

/* nmbox table built by replace; *bytes: what the table holds on the heap once built. */
static void *nmbox_build(struct ctx *c, double *secs, size_t *bytes)
{
	size_t before;
	const struct table *tb = &c->tb;
	void *t;
	int rc;
	double t0;
	if (c->w == 32) {
		struct lpm4_route *r = malloc(tb->n * sizeof(*r));
		for (size_t i = 0; i < tb->n; i++)
			r[i] = (struct lpm4_route){(uint32_t)(tb->key[i] >> 96), tb->len[i],
			                           tb->nh[i]};
		before = heap_in_use();
		t0 = now();
		t = lpm4_create();
		rc = lpm4_replace(t, r, tb->n);
		*secs = now() - t0;
		*bytes = heap_in_use() - before;
		free(r);
	} else {
		struct lpm6_route *r = malloc(tb->n * sizeof(*r));
		for (size_t i = 0; i < tb->n; i++) {
			key_bytes(tb->key[i], r[i].prefix);
			r[i].len = tb->len[i];
			r[i].nh = tb->nh[i];
		}
		before = heap_in_use();
		t0 = now();
		t = lpm6_create();
		rc = lpm6_replace(t, r, tb->n);
		*secs = now() - t0;
		*bytes = heap_in_use() - before;
		free(r);
	}
	if (rc) {
		fprintf(stderr, "lpm-bench: replace: %s\n", strerror(-rc));
		exit(1);
	}
	return t;
}

static void nmbox_free(struct ctx *c, void *t)
{
	if (c->w == 32)
		lpm4_destroy(t);
	else
		lpm6_destroy(t);
}

static double nmbox_build_by_adds(struct ctx *c)
{
	const struct table *tb = &c->tb;
	double t0 = now();
	uint8_t a[16];
	if (c->w == 32) {
		struct lpm4 *t = lpm4_create();
		for (size_t i = 0; i < tb->n; i++)
			lpm4_add(t, (uint32_t)(tb->key[i] >> 96), tb->len[i], tb->nh[i]);
		t0 = now() - t0;
		lpm4_destroy(t);
	} else {
		struct lpm6 *t = lpm6_create();
		for (size_t i = 0; i < tb->n; i++) {
			key_bytes(tb->key[i], a);
			lpm6_add(t, a, tb->len[i], tb->nh[i]);
		}
		t0 = now() - t0;
		lpm6_destroy(t);
	}
	return t0;
}

static void *dpdk_build(struct ctx *c, double *secs, size_t *bytes)
{
	const struct table *tb = &c->tb;
	void *t;
	if (c->w == 32) {
		uint32_t *p = malloc(tb->n * sizeof(*p));
		for (size_t i = 0; i < tb->n; i++)
			p[i] = (uint32_t)(tb->key[i] >> 96);
		double t0 = now();
		t = bench_lpm4_build(p, tb->len, tb->nh, tb->n, bytes);
		*secs = now() - t0;
		free(p);
	} else {
		uint8_t(*p)[16] = malloc(tb->n * 16);
		for (size_t i = 0; i < tb->n; i++)
			key_bytes(tb->key[i], p[i]);
		double t0 = now();
		t = bench_lpm6_build((const uint8_t(*)[16])p, tb->len, tb->nh, tb->n, bytes);
		*secs = now() - t0;
		free(p);
	}
	return t;
}

/* Delete and re-add random prefixes of the table: pairs = max pairs, bounded by secs if
 * secs > 0. Returns updates/s (each delete and each add is one update). */
static double updates(struct ctx *c, void *t, int dpdk, size_t pairs, double secs, uint64_t seed)
{
	const struct table *tb = &c->tb;
	size_t done = 0;
	uint8_t a[16];
	double t0 = now(), dt;
	while (done < pairs) {
		for (int j = 0; j < 256; j++, done++) {
			size_t i = rnd64(&seed) % tb->n;
			uint8_t len = tb->len[i];
			uint32_t k4 = (uint32_t)(tb->key[i] >> 96);
			int rc1, rc2;
			if (c->w == 128)
				key_bytes(tb->key[i], a);
			if (!dpdk && c->w == 32) {
				rc1 = lpm4_del(t, k4, len);
				rc2 = lpm4_add(t, k4, len, tb->nh[i]);
			} else if (!dpdk) {
				rc1 = lpm6_del(t, a, len);
				rc2 = lpm6_add(t, a, len, tb->nh[i]);
			} else if (c->w == 32) {
				rc1 = bench_lpm4_del(t, k4, len);
				rc2 = bench_lpm4_add(t, k4, len, tb->nh[i]);
			} else {
				rc1 = bench_lpm6_del(t, a, len);
				rc2 = bench_lpm6_add(t, a, len, tb->nh[i]);
			}
			if (rc1 || rc2) {
				fprintf(stderr,
				        "lpm-bench: %s update of prefix #%zu failed (%d, %d)\n",
				        dpdk ? "DPDK" : "nmbox", i, rc1, rc2);
				exit(1);
			}
		}
		if (secs > 0 && now() - t0 >= secs)
			break;
	}
	/* nmbox frees replaced blocks in batches; the last batch is part of the work. */
	if (!dpdk && c->w == 32)
		lpm4_reclaim(t);
	else if (!dpdk)
		lpm6_reclaim(t);
	dt = now() - t0;
	return 2.0 * (double)done / dt;
}

static void usage(void)
{
	fprintf(stderr, "usage: lpm-bench [--table FILE] [--family 4|6] [--runs N] [--json] "
	                "[--json-out FILE]\n");
	exit(2);
}

#define NLOOKUP 5
static const char *lookup_names[NLOOKUP] = {"random keys, single", "random keys, bulk 64",
                                            "in-table keys, single", "in-table keys, bulk 64",
                                            "in-table keys by length, single"};
static const char *lookup_metrics[NLOOKUP] = {"lookup_random_single", "lookup_random_bulk",
                                              "lookup_intable_single", "lookup_intable_bulk",
                                              "lookup_intable_grouped_single"};
/* Key set and mode (0 single, 1 bulk) of each lookup row. */
static const int lookup_set[NLOOKUP] = {0, 0, 1, 1, 2}, lookup_mode[NLOOKUP] = {0, 1, 0, 1, 0};

/* How many times better nmbox is than DPDK on this row (> 1: nmbox wins). */
static double better_by(const struct row *r)
{
	return r->higher_better ? r->nmbox / r->dpdk : r->dpdk / r->nmbox;
}

static void print_json(FILE *f, const struct ctx *c, const char *fam)
{
	for (int i = 0; i < nrows; i++) {
		struct row *r = &rows[i];
		fprintf(f,
		        "{\"system\": \"nmbox\", \"metric\": \"%s.%s\", \"value\": %.6g, "
		        "\"unit\": \"%s\"}\n",
		        fam, r->metric, r->nmbox, r->unit);
		if (r->dpdk >= 0) {
			fprintf(f,
			        "{\"system\": \"dpdk\", \"metric\": \"%s.%s\", \"value\": "
			        "%.6g, \"unit\": \"%s\"}\n",
			        fam, r->metric, r->dpdk, r->unit);
			double ratio = better_by(r);
			fprintf(f,
			        "{\"system\": \"nmbox/dpdk\", \"metric\": \"%s.%s\", "
			        "\"value\": %.4g, \"unit\": \"x better\"}\n",
			        fam, r->metric, ratio);
		}
	}
	fprintf(f,
	        "{\"system\": \"nmbox\", \"metric\": \"%s.prefixes\", \"value\": %zu, "
	        "\"unit\": \"count\"}\n",
	        fam, c->tb.n);
	if (c->have_dpdk)
		fprintf(f,
		        "{\"system\": \"nmbox/dpdk\", \"metric\": \"%s.answer_mismatches\", "
		        "\"value\": %zu, \"unit\": \"count\"}\n",
		        fam, c->mismatches);
}

static void print_table(const struct ctx *c, int family, const char *table,
                        const struct lpm_stats *st)
{
	printf("lpm-bench: IPv%d, %zu prefixes from %s; %u keys per set; median of %d "
	       "runs; DPDK %s\n",
	       family, c->tb.n, table, NKEYS, c->runs,
	       c->have_dpdk ? bench_dpdk_version() : "missing");
	printf("%-36s %12s %12s %10s  %s\n", "metric", "nmbox",
	       family == 4 ? "rte_lpm" : "rte_lpm6", "better by", "target");
	for (int i = 0; i < nrows; i++) {
		struct row *r = &rows[i];
		char u[64], d[32] = "-", q[32] = "-", tg[32] = "";
		snprintf(u, sizeof(u), "%s (%s)", r->what, r->unit);
		if (r->dpdk >= 0) {
			snprintf(d, sizeof(d), "%.4g", r->dpdk);
			snprintf(q, sizeof(q), "%.3gx", better_by(r));
		}
		if (r->target > 0 && r->dpdk >= 0)
			snprintf(tg, sizeof(tg), ">= %gx: %s", r->target,
			         better_by(r) >= r->target ? "met" : "MISSED");
		else if (r->target > 0)
			snprintf(tg, sizeof(tg), ">= %gx", r->target);
		printf("%-36s %12.4g %12s %10s  %s\n", u, r->nmbox, d, q, tg);
	}
	printf("nmbox lookup structure: %zu regions, %zu nodes, %zu leaves, %.2f MiB; route store "
	       "and scratch %.2f MiB (lpm_stats); memory rows are heap bytes in use (mallinfo2 / "
	       "rte_malloc stats) after the build\n",
	       st->regions, st->nodes, st->leaves, (double)st->lookup_bytes / 1048576.0,
	       (double)st->control_bytes / 1048576.0);
	if (c->have_dpdk)
		printf("answers compared with DPDK: %zu keys, %zu differ\n", c->compared,
		       c->mismatches);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"table", 1, 0, 't'}, {"family", 1, 0, 'f'},   {"runs", 1, 0, 'r'},
	    {"json", 0, 0, 'j'},  {"json-out", 1, 0, 'o'}, {"help", 0, 0, 'h'},
	    {0, 0, 0, 0}};
	struct ctx c = {.w = 32, .runs = 3};
	const char *table = NULL, *json_out = NULL;
	int json = 0, o, family = 4;
	char why[256] = "";

	while ((o = getopt_long(argc, argv, "t:f:r:jh", lo, NULL)) != -1) {
		switch (o) {
		case 't':
			table = optarg;
			break;
		case 'f':
			family = atoi(optarg);
			if (family != 4 && family != 6)
				usage();
			break;
		case 'r':
			c.runs = atoi(optarg);
			if (c.runs < 1 || c.runs > 99)
				usage();
			break;
		case 'j':
			json = 1;
			break;
		case 'o':
			json_out = optarg;
			break;
		default:
			usage();
		}
	}
	c.w = family == 4 ? 32 : 128;
	if (!table)
		table = family == 4 ? LPM_TABLE_V4 : LPM_TABLE_V6;
	int rc = table_load(&c.tb, table, c.w);
	if (rc || c.tb.n == 0) {
		fprintf(stderr, "lpm-bench: %s: %s\n", table,
		        rc ? strerror(-rc) : "no prefixes of this family");
		return 1;
	}
	for (size_t i = 0; i < c.tb.n; i++)
		c.tb.nh[i] &= NH_MASK;
	make_keys(&c);
	c.have_dpdk = bench_dpdk_init(why, sizeof(why)) == 0;
	if (!c.have_dpdk)
		fprintf(stderr, "lpm-bench: DPDK missing: %s; printing nmbox rows only\n", why);

	const char *fam = family == 4 ? "v4" : "v6";
	struct row *r_build =
	    row("build_s", "s", "build, replace (DPDK: adds)", 0, family == 4 ? 10 : 0);
	struct row *r_adds = row("build_by_adds_s", "s", "build, one add per route", 0, 0);
	struct row *r_mem = row("memory_total_mib", "MiB", "memory, total", 0, family == 4 ? 4 : 0);
	struct row *r_meml = row("memory_lookup_mib", "MiB", "memory, lookup part only", 0, 0);
	struct row *r_lk[NLOOKUP];
	for (int i = 0; i < NLOOKUP; i++)
		r_lk[i] = row(lookup_metrics[i], "Mlps", lookup_names[i], 1,
		              i == 4        ? 0
		              : family == 4 ? (i < 2 ? 1.5 : 1)
		                            : (i >= 2 ? 2 : 0));
	struct row *r_upd =
	    row("updates_per_s", "1/s", "updates (delete + re-add)", 1, family == 4 ? 20 : 0);

	double v[99], v2[99], w[99];
	void *nt = NULL, *dt = NULL;
	size_t bytes = 0, nbytes = 0;

	/* Builds: nmbox (replace, then adds) and DPDK alternate, run by run. */
	for (int i = 0; i < c.runs; i++) {
		if (nt)
			nmbox_free(&c, nt);
		nt = nmbox_build(&c, &v[i], &nbytes);
		v2[i] = nmbox_build_by_adds(&c);
		if (c.have_dpdk) {
			if (dt)
				(c.w == 32 ? bench_lpm4_free : bench_lpm6_free)(dt);
			dt = dpdk_build(&c, &w[i], &bytes);
			if (!dt) {
				fprintf(stderr, "lpm-bench: DPDK table build failed\n");
				return 1;
			}
		}
	}
	r_build->nmbox = median(v, c.runs);
	r_adds->nmbox = median(v2, c.runs);
	if (c.have_dpdk) {
		r_build->dpdk = median(w, c.runs);
		r_adds->dpdk = r_build->dpdk; /* DPDK builds by adds only */
		r_mem->dpdk = (double)bytes / 1048576.0;
	}
	struct lpm_stats st;
	if (c.w == 32)
		lpm4_stats(nt, &st);
	else
		lpm6_stats(nt, &st);
	r_mem->nmbox = (double)nbytes / 1048576.0;
	r_meml->nmbox = (double)st.lookup_bytes / 1048576.0;

	/* Lookups and updates: each run measures nmbox then DPDK back to back, so that the
	 * load of a shared machine hits both alike. */
	for (int m = 0; m < NLOOKUP; m++) {
		for (int i = 0; i < c.runs; i++) {
			v[i] = nmbox_lookups(&c, nt, lookup_set[m], lookup_mode[m], NULL);
			if (c.have_dpdk)
				w[i] = dpdk_lookups(&c, dt, lookup_set[m], lookup_mode[m], NULL);
		}
		r_lk[m]->nmbox = median(v, c.runs);
		if (c.have_dpdk)
			r_lk[m]->dpdk = median(w, c.runs);
	}
	for (int i = 0; i < c.runs; i++) {
		v[i] = updates(&c, nt, 0, UPD_PAIRS, UPD_SECS, 77 + (uint64_t)i);
		if (c.have_dpdk)
			w[i] = updates(&c, dt, 1, UPD_PAIRS, UPD_SECS, 77 + (uint64_t)i);
	}
	r_upd->nmbox = median(v, c.runs);
	if (c.have_dpdk)
		r_upd->dpdk = median(w, c.runs);

	/* Same answers for every key? */
	if (c.have_dpdk) {
		c.ans_n = malloc(NKEYS * sizeof(uint32_t));
		c.ans_d = malloc(NKEYS * sizeof(uint32_t));
		for (int set = 0; set < 2; set++) {
			nmbox_lookups(&c, nt, set, 1, c.ans_n);
			dpdk_lookups(&c, dt, set, 1, c.ans_d);
			for (size_t i = 0; i < NKEYS; i++)
				c.mismatches += c.ans_n[i] != c.ans_d[i];
			c.compared += NKEYS;
		}
	}

	if (json)
		print_json(stdout, &c, fam);
	else
		print_table(&c, family, table, &st);
	if (json_out) {
		FILE *f = fopen(json_out, "w");
		if (!f || (print_json(f, &c, fam), fclose(f)) != 0) {
			fprintf(stderr, "lpm-bench: %s: %s\n", json_out, strerror(errno));
			return 1;
		}
	}
	if (dt)
		(c.w == 32 ? bench_lpm4_free : bench_lpm6_free)(dt);
	nmbox_free(&c, nt);
	return c.mismatches ? 1 : 0;
}
