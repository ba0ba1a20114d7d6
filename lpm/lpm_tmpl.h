/*
 * lpm_tmpl.h - the writer side of the LPM tables, written once for both families.
 *
 * Included by lpm4.c and lpm6.c (never by users) after defining:
 *   TM_KEY   unsigned key type holding an address left-aligned (uint32_t, unsigned __int128)
 *   TM_W     its width in bits (32, 128)
 *   TM_S     direct bits (LPM4_DIRECT_BITS, LPM6_DIRECT_BITS)
 *   TM_TBL   the public table struct (struct lpm4 / struct lpm6: `direct` then `priv`)
 *   TM_PRIV  the private struct tag (struct lpm4_priv / struct lpm6_priv)
 * Everything defined here is static and named tm_*; the family file wraps it in the public API.
 *
 * DOC: the route store (RIB) and how an update is published
 *
 * The writer keeps the routes in two places, shaped after the lookup structure:
 *   - prefixes of TM_S bits or fewer in `heap`, a complete binary tree of 2^(TM_S+1) next
 *     hops indexed like a heap: prefix p/len lives at (1 << len) | p (LPM_NO_ROUTE = absent).
 *     Walking up from a region's leaf (idx >>= 1) finds its covering prefix; walking down
 *     from a prefix visits exactly the regions it covers.
 *   - longer prefixes in one sorted array per region (direct entry), ordered by (key, len),
 *     which is the pre-order of the prefix tree: a covering prefix precedes those inside it
 *     (with TM_NEST, in sorted chunks of at most TM_CH routes, see struct tm_reg).
 *
 * A region's subtree is a pure function of its sorted array and of its default next hop (the
 * longest covering prefix of TM_S bits or fewer). Any update therefore rebuilds whole regions:
 *   - a prefix longer than TM_S bits: insert/remove/change it in its region's array, rebuild
 *     that region's block from the array (tm_build_node(), depth first, children of a node
 *     reserved contiguously so popcount can index them), publish it with one 64-bit store;
 *   - a shorter prefix: set/clear it in the heap, then walk down the heap under it and, for
 *     each covered region whose default changed, store the new leaf or rebuild the block.
 * Replaced blocks go to a list that is freed after synchronize_rcu(), in batches.
 * A whole-table replace builds a complete second table (heap, arrays, direct array, blocks)
 * from one stable sort of the input, swaps the `direct` pointer, waits one grace period and
 * frees the old one.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <urcu-qsbr.h>

typedef TM_KEY tm_key;

/* One route longer than TM_S bits. */
struct tm_ent {
	tm_key key;
	uint32_t nh;
	uint8_t len;
} __attribute__((packed, aligned(4)));

#ifndef TM_NEST
/* A region's routes longer than TM_S bits, sorted by (key, len); allocated to fit exactly
 * (the block rebuild that follows every change costs more than the realloc). */
struct tm_reg {
	uint32_t n;
	struct tm_ent e[];
};
#else
/* With TM_NEST a region holds thousands of routes and an update rebuilds a block of a few
 * dozen: one sorted array per region would cost a memmove of ~18 KB and a long binary search
 * per update. The routes are kept in sorted *chunks* of at most TM_CH entries instead (a
 * full chunk splits in two halves, an empty one is dropped); a block's routes are read in
 * place when they sit in one chunk, else gathered into scratch (tm_slice()). */
#define TM_CH 64
struct tm_chk {
	uint32_t n; /* entries in use, never 0 while listed */
	uint32_t pad;
	struct tm_ent e[TM_CH];
};

struct tm_reg {
	uint32_t n;          /* routes in all chunks */
	uint32_t nch, chcap; /* chunks, in key order; room in ch */
	struct tm_chk **ch;
};
#endif

/* Header of a region's block; the nodes follow it, then the leaves. With TM_NEST the header
 * and the block's root node are the block's *cold part* (writer only), the rest its *hot
 * part*, allocated apart (see the DOC of nested blocks). */
struct tm_blk {
	uint32_t def;     /* default next hop the block was built with */
	uint32_t nnodes;  /* nodes in the block */
	uint32_t nleaves; /* leaves after the nodes */
	uint32_t bytes;   /* size of the allocation (TM_NEST: of the hot part) */
#ifdef TM_NEST
	uint64_t prox; /* slots of the root node whose child is a proxy (a sub-block's root) */
	char *hot;     /* the block's hot part */
#endif
};

#ifdef TM_NEST
/* The hot parts of the blocks (what readers load) come from an *arena*: chunks of
 * TM_ARENA_CHUNK bytes cut in order (8-byte aligned, no per-block malloc header), so that a
 * table's blocks sit back to back in the order they are built (a block, then its
 * sub-blocks). A hot part freed after its grace period goes to a list by exact size and is
 * reused; hot parts larger than the lists' sizes, and all of them under the sanitizers, are
 * malloc'ed and freed for real (there, a reader using a block after its grace period must be
 * reported). The cold parts (48 bytes) are malloc'ed and kept in a list once freed. */
#define TM_POOL_CLASSES 512 /* hot parts of up to 4 KiB from the arena */
#ifndef TM_ARENA
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TM_ARENA 0
#else
#define TM_ARENA 1
#endif
#endif
#define TM_ARENA_CHUNK (64u << 10)
#endif

TM_PRIV
{
	uint32_t *heap;      /* 2 << TM_S: prefixes of TM_S bits or fewer */
	struct tm_reg **reg; /* 1 << TM_S: sorted longer prefixes per region, or NULL */
	size_t nprefix;      /* routes in heap + reg */
	size_t nlong;        /* of which in reg */
	size_t nregions;     /* direct entries pointing to a block */
	size_t nnodes, nleaves, blk_bytes;
	void **gc; /* replaced blocks waiting for a grace period */
	size_t ngc, gc_cap, gc_bytes;
	struct lpm_node *sn; /* scratch nodes of the block being built */
	size_t sn_len, sn_cap;
	uint32_t *sl; /* scratch leaves */
	size_t sl_len, sl_cap;
#ifdef TM_NEST
	struct tm_blk **fresh; /* blocks built by the update in progress, not yet published */
	size_t nfresh, fresh_cap;
	struct lpm_node **fp; /* scratch: final place of each scratch node */
	size_t fp_cap;
	struct tm_chk *spare; /* the last chunk emptied, kept so that a failed delete can put
	                       * its route back without allocating */
	struct tm_ent *slc;   /* scratch: a block's routes gathered from several chunks */
	size_t slc_cap;
	void *pool[TM_POOL_CLASSES]; /* freed hot parts kept for reuse, by size / 8 */
	size_t pool_bytes;
	void *cold[65];        /* freed cold parts kept for reuse, by number of proxies */
	size_t cold_bytes;     /* cold parts allocated */
	char *ar_cur, *ar_end; /* the arena chunk being cut */
	void *ar_chunks;       /* all chunks, linked by their first word */
	size_t ar_bytes;       /* bytes of all chunks */
#endif
};

#define TM_NREG ((size_t)1 << TM_S)
#ifndef TM_GC_COUNT
#ifdef TM_NEST
#define TM_GC_COUNT 1024 /* blocks of an update or two each: reused soon after */
#else
#define TM_GC_COUNT 4096
#endif
#endif
#define TM_GC_BYTES (4u << 20)

/* ---- keys ---- */

/* The top n bits of key as an integer (n <= TM_S here, so it fits in 32 bits). */
static inline uint32_t tm_top(tm_key key, unsigned n)
{
	return n ? (uint32_t)(key >> (TM_W - n)) : 0;
}

/* Bits [d, d+6) of key; past the end of the key the bits read as zero. */
static inline unsigned tm_chunk(tm_key key, unsigned d)
{
	if (d + 6 <= TM_W)
		return (unsigned)(key >> (TM_W - d - 6)) & 63;
	return (unsigned)(key << (d + 6 - TM_W)) & 63;
}

static inline int tm_host_bits_clear(tm_key key, unsigned len)
{
	return len >= TM_W || (tm_key)(key << len) == 0;
}

static int tm_check(tm_key key, unsigned len)
{
	if (len > TM_W || !tm_host_bits_clear(key, len))
		return -EINVAL;
	return 0;
}

static inline int tm_cmp(tm_key ka, unsigned la, tm_key kb, unsigned lb)
{
	if (ka != kb)
		return ka < kb ? -1 : 1;
	return (int)la - (int)lb;
}

/* Binary search of e[lo..hi) sorted by (key, len): 1 and *at = its index if key/len is there,
 * else 0 and *at = where it would go. */
