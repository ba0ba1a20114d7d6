/*
 * rt_fib.h — the router's view of its longest-prefix-match tables (internal adapter).
 *
 * The engine needs four things from an LPM table: add, delete, and a batched lookup that
 * returns a next-hop id per key, all safe while other threads look up (RCU: readers are
 * liburcu-QSBR threads that pass a quiescent state once per burst). Keeping that narrow
 * interface here means the table behind it can change in this one file pair.
 *
 * Keys: IPv4 in host byte order (uint32_t); IPv6 as 16 bytes in network order.
 * Values: next-hop ids below RT_FIB_NH_LIMIT; RT_FIB_MISS when nothing covers the key.
 * Writers: one thread at a time (the control thread). Returns 0 or -errno.
 */
#ifndef RT_FIB_H
#define RT_FIB_H

#include <stddef.h>
#include <stdint.h>

#define RT_FIB_MISS     UINT32_MAX
#define RT_FIB_NH_LIMIT 0x7fffffffu

struct rt_fib4;
struct rt_fib6;

struct rt_fib4 *rt_fib4_create(void); /* NULL + errno */
void rt_fib4_destroy(struct rt_fib4 *f);
/* Adds or replaces prefix/plen (host bits must be zero). */
int rt_fib4_add(struct rt_fib4 *f, uint32_t prefix, unsigned plen, uint32_t nh);
/* -ENOENT if absent. */
int rt_fib4_del(struct rt_fib4 *f, uint32_t prefix, unsigned plen);
/* nh[i] = next hop of the longest prefix covering key[i], or RT_FIB_MISS. */
void rt_fib4_lookup_bulk(const struct rt_fib4 *f, const uint32_t *key, uint32_t *nh, unsigned n);
/* Bytes used (for the stats dump). */
size_t rt_fib4_mem(const struct rt_fib4 *f);
const char *rt_fib_impl(void);

struct rt_fib6 *rt_fib6_create(void);
void rt_fib6_destroy(struct rt_fib6 *f);
int rt_fib6_add(struct rt_fib6 *f, const uint8_t prefix[16], unsigned plen, uint32_t nh);
int rt_fib6_del(struct rt_fib6 *f, const uint8_t prefix[16], unsigned plen);
void rt_fib6_lookup_bulk(const struct rt_fib6 *f, const uint8_t (*key)[16], uint32_t *nh,
                         unsigned n);
size_t rt_fib6_mem(const struct rt_fib6 *f);

#endif /* RT_FIB_H */
