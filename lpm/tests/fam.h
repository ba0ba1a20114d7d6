/*
 * fam.h - one face for both tables in the tests: keys are left-aligned unsigned __int128
 * (an IPv4 address a is (u128)a << 96), so each test is written once for IPv4 and IPv6.
 */
#ifndef NMBOX_LPM_TEST_FAM_H
#define NMBOX_LPM_TEST_FAM_H

#include "lpm/lpm4.h"
#include "lpm/lpm6.h"
#include "lpm/tests/ref.h"

struct fam {
	unsigned w; /* 32 or 128 */
	struct lpm4 *t4;
	struct lpm6 *t6;
};

static inline int fam_create(struct fam *f, unsigned w)
{
	f->w = w;
	f->t4 = NULL;
	f->t6 = NULL;
	if (w == 32)
		f->t4 = lpm4_create();
	else
		f->t6 = lpm6_create();
	return (f->t4 || f->t6) ? 0 : -1;
}

static inline void fam_destroy(struct fam *f)
{
	lpm4_destroy(f->t4);
	lpm6_destroy(f->t6);
	f->t4 = NULL;
	f->t6 = NULL;
}

static inline uint32_t k4(u128 k)
{
	return (uint32_t)(k >> 96);
}

static inline int fam_add(struct fam *f, u128 k, unsigned len, uint32_t nh)
{
	uint8_t a[16];
	if (f->w == 32)
		return lpm4_add(f->t4, k4(k), (uint8_t)len, nh);
	unkey6(k, a);
	return lpm6_add(f->t6, a, (uint8_t)len, nh);
}

static inline int fam_del(struct fam *f, u128 k, unsigned len)
{
	uint8_t a[16];
	if (f->w == 32)
		return lpm4_del(f->t4, k4(k), (uint8_t)len);
	unkey6(k, a);
	return lpm6_del(f->t6, a, (uint8_t)len);
}

static inline int fam_get(struct fam *f, u128 k, unsigned len, uint32_t *nh)
{
	uint8_t a[16];
	if (f->w == 32)
		return lpm4_get(f->t4, k4(k), (uint8_t)len, nh);
	unkey6(k, a);
	return lpm6_get(f->t6, a, (uint8_t)len, nh);
}

static inline uint32_t fam_lookup(struct fam *f, u128 k)
{
	uint8_t a[16];
	if (f->w == 32)
		return lpm4_lookup(f->t4, k4(k));
	unkey6(k, a);
	return lpm6_lookup(f->t6, a);
}

/* Bulk lookup of n keys (n <= 64). */
/* n <= FAM_BULK_MAX */
#define FAM_BULK_MAX 256
static inline void fam_lookup_bulk(struct fam *f, const u128 *k, uint32_t *nh, unsigned n)
{
	uint32_t a4[FAM_BULK_MAX];
	uint8_t a6[FAM_BULK_MAX][16];
	for (unsigned i = 0; i < n; i++) {
		a4[i] = k4(k[i]);
		unkey6(k[i], a6[i]);
	}
	if (f->w == 32)
		lpm4_lookup_bulk(f->t4, a4, nh, n);
	else
		lpm6_lookup_bulk(f->t6, (const uint8_t(*)[16])a6, nh, n);
}

static inline size_t fam_count(struct fam *f)
{
	return f->w == 32 ? lpm4_count(f->t4) : lpm6_count(f->t6);
}

/* Replace by routes given as keys, lens, nhs. */
static inline int fam_replace(struct fam *f, const u128 *k, const uint8_t *len, const uint32_t *nh,
                              size_t n)
{
	int rc;
	if (f->w == 32) {
		struct lpm4_route *r = calloc(n ? n : 1, sizeof(*r));
		for (size_t i = 0; i < n; i++)
			r[i] = (struct lpm4_route){k4(k[i]), len[i], nh[i]};
		rc = lpm4_replace(f->t4, r, n);
		free(r);
	} else {
		struct lpm6_route *r = calloc(n ? n : 1, sizeof(*r));
		for (size_t i = 0; i < n; i++) {
			unkey6(k[i], r[i].prefix);
			r[i].len = len[i];
			r[i].nh = nh[i];
		}
		rc = lpm6_replace(f->t6, r, n);
		free(r);
	}
	return rc;
}

static inline void fam_stats(struct fam *f, struct lpm_stats *st)
{
	if (f->w == 32)
		lpm4_stats(f->t4, st);
	else
		lpm6_stats(f->t6, st);
}

#endif