static int tm_ent_search(const struct tm_ent *e, size_t lo, size_t hi, tm_key key, unsigned len,
                         size_t *at)
{
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = tm_cmp(e[mid].key, e[mid].len, key, len);
		if (c == 0) {
			*at = mid;
			return 1;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*at = lo;
	return 0;
}

static inline uint32_t tm_heap_idx(tm_key key, unsigned len)
{
	return (1u << len) | tm_top(key, len);
}

static inline uint64_t tm_leaf(uint32_t nh)
{
	return (uint64_t)nh << 1 | 1;
}

static inline struct tm_blk *tm_blk_of(uint64_t e)
{
	return (struct tm_blk *)(uintptr_t)e - 1;
}

/* Routes in region r. */
static inline uint32_t tm_nreg(const TM_PRIV *p, uint32_t r)
{
	return p->reg[r] ? p->reg[r]->n : 0;
}

#ifndef TM_NEST
static inline size_t tm_reg_bytes(size_t n)
{
	return sizeof(struct tm_reg) + n * sizeof(struct tm_ent);
}
#endif

/* ---- private state ---- */

#ifdef TM_NEST
static void tm_blk_free(TM_PRIV *p, struct tm_blk *b);
#endif

static void tm_priv_free(TM_PRIV *p)
{
	if (!p)
		return;
#ifdef TM_NEST
	for (size_t i = 0; i < p->ngc; i++)
		tm_blk_free(p, p->gc[i]);
	for (size_t i = 0; i < p->nfresh; i++)
		tm_blk_free(p, p->fresh[i]);
#else
	for (size_t i = 0; i < p->ngc; i++)
		free(p->gc[i]);
#endif
	if (p->reg)
		for (size_t r = 0; r < TM_NREG; r++) {
#ifdef TM_NEST
			if (p->reg[r]) {
				for (size_t c = 0; c < p->reg[r]->nch; c++)
					free(p->reg[r]->ch[c]);
				free(p->reg[r]->ch);
			}
#endif
			free(p->reg[r]);
		}
	free(p->heap);
	free(p->reg);
	free(p->gc);
	free(p->sn);
	free(p->sl);
#ifdef TM_NEST
	free(p->fresh);
	free(p->fp);
	free(p->spare);
	free(p->slc);
	for (size_t c = 0; c < 65; c++) /* the pool holds arena pieces, freed with the chunks */
		while (p->cold[c]) {
			void *b = p->cold[c];
			p->cold[c] = *(void **)b;
			free(b);
		}
	while (p->ar_chunks) {
		void *ch = p->ar_chunks;
		p->ar_chunks = *(void **)ch;
		free(ch);
	}
#endif
	free(p);
}

static TM_PRIV *tm_priv_new(void)
{
	TM_PRIV *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->heap = malloc((2 * TM_NREG) * sizeof(*p->heap));
	p->reg = calloc(TM_NREG, sizeof(*p->reg));
	if (!p->heap || !p->reg) {
		tm_priv_free(p);
		return NULL;
	}
	memset(p->heap, 0xff, (2 * TM_NREG) * sizeof(*p->heap));
	return p;
}

static uint64_t *tm_direct_new(void)
{
	uint64_t *d = malloc(TM_NREG * sizeof(*d));
	if (d)
		for (size_t r = 0; r < TM_NREG; r++)
			d[r] = tm_leaf(LPM_NO_ROUTE);
	return d;
}

#ifdef TM_NEST
/* The last 8 bytes of a node: with TM_NEST, its base pointer (see the DOC below). */
static inline uint64_t tm_node_word(const struct lpm_node *n)
{
	return *(const uint64_t *)(const void *)&n->child_base;
}

static inline uint64_t *tm_node_wordp(struct lpm_node *n)
{
	return (uint64_t *)(void *)&n->child_base;
}

/* Bytes of a node's leaf group: its leaves, padded to 8 bytes, just below its base. */
static inline size_t tm_lgroup(uint64_t leafvec)
{
	return ((size_t)__builtin_popcountll(leafvec) * 4 + 7) & ~(size_t)7;
}

/* The roots of the sub-blocks of a block, in the slot order of its proxies: in its cold
 * part, after its root node. */
static inline struct lpm_node **tm_subs(const struct lpm_node *root)
{
	return (struct lpm_node **)(void *)(uintptr_t)(root + 1);
}

/* Index in tm_subs() of slot c's sub-block, for a block whose header says prox. */
static inline unsigned tm_sub_idx(uint64_t prox, unsigned c)
{
	return (unsigned)__builtin_popcountll(prox & lpm_mask_(c)) - 1;
}

/* Bytes of the cold part of a block with nprox proxies. */
static inline size_t tm_cold_bytes(unsigned nprox)
{
	return sizeof(struct tm_blk) + sizeof(struct lpm_node) + nprox * sizeof(void *);
}

/* The root node of the region block a direct entry points to, and back. The entry points
 * one node before the root's children (a region root is full: no leaves), where the root
 * would be if it were not in the cold part; readers never load it. A region block's hot
 * part starts with a pointer to its root (8 bytes, just below the children). */
static inline struct lpm_node *tm_eroot(uint64_t e)
{
	struct lpm_node *r;
	memcpy(&r, (char *)(uintptr_t)e + sizeof(struct lpm_node) - sizeof(void *), sizeof(r));
	return r;
}

static inline uint64_t tm_entry(const struct lpm_node *root)
{
	return tm_node_word(root) - sizeof(struct lpm_node);
}

/* Child of node n for slot c (its bit set in vec). */
static inline struct lpm_node *tm_child(const struct lpm_node *n, unsigned c)
{
	return (struct lpm_node *)(uintptr_t)tm_node_word(n) +
	       ((uint32_t)__builtin_popcountll(n->vec & lpm_mask_(c)) - 1);
}

/* The root of the sub-block behind slot c of a block's root node, or NULL when that slot is
 * a leaf or an inline child. Only a root node has proxies (see tm_build_root_nest()). */
static inline struct lpm_node *tm_proxy_at(const struct lpm_node *root, unsigned c)
{
	uint64_t prox = tm_blk_of((uint64_t)(uintptr_t)root)->prox;
	if (!(prox >> c & 1))
		return NULL;
	return tm_subs(root)[tm_sub_idx(prox, c)];
}

/* A cold part no longer used: to its list, or free() under the sanitizers. */
static void tm_cold_put(TM_PRIV *p, struct tm_blk *b)
{
	unsigned np = (unsigned)__builtin_popcountll(b->prox);
	if (TM_ARENA) {
		*(void **)(void *)b = p->cold[np];
		p->cold[np] = b;
	} else {
		free(b);
		p->cold_bytes -= tm_cold_bytes(np);
	}
}

/* Free a block now (no reader can reach it): its hot part to the pool (arena pieces) or to
 * free(), its cold part to its list (or free() under the sanitizers). */
static void tm_blk_free(TM_PRIV *p, struct tm_blk *b)
{
	char *hot = b->hot;
	size_t c = b->bytes / 8;
	if (TM_ARENA && c < TM_POOL_CLASSES) {
		*(void **)(void *)hot = p->pool[c];
		p->pool[c] = hot;
		p->pool_bytes += b->bytes;
	} else {
		free(hot);
	}
	tm_cold_put(p, b);
}

/* A hot part of bytes (a multiple of 8): from the pool if one of that size is there, else
 * cut from the arena (see TM_ARENA). */
static void *tm_hot_alloc(TM_PRIV *p, size_t bytes)
{
	size_t c = bytes / 8;
	if (!TM_ARENA || c >= TM_POOL_CLASSES)
		return malloc(bytes);
	if (p->pool[c]) {
		void *b = p->pool[c];
		p->pool[c] = *(void **)b;
		p->pool_bytes -= bytes;
		return b;
	}
	if ((size_t)(p->ar_end - p->ar_cur) < bytes) {
		char *ch = malloc(TM_ARENA_CHUNK);
		if (!ch)
			return NULL;
		*(void **)(void *)ch = p->ar_chunks;
		p->ar_chunks = ch;
		p->ar_bytes += TM_ARENA_CHUNK;
		p->ar_cur = ch + sizeof(void *);
		p->ar_end = ch + TM_ARENA_CHUNK;
	}
	void *b = p->ar_cur;
	p->ar_cur += bytes;
	return b;
}

/* A cold part for a block with the proxies prox: its header (prox set), its root node, the
 * roots of its sub-blocks. */
static struct tm_blk *tm_cold_alloc(TM_PRIV *p, uint64_t prox)
{
	unsigned np = (unsigned)__builtin_popcountll(prox);
	struct tm_blk *b = p->cold[np];
	if (b)
		p->cold[np] = *(void **)(void *)b;
	else if ((b = malloc(tm_cold_bytes(np))) != NULL)
		p->cold_bytes += tm_cold_bytes(np);
	if (b)
		b->prox = prox;
	return b;
}

/* Free a block and its sub-blocks at once (no reader can see them). */
static void tm_free_tree(TM_PRIV *p, struct lpm_node *root)
{
	for (uint64_t m = tm_blk_of((uint64_t)(uintptr_t)root)->prox; m; m &= m - 1) {
		struct lpm_node *s = tm_proxy_at(root, (unsigned)__builtin_ctzll(m));
		if (s)
			tm_free_tree(p, s);
	}
	tm_blk_free(p, tm_blk_of((uint64_t)(uintptr_t)root));
}
#endif

/* Free the blocks of direct array d (their owner p) and d. */
static void tm_direct_free(TM_PRIV *p, uint64_t *d)
{
	(void)p;
	if (!d)
		return;
	for (size_t r = 0; r < TM_NREG; r++)
		if (!(d[r] & 1))
#ifdef TM_NEST
			tm_free_tree(p, tm_eroot(d[r]));
#else
			free(tm_blk_of(d[r]));
#endif
	free(d);
}

/* ---- deferred frees ---- */

static void tm_reclaim(TM_PRIV *p)
{
	if (!p->ngc)
		return;
	synchronize_rcu();
	for (size_t i = 0; i < p->ngc; i++)
#ifdef TM_NEST
		tm_blk_free(p, p->gc[i]);
#else
		free(p->gc[i]);
#endif
	p->ngc = 0;
	p->gc_bytes = 0;
}

/* The array *arr (*cap elements of sz bytes) made to hold at least need: its room doubled,
 * from min. -ENOMEM leaves it as it was. */
static int tm_grow(void *arr, size_t *cap, size_t need, size_t sz, size_t min)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : min;
	while (c < need)
		c *= 2;
	void *n = realloc(*(void **)arr, c * sz);
	if (!n)
		return -ENOMEM;
	*(void **)arr = n;
	*cap = c;
	return 0;
}

