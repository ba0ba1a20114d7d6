/*
 * rt_core.c — the router object and its control half: ports and addresses, the route store
 * and next hops behind the FIBs, the neighbor table, counters. Implements rt_ctl.h.
 *
 * DOC: routes, next hops, publication
 *
 * A route maps a prefix to a next-hop id; the FIB (rt_fib.h) holds prefix -> id and is what
 * the workers read. Next hops (kind, port, gateway) live in a fixed array so that an id
 * stays meaningful for as long as a reader may hold it: a next hop is shared by every route
 * that uses it (refcounted by the control thread) and its slot is only reused after an RCU
 * grace period (synchronize_rcu) once no route points at it. The route store (rtab) is a
 * control-thread-only open-addressing hash of every route, for walks, deletes and diffs.
 *
 * DOC: neighbors
 *
 * A fixed open-addressing table (linear probing, RT_NEIGH_SLOTS slots, at most RT_NEIGH_MAX
 * entries so it stays at most half full) keyed by (family, address, port). Writers hold
 * neigh_lock; workers look entries up without it (rt_neigh_lookup). Each slot has a seqcount
 * under which a writer changes its key, state and MAC, and under which a reader reads all
 * three: a reader that finds its key in a slot gets that key's MAC, never that of an entry
 * that was in the slot before or came after. Entries are removed (deleted, or reclaimed by
 * the GC) by backward-shift deletion (Knuth 6.4 Algorithm R): the entries after the hole
 * whose probe sequence crosses it move back one by one, each copied under the destination's
 * seqcount before its old slot is reused, so there are no tombstones and probe sequences
 * stay short. A reader racing such a move may miss the moving entry (a false "absent"):
 * the fast path then takes the slow path, which looks again under neigh_lock.
 *
 * GC, as Linux's neighbour table does: when a new entry finds the table full, entries nobody
 * uses are reclaimed, at least RT_NEIGH_GC_BATCH of them when there are: deleted and FAILED
 * ones first, then STALE ones (unused since they were last confirmed), then REACHABLE ones
 * not confirmed for RT_NEIGH_GC_FRESH_NS; the periodic pass (rt_neigh_tick) removes STALE
 * and FAILED entries idle for RT_NEIGH_GC_STALE_NS once the table holds more than
 * RT_NEIGH_GC_MIN. PERMANENT entries, and entries resolving, being probed or holding
 * packets, are never reclaimed. Each entry has a small hold queue for packets waiting on its
 * resolution.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <urcu-qsbr.h>

#include "router/rt.h"

const char *const rt_drop_names[RT_DROP_MAX] = {
    [RT_DROP_BAD_L2] = "bad_l2",
    [RT_DROP_BAD_VERSION] = "bad_version",
    [RT_DROP_BAD_IHL] = "bad_ihl",
    [RT_DROP_BAD_CSUM] = "bad_csum",
    [RT_DROP_BAD_LEN] = "bad_len",
    [RT_DROP_MARTIAN] = "martian",
    [RT_DROP_TTL] = "ttl",
    [RT_DROP_NO_ROUTE] = "no_route",
    [RT_DROP_NO_NEIGH] = "no_neigh",
    [RT_DROP_HOLD_FULL] = "hold_full",
    [RT_DROP_TX_FULL] = "tx_full",
    [RT_DROP_NO_HOST] = "no_host",
    [RT_DROP_ICMP_RATE] = "icmp_rate",
    [RT_DROP_NO_BUF] = "no_buf",
    [RT_DROP_OTHER] = "other",
    [RT_DROP_FRAG_NEEDED] = "frag_needed",
    [RT_DROP_TOO_BIG] = "too_big",
};

uint64_t rt_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static unsigned alen(int family)
{
	return family == AF_INET ? 4 : 16;
}

static unsigned amax(int family)
{
	return family == AF_INET ? 32 : 128;
}

static const char *afmt(int family, const uint8_t *a, char *buf)
{
	inet_ntop(family, a, buf, INET6_ADDRSTRLEN);
	return buf;
}

/* 1 iff a and b agree on the first plen bits */
static int prefix_match(const uint8_t *a, const uint8_t *b, unsigned plen)
{
	unsigned full = plen / 8, rem = plen % 8;
	if (memcmp(a, b, full))
		return 0;
	if (!rem)
		return 1;
	uint8_t m = (uint8_t)(0xff << (8 - rem));
	return (a[full] & m) == (b[full] & m);
}

static int host_bits_zero(const uint8_t *a, unsigned plen, unsigned len)
{
	for (unsigned i = plen; i < len * 8; i++)
		if (a[i / 8] & (0x80 >> (i % 8)))
			return 0;
	return 1;
}

/* ================================================================ router object */

struct rt *rt_create(void)
{
	struct rt *rt = calloc(1, sizeof(*rt));
	if (!rt)
		return NULL;
	rt->first_host = -1;
	rt->fib4 = rt_fib4_create();
	rt->fib6 = rt_fib6_create();
	rt->nh = calloc(RT_NH_MAX, sizeof(*rt->nh));
	rt->neigh = calloc(RT_NEIGH_SLOTS, sizeof(*rt->neigh));
	rt->rtab.cap = 1024;
	rt->rtab.e = calloc(rt->rtab.cap, sizeof(*rt->rtab.e));
	if (!rt->fib4 || !rt->fib6 || !rt->nh || !rt->neigh || !rt->rtab.e) {
		rt_destroy(rt);
		errno = ENOMEM;
		return NULL;
	}
	rt->nh_hint = 1; /* id 0 is never used */
	rt->icmp_rate = 1000;
	rt->icmp_burst = 100;
	pthread_mutex_init(&rt->neigh_lock, NULL);
	pthread_mutex_init(&rt->ctl_lock, NULL);
	return rt;
}

