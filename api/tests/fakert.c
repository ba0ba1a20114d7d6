/*
 * fakert.c — a development stand-in for nmrouter's control side: rt_ctl.h on plain arrays.
 *
 * It lets the API be exercised over HTTP before (or without) the real router. It is NOT
 * the router: no packets, no RCU. The integration tests use bin/nmrouter when it exists.
 *
 *   bin/tests/nmapi-fakert -c CONFIG.json
 *
 * Reads "ports" (name, spec, addresses), "routes", "neighbors" and "api" like nmrouter does,
 * starts the API, and runs until SIGINT/SIGTERM.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/api.h"
#include "api/api_int.h"

const char *const rt_drop_names[RT_DROP_MAX] = {
    "bad_l2",    "bad_version", "bad_ihl",  "bad_csum",    "bad_len", "martian",
    "ttl",       "no_route",    "no_neigh", "hold_full",   "tx_full", "no_host",
    "icmp_rate", "no_buf",      "other",    "frag_needed", "too_big"};

struct rt {
	struct rt_route *routes;
	size_t nroutes, cap;
	struct rt_neigh neigh[256];
	size_t nneigh;
	struct rt_link links[8];
	size_t nlinks;
	uint64_t gen;
};

static int has_dev(struct rt *rt, const char *dev)
{
	size_t i;

	for (i = 0; i < rt->nlinks; i++)
		if (!strcmp(rt->links[i].name, dev))
			return 1;
	return 0;
}

static int cmp_route(const void *x, const void *y)
{
	const struct rt_route *a = x, *b = y;

	if (a->family != b->family)
		return a->family - b->family;
	if (a->plen != b->plen)
		return a->plen - b->plen;
	return memcmp(a->dst, b->dst, 16);
}

static int cmp_full(const void *x, const void *y)
{
	const struct rt_route *a = x, *b = y;
	int c = cmp_route(a, b);

	if (c)
		return c;
	if (a->has_gw != b->has_gw)
		return a->has_gw - b->has_gw;
	c = memcmp(a->gw, b->gw, 16);
	return c ? c : strcmp(a->dev, b->dev);
}

static ssize_t find(struct rt *rt, const struct rt_route *r)
{
	size_t i;

	for (i = 0; i < rt->nroutes; i++)
		if (!cmp_route(&rt->routes[i], r))
			return i;
	return -1;
}

static int check(struct rt *rt, const struct rt_route *r, size_t n, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (r[i].dev[0] && !has_dev(rt, r[i].dev)) {
			snprintf(err, errlen, "routes[%zu].dev: %s: no such device", i, r[i].dev);
			return -ENODEV;
		}
	}
	return 0;
}

static int grow(struct rt *rt, size_t n)
{
	struct rt_route *v;

	if (n <= rt->cap)
		return 0;
	v = realloc(rt->routes, n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	rt->routes = v;
	rt->cap = n;
	return 0;
}

int rt_route_add(struct rt *rt, const struct rt_route *r, size_t n, char *err, size_t errlen)
{
	size_t i, j;
	int rc = check(rt, r, n, err, errlen);

	if (rc)
		return rc;
	for (i = 0; i < n; i++) {
		if (find(rt, &r[i]) >= 0) {
			snprintf(err, errlen, "routes[%zu]: route exists", i);
			return -EEXIST;
		}
		for (j = 0; j < i; j++)
			if (!cmp_route(&r[i], &r[j])) {
				snprintf(err, errlen, "routes[%zu]: repeated in the request", i);
				return -EEXIST;
			}
	}
	if (grow(rt, rt->nroutes + n))
		return -ENOMEM;
	memcpy(rt->routes + rt->nroutes, r, n * sizeof(*r));
	rt->nroutes += n;
	rt->gen++;
	return 0;
}

int rt_route_del(struct rt *rt, const struct rt_route *r, size_t n, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < n; i++) {
		ssize_t k = find(rt, &r[i]);

		if (k < 0 || rt->routes[k].proto != RT_PROTO_STATIC) {
			snprintf(err, errlen, "routes[%zu]: no such route", i);
			return -ENOENT;
		}
	}
	for (i = 0; i < n; i++) {
		ssize_t k = find(rt, &r[i]);

		rt->routes[k] = rt->routes[--rt->nroutes];
	}
	rt->gen++;
	return 0;
}

int rt_route_replace(struct rt *rt, const struct rt_route *r, size_t n, int dry_run, size_t *adds,
                     size_t *dels, char *err, size_t errlen)
{
	struct rt_route *nv, *old;
	size_t i, j, nk = 0, no = 0, a = 0, d = 0;
	int rc = check(rt, r, n, err, errlen);

	if (rc)
		return rc;
	nv = malloc((n + rt->nroutes + 1) * sizeof(*nv));
	old = malloc((rt->nroutes + 1) * sizeof(*old));
	if (!nv || !old) {
		free(nv);
		free(old);
		return -ENOMEM;
	}
	memcpy(nv, r, n * sizeof(*r));
	qsort(nv, n, sizeof(*nv), cmp_route);
	for (i = 1; i < n; i++)
		if (!cmp_route(&nv[i], &nv[i - 1])) {
			char p[64];

			api_prefix_fmt_full(nv[i].family, nv[i].dst, nv[i].plen, p, sizeof(p));
			snprintf(err, errlen, "routes: %s appears twice", p);
			free(nv);
			free(old);
			return -EINVAL;
		}
	for (i = 0; i < rt->nroutes; i++)
		if (rt->routes[i].proto == RT_PROTO_STATIC)
			old[no++] = rt->routes[i];
	qsort(old, no, sizeof(*old), cmp_full);
	/* count differences (a changed next hop is one del and one add) */
	{
		struct rt_route *sn = malloc((n + 1) * sizeof(*sn));

		if (!sn) {
			free(nv);
			free(old);
			return -ENOMEM;
		}
		memcpy(sn, nv, n * sizeof(*sn));
		qsort(sn, n, sizeof(*sn), cmp_full);
		for (i = j = 0; i < n || j < no;) {
			int c = i >= n ? 1 : j >= no ? -1 : cmp_full(&sn[i], &old[j]);

			if (c < 0)
				a++, i++;
			else if (c > 0)
				d++, j++;
			else
				i++, j++;
		}
		free(sn);
	}
	if (adds)
		*adds = a;
	if (dels)
		*dels = d;
	if (!dry_run) {
		for (i = 0; i < rt->nroutes; i++)
			if (rt->routes[i].proto != RT_PROTO_STATIC)
				nv[n + nk++] = rt->routes[i];
		free(rt->routes);
		rt->routes = nv;
		rt->nroutes = rt->cap = n + nk;
		if (!rt->cap) {
			rt->routes = NULL;
			free(nv);
		}
		rt->gen++;
	} else {
		free(nv);
	}
	free(old);
	return 0;
}

