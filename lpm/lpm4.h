/*
 * lpm4.h - IPv4 longest-prefix match for full Internet tables.
 *
 * Addresses and prefixes are uint32_t in HOST byte order (ntohl() of the header field).
 * Next hops are ids 0..LPM_NH_MAX; a lookup that matches nothing returns LPM_NO_ROUTE.
 * A prefix with bits set past its length (10.0.0.1/8) is rejected with -EINVAL.
 * The layout is described in lpm_common.h; the numbers and the reasons in lpm/README.md.
 *
 * Threads and RCU (liburcu, QSBR flavour: #include <urcu-qsbr.h>, link -lurcu-qsbr)
 *   - One writer at a time calls create/add/del/replace/reclaim/walk/destroy (the control
 *     thread; serialize writers yourself if there are several).
 *   - Any number of readers call lpm4_lookup()/lpm4_lookup_bulk() concurrently with that
 *     writer, without locks. A reader thread must
 *         rcu_register_thread();                 once, before its first lookup
 *         rcu_quiescent_state();                 once per burst, when it holds no result
 *                                                pointer/entry of the table (e.g. after
 *                                                the burst is forwarded)
 *         rcu_thread_offline()/online();         around blocking (poll() with a timeout)
 *         rcu_unregister_thread();               before it exits
 *     Lookups themselves need no rcu_read_lock() (it is empty in QSBR).
 *   - The writer frees replaced pieces only after synchronize_rcu(), batched: an update may
 *     therefore wait for every registered online reader to pass a quiescent state. It is
 *     safe for the writer to be a registered reader itself (urcu-qsbr takes it offline while
 *     waiting). destroy() frees at once: stop or unregister all readers first.
 *   - A reader sees, for every address, the answer before or after a concurrent update.
 *     An update of a prefix of 18 bits or fewer changes several direct entries one by one,
 *     so two addresses may briefly disagree about which of them is in force.
 */
#ifndef NMBOX_LPM4_H
#define NMBOX_LPM4_H

#include <stddef.h>
#include <stdint.h>

#include "lpm/lpm_common.h"

#define LPM4_DIRECT_BITS 18

/* The lookup needs only `direct`; the rest is the writer's and private. */
struct lpm4 {
	uint64_t *direct; /* 2^18 entries, RCU-published */
	struct lpm4_priv *priv;
};

/* One route for lpm4_replace(). */
struct lpm4_route {
	uint32_t prefix; /* host byte order, host bits zero */
	uint8_t len;     /* 0..32 */
	uint32_t nh;     /* 0..LPM_NH_MAX */
};

/* lpm4_create - an empty table (every lookup answers LPM_NO_ROUTE).
 * Return: the table, or NULL with errno = ENOMEM. */
struct lpm4 *lpm4_create(void);

/* lpm4_destroy - free the table and everything pending. NULL is allowed. No reader may
 * still use the table. */
void lpm4_destroy(struct lpm4 *t);

/* lpm4_add - add prefix/len -> nh, or change the next hop of an existing prefix.
 * Return: 0; -EINVAL for len > 32, host bits set, or nh > LPM_NH_MAX; -ENOMEM (then the
 * table is unchanged for len > 18; for shorter prefixes some covered regions may already
 * have the new answer). */
int lpm4_add(struct lpm4 *t, uint32_t prefix, uint8_t len, uint32_t nh);

/* lpm4_del - remove prefix/len; addresses fall back to the next covering prefix.
 * Return: 0; -EINVAL for a bad len or host bits; -ENOENT if the prefix is not in the
 * table (the table is unchanged); -ENOMEM as for lpm4_add(). */
int lpm4_del(struct lpm4 *t, uint32_t prefix, uint8_t len);

/* lpm4_get - exact match: the next hop of prefix/len in *nh.
 * Return: 0, -EINVAL, or -ENOENT. */
int lpm4_get(const struct lpm4 *t, uint32_t prefix, uint8_t len, uint32_t *nh);