void rt_destroy(struct rt *rt)
{
	if (!rt)
		return;
	rt_fib4_destroy(rt->fib4);
	rt_fib6_destroy(rt->fib6);
	free(rt->nh);
	free(rt->neigh);
	free(rt->rtab.e);
	free(rt);
}

int rt_port_by_name(const struct rt *rt, const char *name)
{
	for (unsigned i = 0; i < rt->nports; i++)
		if (!strcmp(rt->port[i].name, name))
			return (int)i;
	return -ENODEV;
}

int rt_port_add(struct rt *rt, const char *name, const char *spec, const uint8_t mac[6],
                uint32_t mtu, int host)
{
	if (rt->nports >= RT_MAX_PORTS)
		return -ENOSPC;
	if (strlen(name) >= IFNAMSIZ || rt_port_by_name(rt, name) >= 0)
		return -EINVAL;
	struct rt_port *p = &rt->port[rt->nports];
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->spec, sizeof(p->spec), "%s", spec ? spec : "");
	memcpy(p->mac, mac, 6);
	memcpy(p->host_mac, mac, 6);
	p->mtu = mtu ? mtu : 1500;
	p->host = host;
	/* fe80::/64 + modified EUI-64 of the MAC (RFC 4291 appendix A) */
	p->v6ll[0] = 0xfe;
	p->v6ll[1] = 0x80;
	p->v6ll[8] = mac[0] ^ 0x02;
	p->v6ll[9] = mac[1];
	p->v6ll[10] = mac[2];
	p->v6ll[11] = 0xff;
	p->v6ll[12] = 0xfe;
	p->v6ll[13] = mac[3];
	p->v6ll[14] = mac[4];
	p->v6ll[15] = mac[5];
	if (host && rt->first_host < 0)
		rt->first_host = (int)rt->nports;
	return (int)rt->nports++;
}

void rt_worker_init(struct rt_worker *w, struct rt *rt, unsigned id, const struct rt_io_ops *ops,
                    void *ctx)
{
	memset(w, 0, sizeof(*w));
	w->rt = rt;
	w->id = id;
	w->ops = ops;
	w->ctx = ctx;
	w->now = rt_now_ns();
	w->icmp_last = w->now;
	w->icmp_tokens_milli = (uint64_t)rt->icmp_burst * 1000;
	if (id < RT_MAX_WORKERS) {
		rt->workers[id] = w;
		if (id + 1 > rt->nworkers)
			rt->nworkers = id + 1;
	}
}

/* ================================================================ next hops */

static uint32_t nh_get(struct rt *rt, int kind, int family, unsigned port, const uint8_t *gw)
{
	uint32_t free_id = 0;
	for (uint32_t i = 1; i < rt->nh_hint; i++) {
		struct rt_nh *n = &rt->nh[i];
		if (n->kind == RT_NH_FREE) {
			if (!free_id)
				free_id = i;
			continue;
		}
		if (n->kind == kind && n->family == family && n->port == port &&
		    (kind != RT_NH_GW || !memcmp(n->gw, gw, 16))) {
			n->refcnt++;
			return i;
		}
	}
	if (!free_id) {
		if (rt->nh_hint >= RT_NH_MAX)
			return 0;
		free_id = rt->nh_hint++;
	}
	struct rt_nh *n = &rt->nh[free_id];
	memset(n, 0, sizeof(*n));
	n->family = (uint8_t)family;
	n->port = (uint16_t)port;
	if (gw)
		memcpy(n->gw, gw, 16);
	n->refcnt = 1;
	__atomic_store_n(&n->kind, (uint8_t)kind, __ATOMIC_RELEASE);
	return free_id;
}

/* Drops a reference; returns 1 if the slot must be freed after a grace period. */
static int nh_put(struct rt *rt, uint32_t id)
{
	return id && --rt->nh[id].refcnt == 0;
}

static void nh_reclaim(struct rt *rt)
{
	for (uint32_t i = 1; i < rt->nh_hint; i++)
		if (rt->nh[i].kind != RT_NH_FREE && rt->nh[i].refcnt == 0)
			rt->nh[i].kind = RT_NH_FREE;
}

/* ================================================================ route store */

static uint64_t rkey_hash(int family, unsigned plen, const uint8_t *dst)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)(family * 131 + plen);
	for (unsigned i = 0; i < 16; i++)
		h = (h ^ dst[i]) * 1099511628211ull;
	return h ^ (h >> 29);
}

static struct rt_rentry *rtab_find(struct rt_rtab *t, int family, unsigned plen, const uint8_t *dst)
{
	size_t m = t->cap - 1, i = rkey_hash(family, plen, dst) & m;
	for (; t->e[i].used; i = (i + 1) & m) {
		struct rt_rentry *e = &t->e[i];
		if (e->family == family && e->plen == plen && !memcmp(e->dst, dst, 16))
			return e;
	}
	return NULL;
}

static int rtab_grow(struct rt_rtab *t)
{
	struct rt_rtab n = {.cap = t->cap * 2};
	n.e = calloc(n.cap, sizeof(*n.e));
	if (!n.e)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		struct rt_rentry *e = &t->e[i];
		if (!e->used)
			continue;
		size_t j = rkey_hash(e->family, e->plen, e->dst) & (n.cap - 1);
		while (n.e[j].used)
			j = (j + 1) & (n.cap - 1);
		n.e[j] = *e;
	}
	n.n = t->n;
	n.nstatic = t->nstatic;
	free(t->e);
	*t = n;
	return 0;
}

static struct rt_rentry *rtab_insert(struct rt_rtab *t, int family, unsigned plen,
                                     const uint8_t *dst)
{
	if ((t->n + 1) * 4 > t->cap * 3 && rtab_grow(t) < 0)
		return NULL;
	size_t m = t->cap - 1, i = rkey_hash(family, plen, dst) & m;
	while (t->e[i].used)
		i = (i + 1) & m;
	struct rt_rentry *e = &t->e[i];
	memset(e, 0, sizeof(*e));
	e->used = 1;
	e->family = (uint8_t)family;
	e->plen = (uint8_t)plen;
	memcpy(e->dst, dst, 16);
	t->n++;
	return e;
}

