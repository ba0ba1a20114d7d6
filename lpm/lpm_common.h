/*
 * lpm_common.h - pieces shared by the IPv4 and IPv6 longest-prefix-match tables.
 *
 * DOC: the lookup structure (both families)
 *
 * A table is a direct-pointing array indexed by the top S bits of the address (S = 18 for
 * IPv4, LPM6_DIRECT_BITS for IPv6) followed, where the routes are longer than S, by a small
 * multiway trie with 6-bit strides whose nodes are compressed with popcount, in the manner
 * of Poptrie (Asai and Ohara, SIGCOMM 2015):
 *
 *   direct[addr >> (W - S)]  64-bit entry:
 *       bit 0 = 1  -> a leaf; bits 1..32 are the next hop (or LPM_NO_ROUTE)
 *       bit 0 = 0  -> a pointer to the root node of the region's subtree
 *
 *   struct lpm_node (24 bytes): the next 6 bits of the key select one of 64 slots.
 *       vec      bit i set: slot i continues in a child node
 *       leafvec  bit i set: slot i is a leaf whose value differs from the previous leaf
 *                (runs of equal leaves are stored once)
 *       child_base, leaf_base: offsets, in node / 32-bit units, from the region's root
 *
 *   child = root + child_base + popcount(vec & mask(i))        (base is stored minus one)
 *   leaf  = ((uint32_t *)root)[leaf_base + popcount(leafvec & mask(i))]
 *
 * For IPv4 every region (one direct entry) owns one contiguous, immutable block holding all
 * of its nodes and leaves. An update rebuilds the block of the one region it touches (or, for
 * a prefix of S bits or fewer, the direct entries of the regions it covers), publishes it with
 * one 64-bit store, and frees the old block after an RCU grace period. For IPv6, whose routes
 * crowd into few regions, a region is a tree of blocks of at most a few routes each and an
 * update rebuilds only the smallest block containing the route (lpm_tmpl.h, TM_NEST).
 */
#ifndef NMBOX_LPM_COMMON_H
#define NMBOX_LPM_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* Next hop returned when no prefix covers the address. */
#define LPM_NO_ROUTE UINT32_MAX
/* Largest next-hop id a route may carry (31 bits). */
#define LPM_NH_MAX 0x7fffffffu

/* IPv6 (lpm6.h) uses the last 8 bytes as one pointer `base` instead of the two offsets: its
 * regions are split into several blocks (lpm_tmpl.h, "nested blocks"). */
struct lpm_node {
	uint64_t vec;
	uint64_t leafvec;
	uint32_t child_base; /* index of first child minus one, in nodes, from the root */
	uint32_t leaf_base;  /* index of first leaf minus one, in uint32_t, from the root */
};

/* Memory and size of a table, see lpm4_stats() / lpm6_stats(). */
struct lpm_stats {
	size_t prefixes;      /* routes in the table */
	size_t lookup_bytes;  /* what lookups touch: direct array + subtree blocks */
	size_t control_bytes; /* the writer's route store (RIB), scratch and pending frees */
	size_t regions;       /* direct entries that point to a subtree */
	size_t nodes;         /* trie nodes in all subtrees */
	size_t leaves;        /* stored (run-compressed) leaves in all subtrees */
};

#ifndef likely
#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

/* Readers load published pointers with acquire semantics: a plain load on x86, and it tells
 * the compiler (and TSan) that the block behind the pointer was complete when published. */
static inline uint64_t lpm_load_entry_(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/* Slot mask for index v: bits 0..v. */
static inline uint64_t lpm_mask_(unsigned v)
{
	return ~0ULL >> (63 - v);
}

/* One step down: node n, slot v. Returns the child or NULL after storing the leaf in *nh. */
static inline const struct lpm_node *lpm_step_(const struct lpm_node *root,
                                               const struct lpm_node *n, unsigned v, uint32_t *nh)
{
	uint64_t m = lpm_mask_(v);
	if (n->vec & (1ULL << v))
		return root +
		       (uint32_t)(n->child_base + (uint32_t)__builtin_popcountll(n->vec & m));
	*nh = ((const uint32_t *)
	           root)[(uint32_t)(n->leaf_base + (uint32_t)__builtin_popcountll(n->leafvec & m))];
	return NULL;
}

#endif
