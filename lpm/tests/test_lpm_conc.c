/*
 * test_lpm_conc.c - lookups racing one writer, for both families.
 *
 * The writer churns a fixed universe of nested prefixes (lengths on both sides of the direct
 * array's 18 bits, /0 kept permanently with next hop 0): each step adds prefix i with next hop
 * 2i+1 or 2i+2, deletes it, or now and then replaces the whole table with a random state of
 * the same universe; it reclaims freed blocks often, so a missing grace period shows up as a
 * use-after-free under ASan. Readers (QSBR: registered, one quiescent state per burst) look
 * up bursts of addresses inside random prefixes, in bulk and singly. Since every next hop
 * names its prefix, each answer is checkable: it must come from a prefix that covers the
 * address, i.e. one that was valid for it at some moment, and never LPM_NO_ROUTE.
 * At the end the table must equal the writer's own record.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <urcu-qsbr.h>

#include "lpm/tests/fam.h"

#define NPFX     96
#define READERS  2
#define DURATION 1.5 /* seconds per family */

struct univ {
	unsigned w;
	u128 key[NPFX];
	uint8_t len[NPFX];
	uint32_t state[NPFX]; /* writer's record: LPM_NO_ROUTE or the next hop */
};

static struct fam fam;
static struct univ U;
static atomic_int stop;
static atomic_ulong lookups, errors;

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
}

static int covers(int i, u128 k)
{
	return (k & mask128(U.len[i])) == U.key[i];
}

static void *reader(void *arg)
{
	uint64_t seed = (uint64_t)(uintptr_t)arg * 0x9E3779B97F4A7C15ULL + 1;
	u128 k[64];
	uint32_t nh[64];
	unsigned long n = 0, bad = 0;

	rcu_register_thread();
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		for (int j = 0; j < 64; j++) {
			int i = (int)(rnd64(&seed) % NPFX);
			u128 r = (u128)rnd64(&seed) << 64 | rnd64(&seed);
			k[j] = (U.key[i] | (r & ~mask128(U.len[i]))) & mask128(U.w);
		}
		fam_lookup_bulk(&fam, k, nh, 64);
		nh[0] = fam_lookup(&fam, k[0]);
		nh[1] = fam_lookup(&fam, k[1]);
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

/* One writer step; returns mismatches against the record (return codes). */
static int write_step(uint64_t *seed, unsigned long step)
{
	int i = 1 + (int)(rnd64(seed) % (NPFX - 1)), rc;
	/* Indices naming the same prefix share its state. */
	for (int x = 1; x < i; x++)
		if (U.key[x] == U.key[i] && U.len[x] == U.len[i]) {
			i = x;
			break;
		}
	if (step % 997 == 0) {
		/* Replace with a random state of the universe. */
		u128 k[NPFX];
		uint8_t l[NPFX];
		uint32_t nh[NPFX];
		size_t n = 0;
		for (int x = 0; x < NPFX; x++)
			U.state[x] = LPM_NO_ROUTE;
		for (int x = 0; x < NPFX; x++) {
			int first = x;
			for (int y = 0; y < x; y++)
				if (U.key[y] == U.key[x] && U.len[y] == U.len[x]) {
					first = y;
					break;
				}
			if (first != x)
				continue;
			if (x == 0 || rnd64(seed) % 2) {
				U.state[x] = x == 0 ? 0 : (uint32_t)(2 * x + 1 + rnd64(seed) % 2);
				k[n] = U.key[x];
				l[n] = U.len[x];
				nh[n++] = U.state[x];
			}
		}
		return fam_replace(&fam, k, l, nh, n) != 0;
	}
	if (rnd64(seed) % 3 == 0) {
		rc = fam_del(&fam, U.key[i], U.len[i]);
		int want = U.state[i] == LPM_NO_ROUTE ? -ENOENT : 0;
		U.state[i] = LPM_NO_ROUTE;
		return rc != want;
	}
	uint32_t nh = (uint32_t)(2 * i + 1 + rnd64(seed) % 2);
	rc = fam_add(&fam, U.key[i], U.len[i], nh);
	U.state[i] = nh;
	return rc != 0;
}

static int run(unsigned w)
{
	pthread_t th[READERS];
	uint64_t seed = 42 + w;
	unsigned long steps = 0, bad = 0;

	make_universe(w, 7 * w);
	for (int i = 0; i < NPFX; i++)
		U.state[i] = LPM_NO_ROUTE;
	fam_create(&fam, w);
	fam_add(&fam, 0, 0, 0);
	U.state[0] = 0;
	atomic_store(&stop, 0);
	atomic_store(&lookups, 0);
	atomic_store(&errors, 0);
	for (int r = 0; r < READERS; r++)
		pthread_create(&th[r], NULL, reader, (void *)(uintptr_t)(r + 1));
	double t0 = now();
	while (now() - t0 < DURATION) {
		bad += (unsigned long)write_step(&seed, ++steps);
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
	printf("%-4s v%u: %lu writer steps, %lu lookups by %d readers, %lu wrong answers, %lu bad "
	       "return codes, %lu final mismatches\n",
	       e || bad || final_bad ? "FAIL" : "ok", w == 32 ? 4 : 6, steps, atomic_load(&lookups),
	       READERS, e, bad, final_bad);
	return e || bad || final_bad;
}

int main(void)
{
	int f = run(32) + run(128);
	printf("lpm concurrency tests: %s\n", f ? "FAILED" : "passed");
	return f ? 1 : 0;
}
