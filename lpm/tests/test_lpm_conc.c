/*
 * test_lpm_conc.c - lookups racing one writer, for both families.
 *
 * The writer churns a fixed universe of nested prefixes (lengths on both sides of the direct
 * array's 18 bits, /0 kept permanently with next hop 0): each step adds prefix i with next hop
 * 2i+1 or 2i+2, deletes it, or now and then replaces the whole table with a random state of
 * the same universe; it reclaims freed blocks often, so a missing grace period shows up as a
 * use-after-free under ASan. Readers (QSBR: registered, one quiescent state per burst) look
 * up bursts of addresses inside random prefixes, in bulk and singly.
 *
 * Every answer is checked to be one that was valid at some moment of its lookup. The writer
 * numbers its operations and stores the number of the last finished one in `wseq` after each
 * (release); it logs every change of a prefix's next hop with that number. A reader reads
 * `wseq` before (s0) and after (s1) each burst, so each lookup saw the table as it was after
 * one of the operations s0 .. s1 + 1 (a lookup reads one published entry, then an immutable
 * block). After the run, each sampled answer is compared with the reference LPM of the key
 * in each of those states: it must equal one of them. Every SAMPLE_EVERY-th burst of a reader
 * (up to SAMPLES answers) whose window is at most MAX_WINDOW operations are checked that way; every
 * other answer is checked to come from a prefix that covers the key with a next hop that prefix can
 * carry. At the end the table must equal the writer's own record.
 *
 * Under ThreadSanitizer (bin/tests/lpm-conc-tsan), tsan_urcu.c tells TSan about the
 * ordering liburcu's grace periods provide (liburcu is not built with TSan).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <urcu-qsbr.h>

#include "lpm/tests/fam.h"

#define NPFX         96
#define READERS      2
#define DURATION     1.5        /* seconds per family */
#define SAMPLES      400000u    /* answers per reader checked against the writer's history */
#define SAMPLE_EVERY 16         /* bursts */
#define MAX_WINDOW   64         /* at most this many writer operations during a sampled burst */
#define MAX_OPS      (1u << 22) /* the writer stops logging (and writing) past this */

struct univ {
	unsigned w;
	u128 key[NPFX];
	uint8_t len[NPFX];
	uint32_t state[NPFX]; /* writer's record: LPM_NO_ROUTE or the next hop */
};

static struct fam fam;
static struct univ U;
static int canon_of[NPFX]; /* first index naming the same prefix */
static atomic_int stop;
static atomic_ulong lookups, errors;

/* The writer's history: op numbers 1, 2, ...; wseq = the last finished one. */
static atomic_ulong wseq;
struct change {
	unsigned long seq; /* the op after which prefix idx has next hop nh */
	uint32_t nh;
};
static struct change *hist[NPFX]; /* per canonical prefix, in op order */
static size_t nhist[NPFX], caphist[NPFX];

