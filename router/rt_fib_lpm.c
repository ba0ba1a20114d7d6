/*
 * rt_fib_lpm.c — rt_fib.h on lpm/ (lpm4.h, lpm6.h): direct-pointing + popcount trie,
 * updates published with RCU (QSBR). The router's workers are the QSBR readers; the
 * control thread is the one writer (rt->ctl_lock serializes it).
 */
#include <errno.h>

#include "lpm/lpm4.h"
#include "lpm/lpm6.h"
#include "router/rt_fib.h"

const char *rt_fib_impl(void)
{
	return "lpm (direct 18 bits + popcount trie)";
}

struct rt_fib4 *rt_fib4_create(void)
{
	return (struct rt_fib4 *)lpm4_create();
}

void rt_fib4_destroy(struct rt_fib4 *f)
{
	lpm4_destroy((struct lpm4 *)f);
}

int rt_fib4_add(struct rt_fib4 *f, uint32_t prefix, unsigned plen, uint32_t nh)
{
	if (plen > 32 || nh >= RT_FIB_NH_LIMIT)
		return -EINVAL;
	return lpm4_add((struct lpm4 *)f, prefix, (uint8_t)plen, nh);
}

int rt_fib4_del(struct rt_fib4 *f, uint32_t prefix, unsigned plen)
{
	if (plen > 32)
		return -EINVAL;
	return lpm4_del((struct lpm4 *)f, prefix, (uint8_t)plen);
}

void rt_fib4_lookup_bulk(const struct rt_fib4 *f, const uint32_t *key, uint32_t *nh, unsigned n)
{
	lpm4_lookup_bulk((const struct lpm4 *)f, key, nh, n);
}

size_t rt_fib4_mem(const struct rt_fib4 *f)
{
	struct lpm_stats st;
	lpm4_stats((const struct lpm4 *)f, &st);
	return st.lookup_bytes + st.control_bytes;
}

struct rt_fib6 *rt_fib6_create(void)
{
	return (struct rt_fib6 *)lpm6_create();
}

void rt_fib6_destroy(struct rt_fib6 *f)
{
	lpm6_destroy((struct lpm6 *)f);
}

int rt_fib6_add(struct rt_fib6 *f, const uint8_t prefix[16], unsigned plen, uint32_t nh)
{
	if (plen > 128 || nh >= RT_FIB_NH_LIMIT)
		return -EINVAL;
	return lpm6_add((struct lpm6 *)f, prefix, (uint8_t)plen, nh);
}

int rt_fib6_del(struct rt_fib6 *f, const uint8_t prefix[16], unsigned plen)
{
	if (plen > 128)
		return -EINVAL;
	return lpm6_del((struct lpm6 *)f, prefix, (uint8_t)plen);
}

void rt_fib6_lookup_bulk(const struct rt_fib6 *f, const uint8_t (*key)[16], uint32_t *nh,
                         unsigned n)
{
	lpm6_lookup_bulk((const struct lpm6 *)f, key, nh, n);
}

size_t rt_fib6_mem(const struct rt_fib6 *f)
{
	struct lpm_stats st;
	lpm6_stats((const struct lpm6 *)f, &st);
	return st.lookup_bytes + st.control_bytes;
}
