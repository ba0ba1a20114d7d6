/*
 * lpm-bench-dpdk.c - DPDK rte_lpm / rte_lpm6 behind the plain interface of lpm-bench-dpdk.h.
 * EAL runs without hugepages, PCI or shared config (see LAB-NOTES.md). Tables get room for
 * the routes given plus slack, and as many tbl8 groups as the routes can need.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "bench/lpm-bench-dpdk.h"

#ifdef HAVE_DPDK

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>
#include <rte_malloc.h>
#include <rte_version.h>

static int ntables;

int bench_dpdk_init(char *why, size_t len)
{
	/* EAL pins its main thread to its lcore: make that the first CPU we may run on, so
	 * that `taskset -c N lpm-bench` keeps both libraries on CPU N. */
	char lcore[16] = "0";
	cpu_set_t cpus;
	if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0)
		for (int i = 0; i < CPU_SETSIZE; i++)
			if (CPU_ISSET(i, &cpus)) {
				snprintf(lcore, sizeof(lcore), "%d", i);
				break;
			}
	char *argv[] = {"lpm-bench",      "--no-huge",   "--no-pci",    "-m",
	                "1024",           "--no-shconf", "--log-level", "lib.eal:error",
	                "--no-telemetry", "-l",          lcore,         NULL};
	int argc = (int)(sizeof(argv) / sizeof(argv[0])) - 1;
	if (rte_eal_init(argc, argv) < 0) {
		snprintf(why, len, "rte_eal_init: %s", rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

const char *bench_dpdk_version(void)
{
	return rte_version();
}

static size_t heap_used(void)
{
	struct rte_malloc_socket_stats s;
	size_t total = 0;
	for (unsigned i = 0; i < rte_socket_count(); i++)
		if (rte_malloc_get_socket_stats(rte_socket_id_by_idx(i), &s) == 0)
			total += s.heap_allocsz_bytes;
	return total;
}

void *bench_lpm4_build(const uint32_t *pfx, const uint8_t *len, const uint32_t *nh, size_t n,
                       size_t *bytes)
{
	char name[32];
	size_t before = heap_used(), long_ones = 0;
	for (size_t i = 0; i < n; i++)
		long_ones += len[i] > 24;
	struct rte_lpm_config cfg = {
	    .max_rules = (uint32_t)(n + n / 4 + 1024),
	    .number_tbl8s = (uint32_t)(long_ones + long_ones / 4 + 1024),
	    .flags = 0,
	};
	snprintf(name, sizeof(name), "lpm4_%d", ntables++);
	struct rte_lpm *lpm = rte_lpm_create(name, SOCKET_ID_ANY, &cfg);
	if (!lpm) {
		fprintf(stderr, "rte_lpm_create: %s\n", rte_strerror(rte_errno));
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (rte_lpm_add(lpm, pfx[i], len[i], nh[i]) < 0) {
			fprintf(stderr, "rte_lpm_add #%zu failed\n", i);
			rte_lpm_free(lpm);
			return NULL;
		}
	*bytes = heap_used() - before;
	return lpm;
}

void bench_lpm4_free(void *lpm)
{
	rte_lpm_free(lpm);
}

int bench_lpm4_add(void *lpm, uint32_t pfx, uint8_t len, uint32_t nh)
{
	return rte_lpm_add(lpm, pfx, len, nh);
}

int bench_lpm4_del(void *lpm, uint32_t pfx, uint8_t len)
{
	return rte_lpm_delete(lpm, pfx, len);
}

/* The answer as the bench compares it: a miss is UINT32_MAX. Written without a branch on
 * the return code (which costs rte_lpm dearly on random keys, see LAB-NOTES.md). */
static inline uint32_t answer(int rc, uint32_t nh)
{
	return rc == 0 ? nh : UINT32_MAX;
}

uint32_t bench_lpm4_single(const void *lpm, const uint32_t *keys, size_t n, uint32_t *answers)
{
	uint32_t x = 0, nh = 0;
	for (size_t i = 0; i < n; i++) {
		int rc = rte_lpm_lookup(lpm, keys[i], &nh);
		uint32_t a = answer(rc, nh);
		x ^= a;
		if (answers)
			answers[i] = a;
	}
	return x;
}

uint32_t bench_lpm4_bulk(const void *lpm, const uint32_t *keys, size_t n, uint32_t *answers)
{
	uint32_t x = 0, hops[64];
	for (size_t i = 0; i < n; i += 64) {
		unsigned m = n - i < 64 ? (unsigned)(n - i) : 64;
		rte_lpm_lookup_bulk(lpm, keys + i, hops, m);
		for (unsigned j = 0; j < m; j++) {
			uint32_t a =
			    (hops[j] & RTE_LPM_LOOKUP_SUCCESS) ? hops[j] & 0x00ffffff : UINT32_MAX;
			x ^= a;
			if (answers)
				answers[i + j] = a;
		}
	}
	return x;
}

void *bench_lpm6_build(const uint8_t (*pfx)[16], const uint8_t *len, const uint32_t *nh, size_t n,
                       size_t *bytes)
{
	char name[32];
	size_t before = heap_used();
	struct rte_lpm6_config cfg = {
	    .max_rules = (uint32_t)(n + n / 4 + 1024),
	    .number_tbl8s = (uint32_t)(n * 2 + 4096), /* enough for the pyasn table */
	    .flags = 0,
	};
	snprintf(name, sizeof(name), "lpm6_%d", ntables++);
	struct rte_lpm6 *lpm = rte_lpm6_create(name, SOCKET_ID_ANY, &cfg);
	if (!lpm) {
		fprintf(stderr, "rte_lpm6_create: %s\n", rte_strerror(rte_errno));
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (rte_lpm6_add(lpm, pfx[i], len[i], nh[i]) < 0) {
			fprintf(stderr, "rte_lpm6_add #%zu failed\n", i);
			rte_lpm6_free(lpm);
			return NULL;
		}
	*bytes = heap_used() - before;
	return lpm;
}

void bench_lpm6_free(void *lpm)
{
	rte_lpm6_free(lpm);
}

int bench_lpm6_add(void *lpm, const uint8_t *pfx, uint8_t len, uint32_t nh)
{
	return rte_lpm6_add(lpm, pfx, len, nh);
}

int bench_lpm6_del(void *lpm, const uint8_t *pfx, uint8_t len)
{
	return rte_lpm6_delete(lpm, pfx, len);
}

uint32_t bench_lpm6_single(const void *lpm, const uint8_t (*keys)[16], size_t n, uint32_t *answers)
{
	uint32_t x = 0, nh = 0;
	for (size_t i = 0; i < n; i++) {
		int rc = rte_lpm6_lookup(lpm, keys[i], &nh);
		uint32_t a = answer(rc, nh);
		x ^= a;
		if (answers)
			answers[i] = a;
	}
	return x;
}

uint32_t bench_lpm6_bulk(const void *lpm, const uint8_t (*keys)[16], size_t n, uint32_t *answers)
{
	uint32_t x = 0;
	int32_t hops[64];
	for (size_t i = 0; i < n; i += 64) {
		unsigned m = n - i < 64 ? (unsigned)(n - i) : 64;
		rte_lpm6_lookup_bulk_func(lpm, (uint8_t(*)[16])keys[i], hops, m);
		for (unsigned j = 0; j < m; j++) {
			uint32_t a = hops[j] < 0 ? UINT32_MAX : (uint32_t)hops[j];
			x ^= a;
			if (answers)
				answers[i + j] = a;
		}
	}
	return x;
}

#else /* !HAVE_DPDK */

int bench_dpdk_init(char *why, size_t len)
{
	snprintf(why, len, "built without DPDK (install dpdk-dev: make bench-deps, then rebuild)");
	return -1;
}

const char *bench_dpdk_version(void)
{
	return "none";
}

void *bench_lpm4_build(const uint32_t *pfx, const uint8_t *len, const uint32_t *nh, size_t n,
                       size_t *bytes)
{
	(void)pfx, (void)len, (void)nh, (void)n, (void)bytes;
	return NULL;
}
void bench_lpm4_free(void *lpm)
{
	(void)lpm;
}
int bench_lpm4_add(void *lpm, uint32_t pfx, uint8_t len, uint32_t nh)
{
	(void)lpm, (void)pfx, (void)len, (void)nh;
	return -ENOSYS;
}
int bench_lpm4_del(void *lpm, uint32_t pfx, uint8_t len)
{
	(void)lpm, (void)pfx, (void)len;
	return -ENOSYS;
}
uint32_t bench_lpm4_single(const void *lpm, const uint32_t *keys, size_t n, uint32_t *answers)
{
	(void)lpm, (void)keys, (void)n, (void)answers;
	return 0;
}
uint32_t bench_lpm4_bulk(const void *lpm, const uint32_t *keys, size_t n, uint32_t *answers)
{
	(void)lpm, (void)keys, (void)n, (void)answers;
	return 0;
}
void *bench_lpm6_build(const uint8_t (*pfx)[16], const uint8_t *len, const uint32_t *nh, size_t n,
                       size_t *bytes)
{
	(void)pfx, (void)len, (void)nh, (void)n, (void)bytes;
	return NULL;
}
void bench_lpm6_free(void *lpm)
{
	(void)lpm;
}
int bench_lpm6_add(void *lpm, const uint8_t *pfx, uint8_t len, uint32_t nh)
{
	(void)lpm, (void)pfx, (void)len, (void)nh;
	return -ENOSYS;
}
int bench_lpm6_del(void *lpm, const uint8_t *pfx, uint8_t len)
{
	(void)lpm, (void)pfx, (void)len;
	return -ENOSYS;
}
uint32_t bench_lpm6_single(const void *lpm, const uint8_t (*keys)[16], size_t n, uint32_t *answers)
{
	(void)lpm, (void)keys, (void)n, (void)answers;
	return 0;
}
uint32_t bench_lpm6_bulk(const void *lpm, const uint8_t (*keys)[16], size_t n, uint32_t *answers)
{
	(void)lpm, (void)keys, (void)n, (void)answers;
	return 0;
}

#endif