/* Backward-shift deletion keeps probe sequences intact without tombstones. */
static void rtab_remove(struct rt_rtab *t, struct rt_rentry *e)
{
	size_t m = t->cap - 1, i = (size_t)(e - t->e), j = i;
	t->e[i].used = 0;
	t->n--;
	for (;;) {
		j = (j + 1) & m;
		if (!t->e[j].used)
			return;
		size_t k = rkey_hash(t->e[j].family, t->e[j].plen, t->e[j].dst) & m;
		/* move e[j] to the hole at i if its home k is not in (i, j] */
		if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
			t->e[i] = t->e[j];
			t->e[j].used = 0;
			i = j;
		}
	}
}

static int fib_add(struct rt *rt, int family, const uint8_t *dst, unsigned plen, uint32_t nh)
{
	if (family == AF_INET)
		return rt_fib4_add(rt->fib4, ntohl(*(const uint32_t *)dst), plen, nh);
	return rt_fib6_add(rt->fib6, dst, plen, nh);
}

static int fib_del(struct rt *rt, int family, const uint8_t *dst, unsigned plen)
{
	if (family == AF_INET)
		return rt_fib4_del(rt->fib4, ntohl(*(const uint32_t *)dst), plen);
	return rt_fib6_del(rt->fib6, dst, plen);
}

/* Port whose connected prefix (of family) covers a, or -1. */
static int connected_port(const struct rt *rt, int family, const uint8_t *a)
{
	for (unsigned i = 0; i < rt->nports; i++)
		for (unsigned j = 0; j < rt->port[i].naddrs; j++) {
			const struct rt_addr *ad = &rt->port[i].addrs[j];
			if (ad->family == family && prefix_match(ad->addr, a, ad->plen))
				return (int)i;
		}
	return -1;
}

int rt_port_addr_add(struct rt *rt, unsigned port, int family, const uint8_t *addr, unsigned plen,
                     char *err, size_t errlen)
{
	char b[INET6_ADDRSTRLEN];
	struct rt_port *p = &rt->port[port];
	uint8_t pfx[16] = {0};
	if (port >= rt->nports || (family != AF_INET && family != AF_INET6) ||
	    plen > amax(family)) {
		seterr(err, errlen, "bad address");
		return -EINVAL;
	}
	if (p->naddrs >= RT_MAX_ADDRS) {
		seterr(err, errlen, "%s: more than %d addresses", p->name, RT_MAX_ADDRS);
		return -ENOSPC;
	}
	if (family == AF_INET6 && p->mtu < RT_MTU_MIN6) {
		seterr(err, errlen, "%s: mtu %u is below IPv6's minimum %d", p->name, p->mtu,
		       RT_MTU_MIN6);
		return -EINVAL;
	}
	uint8_t a16[16] = {0};
	memcpy(a16, addr, alen(family));
	addr = a16;
	memcpy(pfx, addr, alen(family));
	for (unsigned i = plen; i < amax(family); i++)
		pfx[i / 8] &= (uint8_t) ~(0x80 >> (i % 8));
	pthread_mutex_lock(&rt->ctl_lock);
	int ret = -EEXIST;
	if (rtab_find(&rt->rtab, family, amax(family), addr) ||
	    rtab_find(&rt->rtab, family, plen, pfx)) {
		seterr(err, errlen, "%s: %s/%u overlaps an existing address", p->name,
		       afmt(family, addr, b), plen);
		goto out;
	}
	ret = -ENOMEM;
	uint32_t lnh = nh_get(rt, RT_NH_LOCAL, family, port, NULL);
	uint32_t cnh = nh_get(rt, RT_NH_CONNECTED, family, port, NULL);
	struct rt_rentry *le = rtab_insert(&rt->rtab, family, amax(family), addr);
	if (!lnh || !cnh || !le)
		goto out;
	le->proto = RT_PROTO_LOCAL_INT;
	le->nh = lnh;
	if (plen < amax(family)) {
		struct rt_rentry *ce = rtab_insert(&rt->rtab, family, plen, pfx);
		if (!ce)
			goto out;
		ce->proto = RT_PROTO_KERNEL;
		ce->nh = cnh;
		if ((ret = fib_add(rt, family, pfx, plen, cnh)) < 0)
			goto out;
	} else {
		nh_put(rt, cnh);
	}
	if ((ret = fib_add(rt, family, addr, amax(family), lnh)) < 0)
		goto out;
	struct rt_addr *a = &p->addrs[p->naddrs];
	a->family = (uint8_t)family;
	a->plen = (uint8_t)plen;
	memset(a->addr, 0, 16);
	memcpy(a->addr, addr, alen(family));
	p->naddrs++;
	rt->generation++;
	ret = 0;
out:
	pthread_mutex_unlock(&rt->ctl_lock);
	if (ret < 0 && err && !err[0])
		seterr(err, errlen, "%s: cannot add address: %s", p->name, strerror(-ret));
	return ret;
}

/* ================================================================ rt_ctl: routes */

