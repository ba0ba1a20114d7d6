/*
 * nmrouter.c — the router program: reads the JSON config, checks all of it before touching
 * any interface, opens the ports, loads addresses/routes/neighbors, starts the workers and
 * the control API, and waits for signals.
 *
 *   nmrouter -c etc/nmrouter.json [-s STATS_FILE] [--check]
 *
 * SIGUSR1 writes every counter as one JSON object to the stats file (atomically: written
 * aside, then renamed) or to stderr; SIGINT/SIGTERM stop the router. Config keys are
 * documented in router/README.md. Exit status: 0 clean stop, 1 runtime failure, 2 config.
 *
 * DOC: checking the config
 *
 * Every key is checked for type and meaning; unknown keys are errors. Then the whole
 * control plane is built once on a scratch router without ports (same code as the real
 * one: addresses, connected routes, every static route and neighbor), so that a gateway off
 * every connected network or a duplicate route is reported, naming the item, before any
 * interface is opened.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <urcu-qsbr.h>

#include "nm_mac.h"
#include "router/rt.h"
#include "router/rt_io.h"
#if __has_include("api/api.h")
#include "api/api.h"
#define HAVE_API 1
#endif

struct cfg_addr {
	int family;
	unsigned plen;
	uint8_t addr[16];
};

struct cfg {
	json_t *root;
	unsigned nports;
	struct rt_port_cfg port[RT_MAX_PORTS];
	unsigned naddr[RT_MAX_PORTS];
	struct cfg_addr addr[RT_MAX_PORTS][RT_MAX_ADDRS];
	struct rt_route *routes;
	size_t nroutes;
	struct rt_neigh *neigh;
	size_t nneigh;
	unsigned workers;
	uint32_t icmp_rate, icmp_burst;
	const char *stats_file;
	const json_t *api;
};

static void cfg_free(struct cfg *c)
{
	free(c->routes);
	free(c->neigh);
	json_decref(c->root);
}

static int cfg_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int cfg_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int only_keys(const json_t *o, const char *where, const char *const *keys, char *err,
                     size_t errlen)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)o, k, v)
	{
		int ok = 0;
		for (const char *const *p = keys; *p; p++)
			ok |= !strcmp(*p, k);
		if (!ok) {
			char known[256] = "";
			for (const char *const *p = keys; *p; p++)
				snprintf(known + strlen(known), sizeof(known) - strlen(known),
				         "%s%s", p == keys ? "" : ", ", *p);
			return cfg_fail(err, errlen, "%s%s%s: unknown key (known: %s)", where,
			                where[0] ? "." : "", k, known);
		}
	}
	return 0;
}

static int parse_prefix(const char *s, struct cfg_addr *a)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	if (!slash || (size_t)(slash - s) >= sizeof(buf))
		return -1;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = 0;
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, buf, a->addr) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, a->addr) == 1)
		a->family = AF_INET6;
	else
		return -1;
	char *end;
	long n = strtol(slash + 1, &end, 10);
	if (*end || end == slash + 1 || n < 0 || n > (a->family == AF_INET ? 32 : 128))
		return -1;
	a->plen = (unsigned)n;
	return 0;
}

static int get_uint(const json_t *o, const char *key, unsigned lo, unsigned hi, unsigned *out,
                    char *err, size_t errlen)
{
	const json_t *v = json_object_get(o, key);
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return cfg_fail(err, errlen, "%s: want an integer in %u..%u", key, lo, hi);
	*out = (unsigned)json_integer_value(v);
	return 0;
}

static int parse_port(struct cfg *c, unsigned i, const json_t *o, char *err, size_t errlen)
{
	static const char *const keys[] = {"name", "spec",      "addresses", "host",
	                                   "mac",  "ring_size", "mtu",       NULL};
	char where[32];
	snprintf(where, sizeof(where), "ports[%u]", i);
	if (!json_is_object(o))
		return cfg_fail(err, errlen, "%s: want an object", where);
	if (only_keys(o, where, keys, err, errlen))
		return -EINVAL;
	struct rt_port_cfg *p = &c->port[i];
	const json_t *name = json_object_get(o, "name"), *spec = json_object_get(o, "spec");
	if (!json_is_string(name) || !json_string_length(name) ||
	    json_string_length(name) >= IFNAMSIZ)
		return cfg_fail(err, errlen, "%s.name: want a string of 1..%d characters", where,
		                IFNAMSIZ - 1);
	if (!json_is_string(spec) || strncmp(json_string_value(spec), "netmap:", 7))
		return cfg_fail(err, errlen, "%s.spec: want a port spec like \"netmap:eth0\"",
		                where);
	p->name = json_string_value(name);
	p->spec = json_string_value(spec);
	for (unsigned j = 0; j < i; j++)
		if (!strcmp(c->port[j].name, p->name))
			return cfg_fail(err, errlen, "%s.name: \"%s\" is also ports[%u].name",
			                where, p->name, j);
	const json_t *h = json_object_get(o, "host");
	if (h && !json_is_boolean(h))
		return cfg_fail(err, errlen, "%s.host: want true or false", where);
	p->host = h && json_is_true(h);
	const json_t *m = json_object_get(o, "mac");
	if (m) {
		if (!json_is_string(m) || nm_parse_mac(json_string_value(m), p->mac) ||
		    (p->mac[0] & 1))
			return cfg_fail(err, errlen,
			                "%s.mac: want a unicast MAC like \"02:00:00:00:00:01\"",
			                where);
		p->has_mac = 1;
	}
	unsigned rs = 0;
	char key[48];
	snprintf(key, sizeof(key), "%s.ring_size", where);
	const json_t *rsv = json_object_get(o, "ring_size");
	if (rsv && (!json_is_integer(rsv) || json_integer_value(rsv) < 64 ||
	            json_integer_value(rsv) > 16384 ||
	            (json_integer_value(rsv) & (json_integer_value(rsv) - 1))))
		return cfg_fail(err, errlen, "%s: want a power of two in 64..16384", key);
	if (rsv)
		rs = (unsigned)json_integer_value(rsv);
	p->ring_size = rs;
	const json_t *as = json_object_get(o, "addresses");
	if (as && !json_is_array(as))
		return cfg_fail(err, errlen, "%s.addresses: want an array of \"addr/len\"", where);
	if (json_array_size(as) > RT_MAX_ADDRS)
		return cfg_fail(err, errlen, "%s.addresses: at most %d", where, RT_MAX_ADDRS);
	for (size_t j = 0; j < json_array_size(as); j++) {
		const json_t *a = json_array_get(as, j);
		if (!json_is_string(a) || parse_prefix(json_string_value(a), &c->addr[i][j]))
			return cfg_fail(err, errlen,
			                "%s.addresses[%zu]: want \"10.0.0.1/24\" or \"fd00::1/64\"",
			                where, j);
		c->naddr[i]++;
	}
	/* after the addresses: a port with an IPv6 address needs IPv6's minimum MTU */
	const json_t *mv = json_object_get(o, "mtu");
	if (mv && (!json_is_integer(mv) || json_integer_value(mv) < RT_MTU_MIN ||
	           json_integer_value(mv) > RT_MTU_MAX))
		return cfg_fail(err, errlen, "%s.mtu: want an integer in %d..%d", where, RT_MTU_MIN,
		                RT_MTU_MAX);
	p->mtu = mv ? (uint32_t)json_integer_value(mv) : 0;
	for (unsigned j = 0; p->mtu && p->mtu < RT_MTU_MIN6 && j < c->naddr[i]; j++)
		if (c->addr[i][j].family == AF_INET6)
			return cfg_fail(
			    err, errlen,
			    "%s.mtu: %u is below %d, the IPv6 minimum, and the port has "
			    "IPv6 address addresses[%u]",
			    where, p->mtu, RT_MTU_MIN6, j);
	return 0;
}