int rt_route_walk(struct rt *rt, int (*cb)(const struct rt_route *r, void *arg), void *arg)
{
	size_t i;

	for (i = 0; i < rt->nroutes; i++)
		if (cb(&rt->routes[i], arg))
			break;
	return 0;
}

static ssize_t find_neigh(struct rt *rt, const struct rt_neigh *nb)
{
	size_t i;

	for (i = 0; i < rt->nneigh; i++)
		if (rt->neigh[i].family == nb->family && !memcmp(rt->neigh[i].dst, nb->dst, 16) &&
		    (!nb->dev[0] || !strcmp(nb->dev, rt->neigh[i].dev)))
			return i;
	return -1;
}

int rt_neigh_add(struct rt *rt, const struct rt_neigh *nb, char *err, size_t errlen)
{
	ssize_t k;

	if (!has_dev(rt, nb->dev)) {
		snprintf(err, errlen, "neighbor.dev: %s: no such device", nb->dev);
		return -ENODEV;
	}
	k = find_neigh(rt, nb);
	if (k < 0) {
		if (rt->nneigh == 256) {
			snprintf(err, errlen, "neighbor table full");
			return -ENOSPC;
		}
		k = rt->nneigh++;
	}
	rt->neigh[k] = *nb;
	rt->gen++;
	return 0;
}

int rt_neigh_del(struct rt *rt, const struct rt_neigh *nb, char *err, size_t errlen)
{
	ssize_t k = find_neigh(rt, nb);

	if (k < 0) {
		snprintf(err, errlen, "no such neighbor");
		return -ENOENT;
	}
	rt->neigh[k] = rt->neigh[--rt->nneigh];
	rt->gen++;
	return 0;
}

int rt_neigh_walk(struct rt *rt, int (*cb)(const struct rt_neigh *nb, void *arg), void *arg)
{
	size_t i;

	for (i = 0; i < rt->nneigh; i++)
		if (cb(&rt->neigh[i], arg))
			break;
	return 0;
}

void rt_neigh_counts(struct rt *rt, uint64_t *entries, uint64_t *reclaimed)
{
	*entries = rt->nneigh;
	*reclaimed = 0; /* the fake's table is a plain array: nothing to reclaim */
}

