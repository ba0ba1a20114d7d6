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
static inline uint32_t lpm6_walk_(const struct lpm_node *n, unsigned __int128 k)
{
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

/* Node levels below a region's root walked without a branch by lpm6_lookup() (then one more
 * with one): the root's 6 bits and 4 levels reach bit 48, which covers the routes of /48 and
 * shorter, 96% of the in-table keys on the 2015 table. */
#define LPM6_CMOV_STEPS 3

/* if x's bit 63 is set: *n = ch, *w = w2. A conditional move, not a branch: which way a walk
 * goes at each level is what a branch predictor cannot guess. */
static inline void lpm6_cmov_(uint64_t x, uintptr_t *n, uintptr_t ch, uint64_t *w, uint64_t w2)
{
#if defined(__x86_64__)
	__asm__("test %[x], %[x]\n\tcmovs %[ch], %[n]\n\tcmovs %[w2], %[w]"
	        : [n] "+r"(*n), [w] "+r"(*w)
	        : [x] "r"(x), [ch] "r"(ch), [w2] "r"(w2)
	        : "cc");
#else
	uint64_t m = (uint64_t)((int64_t)x >> 63);
	*n = (ch & m) | (*n & ~m);
	*w = (w2 & m) | (*w & ~m);
#endif
}

/*
 * The key is walked as a 64-bit window of bits 18..81, complemented: its top 6 bits are
 * 63 - v for slot v, the shift that brings slot v's bit to bit 63 (vec << (63 - v) keeps slots
 * 0..v, so its popcount counts them). A region's root node is full (its 64 children follow it,
 * lpm_tmpl.h): the first 6 bits index the children from the direct entry without a load. Then
 * LPM6_CMOV_STEPS levels without a branch: a node whose slot is a leaf stays where it is (the
 * later steps look at it again and stay), then one level with a branch that almost always
 * goes to the leaf. A deeper key (/49 and longer routes) walks on with lpm6_walk_().
 */
static inline uint32_t lpm6_lookup_entry_(uint64_t e, const uint8_t addr[16])
{
	if (e & 1)
		return (uint32_t)(e >> 1);
	uint64_t hi = lpm6_load_be64_(addr), lo = lpm6_load_be64_(addr + 8);
	uint64_t w = ~(hi << LPM6_DIRECT_BITS | lo >> (64 - LPM6_DIRECT_BITS));
	uintptr_t n = (uintptr_t)((const struct lpm_node *)(uintptr_t)e + 64 - (w >> 58));
	w <<= 6;
	for (int i = 0; i < LPM6_CMOV_STEPS; i++) {
		const struct lpm_node *p = (const struct lpm_node *)n;
		uint64_t x = p->vec << (w >> 58);
		uintptr_t base = (uintptr_t)__atomic_load_n(
		    (const uint64_t *)(const void *)&p->child_base, __ATOMIC_ACQUIRE);
		lpm6_cmov_(x, &n, base + ((uintptr_t)__builtin_popcountll(x) - 1) * sizeof(*p), &w,
		           w << 6);
	}
	const struct lpm_node *p = (const struct lpm_node *)n;
	unsigned s = (unsigned)(w >> 58);
	uint64_t x = p->vec << s;
	uintptr_t base = (uintptr_t)__atomic_load_n((const uint64_t *)(const void *)&p->child_base,
	                                            __ATOMIC_ACQUIRE);
	if (unlikely((int64_t)x < 0))
		return lpm6_walk_((const struct lpm_node *)base + (__builtin_popcountll(x) - 1),
		                  ((unsigned __int128)hi << 64 | lo)
		                      << (LPM6_DIRECT_BITS + 6 * (LPM6_CMOV_STEPS + 2)));
	return ((const uint32_t *)base)[-(long)__builtin_popcountll(p->leafvec << s)];
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

/* One group of at most 64 keys of lpm6_lookup_bulk(): the walk of lpm6_lookup_entry_(), one
 * level of every key at a time, so that the loads of different keys overlap; each key's next
 * node is prefetched as soon as it is known, a level ahead of its load (in-table keys: +7-15%,
 * more loads in flight than the out-of-order window holds). */
static inline void lpm6_lookup_group_(const uint64_t *d, const uint8_t (*addrs)[16], uint32_t *nh,
                                      unsigned n)
{
	/* the keys that continue below the direct array: node, rest of the key (complemented,
	 * as in lpm6_lookup_entry_()), index */
	uintptr_t cur[64];
	uint64_t kw[64];
	uint8_t id[64];
	unsigned nq = 0;

	for (unsigned i = 0; i < n; i++) {
		uint64_t hi = lpm6_load_be64_(addrs[i]);
		uint64_t e = lpm_load_entry_(&d[hi >> (64 - LPM6_DIRECT_BITS)]);
		if (e & 1) {
			nh[i] = (uint32_t)(e >> 1);
			continue;
		}
		uint64_t w = ~(hi << LPM6_DIRECT_BITS |
		               lpm6_load_be64_(addrs[i] + 8) >> (64 - LPM6_DIRECT_BITS));
		cur[nq] = (uintptr_t)((const struct lpm_node *)(uintptr_t)e + 64 - (w >> 58));
		__builtin_prefetch((const void *)cur[nq]);
		kw[nq] = w << 6;
		id[nq++] = (uint8_t)i;
	}
	if (likely(nq == 0)) /* uniformly random keys: 97% of the groups */
		return;
	for (int r = 0; r < LPM6_CMOV_STEPS; r++)
		for (unsigned j = 0; j < nq; j++) {
			const struct lpm_node *p = (const struct lpm_node *)cur[j];
			uint64_t w = kw[j], x = p->vec << (w >> 58);
			uintptr_t n = cur[j], base = (uintptr_t)__atomic_load_n(
			                          (const uint64_t *)(const void *)&p->child_base,
			                          __ATOMIC_ACQUIRE);
			lpm6_cmov_(x, &n,
			           base + ((uintptr_t)__builtin_popcountll(x) - 1) * sizeof(*p), &w,
			           w << 6);
			cur[j] = n;
			__builtin_prefetch((const void *)n);
			kw[j] = w;
		}
	for (unsigned j = 0; j < nq; j++) {
		const struct lpm_node *p = (const struct lpm_node *)cur[j];
		unsigned s = (unsigned)(kw[j] >> 58), i = id[j];
		uint64_t x = p->vec << s;
		uintptr_t base = (uintptr_t)__atomic_load_n(
		    (const uint64_t *)(const void *)&p->child_base, __ATOMIC_ACQUIRE);
		if (unlikely((int64_t)x < 0)) /* /49 and longer */
			nh[i] = lpm6_walk_((const struct lpm_node *)base +
			                       (__builtin_popcountll(x) - 1),
			                   ((unsigned __int128)lpm6_load_be64_(addrs[i]) << 64 |
			                    lpm6_load_be64_(addrs[i] + 8))
			                       << (LPM6_DIRECT_BITS + 6 * (LPM6_CMOV_STEPS + 2)));
		else
			nh[i] =
			    ((const uint32_t *)base)[-(long)__builtin_popcountll(p->leafvec << s)];
	}
}

/* lpm6_lookup_bulk - nh[i] = lpm6_lookup(t, addrs[i]) for i < n, in groups of 64: first the
 * direct entries (a leaf answers at once), then the keys that continue walk their nodes level
 * by level, each level of all of them before the next (lpm6_lookup_group_()). On the real
 * table, keys inside its prefixes: 1.15-1.35x a loop of lpm6_lookup(); uniformly random keys,
 * which mostly end at a direct leaf: about the same. */
static inline void lpm6_lookup_bulk(const struct lpm6 *t, const uint8_t (*addrs)[16], uint32_t *nh,
                                    unsigned n)
{
	const uint64_t *d = (const uint64_t *)__atomic_load_n(&t->direct, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < n; i += 64)
		lpm6_lookup_group_(d, addrs + i, nh + i, n - i < 64 ? n - i : 64);
}

#endif