static int cfg_parse(struct cfg *c, const char *path, char *err, size_t errlen)
{
	static const char *const keys[] = {"ports",   "routes",    "neighbors",  "workers",
	                                   "api",     "icmp_rate", "icmp_burst", "stats_file",
	                                   "comment", NULL};
	json_error_t je;
	memset(c, 0, sizeof(*c));
	c->icmp_rate = 1000;
	c->icmp_burst = 100;
	c->root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!c->root)
		return cfg_fail(err, errlen, "%s:%d:%d: %s", path, je.line, je.column, je.text);
	if (!json_is_object(c->root))
		return cfg_fail(err, errlen, "%s: want a JSON object at the top", path);
	if (only_keys(c->root, "", keys, err, errlen))
		return -EINVAL;
	const json_t *ports = json_object_get(c->root, "ports");
	if (!json_is_array(ports) || !json_array_size(ports))
		return cfg_fail(err, errlen, "ports: want a non-empty array of ports");
	if (json_array_size(ports) > RT_MAX_PORTS)
		return cfg_fail(err, errlen, "ports: at most %d", RT_MAX_PORTS);
	c->nports = (unsigned)json_array_size(ports);
	for (unsigned i = 0; i < c->nports; i++)
		if (parse_port(c, i, json_array_get(ports, i), err, errlen))
			return -EINVAL;
	const json_t *routes = json_object_get(c->root, "routes");
	if (routes && !json_is_array(routes))
		return cfg_fail(err, errlen, "routes: want an array");
	c->nroutes = json_array_size(routes);
	c->routes = calloc(c->nroutes + 1, sizeof(*c->routes));
	if (!c->routes)
		return cfg_fail(err, errlen, "routes: out of memory");
	for (size_t i = 0; i < c->nroutes; i++) {
		char where[32];
		snprintf(where, sizeof(where), "routes[%zu]", i);
#ifdef HAVE_API
		if (api_route_from_json(json_array_get(routes, i), where, &c->routes[i], err,
		                        errlen))
			return -EINVAL;
#else
		return cfg_fail(err, errlen, "%s: built without api/ (route parser)", where);
#endif
	}
	const json_t *ns = json_object_get(c->root, "neighbors");
	if (ns && !json_is_array(ns))
		return cfg_fail(err, errlen, "neighbors: want an array");
	c->nneigh = json_array_size(ns);
	c->neigh = calloc(c->nneigh + 1, sizeof(*c->neigh));
	if (!c->neigh)
		return cfg_fail(err, errlen, "neighbors: out of memory");
	for (size_t i = 0; i < c->nneigh; i++) {
		char where[32];
		snprintf(where, sizeof(where), "neighbors[%zu]", i);
#ifdef HAVE_API
		if (api_neigh_from_json(json_array_get(ns, i), where, &c->neigh[i], err, errlen))
			return -EINVAL;
#else
		return cfg_fail(err, errlen, "%s: built without api/ (neighbor parser)", where);
#endif
	}
	if (get_uint(c->root, "workers", 1, RT_MAX_WORKERS, &c->workers, err, errlen) ||
	    get_uint(c->root, "icmp_rate", 0, 1000000, &c->icmp_rate, err, errlen) ||
	    get_uint(c->root, "icmp_burst", 1, 1000000, &c->icmp_burst, err, errlen))
		return -EINVAL;
	const json_t *sf = json_object_get(c->root, "stats_file");
	if (sf && !json_is_string(sf))
		return cfg_fail(err, errlen, "stats_file: want a path");
	c->stats_file = sf ? json_string_value(sf) : NULL;
	c->api = json_object_get(c->root, "api");
	if (c->api) {
#ifdef HAVE_API
		if (api_check_config(c->api, err, errlen))
			return -EINVAL;
#else
		return cfg_fail(err, errlen, "api: built without api/");
#endif
	}
	return 0;
}