/* One sampled answer. */
struct sample {
	u128 key;
	unsigned long s0, s1;
	uint32_t nh;
};
struct rd {
	uintptr_t id;
	struct sample *smp;
	size_t nsmp;
	unsigned long wide; /* sampled bursts whose window was too long to check exactly */
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void make_universe(unsigned w, uint64_t seed)
{
	u128 base[4];
	U.w = w;
	for (int i = 0; i < 4; i++)
		base[i] = ((u128)rnd64(&seed) << 64 | rnd64(&seed)) & mask128(w);
	U.key[0] = 0;
	U.len[0] = 0;
	for (int i = 1; i < NPFX; i++) {
		unsigned len;
		uint64_t x = rnd64(&seed) % 10;
		if (x < 3)
			len = 1 + (unsigned)(rnd64(&seed) % 18); /* short: direct entries */
		else if (w == 32)
			len = 19 + (unsigned)(rnd64(&seed) % 14);
		else
			len = 19 + (unsigned)(rnd64(&seed) % 110);
		/* Duplicates of (key, len) are fine: both indices then name the same prefix
		 * and the check accepts either. */
		U.key[i] = base[rnd64(&seed) % 4] & mask128(len);
		U.len[i] = (uint8_t)len;
	}
	for (int i = 0; i < NPFX; i++) {
		canon_of[i] = i;
		for (int x = 0; x < i; x++)
			if (U.key[x] == U.key[i] && U.len[x] == U.len[i]) {
				canon_of[i] = x;
				break;
			}
	}
}

static int covers(int i, u128 k)
{
	return (k & mask128(U.len[i])) == U.key[i];
}

/* The first index naming the same prefix as i (the one the writer's state is kept under). */
static int canon(int i)
{
	return canon_of[i];
}

static void log_change(int i, uint32_t nh, unsigned long seq)
{
	if (nhist[i] == caphist[i]) {
		caphist[i] = caphist[i] ? 2 * caphist[i] : 1024;
		hist[i] = realloc(hist[i], caphist[i] * sizeof(*hist[i]));
		if (!hist[i]) {
			perror("test_lpm_conc");
			exit(2);
		}
	}
	hist[i][nhist[i]++] = (struct change){seq, nh};
}

/* Next hop of canonical prefix i after op seq (LPM_NO_ROUTE: absent). */
static uint32_t state_at(int i, unsigned long seq)
{
	size_t lo = 0, hi = nhist[i];
	while (lo < hi) { /* first change after seq */
		size_t mid = lo + (hi - lo) / 2;
		if (hist[i][mid].seq <= seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? hist[i][lo - 1].nh : LPM_NO_ROUTE;
}

/* The reference answer for k after op seq: the longest covering prefix present then. */
static uint32_t answer_at(u128 k, unsigned long seq)
{
	int best = -1;
	uint32_t nh = LPM_NO_ROUTE;
	for (int i = 0; i < NPFX; i++) {
		if (canon(i) != i || !covers(i, k) || (best >= 0 && U.len[i] <= U.len[best]))
			continue;
		uint32_t v = state_at(i, seq);
		if (v != LPM_NO_ROUTE) {
			best = i;
			nh = v;
		}
	}
	return nh;
}

static void *reader(void *arg)
{
	struct rd *me = arg;
	uint64_t seed = (uint64_t)me->id * 0x9E3779B97F4A7C15ULL + 1;
	u128 k[64];
	uint32_t nh[64];
	unsigned long n = 0, bad = 0, bursts = 0;

	rcu_register_thread();
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		for (int j = 0; j < 64; j++) {
			int i = (int)(rnd64(&seed) % NPFX);
			u128 r = (u128)rnd64(&seed) << 64 | rnd64(&seed);
			k[j] = (U.key[i] | (r & ~mask128(U.len[i]))) & mask128(U.w);
		}
		unsigned long s0 = atomic_load_explicit(&wseq, memory_order_acquire);
		fam_lookup_bulk(&fam, k, nh, 64);
		nh[0] = fam_lookup(&fam, k[0]);
		nh[1] = fam_lookup(&fam, k[1]);
		unsigned long s1 = atomic_load_explicit(&wseq, memory_order_acquire);
		if (++bursts % SAMPLE_EVERY == 0 && me->nsmp + 64 <= SAMPLES) {
			if (s1 - s0 <= MAX_WINDOW)
				for (int j = 0; j < 64; j++)
					me->smp[me->nsmp++] = (struct sample){k[j], s0, s1, nh[j]};
			else
				me->wide++;
		}
		for (int j = 0; j < 64; j++) {
			int ok = 0;
			if (nh[j] == 0)
				ok = 1; /* the permanent /0 */
			else if (nh[j] != LPM_NO_ROUTE && nh[j] <= 2 * NPFX) {
				int i = (int)(nh[j] - 1) / 2;
				/* Any index with the same prefix is as good. */
				for (int x = 0; x < NPFX && !ok; x++)
					ok = U.key[x] == U.key[i] && U.len[x] == U.len[i] &&
					     covers(x, k[j]);
			}
			if (!ok && bad++ < 5)
				fprintf(stderr, "reader: answer %d for a key outside its prefix\n",
				        (int)nh[j]);
		}
		n += 64;
		rcu_quiescent_state();
	}
	rcu_unregister_thread();
	atomic_fetch_add(&lookups, n);
	atomic_fetch_add(&errors, bad);
	return NULL;
}

/* Check the sampled answers against the history; returns the wrong ones. */
static unsigned long check_samples(struct rd *r, unsigned long last_op)
{
	unsigned long bad = 0;
	for (size_t x = 0; x < r->nsmp; x++) {
		const struct sample *sm = &r->smp[x];
		unsigned long hi = sm->s1 + 1 > last_op ? last_op : sm->s1 + 1;
		int ok = 0;
		for (unsigned long q = sm->s0; q <= hi && !ok; q++)
			ok = answer_at(sm->key, q) == sm->nh;
		if (!ok && bad++ < 5) {
			fprintf(stderr, "reader %u: answer %d not valid after any of ops %lu..%lu:",
			        (unsigned)r->id, (int)sm->nh, sm->s0, hi);
			for (unsigned long q = sm->s0; q <= hi; q++)
				fprintf(stderr, " %d", (int)answer_at(sm->key, q));
			fputc('\n', stderr);
		}
	}
	return bad;
}

/* One writer step (op number seq); returns mismatches against the record (return codes). */
static int write_step(uint64_t *seed, unsigned long seq)
{
	int i = canon(1 + (int)(rnd64(seed) % (NPFX - 1))), rc;
	uint32_t old[NPFX];

	if (seq % 997 == 0) {
		/* Replace with a random state of the universe. */
		u128 k[NPFX];
		uint8_t l[NPFX];
		uint32_t nh[NPFX];
		size_t n = 0;
		memcpy(old, U.state, sizeof(old));
		for (int x = 0; x < NPFX; x++)
			U.state[x] = LPM_NO_ROUTE;
		for (int x = 0; x < NPFX; x++) {
			if (canon(x) != x)
				continue;
			if (x == 0 || rnd64(seed) % 2) {
				U.state[x] = x == 0 ? 0 : (uint32_t)(2 * x + 1 + rnd64(seed) % 2);
				k[n] = U.key[x];
				l[n] = U.len[x];
				nh[n++] = U.state[x];
			}
		}
		rc = fam_replace(&fam, k, l, nh, n);
		for (int x = 0; x < NPFX; x++)
			if (canon(x) == x && U.state[x] != old[x])
				log_change(x, U.state[x], seq);
		return rc != 0;
	}
	if (rnd64(seed) % 3 == 0) {
		rc = fam_del(&fam, U.key[i], U.len[i]);
		int want = U.state[i] == LPM_NO_ROUTE ? -ENOENT : 0;
		if (U.state[i] != LPM_NO_ROUTE)
			log_change(i, LPM_NO_ROUTE, seq);
		U.state[i] = LPM_NO_ROUTE;
		return rc != want;
	}
	uint32_t nh = (uint32_t)(2 * i + 1 + rnd64(seed) % 2);
	rc = fam_add(&fam, U.key[i], U.len[i], nh);
	if (U.state[i] != nh)
		log_change(i, nh, seq);
	U.state[i] = nh;
	return rc != 0;
}

static int run(unsigned w)
{
	pthread_t th[READERS];
	struct rd rd[READERS];
	uint64_t seed = 42 + w;
	unsigned long steps = 0, bad = 0, wrong = 0, checked = 0, wide = 0;

	make_universe(w, 7 * w);
	for (int i = 0; i < NPFX; i++) {
		U.state[i] = LPM_NO_ROUTE;
		nhist[i] = 0;
	}
	fam_create(&fam, w);
	fam_add(&fam, 0, 0, 0);
	U.state[0] = 0;
	log_change(0, 0, 0);
	atomic_store(&wseq, 0);
	atomic_store(&stop, 0);
	atomic_store(&lookups, 0);
	atomic_store(&errors, 0);
	for (int r = 0; r < READERS; r++) {
		rd[r] = (struct rd){.id = (uintptr_t)(r + 1)};
		rd[r].smp = malloc(SAMPLES * sizeof(*rd[r].smp));
		if (!rd[r].smp) {
			perror("test_lpm_conc");
			exit(2);
		}
		pthread_create(&th[r], NULL, reader, &rd[r]);
	}
	double t0 = now();
	while (now() - t0 < DURATION && steps < MAX_OPS) {
		bad += (unsigned long)write_step(&seed, ++steps);
		atomic_store_explicit(&wseq, steps, memory_order_release);
		if (steps % 64 == 0) {
			if (w == 32)
				lpm4_reclaim(fam.t4);
			else
				lpm6_reclaim(fam.t6);
		}
	}
	atomic_store(&stop, 1);
	for (int r = 0; r < READERS; r++)
		pthread_join(th[r], NULL);

	/* Sampled answers against the history of the table. */
	for (int r = 0; r < READERS; r++) {
		wrong += check_samples(&rd[r], steps);
		checked += rd[r].nsmp;
		wide += rd[r].wide;
		free(rd[r].smp);
	}

	/* The final table against the writer's record. */
	struct ref ref;
	ref_init(&ref);
	for (int i = 0; i < NPFX; i++)
		if (U.state[i] != LPM_NO_ROUTE)
			ref_add(&ref, U.key[i], U.len[i], U.state[i]);
	unsigned long final_bad = fam_count(&fam) != ref.count;
	for (int i = 0; i < NPFX; i++) {
		u128 k = U.key[i], last = (k | ~mask128(U.len[i])) & mask128(w);
		final_bad += fam_lookup(&fam, k) != ref_lookup(&ref, k, w);
		final_bad += fam_lookup(&fam, last) != ref_lookup(&ref, last, w);
	}
	ref_free(&ref);
	fam_destroy(&fam);
	unsigned long e = atomic_load(&errors);
	int fail = e || wrong || bad || final_bad || checked == 0;
	printf("%-4s v%u: %lu writer steps, %lu lookups by %d readers; %lu answers checked against "
	       "the history (%lu wrong; %lu bursts with a window over %u ops only checked for "
	       "coverage), %lu outside their prefix, %lu bad return codes, %lu final mismatches\n",
	       fail ? "FAIL" : "ok", w == 32 ? 4 : 6, steps, atomic_load(&lookups), READERS,
	       checked, wrong, wide, MAX_WINDOW, e, bad, final_bad);
	return fail;
}

int main(void)
{
	int f = run(32) + run(128);
	printf("lpm concurrency tests: %s\n", f ? "FAILED" : "passed");
	return f ? 1 : 0;
}