static void tm_retire(TM_PRIV *p, struct tm_blk *b)
{
	if (tm_grow(&p->gc, &p->gc_cap, p->ngc + 1, sizeof(*p->gc), 256) < 0) {
		/* No room to defer: wait for the readers now. */
		synchronize_rcu();
#ifdef TM_NEST
		tm_blk_free(p, b);
#else
		free(b);
#endif
		return;
	}
	p->gc[p->ngc++] = b;
	p->gc_bytes += b->bytes;
	if (p->ngc >= TM_GC_COUNT || p->gc_bytes >= TM_GC_BYTES)
		tm_reclaim(p);
}

/* ---- building a region's block ---- */

static int tm_sn_reserve(TM_PRIV *p, size_t k, size_t *first)
{
	if (tm_grow(&p->sn, &p->sn_cap, p->sn_len + k, sizeof(*p->sn), 64) < 0)
		return -ENOMEM;
	*first = p->sn_len;
	p->sn_len += k;
	return 0;
}

static int tm_sl_push(TM_PRIV *p, uint32_t v)
{
	if (tm_grow(&p->sl, &p->sl_cap, p->sl_len + 1, sizeof(*p->sl), 256) < 0)
		return -ENOMEM;
	p->sl[p->sl_len++] = v;
	return 0;
}

/*
 * Push the leaves of a node: val[i] is the value of slot i, vec its child slots, and bnd has
 * a bit where a painted range starts or ends (and bit 0): values change only there, so a
 * leaf slot starts a new run only if it is the first leaf slot at or after such a boundary
 * (and its value differs from the last leaf pushed). Sets *leafvec.
 */
static int tm_leaves(TM_PRIV *p, const uint32_t *val, uint64_t vec, uint64_t bnd, uint64_t *leafvec)
{
	uint64_t leaf = ~vec, cand = 0;
	int have = 0, rc;

	for (; bnd; bnd &= bnd - 1) {
		uint64_t x = leaf & (~0ULL << __builtin_ctzll(bnd));
		cand |= x & -x;
	}
	for (; cand; cand &= cand - 1) {
		unsigned i = (unsigned)__builtin_ctzll(cand);
		if (!have || val[i] != p->sl[p->sl_len - 1]) {
			if ((rc = tm_sl_push(p, val[i])) != 0)
				return rc;
			*leafvec |= 1ULL << i;
			have = 1;
		}
	}
	return 0;
}

/* A prefix ending `rest` bits before the end of a node paints slots [c, c + 2^rest) with its
 * next hop; bnd marks where runs of equal leaves may start or end. */
static inline void tm_paint(uint32_t *val, uint64_t *bnd, unsigned c, unsigned rest, uint32_t nh)
{
	unsigned span = 1u << rest;
	for (unsigned j = c; j < c + span; j++)
		val[j] = nh;
	*bnd |= 1ULL << c | (c + span < 64 ? 1ULL << (c + span) : 0);
}

/*
 * Build node `ni` (already reserved) at depth d for e[0..n), the sorted prefixes inside it
 * (all longer than d), def being the answer where none of them applies. The prefixes that
 * end within this node's 6 bits paint leaf slots (in pre-order, so inner ones paint last);
 * the longer ones, contiguous per slot, become children built recursively with that slot's
 * painted value as their default.
 */
static int tm_build_node(TM_PRIV *p, size_t ni, unsigned d, const struct tm_ent *e, size_t n,
                         uint32_t def)
{
	uint32_t val[64];
	uint64_t vec = 0, leafvec = 0, bnd = 1;
	unsigned end = d + 6;
	size_t cb = 0, lb = p->sl_len, k;
	int rc;

	for (unsigned i = 0; i < 64; i++)
		val[i] = def;
	for (k = 0; k < n; k++) {
		unsigned c = tm_chunk(e[k].key, d);
		if (e[k].len <= end) {
			tm_paint(val, &bnd, c, end - e[k].len, e[k].nh);
		} else {
			vec |= 1ULL << c;
		}
	}
	if (vec && (rc = tm_sn_reserve(p, (size_t)__builtin_popcountll(vec), &cb)) != 0)
		return rc;
	if ((rc = tm_leaves(p, val, vec, bnd, &leafvec)) != 0)
		return rc;
	p->sn[ni].vec = vec;
	p->sn[ni].leafvec = leafvec;
	p->sn[ni].child_base = (uint32_t)cb - 1;
	p->sn[ni].leaf_base = (uint32_t)lb - 1; /* made relative to the root in tm_build_region() */

	for (k = 0; k < n;) {
		if (e[k].len <= end) {
			k++;
			continue;
		}
		unsigned c = tm_chunk(e[k].key, d);
		size_t k2 = k + 1;
		while (k2 < n && e[k2].len > end && tm_chunk(e[k2].key, d) == c)
			k2++;
		if ((rc = tm_build_node(p, cb++, end, e + k, k2 - k, val[c])) != 0)
			return rc;
		k = k2;
	}
	return 0;
}

#ifndef TM_NEST
/* Build the block of region r (which has longer prefixes) into *out (a root pointer). */
__attribute__((unused)) static int tm_build_region(TM_PRIV *p, uint32_t r, uint32_t def,
                                                   uint64_t *out)
{
	size_t root;
	int rc;

	p->sn_len = 0;
	p->sl_len = 0;
	if ((rc = tm_sn_reserve(p, 1, &root)) != 0)
		return rc;
	if ((rc = tm_build_node(p, root, TM_S, p->reg[r]->e, p->reg[r]->n, def)) != 0)
		return rc;

	size_t bytes = sizeof(struct tm_blk) + p->sn_len * sizeof(struct lpm_node) +
	               p->sl_len * sizeof(uint32_t);
	struct tm_blk *b = malloc(bytes);
	if (!b)
		return -ENOMEM;
	b->def = def;
	b->nnodes = (uint32_t)p->sn_len;
	b->nleaves = (uint32_t)p->sl_len;
	b->bytes = (uint32_t)bytes;
	struct lpm_node *nodes = (struct lpm_node *)(b + 1);
	uint32_t shift = (uint32_t)(p->sn_len * (sizeof(struct lpm_node) / sizeof(uint32_t)));
	for (size_t i = 0; i < p->sn_len; i++) {
		nodes[i] = p->sn[i];
		nodes[i].leaf_base += shift;
	}
	memcpy(nodes + p->sn_len, p->sl, p->sl_len * sizeof(uint32_t));
	*out = (uint64_t)(uintptr_t)nodes;
	return 0;
}
#endif

/* Store e into direct[r] for the readers; retire the block it replaces. */
__attribute__((unused)) static void tm_publish(TM_PRIV *p, uint64_t *direct, uint32_t r, uint64_t e)
{
	uint64_t old = direct[r];
	__atomic_store_n(&direct[r], e, __ATOMIC_RELEASE);
	if (!(e & 1)) {
		struct tm_blk *b = tm_blk_of(e);
		p->nregions++;
		p->nnodes += b->nnodes;
		p->nleaves += b->nleaves;
		p->blk_bytes += b->bytes;
	}
	if (!(old & 1)) {
		struct tm_blk *b = tm_blk_of(old);
		p->nregions--;
		p->nnodes -= b->nnodes;
		p->nleaves -= b->nleaves;
		p->blk_bytes -= b->bytes;
		tm_retire(p, b);
	}
}

/* ---- region arrays ---- */

/*
 * The store of a region's long routes: tm_find() (binary search: 1 and the position of
 * key/len if present, else 0 and the position where it would go), tm_ent_at(),
 * tm_reg_insert() / tm_reg_remove() at a position found by tm_find(), tm_slice() (the routes
 * of a block). A position is an index (one array per region) or, with TM_NEST, chunk << 32 |
 * index in the chunk.
 */
#ifndef TM_NEST
static inline struct tm_ent *tm_ent_at(const TM_PRIV *p, uint32_t r, size_t pos)
{
	return &p->reg[r]->e[pos];
}

static int tm_find(const TM_PRIV *p, uint32_t r, tm_key key, unsigned len, size_t *pos)
{
	return tm_ent_search(p->reg[r] ? p->reg[r]->e : NULL, 0, tm_nreg(p, r), key, len, pos);
}