/* Loads addresses, routes and neighbors into rt (ports already added). */
static int cfg_apply(const struct cfg *c, struct rt *rt, char *err, size_t errlen)
{
	char e[256];
	for (unsigned i = 0; i < c->nports; i++)
		for (unsigned j = 0; j < c->naddr[i]; j++) {
			const struct cfg_addr *a = &c->addr[i][j];
			if (rt_port_addr_add(rt, i, a->family, a->addr, a->plen, e, sizeof(e)))
				return cfg_fail(err, errlen, "ports[%u].addresses[%u]: %s", i, j,
				                e);
		}
	if (c->nroutes && rt_route_add(rt, c->routes, c->nroutes, e, sizeof(e)))
		return cfg_fail(err, errlen, "%s", e); /* names routes[i] */
	for (size_t i = 0; i < c->nneigh; i++)
		if (rt_neigh_add(rt, &c->neigh[i], e, sizeof(e)))
			return cfg_fail(err, errlen, "neighbors[%zu]: %s", i, e);
	rt->icmp_rate = c->icmp_rate;
	rt->icmp_burst = c->icmp_burst;
	return 0;
}

/* Builds the control plane on a scratch router without ports. */
static int cfg_check(const struct cfg *c, char *err, size_t errlen)
{
	struct rt *rt = rt_create();
	if (!rt)
		return cfg_fail(err, errlen, "out of memory");
	int ret = 0;
	for (unsigned i = 0; i < c->nports && !ret; i++)
		if (rt_port_add(rt, c->port[i].name, c->port[i].spec,
		                (uint8_t[6]){2, 0, 0, 0, 0, 1},
		                c->port[i].mtu ? c->port[i].mtu : 1500, c->port[i].host) < 0)
			ret = cfg_fail(err, errlen, "ports[%u]: cannot add", i);
	if (!ret)
		ret = cfg_apply(c, rt, err, errlen);
	rt_destroy(rt);
	return ret;
}

