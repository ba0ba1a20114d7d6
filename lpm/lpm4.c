/*
 * lpm4.c - IPv4 longest-prefix match: the public API over the shared writer (lpm_tmpl.h).
 * Keys are the addresses themselves (host order, 32 bits); see lpm4.h for the contract.
 */
#include "lpm/lpm4.h"

#define TM_KEY  uint32_t
#define TM_W    32
#define TM_S    LPM4_DIRECT_BITS
#define TM_TBL  struct lpm4
#define TM_PRIV struct lpm4_priv
#include "lpm/lpm_tmpl.h"

struct lpm4 *lpm4_create(void)
{
	return tm_create();
}

void lpm4_destroy(struct lpm4 *t)
{
	tm_destroy(t);
}

int lpm4_add(struct lpm4 *t, uint32_t prefix, uint8_t len, uint32_t nh)
{
	return tm_add(t, prefix, len, nh);
}

int lpm4_del(struct lpm4 *t, uint32_t prefix, uint8_t len)
{
	return tm_del(t, prefix, len);
}

int lpm4_get(const struct lpm4 *t, uint32_t prefix, uint8_t len, uint32_t *nh)
{
	return tm_get(t, prefix, len, nh);
}

int lpm4_replace(struct lpm4 *t, const struct lpm4_route *routes, size_t n)
{
	struct tm_ent *e;
	int rc;

	if (!t || (n && !routes))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (routes[i].nh > LPM_NH_MAX || tm_check(routes[i].prefix, routes[i].len))
			return -EINVAL;
	e = malloc((n ? n : 1) * sizeof(*e));
	if (!e)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		e[i].key = routes[i].prefix;
		e[i].len = routes[i].len;
		e[i].nh = routes[i].nh;
	}
	rc = tm_replace(t, e, n);
	free(e);
	return rc;
}

void lpm4_reclaim(struct lpm4 *t)
{
	if (t)
		tm_reclaim(t->priv);
}

struct lpm4_walk_ctx {
	int (*cb)(uint32_t prefix, uint8_t len, uint32_t nh, void *arg);
	void *arg;
};

static int lpm4_walk_one(uint32_t key, unsigned len, uint32_t nh, void *arg)
{
	struct lpm4_walk_ctx *c = arg;
	return c->cb(key, (uint8_t)len, nh, c->arg);
}

int lpm4_walk(const struct lpm4 *t, int (*cb)(uint32_t prefix, uint8_t len, uint32_t nh, void *arg),
              void *arg)
{
	struct lpm4_walk_ctx c = {cb, arg};
	if (!cb)
		return -EINVAL;
	return tm_walk(t, lpm4_walk_one, &c);
}

size_t lpm4_count(const struct lpm4 *t)
{
	return t ? t->priv->nprefix : 0;
}

void lpm4_stats(const struct lpm4 *t, struct lpm_stats *st)
{
	tm_stats(t, st);
}
