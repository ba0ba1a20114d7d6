/*
 * rt_fib_trie.c — a small RCU-safe binary trie behind rt_fib.h (the fallback table).
 *
 * DOC: one node per prefix bit, nodes in fixed-address chunks named by 32-bit ids. A writer
 * builds a node completely and then publishes it with one release store into its parent's
 * child slot; next hops are single 32-bit stores. Nodes are never freed while the table
 * lives (a delete only clears the next hop), so a reader that walks concurrently with any
 * update sees either the old or the new value and never freed memory. Lookups cost one
 * dependent load per bit: fine for tests and small tables; lpm/ replaces this for speed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "router/rt_fib.h"

#define CHUNK_SHIFT 16
#define CHUNK_NODES (1u << CHUNK_SHIFT)
#define MAX_CHUNKS  4096

struct tnode {
	uint32_t child[2]; /* node ids, 0 = none (id 0 is the root, never a child) */
	uint32_t nh;
};

struct trie {
	struct tnode *chunk[MAX_CHUNKS];
	uint32_t nnodes;
	size_t nprefixes;
};

static inline struct tnode *node(const struct trie *t, uint32_t id)
{
	return &t->chunk[id >> CHUNK_SHIFT][id & (CHUNK_NODES - 1)];
}

static int trie_init(struct trie *t)
{
	memset(t, 0, sizeof(*t));
	t->chunk[0] = malloc(sizeof(struct tnode) * CHUNK_NODES);
	if (!t->chunk[0])
		return -ENOMEM;
	t->chunk[0][0] = (struct tnode){{0, 0}, RT_FIB_MISS};
	t->nnodes = 1;
	return 0;
}

static void trie_fini(struct trie *t)
{
	for (unsigned i = 0; i < MAX_CHUNKS; i++)
		free(t->chunk[i]);
}

static uint32_t trie_new(struct trie *t)
{
	uint32_t id = t->nnodes;
	if ((id & (CHUNK_NODES - 1)) == 0) {
		if ((id >> CHUNK_SHIFT) >= MAX_CHUNKS)
			return 0;
		t->chunk[id >> CHUNK_SHIFT] = malloc(sizeof(struct tnode) * CHUNK_NODES);
		if (!t->chunk[id >> CHUNK_SHIFT])
			return 0;
	}
	*node(t, id) = (struct tnode){{0, 0}, RT_FIB_MISS};
	t->nnodes++;
	return id;
}

static inline unsigned bit(const uint8_t *k, unsigned i)
{
	return (k[i >> 3] >> (7 - (i & 7))) & 1;
}

static int trie_add(struct trie *t, const uint8_t *k, unsigned plen, uint32_t nh)
{
	uint32_t id = 0;
	for (unsigned i = 0; i < plen; i++) {
		unsigned b = bit(k, i);
		uint32_t c = node(t, id)->child[b];
		if (!c) {
			c = trie_new(t);
			if (!c)
				return -ENOMEM;
			__atomic_store_n(&node(t, id)->child[b], c, __ATOMIC_RELEASE);
		}
		id = c;
	}
	if (node(t, id)->nh == RT_FIB_MISS)
		t->nprefixes++;
	__atomic_store_n(&node(t, id)->nh, nh, __ATOMIC_RELEASE);
	return 0;
}

static int trie_del(struct trie *t, const uint8_t *k, unsigned plen)
{
	uint32_t id = 0;
	for (unsigned i = 0; i < plen; i++) {
		id = node(t, id)->child[bit(k, i)];
		if (!id)
			return -ENOENT;
	}
	if (node(t, id)->nh == RT_FIB_MISS)
		return -ENOENT;
	__atomic_store_n(&node(t, id)->nh, RT_FIB_MISS, __ATOMIC_RELEASE);
	t->nprefixes--;
	return 0;
}

static inline uint32_t trie_lookup(const struct trie *t, const uint8_t *k, unsigned width)
{
	uint32_t id = 0, best = RT_FIB_MISS;
	for (unsigned i = 0;; i++) {
		uint32_t nh = __atomic_load_n(&node(t, id)->nh, __ATOMIC_ACQUIRE);
		if (nh != RT_FIB_MISS)
			best = nh;
		if (i == width)
			break;
		id = __atomic_load_n(&node(t, id)->child[bit(k, i)], __ATOMIC_ACQUIRE);
		if (!id)
			break;
	}
	return best;
}

/* ---- IPv4 ---- */

struct rt_fib4 {
	struct trie t;
};

const char *rt_fib_impl(void)
{
	return "binary trie (router/rt_fib_trie.c)";
}

struct rt_fib4 *rt_fib4_create(void)
{
	struct rt_fib4 *f = malloc(sizeof(*f));
	if (!f)
		return NULL;
	if (trie_init(&f->t) < 0) {
		free(f);
		errno = ENOMEM;
		return NULL;
	}
	return f;
}

void rt_fib4_destroy(struct rt_fib4 *f)
{
	if (!f)
		return;
	trie_fini(&f->t);
	free(f);
}

static void key4(uint32_t a, uint8_t k[4])
{
	k[0] = a >> 24;
	k[1] = a >> 16;
	k[2] = a >> 8;
	k[3] = a;
}

int rt_fib4_add(struct rt_fib4 *f, uint32_t prefix, unsigned plen, uint32_t nh)
{
	uint8_t k[4];
	if (plen > 32 || nh >= RT_FIB_NH_LIMIT)
		return -EINVAL;
	key4(prefix, k);
	return trie_add(&f->t, k, plen, nh);
}

int rt_fib4_del(struct rt_fib4 *f, uint32_t prefix, unsigned plen)
{
	uint8_t k[4];
	if (plen > 32)
		return -EINVAL;
	key4(prefix, k);
	return trie_del(&f->t, k, plen);
}

void rt_fib4_lookup_bulk(const struct rt_fib4 *f, const uint32_t *key, uint32_t *nh, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint8_t k[4];
		key4(key[i], k);
		nh[i] = trie_lookup(&f->t, k, 32);
	}
}

size_t rt_fib4_mem(const struct rt_fib4 *f)
{
	return (size_t)f->t.nnodes * sizeof(struct tnode);
}

/* ---- IPv6 ---- */

struct rt_fib6 {
	struct trie t;
};

struct rt_fib6 *rt_fib6_create(void)
{
	return (struct rt_fib6 *)rt_fib4_create();
}

void rt_fib6_destroy(struct rt_fib6 *f)
{
	rt_fib4_destroy((struct rt_fib4 *)f);
}

int rt_fib6_add(struct rt_fib6 *f, const uint8_t prefix[16], unsigned plen, uint32_t nh)
{
	if (plen > 128 || nh >= RT_FIB_NH_LIMIT)
		return -EINVAL;
	return trie_add(&f->t, prefix, plen, nh);
}

int rt_fib6_del(struct rt_fib6 *f, const uint8_t prefix[16], unsigned plen)
{
	if (plen > 128)
		return -EINVAL;
	return trie_del(&f->t, prefix, plen);
}

void rt_fib6_lookup_bulk(const struct rt_fib6 *f, const uint8_t (*key)[16], uint32_t *nh,
                         unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		nh[i] = trie_lookup(&f->t, key[i], 128);
}

size_t rt_fib6_mem(const struct rt_fib6 *f)
{
	return (size_t)f->t.nnodes * sizeof(struct tnode);
}