static int tm_reg_insert(TM_PRIV *p, uint32_t r, size_t *ppos, tm_key key, unsigned len,
                         uint32_t nh)
{
	size_t n = tm_nreg(p, r), pos = *ppos;
	struct tm_reg *a = realloc(p->reg[r], tm_reg_bytes(n + 1));
	if (!a)
		return -ENOMEM;
	p->reg[r] = a;
	memmove(a->e + pos + 1, a->e + pos, (n - pos) * sizeof(a->e[0]));
	a->e[pos].key = key;
	a->e[pos].len = (uint8_t)len;
	a->e[pos].nh = nh;
	a->n = (uint32_t)(n + 1);
	return 0;
}

static void tm_reg_remove(TM_PRIV *p, uint32_t r, size_t pos)
{
	struct tm_reg *a = p->reg[r], *s;
	size_t n = a->n - 1;
	memmove(a->e + pos, a->e + pos + 1, (n - pos) * sizeof(a->e[0]));
	a->n = (uint32_t)n;
	if (n == 0) {
		free(a);
		p->reg[r] = NULL;
		return;
	}
	if ((s = realloc(a, tm_reg_bytes(n))) != NULL)
		p->reg[r] = s;
}
#else
static inline struct tm_ent *tm_ent_at(const TM_PRIV *p, uint32_t r, size_t pos)
{
	return &p->reg[r]->ch[pos >> 32]->e[(uint32_t)pos];
}

/* In chunk k from index lo: the first entry not below key/len (*at), 1 if it is key/len. */
static int tm_chk_find(const struct tm_chk *k, size_t lo, tm_key key, unsigned len, size_t *at)
{
	return tm_ent_search(k->e, lo, k->n, key, len, at);
}

