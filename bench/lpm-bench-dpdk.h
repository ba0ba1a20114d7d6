/*
 * lpm-bench-dpdk.h - the DPDK side of bin/lpm-bench (rte_lpm, rte_lpm6), in its own
 * translation unit so that DPDK's headers and flags stay there. Without dpdk-dev it is built
 * as stubs and bench_dpdk_init() says why.
 */
#ifndef NMBOX_LPM_BENCH_DPDK_H
#define NMBOX_LPM_BENCH_DPDK_H

#include <stddef.h>
#include <stdint.h>

/* 0 when EAL is up; otherwise -1 and a reason in why. */
int bench_dpdk_init(char *why, size_t len);
const char *bench_dpdk_version(void);

/* IPv4: build from routes (prefix host order); *bytes gets the heap bytes allocated. */
void *bench_lpm4_build(const uint32_t *pfx, const uint8_t *len, const uint32_t *nh, size_t n,
                       size_t *bytes);
void bench_lpm4_free(void *lpm);
int bench_lpm4_add(void *lpm, uint32_t pfx, uint8_t len, uint32_t nh);
int bench_lpm4_del(void *lpm, uint32_t pfx, uint8_t len);
/* Look up keys[0..n) one by one / in bursts of 64; return the XOR of the answers (misses
 * count as UINT32_MAX). answers, if not NULL, receives each answer. */
uint32_t bench_lpm4_single(const void *lpm, const uint32_t *keys, size_t n, uint32_t *answers);
uint32_t bench_lpm4_bulk(const void *lpm, const uint32_t *keys, size_t n, uint32_t *answers);

/* IPv6: prefixes and keys are 16 bytes, network order. */
void *bench_lpm6_build(const uint8_t (*pfx)[16], const uint8_t *len, const uint32_t *nh, size_t n,
                       size_t *bytes);
void bench_lpm6_free(void *lpm);
int bench_lpm6_add(void *lpm, const uint8_t *pfx, uint8_t len, uint32_t nh);
int bench_lpm6_del(void *lpm, const uint8_t *pfx, uint8_t len);
uint32_t bench_lpm6_single(const void *lpm, const uint8_t (*keys)[16], size_t n, uint32_t *answers);
uint32_t bench_lpm6_bulk(const void *lpm, const uint8_t (*keys)[16], size_t n, uint32_t *answers);

#endif