/* Checks one route and resolves its next hop fields; *port gets the egress port. */
static int route_check(struct rt *rt, const struct rt_route *r, size_t i, int *port,
                       uint8_t dst[16], char *err, size_t errlen)
{
	char b[INET6_ADDRSTRLEN];
	int fam = r->family;
	if (fam != AF_INET && fam != AF_INET6) {
		seterr(err, errlen, "routes[%zu]: family must be inet or inet6", i);
		return -EINVAL;
	}
	if (r->plen > amax(fam)) {
		seterr(err, errlen, "routes[%zu]: prefix length %u > %u", i, r->plen, amax(fam));
		return -EINVAL;
	}
	memset(dst, 0, 16);
	memcpy(dst, r->dst, alen(fam));
	if (!host_bits_zero(dst, r->plen, alen(fam))) {
		seterr(err, errlen, "routes[%zu]: %s/%u has host bits set", i, afmt(fam, dst, b),
		       r->plen);
		return -EINVAL;
	}
	*port = -1;
	if (r->dev[0]) {
		*port = rt_port_by_name(rt, r->dev);
		if (*port < 0) {
			seterr(err, errlen, "routes[%zu]: dev %.*s: no such port", i, IFNAMSIZ,
			       r->dev);
			return -ENODEV;
		}
	}
	if (r->has_gw) {
		uint8_t gw[16] = {0};
		memcpy(gw, r->gw, alen(fam));
		int cp = connected_port(rt, fam, gw);
		if (*port < 0)
			*port = cp;
		if (*port < 0) {
			seterr(err, errlen,
			       "routes[%zu]: gateway %s is not on a connected network; give dev or "
			       "add an address",
			       i, afmt(fam, gw, b));
			return -EINVAL;
		}
	} else if (*port < 0) {
		seterr(err, errlen, "routes[%zu]: needs a gateway or a dev", i);
		return -EINVAL;
	}
	if (fam == AF_INET6 && rt->port[*port].mtu < RT_MTU_MIN6) {
		seterr(err, errlen, "routes[%zu]: dev %s has mtu %u, below IPv6's minimum %d", i,
		       rt->port[*port].name, rt->port[*port].mtu, RT_MTU_MIN6);
		return -EINVAL;
	}
	return 0;
}

static uint32_t route_nh(struct rt *rt, const struct rt_route *r, int port)
{
	uint8_t gw[16] = {0};
	if (!r->has_gw)
		return nh_get(rt, RT_NH_CONNECTED, r->family, (unsigned)port, NULL);
	memcpy(gw, r->gw, alen(r->family));
	return nh_get(rt, RT_NH_GW, r->family, (unsigned)port, gw);
}

/* Adds validated routes to the store (rolls back on error); the FIB after. */
static int routes_add_locked(struct rt *rt, const struct rt_route *r, size_t n, char *err,
                             size_t errlen)
{
	char b[INET6_ADDRSTRLEN];
	uint8_t dst[16];
	int port, ret = 0;
	size_t i;
	for (i = 0; i < n; i++)
		if ((ret = route_check(rt, &r[i], i, &port, dst, err, errlen)) < 0)
			return ret;
	for (i = 0; i < n; i++) {
		route_check(rt, &r[i], i, &port, dst, NULL, 0);
		if (rtab_find(&rt->rtab, r[i].family, r[i].plen, dst)) {
			seterr(err, errlen, "routes[%zu]: %s/%u exists", i,
			       afmt(r[i].family, dst, b), r[i].plen);
			ret = -EEXIST;
			break;
		}
		uint32_t nh = route_nh(rt, &r[i], port);
		struct rt_rentry *e =
		    nh ? rtab_insert(&rt->rtab, r[i].family, r[i].plen, dst) : NULL;
		if (!e) {
			if (nh)
				nh_put(rt, nh);
			seterr(err, errlen, "routes[%zu]: out of memory or next hops", i);
			ret = -ENOMEM;
			break;
		}
		e->proto = RT_PROTO_STATIC;
		e->nh = nh;
		rt->rtab.nstatic++;
	}
	if (ret < 0) { /* roll back the first i */
		while (i-- > 0) {
			route_check(rt, &r[i], i, &port, dst, NULL, 0);
			struct rt_rentry *e = rtab_find(&rt->rtab, r[i].family, r[i].plen, dst);
			nh_put(rt, e->nh);
			rtab_remove(&rt->rtab, e);
			rt->rtab.nstatic--;
		}
		nh_reclaim(rt);
		return ret;
	}
	for (i = 0; i < n; i++) {
		route_check(rt, &r[i], i, &port, dst, NULL, 0);
		struct rt_rentry *e = rtab_find(&rt->rtab, r[i].family, r[i].plen, dst);
		int fr = fib_add(rt, r[i].family, dst, r[i].plen, e->nh);
		if (fr < 0 && !ret) {
			ret = fr; /* out of memory in the FIB: keep going, report */
			seterr(err, errlen, "routes[%zu]: FIB: %s", i, strerror(-fr));
		}
	}
	return ret;
}