static int tm_find(const TM_PRIV *p, uint32_t r, tm_key key, unsigned len, size_t *pos)
{
	const struct tm_reg *a = p->reg[r];
	size_t lo = 1, hi, at;
	int found;

	if (!a || !a->nch) {
		*pos = 0;
		return 0;
	}
	/* the last chunk whose first entry is not above key/len, or the first chunk */
	hi = a->nch;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct tm_ent *f = &a->ch[mid]->e[0];
		if (tm_cmp(f->key, f->len, key, len) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	found = tm_chk_find(a->ch[lo - 1], 0, key, len, &at);
	*pos = (lo - 1) << 32 | at;
	return found;
}

/* Insert at *pos (from tm_find()); *pos becomes the route's position. */
static int tm_reg_insert(TM_PRIV *p, uint32_t r, size_t *pos, tm_key key, unsigned len, uint32_t nh)
{
	struct tm_reg *a = p->reg[r];
	size_t c = *pos >> 32, i = (uint32_t)*pos;
	struct tm_chk *k;

	if (!a) {
		if ((a = calloc(1, sizeof(*a))) == NULL)
			return -ENOMEM;
		p->reg[r] = a; /* kept, even when empty again */
	}
	if (!a->nch || a->ch[c]->n == TM_CH) { /* a new chunk: the first, or half of a full one */
		size_t cap = a->chcap;
		if (tm_grow(&a->ch, &cap, a->nch + 1, sizeof(*a->ch), 4) < 0)
			return -ENOMEM;
		a->chcap = (uint32_t)cap;
		if ((k = p->spare) != NULL)
			p->spare = NULL;
		else if ((k = malloc(sizeof(*k))) == NULL)
			return -ENOMEM;
		if (!a->nch) {
			k->n = 0;
			a->ch[0] = k;
			a->nch = 1;
		} else {
			struct tm_chk *o = a->ch[c];
			memmove(a->ch + c + 2, a->ch + c + 1, (a->nch - c - 1) * sizeof(*a->ch));
			a->ch[c + 1] = k;
			a->nch++;
			memcpy(k->e, o->e + TM_CH / 2, (TM_CH / 2) * sizeof(o->e[0]));
			k->n = TM_CH / 2;
			o->n = TM_CH / 2;
			if (i > TM_CH / 2) {
				c++;
				i -= TM_CH / 2;
			}
		}
	}
	k = a->ch[c];
	memmove(k->e + i + 1, k->e + i, (k->n - i) * sizeof(k->e[0]));
	k->e[i].key = key;
	k->e[i].len = (uint8_t)len;
	k->e[i].nh = nh;
	k->n++;
	a->n++;
	*pos = c << 32 | i;
	return 0;
}

static void tm_reg_remove(TM_PRIV *p, uint32_t r, size_t pos)
{
	struct tm_reg *a = p->reg[r];
	size_t c = pos >> 32, i = (uint32_t)pos;
	struct tm_chk *k = a->ch[c];

	memmove(k->e + i, k->e + i + 1, (k->n - i - 1) * sizeof(k->e[0]));
	k->n--;
	a->n--;
	if (!k->n) {
		memmove(a->ch + c, a->ch + c + 1, (a->nch - c - 1) * sizeof(*a->ch));
		a->nch--;
		free(p->spare);
		p->spare = k;
	}
}

/* In chunk k from index lo: the first entry whose top d bits are not top (galloping: most
 * blocks hold a few routes). */
static size_t tm_chk_end(const struct tm_chk *k, size_t lo, tm_key top, unsigned d)
{
	size_t hi = k->n, step = 1;
	while (lo < hi) {
		if ((k->e[lo].key >> (TM_W - d)) != top)
			return lo;
		size_t probe = lo + step < hi ? lo + step : hi;
		lo++;
		if (probe == hi || (k->e[probe].key >> (TM_W - d)) != top) {
			hi = probe;
			break;
		}
		lo = probe + 1;
		step *= 2;
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if ((k->e[mid].key >> (TM_W - d)) == top)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The routes of region r under the d-bit prefix of key and longer than d (d = TM_S: all of
 * them), sorted: *e, *n. In place when they sit in one chunk, else copied into p->slc (valid
 * until the next call). */
/* In chunk k whose entry 0 is below key/len and entry i not (or i = its count): the first
 * entry not below key/len, galloping back from i. */
static size_t tm_chk_back(const struct tm_chk *k, size_t i, tm_key key, unsigned len)
{
	size_t lo = 0, hi = i, step = 1; /* e[lo] below, e[hi] not */
	while (hi - lo > 1) {
		size_t probe = hi - lo > step ? hi - step : lo;
		if (probe == lo)
			break;
		if (tm_cmp(k->e[probe].key, k->e[probe].len, key, len) < 0) {
			lo = probe;
			break;
		}
		hi = probe;
		step *= 2;
	}
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (tm_cmp(k->e[mid].key, k->e[mid].len, key, len) < 0)
			lo = mid;
		else
			hi = mid;
	}
	return hi;
}

static int tm_slice(TM_PRIV *p, uint32_t r, tm_key key, unsigned d, size_t hint,
                    const struct tm_ent **e, size_t *n)
{
	const struct tm_reg *a = p->reg[r];
	tm_key top = key >> (TM_W - d);
	size_t pos = 0, c, i, end, m = 0;

	*e = p->slc;
	*n = 0;
	if (!a || !a->nch)
		return 0;
	if (d > TM_S) {
		/* the first route not below (top, d + 1): back from hint, the position of
		 * the route (or of the one after it, deleted), if its chunk starts below
		 * that; else search */
		tm_key pk = top << (TM_W - d);
		size_t hc = hint >> 32, hi = (uint32_t)hint;
		const struct tm_ent *f = hc < a->nch ? &a->ch[hc]->e[0] : NULL;
		if (f && hi > 0 && hi <= a->ch[hc]->n && tm_cmp(f->key, f->len, pk, d + 1) < 0)
			pos = hc << 32 | tm_chk_back(a->ch[hc], hi, pk, d + 1);
		else
			tm_find(p, r, pk, d + 1, &pos);
	}
	c = pos >> 32;
	i = (uint32_t)pos;
	if (i == a->ch[c]->n) {
		if (c + 1 == a->nch)
			return 0;
		c++;
		i = 0;
	}
	end = d > TM_S ? tm_chk_end(a->ch[c], i, top, d) : a->ch[c]->n;
	if (end < a->ch[c]->n || c + 1 == a->nch) {
		*e = a->ch[c]->e + i;
		*n = end - i;
		return 0;
	}
	if (tm_grow(&p->slc, &p->slc_cap, a->n, sizeof(*p->slc), 64) < 0)
		return -ENOMEM;
	for (;;) {
		memcpy(p->slc + m, a->ch[c]->e + i, (end - i) * sizeof(*p->slc));
		m += end - i;
		if (end < a->ch[c]->n || ++c == a->nch)
			break;
		i = 0;
		end = d > TM_S ? tm_chk_end(a->ch[c], 0, top, d) : a->ch[c]->n;
	}
	*e = p->slc;
	*n = m;
	return 0;
}
#endif

#ifdef TM_NEST
/*
 * DOC: nested blocks (TM_NEST, IPv6)
 *
 * Real IPv6 routes crowd into a few regions (up to ~5,000 routes each on the 2015 table),
 * so rebuilding a whole region per update is slow. With TM_NEST:
 *   - Nodes hold an absolute pointer `base` in place of child_base/leaf_base (children at
 *     base[0..], leaves at ((uint32_t *)base)[-1], [-2], ...), so a node may point into
 *     another allocation than its own and a lookup needs no block root (lpm6.h).
 *   - A block keeps at most TM_NEST_BUDGET routes below its root node inline: while the
 *     children of the root carry more, the largest become *sub-blocks*, allocated apart.
 *     The parent holds a *proxy* in that child's place: a copy of the sub-block's root node
 *     (whose base points into the sub-block), so crossing into a sub-block costs the
 *     reader nothing. Only a block's root has proxies; the block header's `prox` lists the
 *     root slots that hold one.
 *   - A block is built like a region: from the sorted routes under its prefix (a contiguous
 *     slice of the region's routes, tm_slice()) and its default (the value painted at its
 *     slot in the parent). An update of a long route rebuilds only the smallest block
 *     containing it; a rebuild reuses every sub-block whose default did not change (outside
 *     the slots the route paints, without reading it).
 *   - Publication, one 64-bit store each: a region's root block by its direct entry; a
 *     sub-block whose root bitmaps (vec, leafvec) are unchanged by the proxy's base; else
 *     the parent block is copied (inner bases moved), the proxy in the copy rewritten, and
 *     the copy published by its own slot (its root bitmaps are unchanged). Replaced blocks,
 *     and their sub-blocks that were not reused, are retired for freeing after a grace
 *     period, then their memory is reused (TM_ARENA).
 * Layout of a block, in two parts. Readers never load a block's root node (a sub-block's
 * root is copied by its proxy, a region's root is full, below), nor its header, so these
 * are its *cold part* [header | root | roots of its sub-blocks, in slot order], malloc'ed
 * apart (56 bytes + 8 per proxy; the writer goes from a block to its sub-blocks by these,
 * tm_proxy_at(), and keeps them in step with the proxies). The *hot part* is [for each
 * node, breadth first from the root: its leaves in reverse order, padded to 8 bytes, then
 * its children], cut from an arena where the blocks of a region follow each other depth
 * first (a block, then its sub-blocks). On the real table this took the blocks' lookup part
 * from 1.49 MB (24-byte headers, root nodes, malloc's headers and rounding) to 0.92 MB and
 * the lines an in-table key set touches from 1.33 to 0.82 MiB.
 *   - A region's root node is *full* (tm_build_root_nest()): all 64 slots are children, a
 *     leaf slot being a node of one leaf. It has no leaves, so its children start right
 *     after it and a lookup goes from the direct entry to child v without loading the root
 *     (one dependent load less for every key below the direct array; ~1.5 KiB per region).
 *     The direct entry points one node below those children (where the root would be), the
 *     pointer to the root just below them: tm_eroot(), tm_entry().
 */

struct tm_pend {
	uint32_t node; /* the proxy node, in the block being built */
	unsigned c;    /* its slot in the root */
	size_t lo, n;  /* its routes: e[lo .. lo + n) */
	uint32_t def;  /* its default */
};

static void tm_unacct(TM_PRIV *p, const struct tm_blk *b)
{
	p->nnodes -= b->nnodes;
	p->nleaves -= b->nleaves;
	p->blk_bytes -= b->bytes;
}

/* Room for one more entry in p->fresh. */
static int tm_fresh_room(TM_PRIV *p)
{
	return tm_grow(&p->fresh, &p->fresh_cap, p->nfresh + 1, sizeof(*p->fresh), 64);
}

/* Free the blocks built by a failed update (never published). */
static void tm_fresh_drop(TM_PRIV *p)
{
	for (size_t i = 0; i < p->nfresh; i++) {
		tm_unacct(p, p->fresh[i]);
		tm_blk_free(p, p->fresh[i]);
	}
	p->nfresh = 0;
}

/* The root node of a block: like tm_build_node() at depth d for e[0..n), except that the
 * largest children become proxies (recorded in pend) until the inline ones hold at most
 * TM_NEST_BUDGET routes, and that a region's root (d == TM_S) is *full*: every slot is a
 * child, a leaf slot being a node of one leaf (vec 0, leafvec 1), so that the root has no
 * leaves, its children follow it in the block and a lookup indexes them directly (lpm6.h). */
static int tm_build_root_nest(TM_PRIV *p, unsigned d, const struct tm_ent *e, size_t n,
                              uint32_t def, struct tm_pend *pend, unsigned *npend,
                              uint64_t *proxmask)
{
	uint32_t val[64];
	size_t first[64], cnt[64];
	uint64_t vec = 0, leafvec = 0, prox = 0, bnd = 1, small[TM_NEST_BUDGET + 1] = {0};
	unsigned end = d + 6;
	size_t cb = 0, lb = p->sl_len, k, inl = 0;
	int rc;

	for (unsigned i = 0; i < 64; i++)
		val[i] = def;
	for (k = 0; k < n;) {
		unsigned c = tm_chunk(e[k].key, d);
		if (e[k].len <= end) {
			tm_paint(val, &bnd, c, end - e[k].len, e[k].nh);
			k++;
			continue;
		}
		/* The longer routes of a slot follow each other (its shorter ones sort first):
		 * find the end of the run by galloping, a block may hold thousands. */
		tm_key top = e[k].key >> (TM_W - end);
		size_t in = k, probe = k + 1, step = 1, hi;
		while (probe < n && (e[probe].key >> (TM_W - end)) == top) {
			in = probe;
			step *= 2;
			probe = in + step;
		}
		hi = probe < n ? probe : n;
		for (size_t lo = in + 1; lo < hi;) {
			size_t mid = lo + (hi - lo) / 2;
			if ((e[mid].key >> (TM_W - end)) == top)
				lo = mid + 1;
			else
				hi = mid;
		}
		vec |= 1ULL << c;
		first[c] = k;
		cnt[c] = hi - k;
		inl += hi - k;
		k = hi;
	}
	/* The largest children become proxies (the first slot among equals) until the inline
	 * ones hold at most TM_NEST_BUDGET routes: all those above the budget, then from
	 * small[t], the slots holding t routes, for t from the budget down. */
	if (inl > TM_NEST_BUDGET) {
		for (uint64_t m = vec; m; m &= m - 1) {
			unsigned c = (unsigned)__builtin_ctzll(m);
			if (cnt[c] > TM_NEST_BUDGET) {
				prox |= 1ULL << c;
				inl -= cnt[c];
			} else {
				small[cnt[c]] |= 1ULL << c;
			}
		}
		for (unsigned t = TM_NEST_BUDGET; inl > TM_NEST_BUDGET; t--)
			for (uint64_t m = small[t]; m && inl > TM_NEST_BUDGET; m &= m - 1) {
				prox |= m & -m;
				inl -= t;
			}
	}
	*proxmask = prox;
	uint64_t kids = d == TM_S ? ~0ULL : vec; /* a region's root is full */
	if (kids && (rc = tm_sn_reserve(p, (size_t)__builtin_popcountll(kids), &cb)) != 0)
		return rc;
	if ((rc = tm_leaves(p, val, kids, bnd, &leafvec)) != 0)
		return rc;
	p->sn[0].vec = kids;
	p->sn[0].leafvec = leafvec;
	p->sn[0].child_base = (uint32_t)cb - 1;
	p->sn[0].leaf_base = (uint32_t)lb - 1;

	for (uint64_t m = kids; m; m &= m - 1) {
		unsigned c = (unsigned)__builtin_ctzll(m);
		if (!(vec >> c & 1)) {
			/* a leaf slot of a full root: a node whose 64 slots are that one leaf */
			if ((rc = tm_sl_push(p, val[c])) != 0)
				return rc;
			p->sn[cb].vec = 0;
			p->sn[cb].leafvec = 1;
			p->sn[cb].child_base = (uint32_t)-1;
			p->sn[cb++].leaf_base = (uint32_t)p->sl_len - 2;
		} else if (prox >> c & 1) {
			/* a placeholder: no leaves, no children; filled in once the sub-block
			 * is built */
			p->sn[cb].vec = 0;
			p->sn[cb].leafvec = 0;
			pend[*npend].node = (uint32_t)cb++;
			pend[*npend].c = c;
			pend[*npend].lo = first[c];
			pend[*npend].n = cnt[c];
			pend[*npend].def = val[c];
			(*npend)++;
		} else if ((rc = tm_build_node(p, cb++, end, e + first[c], cnt[c], val[c])) != 0) {
			return rc;
		}
	}
	return 0;
}

/*
 * Build the block for e[0..n) (sorted, all under one d-bit prefix and longer than d) with
 * default def, and its sub-blocks; *out = its root. old: the block it replaces (same prefix,
 * same depth) or NULL; a sub-block of old at the same slot with the same default is reused
 * (nothing under it changed: the caller rebuilds the smallest block containing the change).
 * dirty: the slots of the root whose default may differ from old's; the others reuse old's
 * sub-block without reading it. New blocks are listed in p->fresh until published.
 */
static int tm_build_block(TM_PRIV *p, unsigned d, const struct tm_ent *e, size_t n, uint32_t def,
                          const struct lpm_node *old, uint64_t dirty, struct lpm_node **out)
{
	struct tm_pend pend[64];
	unsigned np = 0;
	size_t root, bytes;
	uint64_t prox;
	int rc;

	p->sn_len = 0;
	p->sl_len = 0;
	if ((rc = tm_sn_reserve(p, 1, &root)) != 0)
		return rc;
	if ((rc = tm_build_root_nest(p, d, e, n, def, pend, &np, &prox)) != 0)
		return rc;
	if ((rc = tm_fresh_room(p)) != 0)
		return rc;
	if (tm_grow(&p->fp, &p->fp_cap, p->sn_len, sizeof(*p->fp), 64) < 0)
		return -ENOMEM;
	/* Layout: cold part [header | root | roots of the sub-blocks], hot part [(a region's
	 * root only: pointer to the root) | then, node by node in breadth-first order, its leaf
	 * group (leaves in reverse order, padded to 8 bytes) and its children]. A node's base
	 * points at its first child, its i-th leaf (from 1) is at ((uint32_t *)base)[-i]. */
	size_t rptr = d == TM_S ? sizeof(void *) : 0;
	bytes = rptr + (p->sn_len - 1) * sizeof(struct lpm_node);
	for (size_t i = 0; i < p->sn_len; i++)
		bytes += tm_lgroup(p->sn[i].leafvec);
	struct tm_blk *b = tm_cold_alloc(p, prox);
	if (!b)
		return -ENOMEM;
	char *cur = tm_hot_alloc(p, bytes);
	if (!cur) {
		tm_cold_put(p, b);
		return -ENOMEM;
	}
	b->def = def;
	b->nnodes = (uint32_t)p->sn_len;
	b->nleaves = (uint32_t)p->sl_len;
	b->bytes = (uint32_t)bytes;
	b->hot = cur;
	p->fresh[p->nfresh++] = b;
	p->nnodes += b->nnodes;
	p->nleaves += b->nleaves;
	p->blk_bytes += b->bytes;
	struct lpm_node *nodes = (struct lpm_node *)(b + 1);
	memcpy(cur, &nodes, rptr);
	cur += rptr;
	/* fp[i]: where scratch node i goes; a node is placed with its siblings when its parent
	 * is laid out, and scratch nodes are numbered in that order too (children are reserved
	 * together, a parent before its children), so a pass in scratch order is breadth
	 * first enough: every node is placed before it is visited. */
	p->fp[0] = nodes;
	for (size_t i = 0; i < p->sn_len; i++) {
		const struct lpm_node *x = &p->sn[i];
		struct lpm_node *f = p->fp[i];
		unsigned nl = (unsigned)__builtin_popcountll(x->leafvec);
		unsigned k = (unsigned)__builtin_popcountll(x->vec);
		cur += tm_lgroup(x->leafvec);
		for (unsigned j = 1; j <= nl; j++)
			((uint32_t *)(void *)cur)[-(ptrdiff_t)j] = p->sl[x->leaf_base + j];
		struct lpm_node *base = (struct lpm_node *)(void *)cur;
		for (unsigned j = 0; j < k; j++)
			p->fp[x->child_base + 1 + j] = base + j;
		cur += k * sizeof(struct lpm_node);
		f->vec = x->vec;
		f->leafvec = x->leafvec;
		*tm_node_wordp(f) = (uint64_t)(uintptr_t)base;
	}
	/* The scratch is free again: build the sub-blocks (recursively) and link them. Their
	 * positions first: fp is scratch too. */
	struct lpm_node *pxn[64];
	for (unsigned i = 0; i < np; i++)
		pxn[i] = p->fp[pend[i].node];
	for (unsigned i = 0; i < np; i++) {
		unsigned c = pend[i].c;
		struct lpm_node *os = old ? tm_proxy_at(old, c) : NULL, *sub;
		if (os && !(dirty >> c & 1)) {
			*pxn[i] = *tm_child(old, c); /* the old proxy, without loading os */
			tm_subs(nodes)[i] = os;
			continue;
		}
		if (!os || tm_blk_of((uint64_t)(uintptr_t)os)->def != pend[i].def) {
			rc = tm_build_block(p, d + 6, e + pend[i].lo, pend[i].n, pend[i].def, os,
			                    ~0ULL, &sub);
			if (rc)
				return rc;
		} else {
			sub = os;
		}
		*pxn[i] = *sub; /* a proxy: a copy of the sub-block's root node */
		tm_subs(nodes)[i] = sub;
	}
	*out = nodes;
	return 0;
}

/* After old was replaced by nw (NULL: by nothing): retire old and every sub-block under it
 * that nw does not reuse. */
static void tm_retire_tree(TM_PRIV *p, struct lpm_node *old, const struct lpm_node *nw)
{
	for (uint64_t m = tm_blk_of((uint64_t)(uintptr_t)old)->prox; m; m &= m - 1) {
		unsigned c = (unsigned)__builtin_ctzll(m);
		struct lpm_node *os = tm_proxy_at(old, c), *ns;
		ns = nw ? tm_proxy_at(nw, c) : NULL;
		if (os != ns)
			tm_retire_tree(p, os, ns);
	}
	struct tm_blk *b = tm_blk_of((uint64_t)(uintptr_t)old);
	tm_unacct(p, b);
	tm_retire(p, b);
}

/* The slots of a block's root (at depth d) whose painted value a change of route key/len
 * (longer than d) may change: those it paints, none if it ends below the root. */
static inline uint64_t tm_dirty(tm_key key, unsigned len, unsigned d)
{
	if (len > d + 6)
		return 0;
	unsigned span = 1u << (d + 6 - len);
	return span == 64 ? ~0ULL : ((1ULL << span) - 1) << tm_chunk(key, d);
}

/* Store e (a leaf or a block root) into direct[r]; retire what it replaces. */
static void tm_publish_nest(TM_PRIV *p, uint64_t *direct, uint32_t r, uint64_t e)
{
	uint64_t old = direct[r];
	__atomic_store_n(&direct[r], e, __ATOMIC_RELEASE);
	p->nregions += !(e & 1);
	p->nregions -= !(old & 1);
	if (!(old & 1))
		tm_retire_tree(p, tm_eroot(old), (e & 1) ? NULL : tm_eroot(e));
}

#endif

/* Make region r answer from its array and default def. force: rebuild even if def is the
 * one its block was built with (its array changed). */
static int tm_apply_region(TM_PRIV *p, uint64_t *direct, uint32_t r, uint32_t def, int force,
                           uint64_t dirty)
{
	uint64_t cur = direct[r], e;
	int rc;

	if (tm_nreg(p, r) == 0) {
		e = tm_leaf(def);
		if (e != cur)
#ifdef TM_NEST
			tm_publish_nest(p, direct, r, e);
#else
			tm_publish(p, direct, r, e);
#endif
		return 0;
	}
#ifdef TM_NEST
	if (!force && !(cur & 1) && tm_blk_of((uint64_t)(uintptr_t)tm_eroot(cur))->def == def)
		return 0;
#else
	if (!force && !(cur & 1) && tm_blk_of(cur)->def == def)
		return 0;
#endif
#ifdef TM_NEST
	struct lpm_node *nr;
	const struct tm_ent *re;
	size_t rn;
	if ((rc = tm_slice(p, r, 0, TM_S, 0, &re, &rn)) != 0)
		return rc;
	const struct lpm_node *oroot = (cur & 1) ? NULL : tm_eroot(cur);
	if (oroot && tm_blk_of((uint64_t)(uintptr_t)oroot)->def != def)
		dirty = ~0ULL;
	rc = tm_build_block(p, TM_S, re, rn, def, oroot, dirty, &nr);
	if (rc) {
		tm_fresh_drop(p);
		return rc;
	}
	p->nfresh = 0;
	tm_publish_nest(p, direct, r, tm_entry(nr));
#else
	(void)dirty;
	if ((rc = tm_build_region(p, r, def, &e)) != 0)
		return rc;
	tm_publish(p, direct, r, e);
#endif
	return 0;
}

/* The answer of the longest prefix in the heap at idx or above it. */
static uint32_t tm_cover(const TM_PRIV *p, uint32_t idx)
{
	for (; idx; idx >>= 1)
		if (p->heap[idx] != LPM_NO_ROUTE)
			return p->heap[idx];
	return LPM_NO_ROUTE;
}

/* Re-apply every region under heap node idx (at depth level), def covering it from above. */
static int tm_fill(TM_PRIV *p, uint64_t *direct, uint32_t idx, unsigned level, uint32_t def)
{
	int rc;

	if (p->heap[idx] != LPM_NO_ROUTE)
		def = p->heap[idx];
	if (level == TM_S)
		return tm_apply_region(p, direct, idx - (uint32_t)TM_NREG, def, 0, ~0ULL);
	if ((rc = tm_fill(p, direct, 2 * idx, level + 1, def)) != 0)
		return rc;
	return tm_fill(p, direct, 2 * idx + 1, level + 1, def);
}

/* Region r's array changed at route key/len (longer than TM_S): make the lookup structure
 * follow. Without TM_NEST that rebuilds the region; with it, the smallest block containing
 * the route. hint: the route's position in the store, or that of the next route if it was
 * deleted (see tm_slice()). */
static int tm_apply_route(TM_PRIV *p, uint64_t *direct, uint32_t r, tm_key key, unsigned len,
                          size_t hint)
{
#ifdef TM_NEST
	uint64_t cur = direct[r];
	if ((cur & 1) || tm_nreg(p, r) == 0)
		return tm_apply_region(p, direct, r, tm_cover(p, (uint32_t)TM_NREG | r), 1, ~0ULL);
	/* Walk down to the smallest block containing the route: root (at depth d), copied by
	 * the proxy node prox of block proot, itself published at pslot. */
	struct lpm_node *root = tm_eroot(cur), *n = root;
	struct lpm_node *prox = NULL, *proot = NULL;
	uint64_t *pslot = NULL, *slot = &direct[r];
	/* pc: prox's slot in proot; gp, gc: the block holding the proxy published at pslot (if
	 * pslot is not the direct entry) and its slot there */
	struct lpm_node *gp = NULL;
	unsigned d = TM_S, nd = TM_S, pc = 0, gc = 0;
	while (len > nd + 6) {
		unsigned c = tm_chunk(key, nd);
		if (!(n->vec >> c & 1))
			break;
		struct lpm_node *ch = tm_child(n, c);
		nd += 6;
		if (n == root && (tm_blk_of((uint64_t)(uintptr_t)root)->prox >> c & 1)) {
			pslot = slot;
			slot = tm_node_wordp(ch);
			gp = proot;
			gc = pc;
			proot = root;
			prox = ch;
			root = n = tm_proxy_at(root, c);
			pc = c;
			d = nd;
		} else {
			n = ch;
		}
	}
	if (!prox)
		return tm_apply_region(p, direct, r, tm_cover(p, (uint32_t)TM_NREG | r), 1,
		                       tm_dirty(key, len, TM_S));
	/* The routes of the block: those under key's d-bit prefix, longer than d. */
	const struct tm_ent *se;
	size_t sn;
	struct lpm_node *nr;
	int rc = tm_slice(p, r, key, d, hint, &se, &sn);
	if (rc)
		return rc;
	rc = tm_build_block(p, d, se, sn, tm_blk_of((uint64_t)(uintptr_t)root)->def, root,
	                    tm_dirty(key, len, d), &nr);
	if (rc) {
		tm_fresh_drop(p);
		return rc;
	}
	if (nr->vec == prox->vec && nr->leafvec == prox->leafvec) {
		/* Same root bitmaps: only the proxy's base changes, one 64-bit store. */
		p->nfresh = 0;
		__atomic_store_n(slot, tm_node_word(nr), __ATOMIC_RELEASE);
		tm_subs(proot)[tm_sub_idx(tm_blk_of((uint64_t)(uintptr_t)proot)->prox, pc)] = nr;
		tm_retire_tree(p, root, nr);
		return 0;
	}
	/* The proxy changes as a whole: publish a copy of the parent block holding the new
	 * proxy, by the parent's own slot (its root bitmaps are unchanged, only its base). */
	struct tm_blk *ob = tm_blk_of((uint64_t)(uintptr_t)proot), *nb;
	char *oh = ob->hot, *nh;
	if ((rc = tm_fresh_room(p)) != 0 || (nb = tm_cold_alloc(p, ob->prox)) == NULL) {
		tm_fresh_drop(p);
		return rc ? rc : -ENOMEM;
	}
	if ((nh = tm_hot_alloc(p, ob->bytes)) == NULL) {
		tm_cold_put(p, nb);
		tm_fresh_drop(p);
		return -ENOMEM;
	}
	memcpy(nb, ob, tm_cold_bytes((unsigned)__builtin_popcountll(ob->prox)));
	memcpy(nh, oh, ob->bytes);
	nb->hot = nh;
	p->fresh[p->nfresh++] = nb;
	p->nnodes += nb->nnodes;
	p->nleaves += nb->nleaves;
	p->blk_bytes += nb->bytes;
	/* Move the copy's inner bases (all but the proxies') by the copy's offset. */
	uint64_t delta = (uint64_t)(uintptr_t)nh - (uint64_t)(uintptr_t)oh;
	struct lpm_node *np = (struct lpm_node *)(nb + 1);
	if (pslot == &direct[r]) /* a region's root: the pointer to it */
		memcpy(nh, &np, sizeof(np));
	else /* the sub-block a proxy of gp leads to */
		tm_subs(gp)[tm_sub_idx(tm_blk_of((uint64_t)(uintptr_t)gp)->prox, gc)] = np;
	tm_subs(np)[tm_sub_idx(nb->prox, pc)] = nr;
	{ /* depth first from the root's inline children; at most 64 siblings per level */
		struct lpm_node *stack[64 * 22], *x;
		unsigned sp = 0, j = 0;
		uint64_t w = tm_node_word(np) + delta;
		*tm_node_wordp(np) = w;
		for (uint64_t m = np->vec; m; m &= m - 1, j++)
			if (!(nb->prox >> __builtin_ctzll(m) & 1))
				stack[sp++] = (struct lpm_node *)(uintptr_t)w + j;
		while (sp) {
			x = stack[--sp];
			w = tm_node_word(x) + delta;
			*tm_node_wordp(x) = w;
			unsigned k = (unsigned)__builtin_popcountll(x->vec);
			for (j = 0; j < k; j++)
				stack[sp++] = (struct lpm_node *)(uintptr_t)w + j;
		}
	}
	struct lpm_node *nprox = (struct lpm_node *)(void *)(nh + ((char *)prox - oh));
	*nprox = *nr;
	p->nfresh = 0;
	__atomic_store_n(pslot, pslot == &direct[r] ? tm_entry(np) : tm_node_word(np),
	                 __ATOMIC_RELEASE);
	/* The copy holds the parent's other proxies: retire the parent's block alone, and the
	 * old sub-block with what nr does not reuse. */
	tm_retire_tree(p, root, nr);
	tm_unacct(p, ob);
	tm_retire(p, ob);
	return 0;
#else
	(void)key;
	(void)len;
	(void)hint;
	return tm_apply_region(p, direct, r, tm_cover(p, (uint32_t)TM_NREG | r), 1, ~0ULL);
#endif
}

/* ---- the operations ---- */

static int tm_add(TM_TBL *t, tm_key key, unsigned len, uint32_t nh)
{
	TM_PRIV *p;
	int rc;

	if (!t || nh > LPM_NH_MAX || (rc = tm_check(key, len)) != 0)
		return -EINVAL;
	p = t->priv;
	if (len <= TM_S) {
		uint32_t idx = tm_heap_idx(key, len), old = p->heap[idx];
		if (old == nh)
			return 0;
		p->heap[idx] = nh;
		rc = tm_fill(p, t->direct, idx, len, tm_cover(p, idx >> 1));
		if (rc) { /* put back what we can */
			p->heap[idx] = old;
			tm_fill(p, t->direct, idx, len, tm_cover(p, idx >> 1));
			return rc;
		}
		if (old == LPM_NO_ROUTE)
			p->nprefix++;
		return 0;
	}

	uint32_t r = tm_top(key, TM_S);
	size_t pos;
	if (tm_find(p, r, key, len, &pos)) {
		uint32_t old = tm_ent_at(p, r, pos)->nh;
		if (old == nh)
			return 0;
		tm_ent_at(p, r, pos)->nh = nh;
		if ((rc = tm_apply_route(p, t->direct, r, key, len, pos)) != 0) {
			tm_ent_at(p, r, pos)->nh = old;
			return rc;
		}
		return 0;
	}
	if ((rc = tm_reg_insert(p, r, &pos, key, len, nh)) != 0)
		return rc;
	if ((rc = tm_apply_route(p, t->direct, r, key, len, pos)) != 0) {
		tm_find(p, r, key, len, &pos); /* an insert may have moved it */
		tm_reg_remove(p, r, pos);
		return rc;
	}
	p->nprefix++;
	p->nlong++;
	return 0;
}

static int tm_del(TM_TBL *t, tm_key key, unsigned len)
{
	TM_PRIV *p;
	int rc;

	if (!t || (rc = tm_check(key, len)) != 0)
		return -EINVAL;
	p = t->priv;
	if (len <= TM_S) {
		uint32_t idx = tm_heap_idx(key, len), old = p->heap[idx];
		if (old == LPM_NO_ROUTE)
			return -ENOENT;
		p->heap[idx] = LPM_NO_ROUTE;
		rc = tm_fill(p, t->direct, idx, len, tm_cover(p, idx >> 1));
		if (rc) {
			p->heap[idx] = old;
			tm_fill(p, t->direct, idx, len, tm_cover(p, idx >> 1));
			return rc;
		}
		p->nprefix--;
		return 0;
	}

	uint32_t r = tm_top(key, TM_S);
	size_t pos;
	if (!tm_find(p, r, key, len, &pos))
		return -ENOENT;
	struct tm_ent saved = *tm_ent_at(p, r, pos);
	tm_reg_remove(p, r, pos);
	if ((rc = tm_apply_route(p, t->direct, r, key, len, pos)) != 0) {
		/* nothing was published: putting the route back restores the table (with
		 * TM_NEST a chunk emptied by the remove is kept as the spare for this) */
		tm_find(p, r, key, len, &pos);
		tm_reg_insert(p, r, &pos, saved.key, saved.len, saved.nh);
		return rc;
	}
	p->nprefix--;
	p->nlong--;
	return 0;
}

static int tm_get(const TM_TBL *t, tm_key key, unsigned len, uint32_t *nh)
{
	const TM_PRIV *p;
	size_t pos;

	if (!t || !nh || tm_check(key, len))
		return -EINVAL;
	p = t->priv;
	if (len <= TM_S) {
		uint32_t v = p->heap[tm_heap_idx(key, len)];
		if (v == LPM_NO_ROUTE)
			return -ENOENT;
		*nh = v;
		return 0;
	}
	uint32_t r = tm_top(key, TM_S);
	if (!tm_find(p, r, key, len, &pos))
		return -ENOENT;
	*nh = tm_ent_at(p, r, pos)->nh;
	return 0;
}

static TM_TBL *tm_create(void)
{
	TM_TBL *t = calloc(1, sizeof(*t));
	if (!t)
		goto nomem;
	t->priv = tm_priv_new();
	t->direct = tm_direct_new();
	if (!t->priv || !t->direct) {
		tm_priv_free(t->priv);
		free(t->direct);
		free(t);
		goto nomem;
	}
	return t;
nomem:
	errno = ENOMEM;
	return NULL;
}

static void tm_destroy(TM_TBL *t)
{
	if (!t)
		return;
	tm_direct_free(t->priv, t->direct);
	tm_priv_free(t->priv);
	free(t);
}

/* Stable merge sort of routes by (key, len): equal prefixes keep their input order. */
static void tm_msort(struct tm_ent *a, struct tm_ent *tmp, size_t n)
{
	if (n < 2)
		return;
	if (n <= 16) { /* insertion sort, stable */
		for (size_t i = 1; i < n; i++) {
			struct tm_ent x = a[i];
			size_t j = i;
			while (j > 0 && tm_cmp(a[j - 1].key, a[j - 1].len, x.key, x.len) > 0) {
				a[j] = a[j - 1];
				j--;
			}
			a[j] = x;
		}
		return;
	}
	size_t h = n / 2, i = 0, j = h, k = 0;
	tm_msort(a, tmp, h);
	tm_msort(a + h, tmp, n - h);
	if (tm_cmp(a[h - 1].key, a[h - 1].len, a[h].key, a[h].len) <= 0)
		return;
	while (i < h && j < n)
		tmp[k++] = tm_cmp(a[j].key, a[j].len, a[i].key, a[i].len) < 0 ? a[j++] : a[i++];
	while (i < h)
		tmp[k++] = a[i++];
	memcpy(a, tmp, k * sizeof(*a)); /* the rest of the right half is in place */
}

/* Replace the whole table by e[0..n) (validated; the array is sorted in place). */
static int tm_replace(TM_TBL *t, struct tm_ent *e, size_t n)
{
	TM_PRIV *np = NULL, *op;
	uint64_t *nd = NULL, *od;
	struct tm_ent *tmp = NULL;
	size_t i, k, m = 0;
	int rc = -ENOMEM;

	if (n) {
		tmp = malloc(n * sizeof(*tmp));
		if (!tmp)
			goto fail;
		tm_msort(e, tmp, n);
		free(tmp);
		tmp = NULL;
	}
	/* Drop all but the last of equal prefixes. */
	for (i = 0; i < n; i++) {
		if (i + 1 < n && e[i + 1].key == e[i].key && e[i + 1].len == e[i].len)
			continue;
		e[m++] = e[i];
	}
	np = tm_priv_new();
	nd = tm_direct_new();
	if (!np || !nd)
		goto fail;
	for (i = 0; i < m; i = k) {
		if (e[i].len <= TM_S) {
			np->heap[tm_heap_idx(e[i].key, e[i].len)] = e[i].nh;
			np->nprefix++;
			k = i + 1;
			continue;
		}
		/* A region's long prefixes are contiguous in the sorted input; short prefixes
		 * inside a region sort before them (they start at the region's first address
		 * only for /TM_S, which is shorter and so comes first). */
		uint32_t r = tm_top(e[i].key, TM_S);
		for (k = i + 1; k < m && e[k].len > TM_S && tm_top(e[k].key, TM_S) == r; k++)
			;
		size_t cnt = k - i;
#ifndef TM_NEST
		np->reg[r] = malloc(tm_reg_bytes(cnt));
		if (!np->reg[r])
			goto fail;
		memcpy(np->reg[r]->e, e + i, cnt * sizeof(struct tm_ent));
		np->reg[r]->n = (uint32_t)cnt;
#else
		/* full chunks: the first inserts split them */
		struct tm_reg *a = calloc(1, sizeof(*a));
		if (!a)
			goto fail;
		np->reg[r] = a;
		a->chcap = (uint32_t)((cnt + TM_CH - 1) / TM_CH);
		if ((a->ch = malloc(a->chcap * sizeof(*a->ch))) == NULL)
			goto fail;
		for (size_t j = 0; j < cnt; j += TM_CH) {
			size_t m = cnt - j < TM_CH ? cnt - j : TM_CH;
			struct tm_chk *c = malloc(sizeof(*c));
			if (!c)
				goto fail;
			memcpy(c->e, e + i + j, m * sizeof(struct tm_ent));
			c->n = (uint32_t)m;
			a->ch[a->nch++] = c;
		}
		a->n = (uint32_t)cnt;
#endif
		np->nprefix += cnt;
		np->nlong += cnt;
	}
	if ((rc = tm_fill(np, nd, 1, 0, LPM_NO_ROUTE)) != 0)
		goto fail;
	tm_reclaim(np); /* nothing was retired, but keep the invariant */

	/* Publish: one pointer store; then wait for readers of the old table and free it. */
	op = t->priv;
	od = t->direct;
	/* Blocks of the new table become visible with the array pointer. */
	__atomic_store_n(&t->direct, nd, __ATOMIC_RELEASE);
	t->priv = np;
	synchronize_rcu();
	tm_direct_free(op, od);
	tm_priv_free(op);
	return 0;
fail:
	free(tmp);
	tm_direct_free(np, nd);
	tm_priv_free(np);
	return rc;
}

/* Pre-order walk of heap node idx at depth level, and of the region arrays under it. */
static int tm_walk_rec(const TM_PRIV *p, uint32_t idx, unsigned level,
                       int (*cb)(tm_key, unsigned, uint32_t, void *), void *arg)
{
	int rc;

	if (p->heap[idx] != LPM_NO_ROUTE) {
		tm_key key = level ? (tm_key)(idx - (1u << level)) << (TM_W - level) : 0;
		if ((rc = cb(key, level, p->heap[idx], arg)) != 0)
			return rc;
	}
	if (level == TM_S) {
		uint32_t r = idx - (uint32_t)TM_NREG;
#ifndef TM_NEST
		for (size_t i = 0; i < tm_nreg(p, r); i++) {
			const struct tm_ent *e = &p->reg[r]->e[i];
			if ((rc = cb(e->key, e->len, e->nh, arg)) != 0)
				return rc;
		}
#else
		for (size_t c = 0; p->reg[r] && c < p->reg[r]->nch; c++)
			for (size_t i = 0; i < p->reg[r]->ch[c]->n; i++) {
				const struct tm_ent *e = &p->reg[r]->ch[c]->e[i];
				if ((rc = cb(e->key, e->len, e->nh, arg)) != 0)
					return rc;
			}
#endif
		return 0;
	}
	if ((rc = tm_walk_rec(p, 2 * idx, level + 1, cb, arg)) != 0)
		return rc;
	return tm_walk_rec(p, 2 * idx + 1, level + 1, cb, arg);
}

static int tm_walk(const TM_TBL *t, int (*cb)(tm_key, unsigned, uint32_t, void *), void *arg)
{
	if (!t || !cb)
		return -EINVAL;
	return tm_walk_rec(t->priv, 1, 0, cb, arg);
}

static void tm_stats(const TM_TBL *t, struct lpm_stats *st)
{
	const TM_PRIV *p = t->priv;
	size_t ctl = sizeof(*t) + sizeof(*p) + (2 * TM_NREG) * sizeof(*p->heap) +
	             TM_NREG * sizeof(*p->reg) + p->gc_cap * sizeof(void *) +
	             p->sn_cap * sizeof(*p->sn) + p->sl_cap * sizeof(*p->sl) + p->gc_bytes;
#ifndef TM_NEST
	for (size_t r = 0; r < TM_NREG; r++)
		if (p->reg[r])
			ctl += tm_reg_bytes(p->reg[r]->n);
#else
	ctl += p->fresh_cap * sizeof(*p->fresh) + p->fp_cap * sizeof(*p->fp) +
	       p->slc_cap * sizeof(*p->slc) + (p->spare ? sizeof(*p->spare) : 0) + p->pool_bytes +
	       p->cold_bytes + (size_t)(p->ar_end - p->ar_cur);
	for (size_t r = 0; r < TM_NREG; r++)
		if (p->reg[r])
			ctl += sizeof(*p->reg[r]) + p->reg[r]->chcap * sizeof(*p->reg[r]->ch) +
			       p->reg[r]->nch * sizeof(struct tm_chk);
#endif
	memset(st, 0, sizeof(*st));
	st->prefixes = p->nprefix;
	st->lookup_bytes = TM_NREG * sizeof(*t->direct) + p->blk_bytes;
	st->control_bytes = ctl;
	st->regions = p->nregions;
	st->nodes = p->nnodes;
	st->leaves = p->nleaves;
}