/* ================================================================ stats dump */

static json_t *stats_json(const struct rt_stats *s)
{
	json_t *o = json_pack(
	    "{sI sI sI sI sI sI sI sI sI sI sI}", "rx_packets", (json_int_t)s->rx_packets,
	    "rx_bytes", (json_int_t)s->rx_bytes, "forwarded", (json_int_t)s->forwarded, "punted",
	    (json_int_t)s->punted, "injected", (json_int_t)s->injected, "icmp_sent",
	    (json_int_t)s->icmp_sent, "arp_nd_sent", (json_int_t)s->arp_nd_sent, "local_replies",
	    (json_int_t)s->local_replies, "consumed", (json_int_t)s->consumed, "frag_ok",
	    (json_int_t)s->frag_ok, "fragments", (json_int_t)s->fragments);
	json_t *d = json_object();
	for (int i = 0; i < RT_DROP_MAX; i++)
		json_object_set_new(d, rt_drop_names[i], json_integer((json_int_t)s->drops[i]));
	json_object_set_new(o, "drops", d);
	return o;
}

static int link_cb(const struct rt_link *l, void *arg)
{
	json_array_append_new(
	    arg,
	    json_pack("{ss ss ss sI sI sI sI sI sI sI}", "name", l->name, "spec", l->spec, "mode",
	              l->mode, "mtu", (json_int_t)l->mtu, "rx_packets", (json_int_t)l->rx_packets,
	              "rx_bytes", (json_int_t)l->rx_bytes, "tx_packets", (json_int_t)l->tx_packets,
	              "tx_bytes", (json_int_t)l->tx_bytes, "rx_dropped", (json_int_t)l->rx_dropped,
	              "tx_dropped", (json_int_t)l->tx_dropped));
	return 0;
}

static int neigh_cb(const struct rt_neigh *nb, void *arg)
{
	static const char *const st[] = {"PERMANENT", "REACHABLE", "STALE", "INCOMPLETE",
	                                 "FAILED",    "DELAY",     "PROBE"};
	char a[INET6_ADDRSTRLEN], m[18];
	inet_ntop(nb->family, nb->dst, a, sizeof(a));
	snprintf(m, sizeof(m), "%02x:%02x:%02x:%02x:%02x:%02x", nb->lladdr[0], nb->lladdr[1],
	         nb->lladdr[2], nb->lladdr[3], nb->lladdr[4], nb->lladdr[5]);
	json_array_append_new(
	    arg, json_pack("{ss ss ss ss}", "dst", a, "lladdr", m, "dev", nb->dev, "state",
	                   nb->state < sizeof(st) / sizeof(st[0]) ? st[nb->state] : "?"));
	return 0;
}

static void stats_dump(struct rt *rt, const char *path)
{
	struct rt_stats per[RT_MAX_WORKERS], sum;
	int n = rt_stats_get(rt, per, RT_MAX_WORKERS, &sum);
	json_t *o = stats_json(&sum), *pw = json_array(), *links = json_array(), *ns = json_array();
	for (int i = 0; i < n && i < RT_MAX_WORKERS; i++)
		json_array_append_new(pw, stats_json(&per[i]));
	rt_link_walk(rt, link_cb, links);
	rt_neigh_walk(rt, neigh_cb, ns);
	json_object_set_new(o, "workers", pw);
	json_object_set_new(o, "links", links);
	json_object_set_new(o, "neighbors", ns);
	uint64_t nent, nrec;
	rt_neigh_counts(rt, &nent, &nrec);
	json_object_set_new(
	    o, "neighbor_table",
	    json_pack("{sI sI}", "entries", (json_int_t)nent, "reclaimed", (json_int_t)nrec));
	json_object_set_new(o, "generation", json_integer((json_int_t)rt_generation(rt)));
	if (!path) {
		json_dumpf(o, stderr, JSON_COMPACT);
		fputc('\n', stderr);
	} else {
		char tmp[4096];
		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		if (json_dump_file(o, tmp, JSON_INDENT(1)) == 0)
			rename(tmp, path);
		else
			fprintf(stderr, "nmrouter: stats: cannot write %s\n", tmp);
	}
	json_decref(o);
}