/* lpm4_replace - make the table exactly routes[0..n) (a full-table load): the new table is
 * built aside and published with one pointer store, so readers switch from the old table to
 * the new one at once for every address in the same direct region. Duplicated prefixes:
 * the last one wins. Waits for a grace period, then frees the old table.
 * Return: 0; -EINVAL if any route is invalid (nothing changed); -ENOMEM (nothing changed). */
int lpm4_replace(struct lpm4 *t, const struct lpm4_route *routes, size_t n);

/* lpm4_reclaim - wait for a grace period and free every replaced piece now (updates do this
 * on their own every few hundred kilobytes). */
void lpm4_reclaim(struct lpm4 *t);

/* lpm4_walk - call cb(prefix, len, nh, arg) for every route, in address order (a covering
 * prefix before the prefixes inside it). Stops at the first non-zero return of cb and
 * returns it; 0 when all were visited. Writer side: do not update the table meanwhile. */
int lpm4_walk(const struct lpm4 *t, int (*cb)(uint32_t prefix, uint8_t len, uint32_t nh, void *arg),
              void *arg);

/* lpm4_count - number of prefixes in the table. */
size_t lpm4_count(const struct lpm4 *t);

/* lpm4_stats - sizes and memory, see struct lpm_stats. */
void lpm4_stats(const struct lpm4 *t, struct lpm_stats *st);

/* ---- lookups (inline: the router's hot path) ---- */

static inline uint32_t lpm4_lookup_entry_(uint64_t e, uint32_t addr)
{
	if (e & 1)
		return (uint32_t)(e >> 1);
	const struct lpm_node *root = (const struct lpm_node *)(uintptr_t)e, *n = root;
	uint64_t k = (uint64_t)addr << (32 + LPM4_DIRECT_BITS);
	uint32_t nh = LPM_NO_ROUTE;
	while ((n = lpm_step_(root, n, (unsigned)(k >> 58), &nh)) != NULL)
		k <<= 6;
	return nh;
}

/* lpm4_lookup - the next hop for addr (host byte order), or LPM_NO_ROUTE. */
static inline uint32_t lpm4_lookup(const struct lpm4 *t, uint32_t addr)
{
	const uint64_t *d = (const uint64_t *)__atomic_load_n(&t->direct, __ATOMIC_ACQUIRE);
	return lpm4_lookup_entry_(lpm_load_entry_(&d[addr >> (32 - LPM4_DIRECT_BITS)]), addr);
}

/* lpm4_lookup_bulk - nh[i] = lpm4_lookup(t, addrs[i]) for i < n, addresses in host byte
 * order. Works on groups of 64: first every direct entry, all loads independent so their
 * cache misses overlap; leaves answer at once and the others are queued without a branch
 * (a leaf/subtree branch mispredicts on random keys), their root node prefetched; then the
 * queued ones walk their subtrees. (Measured on the full table: the prefetch adds ~12% on
 * in-table keys; walking the queue level by level in lockstep was slower than this.) */
static inline void lpm4_lookup_bulk(const struct lpm4 *t, const uint32_t *addrs, uint32_t *nh,
                                    unsigned n)
{
	const uint64_t *d = (const uint64_t *)__atomic_load_n(&t->direct, __ATOMIC_ACQUIRE);
	uint64_t ent[64];
	uint8_t idx[64];

	for (unsigned base = 0; base < n; base += 64) {
		unsigned cnt = n - base < 64 ? n - base : 64, m = 0;
		const uint32_t *a = addrs + base;
		uint32_t *out = nh + base;
		for (unsigned i = 0; i < cnt; i++) {
			uint64_t e = lpm_load_entry_(&d[a[i] >> (32 - LPM4_DIRECT_BITS)]);
			/* a leaf prefetches d itself: harmless, and no branch */
			__builtin_prefetch((e & 1) ? (const void *)d : (const void *)(uintptr_t)e);
			out[i] = (uint32_t)(e >> 1);
			ent[m] = e;
			idx[m] = (uint8_t)i;
			m += !(e & 1);
		}
		for (unsigned j = 0; j < m; j++)
			out[idx[j]] = lpm4_lookup_entry_(ent[j], a[idx[j]]);
	}
}

#endif
