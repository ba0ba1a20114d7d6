/*
 * ref.h - the tests' reference: a plain one-bit-per-level binary trie, obviously correct and
 * nothing else. Keys are left-aligned in an unsigned __int128 for both families (an IPv4
 * address a is (u128)a << 96), lengths 0..128.
 */
#ifndef NMBOX_LPM_TEST_REF_H
#define NMBOX_LPM_TEST_REF_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "lpm/lpm_common.h"

typedef unsigned __int128 u128;

struct ref_node {
	uint32_t child[2]; /* 0 = none (node 0 is the root, never a child) */
	uint32_t nh;       /* LPM_NO_ROUTE = no prefix ends here */
};

struct ref {
	struct ref_node *n;
	size_t len, cap;
	size_t count;
};

static inline void ref_init(struct ref *r)
{
	r->cap = 1024;
	r->n = malloc(r->cap * sizeof(*r->n));
	if (!r->n) {
		perror("ref");
		exit(2);
	}
	r->len = 1;
	r->count = 0;
	r->n[0] = (struct ref_node){{0, 0}, LPM_NO_ROUTE};
}

static inline void ref_free(struct ref *r)
{
	free(r->n);
	r->n = NULL;
}

static inline int ref_bit(u128 k, unsigned i)
{
	return (int)(k >> (127 - i)) & 1;
}

/* The node of key/len, created when make is set; 0 when absent (the root has len 0). */
static inline uint32_t ref_node(struct ref *r, u128 k, unsigned len, int make)
{
	uint32_t x = 0;
	for (unsigned i = 0; i < len; i++) {
		int b = ref_bit(k, i);
		if (!r->n[x].child[b]) {
			if (!make)
				return UINT32_MAX;
			if (r->len == r->cap) {
				r->cap *= 2;
				r->n = realloc(r->n, r->cap * sizeof(*r->n));
				if (!r->n) {
					perror("ref");
					exit(2);
				}
			}
			r->n[r->len] = (struct ref_node){{0, 0}, LPM_NO_ROUTE};
			r->n[x].child[b] = (uint32_t)r->len++;
		}
		x = r->n[x].child[b];
	}
	return x;
}

static inline void ref_add(struct ref *r, u128 k, unsigned len, uint32_t nh)
{
	uint32_t x = ref_node(r, k, len, 1);
	if (r->n[x].nh == LPM_NO_ROUTE)
		r->count++;
	r->n[x].nh = nh;
}

/* 1 if it was there. Nodes are not reclaimed: a test's churn is bounded. */
static inline int ref_del(struct ref *r, u128 k, unsigned len)
{
	uint32_t x = ref_node(r, k, len, 0);
	if (x == UINT32_MAX || r->n[x].nh == LPM_NO_ROUTE)
		return 0;
	r->n[x].nh = LPM_NO_ROUTE;
	r->count--;
	return 1;
}

static inline uint32_t ref_get(struct ref *r, u128 k, unsigned len)
{
	uint32_t x = ref_node(r, k, len, 0);
	return x == UINT32_MAX ? LPM_NO_ROUTE : r->n[x].nh;
}

/* Longest match of the first w bits of k. */
static inline uint32_t ref_lookup(const struct ref *r, u128 k, unsigned w)
{
	uint32_t x = 0, best = r->n[0].nh;
	for (unsigned i = 0; i < w; i++) {
		x = r->n[x].child[ref_bit(k, i)];
		if (!x)
			break;
		if (r->n[x].nh != LPM_NO_ROUTE)
			best = r->n[x].nh;
	}
	return best;
}

/* Helpers for both families. */
static inline u128 mask128(unsigned len)
{
	return len == 0 ? 0 : ~(u128)0 << (128 - len);
}

static inline u128 key6(const uint8_t a[16])
{
	u128 k = 0;
	for (int i = 0; i < 16; i++)
		k = k << 8 | a[i];
	return k;
}

static inline void unkey6(u128 k, uint8_t a[16])
{
	for (int i = 15; i >= 0; i--, k >>= 8)
		a[i] = (uint8_t)k;
}

/* xorshift64*: deterministic, seedable. */
static inline uint64_t rnd64(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

#endif