static int routes_del_locked(struct rt *rt, const struct rt_route *r, size_t n, char *err,
                             size_t errlen)
{
	char b[INET6_ADDRSTRLEN];
	uint8_t dst[16];
	int any = 0;
	for (size_t i = 0; i < n; i++) {
		int fam = r[i].family;
		if ((fam != AF_INET && fam != AF_INET6) || r[i].plen > amax(fam)) {
			seterr(err, errlen, "routes[%zu]: bad family or prefix length", i);
			return -EINVAL;
		}
		memset(dst, 0, 16);
		memcpy(dst, r[i].dst, alen(fam));
		struct rt_rentry *e = rtab_find(&rt->rtab, fam, r[i].plen, dst);
		if (!e) {
			seterr(err, errlen, "routes[%zu]: %s/%u: no such route", i,
			       afmt(fam, dst, b), r[i].plen);
			return -ENOENT;
		}
		if (e->proto != RT_PROTO_STATIC) {
			seterr(err, errlen, "routes[%zu]: %s/%u is a connected route (read-only)",
			       i, afmt(fam, dst, b), r[i].plen);
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < n; i++) {
		int fam = r[i].family;
		memset(dst, 0, 16);
		memcpy(dst, r[i].dst, alen(fam));
		struct rt_rentry *e = rtab_find(&rt->rtab, fam, r[i].plen, dst);
		if (!e) /* duplicate in the request */
			continue;
		fib_del(rt, fam, dst, r[i].plen);
		any |= nh_put(rt, e->nh);
		rtab_remove(&rt->rtab, e);
		rt->rtab.nstatic--;
	}
	if (any) { /* next hops nobody routes to any more: reuse after a grace period */
		synchronize_rcu();
		nh_reclaim(rt);
	}
	return 0;
}

/* Runs a route change (routes_add_locked, routes_del_locked) under ctl_lock; one that
 * succeeded moves the generation. */
static int routes_change(struct rt *rt,
                         int (*fn)(struct rt *, const struct rt_route *, size_t, char *, size_t),
                         const struct rt_route *r, size_t n, char *err, size_t errlen)
{
	pthread_mutex_lock(&rt->ctl_lock);
	int ret = fn(rt, r, n, err, errlen);
	if (ret == 0)
		rt->generation++;
	pthread_mutex_unlock(&rt->ctl_lock);
	return ret;
}

int rt_route_add(struct rt *rt, const struct rt_route *r, size_t n, char *err, size_t errlen)
{
	return routes_change(rt, routes_add_locked, r, n, err, errlen);
}

int rt_route_del(struct rt *rt, const struct rt_route *r, size_t n, char *err, size_t errlen)
{
	return routes_change(rt, routes_del_locked, r, n, err, errlen);
}

/*
 * The table becomes exactly r[0..n). Routes that exist with the same next hop are not
 * touched; a route whose next hop changes is changed in place (the LPM swaps the next hop
 * of that prefix, so a lookup sees the old or the new one, never a miss); new routes are
 * added, the others deleted. Everything that can fail (validation, next-hop slots, route
 * store memory) happens before the first change is published, so a failed PUT leaves the
 * table as it was. adds/dels count a changed route as one of each (as `ip` would do it).
 */
int rt_route_replace(struct rt *rt, const struct rt_route *r, size_t n, int dry_run, size_t *adds,
                     size_t *dels, char *err, size_t errlen)
{
	uint8_t dst[16];
	int port, ret = 0, any = 0;
	size_t na = 0, nc = 0, nd = 0;
	struct rt_rtab want = {.cap = 1024};
	struct rt_route *addv = NULL, *delv = NULL;
	size_t *chgv = NULL;
	uint32_t *chgnh = NULL;

	pthread_mutex_lock(&rt->ctl_lock);
	for (size_t i = 0; i < n; i++)
		if ((ret = route_check(rt, &r[i], i, &port, dst, err, errlen)) < 0)
			goto out;
	while (want.cap < n * 2)
		want.cap *= 2;
	want.e = calloc(want.cap, sizeof(*want.e));
	addv = calloc(n + 1, sizeof(*addv));
	chgv = calloc(n + 1, sizeof(*chgv));
	chgnh = calloc(n + 1, sizeof(*chgnh));
	delv = calloc(rt->rtab.nstatic + 1, sizeof(*delv));
	if (!want.e || !addv || !chgv || !chgnh || !delv) {
		ret = -ENOMEM;
		seterr(err, errlen, "routes: out of memory");
		goto out;
	}
	/* the wanted set, split into new, changed and unchanged routes */
	for (size_t i = 0; i < n; i++) {
		route_check(rt, &r[i], i, &port, dst, NULL, 0);
		if (rtab_find(&want, r[i].family, r[i].plen, dst)) {
			char b[INET6_ADDRSTRLEN];
			seterr(err, errlen, "routes[%zu]: %s/%u given twice", i,
			       afmt(r[i].family, dst, b), r[i].plen);
			ret = -EINVAL;
			goto out;
		}
		struct rt_rentry *w = rtab_insert(&want, r[i].family, r[i].plen, dst);
		w->proto = RT_PROTO_STATIC;
		struct rt_rentry *e = rtab_find(&rt->rtab, r[i].family, r[i].plen, dst);
		if (e && e->proto != RT_PROTO_STATIC) {
			char b[INET6_ADDRSTRLEN];
			seterr(err, errlen, "routes[%zu]: %s/%u is a connected route", i,
			       afmt(r[i].family, dst, b), r[i].plen);
			ret = -EEXIST;
			goto out;
		}
		if (!e) {
			addv[na++] = r[i];
			continue;
		}
		const struct rt_nh *h = &rt->nh[e->nh];
		uint8_t gw[16] = {0};
		memcpy(gw, r[i].gw, alen(r[i].family));
		int same =
		    h->port == port && (r[i].has_gw ? h->kind == RT_NH_GW && !memcmp(h->gw, gw, 16)
		                                    : h->kind == RT_NH_CONNECTED);
		if (!same)
			chgv[nc++] = i;
	}
	for (size_t i = 0; i < rt->rtab.cap; i++) {
		struct rt_rentry *e = &rt->rtab.e[i];
		if (!e->used || e->proto != RT_PROTO_STATIC ||
		    rtab_find(&want, e->family, e->plen, e->dst))
			continue;
		struct rt_route *d = &delv[nd++];
		memset(d, 0, sizeof(*d));
		d->family = e->family;
		d->plen = e->plen;
		memcpy(d->dst, e->dst, 16);
	}
	if (dry_run)
		goto out;
	/* the next hops of changed routes first: running out of slots changes nothing */
	for (size_t k = 0; k < nc; k++) {
		const struct rt_route *c = &r[chgv[k]];
		route_check(rt, c, chgv[k], &port, dst, NULL, 0);
		if (!(chgnh[k] = route_nh(rt, c, port))) {
			seterr(err, errlen, "routes[%zu]: out of next hops", chgv[k]);
			while (k-- > 0)
				nh_put(rt, chgnh[k]);
			nh_reclaim(rt); /* never published: no grace period needed */
			ret = -ENOMEM;
			goto out;
		}
	}
	/* new routes (all or nothing in the route store; rolled back on failure) */
	if ((ret = routes_add_locked(rt, addv, na, err, errlen)) < 0) {
		for (size_t k = 0; k < nc; k++)
			nh_put(rt, chgnh[k]);
		nh_reclaim(rt);
		goto out;
	}
	/* changed routes: one in-place next-hop change each */
	for (size_t k = 0; k < nc; k++) {
		const struct rt_route *c = &r[chgv[k]];
		route_check(rt, c, chgv[k], &port, dst, NULL, 0);
		struct rt_rentry *e = rtab_find(&rt->rtab, c->family, c->plen, dst);
		int fr = fib_add(rt, c->family, dst, c->plen, chgnh[k]);
		if (fr < 0 && !ret) {
			ret = fr; /* out of memory in the FIB: keep going, report */
			seterr(err, errlen, "routes[%zu]: FIB: %s", chgv[k], strerror(-fr));
		}
		any |= nh_put(rt, e->nh);
		e->nh = chgnh[k];
	}
	if (any) { /* old next hops nobody routes to any more: reuse after a grace period */
		synchronize_rcu();
		nh_reclaim(rt);
	}
	/* routes no longer wanted (they exist and are static: cannot fail) */
	int dr = routes_del_locked(rt, delv, nd, err, errlen);
	if (dr < 0 && !ret)
		ret = dr;
	rt->generation++;
out:
	pthread_mutex_unlock(&rt->ctl_lock);
	if (adds)
		*adds = ret == 0 ? na + nc : 0;
	if (dels)
		*dels = ret == 0 ? nd + nc : 0;
	free(want.e);
	free(addv);
	free(chgv);
	free(chgnh);
	free(delv);
	return ret;
}

int rt_route_walk(struct rt *rt, int (*cb)(const struct rt_route *r, void *arg), void *arg)
{
	int ret = 0;
	pthread_mutex_lock(&rt->ctl_lock);
	for (size_t i = 0; i < rt->rtab.cap && !ret; i++) {
		const struct rt_rentry *e = &rt->rtab.e[i];
		if (!e->used || e->proto == RT_PROTO_LOCAL_INT)
			continue;
		const struct rt_nh *h = &rt->nh[e->nh];
		struct rt_route r = {.family = e->family, .plen = e->plen, .proto = e->proto};
		memcpy(r.dst, e->dst, 16);
		r.has_gw = h->kind == RT_NH_GW;
		if (r.has_gw)
			memcpy(r.gw, h->gw, 16);
		snprintf(r.dev, sizeof(r.dev), "%s", rt->port[h->port].name);
		ret = cb(&r, arg);
	}
	pthread_mutex_unlock(&rt->ctl_lock);
	return ret;
}

/* ================================================================ neighbors */

static uint32_t neigh_hash(int family, const uint8_t *addr, unsigned port)
{
	uint32_t h = 2166136261u ^ (uint32_t)(family * 7 + port * 131);
	for (unsigned i = 0; i < alen(family); i++)
		h = (h ^ addr[i]) * 16777619u;
	return h ^ (h >> 15);
}

static int neigh_key_is(const struct rt_neigh_ent *e, int family, const uint8_t *addr,
                        unsigned port)
{
	return e->family == family && e->port == port && !memcmp(e->addr, addr, alen(family));
}

int rt_neigh_lookup(const struct rt *rt, int family, const uint8_t *addr, unsigned port,
                    uint8_t mac[6])
{
	_Static_assert(offsetof(struct rt_neigh_ent, seq) == 0, "seq is not copied with the rest");
	uint32_t m = RT_NEIGH_SLOTS - 1, i = neigh_hash(family, addr, port) & m;
	for (unsigned n = 0; n < RT_NEIGH_SLOTS; n++, i = (i + 1) & m) {
		const struct rt_neigh_ent *e = &rt->neigh[i];
		uint32_t s;
		int used, hit, state = RT_NUD_NONE;
		do {
			s = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
			used = e->used;
			hit = used && neigh_key_is(e, family, addr, port);
			if (hit) {
				state = e->state;
				memcpy(mac, e->mac, 6);
			}
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
		} while ((s & 1) || s != __atomic_load_n(&e->seq, __ATOMIC_RELAXED));
		if (!used)
			return RT_NUD_NONE;
		if (hit)
			return state;
	}
	return RT_NUD_NONE;
}

int rt_neigh_find(const struct rt *rt, int family, const uint8_t *addr, unsigned port)
{
	uint32_t m = RT_NEIGH_SLOTS - 1, i = neigh_hash(family, addr, port) & m;
	for (unsigned n = 0; n < RT_NEIGH_SLOTS; n++, i = (i + 1) & m) {
		const struct rt_neigh_ent *e = &rt->neigh[i];
		if (!e->used)
			return -1;
		if (neigh_key_is(e, family, addr, port))
			return (int)i;
	}
	return -1;
}

/* Copies src's entry into dst (both under neigh_lock), dst's seqcount kept and bumped. */
static void neigh_copy(struct rt_neigh_ent *dst, const struct rt_neigh_ent *src)
{
	const size_t o = offsetof(struct rt_neigh_ent, used);
	rt_neigh_write_begin(dst);
	memcpy((uint8_t *)dst + o, (const uint8_t *)src + o, sizeof(*dst) - o);
	rt_neigh_write_end(dst);
}

void rt_neigh_remove_locked(struct rt *rt, unsigned idx)
{
	uint32_t m = RT_NEIGH_SLOTS - 1, i = idx, j = idx;
	for (;;) {
		j = (j + 1) & m;
		const struct rt_neigh_ent *f = &rt->neigh[j];
		if (!f->used)
			break;
		uint32_t home = neigh_hash(f->family, f->addr, f->port) & m;
		if (((j - home) & m) < ((j - i) & m))
			continue; /* its probe sequence starts after the hole: it stays */
		neigh_copy(&rt->neigh[i], f); /* now in both slots, same key and MAC */
		i = j;
	}
	struct rt_neigh_ent *e = &rt->neigh[i];
	rt_neigh_write_begin(e);
	e->used = 0;
	e->state = RT_NUD_NONE;
	e->nhold = 0;
	rt_neigh_write_end(e);
	rt->neigh_count--;
}

int rt_neigh_gc_class(const struct rt_neigh_ent *e, uint64_t now)
{
	if (e->nhold)
		return 0;
	switch (e->state) {
	case RT_NUD_NONE:
	case RT_NUD_FAILED:
		return 1;
	case RT_NUD_STALE:
		return 2;
	case RT_NUD_REACHABLE:
		return now > e->t_changed && now - e->t_changed >= RT_NEIGH_GC_FRESH_NS ? 3 : 0;
	default: /* PERMANENT; INCOMPLETE, DELAY, PROBE: resolving, or used and being checked */
		return 0;
	}
}

/* A full table: reclaims entries of class 1, then 2, then 3 until RT_NEIGH_GC_BATCH slots are
 * free (or none is left to take). Returns how many. */
static unsigned neigh_gc_full(struct rt *rt, uint64_t now)
{
	const unsigned target = RT_NEIGH_MAX - RT_NEIGH_GC_BATCH;
	unsigned freed = 0;
	for (int cls = 1; cls <= 3 && rt->neigh_count > target; cls++) {
		for (unsigned i = 0; i < RT_NEIGH_SLOTS && rt->neigh_count > target;) {
			const struct rt_neigh_ent *e = &rt->neigh[i];
			if (e->used && rt_neigh_gc_class(e, now) == cls) {
				rt_neigh_remove_locked(rt, i); /* slot i may hold the next one */
				freed++;
			} else {
				i++;
			}
		}
	}
	rt->neigh_reclaimed += freed;
	return freed;
}

/* Under neigh_lock: the entry for the key, created in state RT_NUD_NONE if missing. */
int rt_neigh_slot_locked(struct rt *rt, int family, const uint8_t *addr, unsigned port,
                         uint64_t now)
{
	uint32_t m = RT_NEIGH_SLOTS - 1;
	for (int pass = 0; pass < 2; pass++) {
		uint32_t i = neigh_hash(family, addr, port) & m;
		/* at most RT_NEIGH_MAX < RT_NEIGH_SLOTS entries: an empty slot ends the probe */
		for (unsigned n = 0; n < RT_NEIGH_SLOTS && rt->neigh[i].used; n++, i = (i + 1) & m)
			if (neigh_key_is(&rt->neigh[i], family, addr, port))
				return (int)i;
		if (rt->neigh_count < RT_NEIGH_MAX) {
			struct rt_neigh_ent *e = &rt->neigh[i];
			const size_t o = offsetof(struct rt_neigh_ent, used);
			rt_neigh_write_begin(e);
			memset((uint8_t *)e + o, 0, sizeof(*e) - o);
			e->family = (uint8_t)family;
			e->port = (uint16_t)port;
			memcpy(e->addr, addr, alen(family));
			e->state = RT_NUD_NONE;
			e->used = 1;
			rt_neigh_write_end(e);
			rt->neigh_count++;
			return (int)i;
		}
		if (pass || !neigh_gc_full(rt, now))
			break;
	}
	return -ENOSPC;
}

int rt_neigh_read(const struct rt *rt, int idx, uint8_t mac[6])
{
	const struct rt_neigh_ent *e = &rt->neigh[idx];
	uint32_t s;
	int state;
	do {
		s = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
		state = e->state;
		memcpy(mac, e->mac, 6);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	} while ((s & 1) || s != __atomic_load_n(&e->seq, __ATOMIC_RELAXED));
	return state;
}

int rt_neigh_add(struct rt *rt, const struct rt_neigh *nb, char *err, size_t errlen)
{
	int fam = nb->family;
	if (fam != AF_INET && fam != AF_INET6) {
		seterr(err, errlen, "neighbor: family must be inet or inet6");
		return -EINVAL;
	}
	int port = rt_port_by_name(rt, nb->dev);
	if (port < 0) {
		seterr(err, errlen, "neighbor: dev %.*s: no such port", IFNAMSIZ, nb->dev);
		return -ENODEV;
	}
	static const uint8_t zero[6];
	if (!memcmp(nb->lladdr, zero, 6) || (nb->lladdr[0] & 1)) {
		seterr(err, errlen, "neighbor: lladdr must be a unicast MAC");
		return -EINVAL;
	}
	uint8_t a[16] = {0};
	memcpy(a, nb->dst, alen(fam));
	/* created and made PERMANENT in one hold of the lock: a new entry with no state yet is
	 * what the GC takes first */
	uint64_t now = rt_now_ns();
	pthread_mutex_lock(&rt->neigh_lock);
	int i = rt_neigh_slot_locked(rt, fam, a, (unsigned)port, now);
	if (i >= 0) {
		struct rt_neigh_ent *e = &rt->neigh[i];
		rt_neigh_write_begin(e);
		e->state = RT_NUD_PERMANENT;
		memcpy(e->mac, nb->lladdr, 6);
		rt_neigh_write_end(e);
		e->t_changed = now;
		e->probes = 0; /* packets it held leave with the next neighbor tick */
	}
	pthread_mutex_unlock(&rt->neigh_lock);
	if (i < 0) {
		seterr(err, errlen, "neighbor: table full (%d entries)", RT_NEIGH_MAX);
		return -ENOSPC;
	}
	pthread_mutex_lock(&rt->ctl_lock);
	rt->generation++;
	pthread_mutex_unlock(&rt->ctl_lock);
	return 0;
}

/* An empty dev means "on any port" (the first live entry found). */
int rt_neigh_del(struct rt *rt, const struct rt_neigh *nb, char *err, size_t errlen)
{
	int fam = nb->family;
	int port = nb->dev[0] ? rt_port_by_name(rt, nb->dev) : 0;
	if (fam != AF_INET && fam != AF_INET6) {
		seterr(err, errlen, "neighbor: family must be inet or inet6");
		return -EINVAL;
	}
	if (port < 0) {
		seterr(err, errlen, "neighbor: dev %.*s: no such port", IFNAMSIZ, nb->dev);
		return -ENODEV;
	}
	uint8_t a[16] = {0};
	memcpy(a, nb->dst, alen(fam));
	pthread_mutex_lock(&rt->neigh_lock);
	int i = rt_neigh_find(rt, fam, a, (unsigned)port);
	for (unsigned p = 0; !nb->dev[0] && p < rt->nports; p++) {
		i = rt_neigh_find(rt, fam, a, p);
		if (i >= 0 && rt->neigh[i].state != RT_NUD_NONE)
			break;
	}
	if (i < 0 || rt->neigh[i].state == RT_NUD_NONE) {
		pthread_mutex_unlock(&rt->neigh_lock);
		char b[INET6_ADDRSTRLEN];
		seterr(err, errlen, "neighbor %s dev %s: no such entry", afmt(fam, a, b),
		       nb->dev[0] ? nb->dev : "(any)");
		return -ENOENT;
	}
	struct rt_neigh_ent *e = &rt->neigh[i];
	if (e->nhold) { /* the next neighbor tick frees the held packets, then the entry */
		rt_neigh_write_begin(e);
		e->state = RT_NUD_NONE;
		rt_neigh_write_end(e);
	} else {
		rt_neigh_remove_locked(rt, (unsigned)i);
	}
	pthread_mutex_unlock(&rt->neigh_lock);
	pthread_mutex_lock(&rt->ctl_lock);
	rt->generation++;
	pthread_mutex_unlock(&rt->ctl_lock);
	return 0;
}

/* Lists a copy taken under neigh_lock: entries move when others are removed, so a walk
 * over the live table could see one twice or miss it. */
int rt_neigh_walk(struct rt *rt, int (*cb)(const struct rt_neigh *nb, void *arg), void *arg)
{
	pthread_mutex_lock(&rt->neigh_lock);
	struct rt_neigh *all = malloc((rt->neigh_count + 1) * sizeof(*all));
	unsigned n = 0;
	for (unsigned i = 0; all && i < RT_NEIGH_SLOTS && n < rt->neigh_count; i++) {
		const struct rt_neigh_ent *e = &rt->neigh[i];
		if (!e->used || e->state == RT_NUD_NONE)
			continue;
		struct rt_neigh *nb = &all[n++];
		memset(nb, 0, sizeof(*nb));
		nb->family = e->family;
		nb->state = e->state;
		memcpy(nb->lladdr, e->mac, 6);
		memcpy(nb->dst, e->addr, 16);
		snprintf(nb->dev, sizeof(nb->dev), "%s", rt->port[e->port].name);
	}
	pthread_mutex_unlock(&rt->neigh_lock);
	if (!all)
		return -ENOMEM;
	int ret = 0;
	for (unsigned i = 0; i < n && !ret; i++)
		ret = cb(&all[i], arg);
	free(all);
	return ret;
}

void rt_neigh_counts(struct rt *rt, uint64_t *entries, uint64_t *reclaimed)
{
	pthread_mutex_lock(&rt->neigh_lock);
	*entries = rt->neigh_count;
	*reclaimed = rt->neigh_reclaimed;
	pthread_mutex_unlock(&rt->neigh_lock);
}

/* ================================================================ links, counters */

int rt_link_walk(struct rt *rt, int (*cb)(const struct rt_link *l, void *arg), void *arg)
{
	int ret = 0;
	for (unsigned i = 0; i < rt->nports && !ret; i++) {
		const struct rt_port *p = &rt->port[i];
		struct rt_link l;
		memset(&l, 0, sizeof(l));
		snprintf(l.name, sizeof(l.name), "%s", p->name);
		snprintf(l.spec, sizeof(l.spec), "%s", p->spec);
		memcpy(l.mac, p->mac, 6);
		l.mtu = p->mtu;
		l.host = p->host;
		l.naddrs = p->naddrs;
		for (unsigned j = 0; j < p->naddrs && j < 8; j++) {
			l.addrs[j].family = p->addrs[j].family;
			l.addrs[j].plen = p->addrs[j].plen;
			memcpy(l.addrs[j].addr, p->addrs[j].addr, 16);
		}
		if (rt->link_stats)
			rt->link_stats(rt, i, &l);
		ret = cb(&l, arg);
	}
	return ret;
}

static void stats_add(struct rt_stats *s, const struct rt_stats *a)
{
	const uint64_t *src = (const uint64_t *)a;
	uint64_t *dst = (uint64_t *)s;
	for (size_t i = 0; i < sizeof(*s) / sizeof(uint64_t); i++)
		dst[i] += __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

int rt_stats_get(struct rt *rt, struct rt_stats *per_worker, unsigned max, struct rt_stats *sum)
{
	if (sum)
		memset(sum, 0, sizeof(*sum));
	for (unsigned i = 0; i < rt->nworkers; i++) {
		struct rt_stats s = {0};
		if (rt->workers[i])
			stats_add(&s, &rt->workers[i]->st);
		if (per_worker && i < max)
			per_worker[i] = s;
		if (sum)
			stats_add(sum, &s);
	}
	return (int)rt->nworkers;
}

uint64_t rt_generation(struct rt *rt)
{
	pthread_mutex_lock(&rt->ctl_lock);
	uint64_t g = rt->generation;
	pthread_mutex_unlock(&rt->ctl_lock);
	return g;
}
