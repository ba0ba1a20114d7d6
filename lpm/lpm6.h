/*
 * lpm6.h - IPv6 longest-prefix match, same structure and rules as lpm4.h.
 *
 * Addresses and prefixes are 16 bytes in NETWORK byte order (struct in6_addr.s6_addr).
 * Next hops are ids 0..LPM_NH_MAX; no match returns LPM_NO_ROUTE. Lengths 0..128; a prefix
 * with bits set past its length is rejected with -EINVAL.
 *
 * Threads and RCU: exactly as described in lpm4.h (QSBR readers call rcu_register_thread()
 * once and rcu_quiescent_state() once per burst; one writer; updates free replaced pieces
 * after synchronize_rcu(); destroy() only when no reader uses the table).
 */
#ifndef NMBOX_LPM6_H
#define NMBOX_LPM6_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lpm/lpm_common.h"

#define LPM6_DIRECT_BITS 18

struct lpm6 {
	uint64_t *direct; /* 2^LPM6_DIRECT_BITS entries, RCU-published */
	struct lpm6_priv *priv;
};

/* One route for lpm6_replace(). */
struct lpm6_route {
	uint8_t prefix[16]; /* network byte order, host bits zero */
	uint8_t len;        /* 0..128 */
	uint32_t nh;        /* 0..LPM_NH_MAX */
};

/* See the lpm4_* function of the same name; semantics and return values are the same. */
struct lpm6 *lpm6_create(void);
void lpm6_destroy(struct lpm6 *t);
int lpm6_add(struct lpm6 *t, const uint8_t prefix[16], uint8_t len, uint32_t nh);
int lpm6_del(struct lpm6 *t, const uint8_t prefix[16], uint8_t len);
int lpm6_get(const struct lpm6 *t, const uint8_t prefix[16], uint8_t len, uint32_t *nh);
int lpm6_replace(struct lpm6 *t, const struct lpm6_route *routes, size_t n);
void lpm6_reclaim(struct lpm6 *t);
int lpm6_walk(const struct lpm6 *t,
              int (*cb)(const uint8_t prefix[16], uint8_t len, uint32_t nh, void *arg), void *arg);
size_t lpm6_count(const struct lpm6 *t);
void lpm6_stats(const struct lpm6 *t, struct lpm_stats *st);

/* ---- lookups (inline: the router's hot path) ---- */

static inline uint64_t lpm6_load_be64_(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return __builtin_bswap64(v);
}

/*
 * Walk a region's nodes. IPv6 nodes hold, in place of child_base and leaf_base, one 64-bit
 * pointer `base`: child i (from 1, = popcount(vec & mask(v))) is ((node *)base)[i - 1], leaf i
 * is ((uint32_t *)base)[-i]. A region is split into blocks (lpm_tmpl.h, TM_NEST) and a node
 * may point into another block than its own, so the walk needs no block root; the writer
 * republishes a node's base with one 64-bit store. A region's root node (the one a direct
 * entry points to) is full: its 64 children follow it, so child v is ((node *)e)[1 + v].
 */
static inline uint32_t lpm6_lookup_entry_(uint64_t e, const uint8_t addr[16])
{
	if (e & 1)
		return (uint32_t)(e >> 1);
	unsigned __int128 k =
	    ((unsigned __int128)lpm6_load_be64_(addr) << 64 | lpm6_load_be64_(addr + 8))
	    << LPM6_DIRECT_BITS;
	/* A region's root node is full (every slot a child, the children right after it): the
	 * first 6 bits index its children without loading it. */
	const struct lpm_node *n = (const struct lpm_node *)(uintptr_t)e + 1 + (unsigned)(k >> 122);
	k <<= 6;
	for (;;) {
		unsigned v = (unsigned)(k >> 122);
		uint64_t m = lpm_mask_(v), vec = n->vec;
		uintptr_t base = (uintptr_t)__atomic_load_n(
		    (const uint64_t *)(const void *)&n->child_base, __ATOMIC_ACQUIRE);
		if (vec & (1ULL << v)) {
			n = (const struct lpm_node *)base + (__builtin_popcountll(vec & m) - 1);
			k <<= 6;
			continue;
		}
		return ((const uint32_t *)base)[-(long)__builtin_popcountll(n->leafvec & m)];
	}
}

static inline const uint64_t *lpm6_direct_slot_(const uint64_t *d, const uint8_t addr[16])
{
	return &d[lpm6_load_be64_(addr) >> (64 - LPM6_DIRECT_BITS)];
}

/* lpm6_lookup - the next hop for addr (16 bytes, network order), or LPM_NO_ROUTE. */
static inline uint32_t lpm6_lookup(const struct lpm6 *t, const uint8_t addr[16])
{
	const uint64_t *d = (const uint64_t *)__atomic_load_n(&t->direct, __ATOMIC_ACQUIRE);
	return lpm6_lookup_entry_(lpm_load_entry_(lpm6_direct_slot_(d, addr)), addr);
}

/* lpm6_lookup_bulk - nh[i] = lpm6_lookup(t, addrs[i]) for i < n. A plain loop: on the real
 * IPv6 table it beat both the queueing scheme of lpm4_lookup_bulk() (random keys 860 vs 560
 * Mlps, in-table keys 77 vs 63) and a lockstep walk of the queue (72 on in-table keys):
 * random IPv6 keys mostly end at a direct leaf, which predicts well, and in-table keys walk
 * several levels whose loads mostly hit the cache. Kept as the batched entry point so that
 * callers need not change if a better batch scheme is found. */
static inline void lpm6_lookup_bulk(const struct lpm6 *t, const uint8_t (*addrs)[16], uint32_t *nh,
                                    unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		nh[i] = lpm6_lookup(t, addrs[i]);
}

#endif