int rt_link_walk(struct rt *rt, int (*cb)(const struct rt_link *l, void *arg), void *arg)
{
	size_t i;

	for (i = 0; i < rt->nlinks; i++)
		if (cb(&rt->links[i], arg))
			break;
	return 0;
}

int rt_stats_get(struct rt *rt, struct rt_stats *per_worker, unsigned max, struct rt_stats *sum)
{
	unsigned i;

	(void)rt;
	memset(sum, 0, sizeof(*sum));
	for (i = 0; i < 2 && i < max; i++) {
		memset(&per_worker[i], 0, sizeof(per_worker[i]));
		per_worker[i].drops[RT_DROP_NO_ROUTE] = i + 1;
		sum->drops[RT_DROP_NO_ROUTE] += i + 1;
	}
	return 2;
}

uint64_t rt_generation(struct rt *rt)
{
	return rt->gen;
}

/* ------------------------------------------------------------------ main */

static volatile sig_atomic_t stop;

static void on_sig(int s)
{
	(void)s;
	stop = 1;
}

static int load(struct rt *rt, json_t *cfg, char *err, size_t errlen)
{
	json_t *ports = json_object_get(cfg, "ports"), *routes = json_object_get(cfg, "routes");
	json_t *neigh = json_object_get(cfg, "neighbors"), *p, *v;
	size_t i, j;

	json_array_foreach(ports, i, p)
	{
		struct rt_link *l = &rt->links[rt->nlinks++];
		const char *name = json_string_value(json_object_get(p, "name"));

		snprintf(l->name, sizeof(l->name), "%s", name ? name : "?");
		snprintf(l->spec, sizeof(l->spec), "%s",
		         json_string_value(json_object_get(p, "spec")) ?: "");
		snprintf(l->mode, sizeof(l->mode), "fake");
		l->mtu = 1500;
		l->mac[0] = 2;
		l->mac[5] = rt->nlinks;
		json_array_foreach(json_object_get(p, "addresses"), j, v)
		{
			struct rt_route c = {.proto = RT_PROTO_KERNEL};
			char e[200], pfx[64], *slash;
			unsigned k;

			snprintf(pfx, sizeof(pfx), "%s", json_string_value(v) ?: "");
			slash = strchr(pfx, '/');
			if (!slash || l->naddrs == 8)
				continue;
			*slash = 0;
			c.family = api_addr_parse(pfx, l->addrs[l->naddrs].addr);
			c.plen = atoi(slash + 1);
			l->addrs[l->naddrs].family = c.family;
			l->addrs[l->naddrs].plen = c.plen;
			memcpy(c.dst, l->addrs[l->naddrs].addr, 16);
			for (k = c.plen; k < 128; k++)
				c.dst[k / 8] &= ~(0x80 >> (k % 8));
			l->naddrs++;
			strcpy(c.dev, l->name);
			if (rt_route_add(rt, &c, 1, e, sizeof(e)) && 0)
				return -1;
		}
	}
	json_array_foreach(routes, i, v)
	{
		struct rt_route r;
		char where[32];

		snprintf(where, sizeof(where), "routes[%zu]", i);
		if (api_route_from_json(v, where, &r, err, errlen) ||
		    rt_route_add(rt, &r, 1, err, errlen))
			return -1;
	}
	json_array_foreach(neigh, i, v)
	{
		struct rt_neigh nb;
		char where[32];

		snprintf(where, sizeof(where), "neighbors[%zu]", i);
		if (api_neigh_from_json(v, where, &nb, err, errlen) ||
		    rt_neigh_add(rt, &nb, err, errlen))
			return -1;
	}
	rt->gen = 0;
	return 0;
}

int main(int argc, char **argv)
{
	static struct rt rt;
	struct sigaction sa = {.sa_handler = on_sig};
	sigset_t block, old;
	char err[400];
	json_error_t je;
	struct api *a;
	json_t *cfg;

	if (argc != 3 || strcmp(argv[1], "-c")) {
		fprintf(stderr, "usage: %s -c CONFIG.json\n", argv[0]);
		return 2;
	}
	cfg = json_load_file(argv[2], JSON_REJECT_DUPLICATES, &je);
	if (!cfg) {
		fprintf(stderr, "%s:%d:%d: %s\n", argv[2], je.line, je.column, je.text);
		return 1;
	}
	if (load(&rt, cfg, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", argv[2], err);
		return 1;
	}
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	a = api_start(&rt, json_object_get(cfg, "api"), argv[2], err, sizeof(err));
	if (!a) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	fprintf(stderr, "fakert: API up\n");
	while (!stop)
		sigsuspend(&old);
	api_stop(a);
	json_decref(cfg);
	free(rt.routes);
	return 0;
}