/* ================================================================ main */

static void usage(FILE *f)
{
	fprintf(f, "usage: nmrouter -c CONFIG.json [-s STATS_FILE] [--check]\n"
	           "  -c, --config FILE   configuration (keys: router/README.md)\n"
	           "  -s, --stats FILE    where SIGUSR1 writes the counters (default: stderr)\n"
	           "      --check         check the configuration and exit\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {{"config", required_argument, NULL, 'c'},
	                                   {"stats", required_argument, NULL, 's'},
	                                   {"check", no_argument, NULL, 'k'},
	                                   {"help", no_argument, NULL, 'h'},
	                                   {NULL, 0, NULL, 0}};
	const char *cpath = NULL, *spath = NULL;
	int check = 0, o;
	char err[512];
	while ((o = getopt_long(argc, argv, "c:s:h", lo, NULL)) != -1) {
		switch (o) {
		case 'c':
			cpath = optarg;
			break;
		case 's':
			spath = optarg;
			break;
		case 'k':
			check = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!cpath || optind != argc) {
		usage(stderr);
		return 2;
	}
	struct cfg c;
	if (cfg_parse(&c, cpath, err, sizeof(err)) || cfg_check(&c, err, sizeof(err))) {
		fprintf(stderr, "nmrouter: %s: %s\n", cpath, err);
		cfg_free(&c);
		return 2;
	}
	if (!spath)
		spath = c.stats_file;
	if (check) {
		printf("nmrouter: %s: OK (%u ports, %zu routes, %zu neighbors)\n", cpath, c.nports,
		       c.nroutes, c.nneigh);
		cfg_free(&c);
		return 0;
	}

	/* signals go to sigwait() below, never to a worker */
	sigset_t ss;
	sigemptyset(&ss);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGUSR1);
	sigaddset(&ss, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &ss, NULL);

	int rc = 1;
	struct rt *rt = rt_create();
	struct rt_io *io = NULL;
#ifdef HAVE_API
	struct api *api = NULL;
#endif
	if (!rt) {
		fprintf(stderr, "nmrouter: out of memory\n");
		goto out;
	}
	io = rt_io_open(rt, c.port, c.nports, err, sizeof(err));
	if (!io) {
		fprintf(stderr, "nmrouter: %s\n", err);
		goto out;
	}
	if (cfg_apply(&c, rt, err, sizeof(err))) {
		fprintf(stderr, "nmrouter: %s: %s\n", cpath, err);
		goto out;
	}
	if (rt_io_host_setup(io, err, sizeof(err)))
		fprintf(stderr, "nmrouter: host side: %s (add the addresses by hand)\n", err);
	if (rt_io_start(io, c.workers, err, sizeof(err))) {
		fprintf(stderr, "nmrouter: %s\n", err);
		goto out;
	}
#ifdef HAVE_API
	if (c.api) {
		api = api_start(rt, c.api, cpath, err, sizeof(err));
		if (!api) {
			fprintf(stderr, "nmrouter: api: %s\n", err);
			goto out;
		}
	}
#endif
	for (unsigned i = 0; i < rt->nports; i++) {
		const struct rt_port *p = &rt->port[i];
		const char *h = rt_io_host_ifname(io, i);
		fprintf(stderr,
		        "nmrouter: port %s: %s, mac %02x:%02x:%02x:%02x:%02x:%02x, mtu %u, %u "
		        "addresses%s%s\n",
		        p->name, p->spec, p->mac[0], p->mac[1], p->mac[2], p->mac[3], p->mac[4],
		        p->mac[5], p->mtu, p->naddrs, h ? ", host side " : "", h ? h : "");
	}
	fprintf(stderr,
	        "nmrouter: ready: %u ports, %zu routes, %zu neighbors, %u workers, fib %s\n",
	        rt->nports, c.nroutes, c.nneigh, rt_io_nworkers(io), rt_fib_impl());
	for (;;) {
		int sig = 0;
		if (sigwait(&ss, &sig))
			continue;
		if (sig == SIGUSR1) {
			stats_dump(rt, spath);
			continue;
		}
		if (sig == SIGHUP)
			continue;
		fprintf(stderr, "nmrouter: %s, stopping\n", strsignal(sig));
		break;
	}
	rc = 0;
out:
#ifdef HAVE_API
	api_stop(api);
#endif
	rt_io_close(io);
	rt_destroy(rt);
	cfg_free(&c);
	return rc;
}
