/*
 * api_http.c — the control thread: evhttp on its own event_base, the resources, auth.
 *
 * One thread runs one event_base with up to two evhttp servers: one on the Unix socket
 * (trusted by file permissions: mode and group of the socket) and one on TCP when
 * configured (every request needs "Authorization: Bearer TOKEN", else 401). Both dispatch
 * to the same table of resources. Handlers run to completion on this thread and call the
 * router only through rt_ctl.h, so changes are serialized here; the data plane never waits
 * on us.
 *
 * Robustness: evhttp reads a whole request before calling us; each connection has a read
 * and write inactivity timeout, headers are capped at 16 KiB and bodies at max_body (413).
 * A client that trickles a header byte by byte holds one connection and nothing else:
 * others are served in between; once it pauses for longer than the timeout, or its request
 * is still incomplete request_timeout seconds after it began, it is dropped (the second is
 * ours: see struct conn).
 *
 * Errors are JSON: {"error": "routes[3].dst: \"10.0.0.1/8\": host bits set ...",
 * "status": 400} plus "line"/"column" for malformed JSON. Changes answer {"generation": N}.
 */
#include <errno.h>
#include <sys/queue.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "api/api_int.h"

struct api;

struct front {
	struct api *api;
	struct evhttp *http;
	int tcp; /* requires the bearer token */
};

/*
 * One per open connection, for the whole-request deadline (request_timeout). evhttp 2.1
 * only has inactivity timeouts, so a client trickling a byte now and then would keep a
 * connection forever; this timer closes it. It is armed when the connection opens and when
 * an answer has been sent, and disarmed while a request is being handled.
 */
struct conn {
	TAILQ_ENTRY(conn) next;
	struct api *api;
	struct bufferevent *bev;         /* held (incref) until attached to its evcon */
	struct evhttp_connection *evcon; /* NULL until attached */
	struct event *deadline;
};

struct api {
	TAILQ_HEAD(, conn) conns;
	struct rt *rt;
	struct api_conf conf;
	json_t *file_cfg;
	char *config_path;
	struct event_base *base;
	struct front unix_front, tcp_front;
	struct event *wake_ev;
	int wake_fd;
	int unix_bound;
	pthread_t thr;
	int thr_started;
};

/* ------------------------------------------------------------------ replies */

static void free_cb(const void *data, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	free((void *)data);
}

/* Sends b (consumed) with status code. */
static void reply_sb(struct evhttp_request *req, int code, struct sbuf *b, const char *ctype)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);
	size_t len;
	char *p;

	sb_puts(b, "\n");
	p = sb_take(b, &len);
	if (!p) {
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ctype);
	if (evbuffer_add_reference(out, p, len, free_cb, NULL)) {
		free(p);
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	evhttp_send_reply(req, code, NULL, NULL);
}

static void reply_json(struct evhttp_request *req, int code, struct sbuf *b)
{
	reply_sb(req, code, b, "application/json");
}

static void reply_err(struct evhttp_request *req, int code, const char *msg, int line, int col)
{
	struct sbuf b;

	sb_init(&b);
	sb_puts(&b, "{\"error\":");
	sb_jstr(&b, msg);
	sb_printf(&b, ",\"status\":%d", code);
	if (line > 0)
		sb_printf(&b, ",\"line\":%d,\"column\":%d", line, col);
	sb_puts(&b, "}");
	reply_json(req, code, &b);
}

static int rc_status(int rc)
{
	switch (rc) {
	case -EINVAL:
	case -ENODEV:
		return 400;
	case -ENOENT:
		return 404;
	case -EEXIST:
		return 409;
	case -ENOMEM:
	case -ENOSPC:
		return 503;
	default:
		return 500;
	}
}

static void reply_rc(struct evhttp_request *req, int rc, const char *err)
{
	char msg[300];

	if (!err || !*err) {
		snprintf(msg, sizeof(msg), "%s", strerror(-rc));
		err = msg;
	}
	reply_err(req, rc_status(rc), err, 0, 0);
}

static void reply_gen(struct evhttp_request *req, struct api *a, const char *extra)
{
	struct sbuf b;

	sb_init(&b);
	sb_printf(&b, "{\"generation\":%llu%s}", (unsigned long long)rt_generation(a->rt),
	          extra ? extra : "");
	reply_json(req, 200, &b);
}

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* ------------------------------------------------------------------ request context */

#define MAXQ 4

struct ctx {
	struct api *a;
	struct evhttp_request *req;
	struct evkeyvalq q;
	const char *body;
	size_t blen;
};

/* The query parameter key, or NULL. Unknown keys were refused before the handler runs. */
static const char *qget(struct ctx *c, const char *key)
{
	return evhttp_find_header(&c->q, key);
}

/* ------------------------------------------------------------------ routes */

struct route_filter {
	struct sbuf *b;
	int has_dst, any_default, first;
	struct rt_route dst;
	const char *dev, *proto;
	size_t count;
};

static int route_list_cb(const struct rt_route *r, void *arg)
{
	struct route_filter *f = arg;

	if (f->has_dst && !(f->any_default ? r->plen == 0 : api_route_key_eq(r, &f->dst)))
		return 0;
	if (f->dev && strcmp(f->dev, r->dev))
		return 0;
	if (f->proto && strcmp(f->proto, r->proto == RT_PROTO_KERNEL ? "kernel" : "static"))
		return 0;
	sb_puts(f->b, f->first ? "\n" : ",\n");
	f->first = 0;
	api_route_fmt(f->b, r);
	f->count++;
	return 0;
}

/* Parses ?dst= into r's key; 0 or -EINVAL with err. */
static int query_prefix(const char *s, struct rt_route *r, char *err, size_t errlen)
{
	char e[200];

	memset(r, 0, sizeof(*r));
	if (api_prefix_parse(s, &r->family, r->dst, &r->plen, e, sizeof(e))) {
		snprintf(err, errlen, "query dst: %s", e);
		return -EINVAL;
	}
	return 0;
}

static void routes_get(struct ctx *c)
{
	struct route_filter f = {.first = 1};
	const char *dst = qget(c, "dst");
	char err[300];
	struct sbuf b;

	if (dst) {
		if (query_prefix(dst, &f.dst, err, sizeof(err))) {
			reply_err(c->req, 400, err, 0, 0);
			return;
		}
		f.has_dst = 1;
		f.any_default = !strcmp(dst, "default"); /* either family's */
	}
	f.dev = qget(c, "dev");
	f.proto = qget(c, "protocol");
	sb_init(&b);
	f.b = &b;
	sb_puts(&b, "[");
	rt_route_walk(c->a->rt, route_list_cb, &f);
	sb_puts(&b, f.first ? "]" : "\n]");
	reply_json(c->req, 200, &b);
}

static int route_key_cmp(const void *pa, const void *pb)
{
	const struct rt_route *a = pa, *b = pb;

	if (a->family != b->family)
		return a->family - b->family;
	if (a->plen != b->plen)
		return a->plen - b->plen;
	return memcmp(a->dst, b->dst, 16);
}

/* The index of a second occurrence of some prefix in v[0..n), or -1 (none, or no memory). */
static long route_dup_index(const struct rt_route *v, size_t n)
{
	struct rt_route *s = n > 1 ? malloc(n * sizeof(*s)) : NULL;
	long at = -1;
	size_t i, j, k;

	if (!s)
		return -1;
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), route_key_cmp);
	for (i = 1; i < n && at < 0; i++) {
		if (!api_route_key_eq(&s[i - 1], &s[i]))
			continue;
		for (j = 0, k = 0; j < n && at < 0; j++)
			if (api_route_key_eq(&v[j], &s[i]) && k++)
				at = j;
	}
	free(s);
	return at;
}

static void routes_post(struct ctx *c)
{
	struct rt_route *v = NULL;
	char err[400] = "", extra[64];
	int rc, line, col;
	long at;
	size_t n;

	rc = api_routes_parse(c->body, c->blen, 1, &v, &n, err, sizeof(err), &line, &col);
	if (rc) {
		reply_err(c->req, rc == -ENOMEM ? 503 : 400, err, line, col);
		return;
	}
	if (n == 0) {
		free(v);
		reply_err(c->req, 400, "body: empty array, nothing to add", 0, 0);
		return;
	}
	rc = rt_route_add(c->a->rt, v, n, err, sizeof(err));
	if (rc == -EEXIST && (at = route_dup_index(v, n)) >= 0) {
		/* the router saw the second one as existing: the body is at fault, not a 409 */
		char p[INET6_ADDRSTRLEN + 8];

		api_prefix_fmt_full(v[at].family, v[at].dst, v[at].plen, p, sizeof(p));
		snprintf(err, sizeof(err), "routes[%ld]: %s given twice", at, p);
		rc = -EINVAL;
	}
	free(v);
	if (rc) {
		reply_rc(c->req, rc, err);
		return;
	}
	snprintf(extra, sizeof(extra), ",\"added\":%zu", n);
	reply_gen(c->req, c->a, extra);
}

/* How many different prefixes v[0..n) names (sorts v). */
static size_t routes_distinct(struct rt_route *v, size_t n)
{
	size_t i, k = n ? 1 : 0;

	qsort(v, n, sizeof(*v), route_key_cmp);
	for (i = 1; i < n; i++)
		k += !api_route_key_eq(&v[i - 1], &v[i]);
	return k;
}

static void routes_delete(struct ctx *c)
{
	const char *dst = qget(c, "dst"), *gw = qget(c, "gateway"), *dev = qget(c, "dev");
	struct rt_route *v = NULL, one;
	char err[400] = "", extra[64];
	int rc, line, col;
	size_t n = 1;

	if (dst) {
		if (query_prefix(dst, &one, err, sizeof(err)))
			goto bad;
		if (gw) {
			uint8_t fam = api_addr_parse(gw, one.gw);

			if (!fam || (fam != one.family && strcmp(dst, "default"))) {
				snprintf(err, sizeof(err),
				         "query gateway: \"%.64s\": not an %s address", gw,
				         one.family == AF_INET ? "IPv4" : "IPv6");
				goto bad;
			}
			one.family = fam;
			one.has_gw = 1;
		}
		if (dev) {
			if (!api_devname_ok(dev)) {
				snprintf(err, sizeof(err), "query dev: \"%.64s\": not a valid name",
				         dev);
				goto bad;
			}
			strcpy(one.dev, dev);
		}
		rc = rt_route_del(c->a->rt, &one, 1, err, sizeof(err));
	} else if (c->blen) {
		rc = api_routes_parse(c->body, c->blen, 1, &v, &n, err, sizeof(err), &line, &col);
		if (rc) {
			reply_err(c->req, 400, err, line, col);
			return;
		}
		rc = rt_route_del(c->a->rt, v, n, err, sizeof(err));
		if (!rc) /* a prefix given twice is deleted once */
			n = routes_distinct(v, n);
		free(v);
	} else {
		snprintf(err, sizeof(err), "DELETE /v1/routes needs ?dst=PREFIX (or a body)");
		goto bad;
	}
	if (rc) {
		reply_rc(c->req, rc, err);
		return;
	}
	snprintf(extra, sizeof(extra), ",\"deleted\":%zu", n);
	reply_gen(c->req, c->a, extra);
	return;
bad:
	reply_err(c->req, 400, err, 0, 0);
}

static void routes_put(struct ctx *c)
{
	const char *dr = qget(c, "dry_run");
	struct rt_route *v = NULL;
	char err[400] = "", extra[200];
	size_t n, adds = 0, dels = 0;
	int rc, line, col, dry = 0;
	double t0 = now_ms(), t1;

	if (dr) {
		if (!strcmp(dr, "1") || !strcmp(dr, "true")) {
			dry = 1;
		} else if (strcmp(dr, "0") && strcmp(dr, "false")) {
			reply_err(c->req, 400, "query dry_run: want 1 or 0", 0, 0);
			return;
		}
	}
	rc = api_routes_parse(c->body, c->blen, 0, &v, &n, err, sizeof(err), &line, &col);
	if (rc) {
		reply_err(c->req, rc == -ENOMEM ? 503 : 400, err, line, col);
		return;
	}
	t1 = now_ms();
	rc = rt_route_replace(c->a->rt, v, n, dry, &adds, &dels, err, sizeof(err));
	free(v);
	if (rc) {
		reply_rc(c->req, rc, err);
		return;
	}
	snprintf(extra, sizeof(extra),
	         ",\"routes\":%zu,\"adds\":%zu,\"dels\":%zu,\"dry_run\":%s,"
	         "\"elapsed_ms\":{\"parse\":%.1f,\"apply\":%.1f}",
	         n, adds, dels, dry ? "true" : "false", t1 - t0, now_ms() - t1);
	reply_gen(c->req, c->a, extra);
}

/* ------------------------------------------------------------------ neighbors */

struct neigh_filter {
	struct sbuf *b;
	int first, has_dst;
	uint8_t fam, dst[16];
	const char *dev;
};

static int neigh_list_cb(const struct rt_neigh *nb, void *arg)
{
	struct neigh_filter *f = arg;

	if (f->has_dst && (nb->family != f->fam || memcmp(nb->dst, f->dst, 16)))
		return 0;
	if (f->dev && strcmp(f->dev, nb->dev))
		return 0;
	sb_puts(f->b, f->first ? "\n" : ",\n");
	f->first = 0;
	api_neigh_fmt(f->b, nb);
	return 0;
}

static void neigh_get(struct ctx *c)
{
	struct neigh_filter f = {.first = 1};
	const char *dst = qget(c, "dst");
	struct sbuf b;

	if (dst) {
		f.fam = api_addr_parse(dst, f.dst);
		if (!f.fam) {
			reply_err(c->req, 400, "query dst: not an IP address", 0, 0);
			return;
		}
		f.has_dst = 1;
	}
	f.dev = qget(c, "dev");
	sb_init(&b);
	f.b = &b;
	sb_puts(&b, "[");
	rt_neigh_walk(c->a->rt, neigh_list_cb, &f);
	sb_puts(&b, f.first ? "]" : "\n]");
	reply_json(c->req, 200, &b);
}

static void neigh_post(struct ctx *c)
{
	char err[400] = "";
	struct rt_neigh nb;
	int line = 0, col = 0, rc;
	json_t *j;

	j = api_json_load(c->body, c->blen, err, sizeof(err), &line, &col);
	if (!j) {
		reply_err(c->req, 400, err, line, col);
		return;
	}
	rc = api_neigh_from_json(j, "neighbor", &nb, err, sizeof(err));
	json_decref(j);
	if (rc) {
		reply_err(c->req, 400, err, 0, 0);
		return;
	}
	rc = rt_neigh_add(c->a->rt, &nb, err, sizeof(err));
	if (rc) {
		reply_rc(c->req, rc, err);
		return;
	}
	reply_gen(c->req, c->a, NULL);
}

static void neigh_delete(struct ctx *c)
{
	const char *dst = qget(c, "dst"), *dev = qget(c, "dev");
	char err[400] = "";
	struct rt_neigh nb;
	int rc;

	memset(&nb, 0, sizeof(nb));
	if (!dst || !(nb.family = api_addr_parse(dst, nb.dst))) {
		reply_err(c->req, 400, "DELETE /v1/neigh needs ?dst=ADDRESS[&dev=NAME]", 0, 0);
		return;
	}
	if (dev) {
		if (!api_devname_ok(dev)) {
			reply_err(c->req, 400, "query dev: not a valid interface name", 0, 0);
			return;
		}
		strcpy(nb.dev, dev);
	}
	rc = rt_neigh_del(c->a->rt, &nb, err, sizeof(err));
	if (rc) {
		reply_rc(c->req, rc, err);
		return;
	}
	reply_gen(c->req, c->a, NULL);
}

/* ------------------------------------------------------------------ links, stats, metrics */

struct link_list {
	struct sbuf *b;
	int first;
};

static int link_list_cb(const struct rt_link *l, void *arg)
{
	struct link_list *f = arg;

	sb_puts(f->b, f->first ? "\n" : ",\n");
	f->first = 0;
	api_link_fmt(f->b, l);
	return 0;
}

static void links_get(struct ctx *c)
{
	struct link_list f = {.first = 1};
	struct sbuf b;

	sb_init(&b);
	f.b = &b;
	sb_puts(&b, "[");
	rt_link_walk(c->a->rt, link_list_cb, &f);
	sb_puts(&b, f.first ? "]" : "\n]");
	reply_json(c->req, 200, &b);
}

#define MAX_WORKERS 256

static int stats_fetch(struct api *a, struct rt_stats **per, struct rt_stats *sum)
{
	int n;

	*per = calloc(MAX_WORKERS, sizeof(**per));
	if (!*per)
		return -ENOMEM;
	memset(sum, 0, sizeof(*sum));
	n = rt_stats_get(a->rt, *per, MAX_WORKERS, sum);
	if (n < 0) {
		free(*per);
		return n;
	}
	return n > MAX_WORKERS ? MAX_WORKERS : n;
}

static void stats_get(struct ctx *c)
{
	struct rt_stats *per, sum;
	struct sbuf b;
	int n, i;

	n = stats_fetch(c->a, &per, &sum);
	if (n < 0) {
		reply_rc(c->req, n, NULL);
		return;
	}
	sb_init(&b);
	sb_puts(&b, "{\"workers\":[");
	for (i = 0; i < n; i++) {
		sb_puts(&b, i ? ",\n" : "\n");
		api_stats_fmt(&b, &per[i]);
	}
	sb_puts(&b, "],\n\"total\":");
	api_stats_fmt(&b, &sum);
	uint64_t nent, nrec;
	rt_neigh_counts(c->a->rt, &nent, &nrec);
	sb_printf(&b, ",\n\"neighbor_table\":{\"entries\":%llu,\"reclaimed\":%llu}",
	          (unsigned long long)nent, (unsigned long long)nrec);
	sb_printf(&b, ",\n\"generation\":%llu}", (unsigned long long)rt_generation(c->a->rt));
	free(per);
	reply_json(c->req, 200, &b);
}

struct route_count {
	unsigned long long n[2][2]; /* [v6][kernel] */
};

static int route_count_cb(const struct rt_route *r, void *arg)
{
	struct route_count *rc = arg;

	rc->n[r->family == AF_INET6][r->proto == RT_PROTO_KERNEL]++;
	return 0;
}

static const char *const link_metric_names[] = {"rx_packets", "rx_bytes",   "tx_packets",
                                                "tx_bytes",   "rx_dropped", "tx_dropped"};

struct link_metric {
	struct sbuf *b;
	unsigned which; /* index into link_metric_names */
};

/* One sample of one family per call: a family's samples must be contiguous in the text
 * format, so the links are walked once per family. */
static int link_metrics_cb(const struct rt_link *l, void *arg)
{
	const uint64_t vals[] = {l->rx_packets, l->rx_bytes,   l->tx_packets,
	                         l->tx_bytes,   l->rx_dropped, l->tx_dropped};
	struct link_metric *m = arg;

	sb_printf(m->b, "nmbox_link_%s_total{ifname=", link_metric_names[m->which]);
	sb_jstr(m->b, l->name);
	sb_printf(m->b, "} %llu\n", (unsigned long long)vals[m->which]);
	return 0;
}

static void metrics_get(struct ctx *c)
{
	static const char *const cnames[] = {
	    "rx_packets",  "rx_bytes",      "forwarded", "punted",  "injected", "icmp_sent",
	    "arp_nd_sent", "local_replies", "consumed",  "frag_ok", "fragments"};
	struct route_count rc = {{{0}}};
	struct rt_stats *per, sum;
	struct sbuf b;
	int n, i, k;

	n = stats_fetch(c->a, &per, &sum);
	if (n < 0) {
		reply_rc(c->req, n, NULL);
		return;
	}
	rt_route_walk(c->a->rt, route_count_cb, &rc);
	uint64_t nent, nrec;
	rt_neigh_counts(c->a->rt, &nent, &nrec);
	sb_init(&b);
	sb_printf(&b,
	          "# HELP nmbox_generation Successful configuration changes since start.\n"
	          "# TYPE nmbox_generation counter\nnmbox_generation %llu\n"
	          "# HELP nmbox_routes Routes in the table.\n# TYPE nmbox_routes gauge\n"
	          "nmbox_routes{family=\"inet\",protocol=\"static\"} %llu\n"
	          "nmbox_routes{family=\"inet\",protocol=\"kernel\"} %llu\n"
	          "nmbox_routes{family=\"inet6\",protocol=\"static\"} %llu\n"
	          "nmbox_routes{family=\"inet6\",protocol=\"kernel\"} %llu\n",
	          (unsigned long long)rt_generation(c->a->rt), rc.n[0][0], rc.n[0][1], rc.n[1][0],
	          rc.n[1][1]);
	sb_printf(
	    &b,
	    "# HELP nmbox_neighbors Entries in the neighbor table (ARP and ND).\n"
	    "# TYPE nmbox_neighbors gauge\nnmbox_neighbors %llu\n"
	    "# HELP nmbox_neighbors_reclaimed_total Unused neighbor entries freed by the GC.\n"
	    "# TYPE nmbox_neighbors_reclaimed_total counter\n"
	    "nmbox_neighbors_reclaimed_total %llu\n",
	    (unsigned long long)nent, (unsigned long long)nrec);
	for (k = 0; k < (int)(sizeof(cnames) / sizeof(cnames[0])); k++) {
		sb_printf(&b, "# TYPE nmbox_%s_total counter\n", cnames[k]);
		for (i = 0; i < n; i++) {
			const uint64_t v[] = {
			    per[i].rx_packets,  per[i].rx_bytes,      per[i].forwarded,
			    per[i].punted,      per[i].injected,      per[i].icmp_sent,
			    per[i].arp_nd_sent, per[i].local_replies, per[i].consumed,
			    per[i].frag_ok,     per[i].fragments};

			sb_printf(&b, "nmbox_%s_total{worker=\"%d\"} %llu\n", cnames[k], i,
			          (unsigned long long)v[k]);
		}
	}
	sb_puts(&b, "# HELP nmbox_drops_total Packets dropped, by worker and reason.\n"
	            "# TYPE nmbox_drops_total counter\n");
	for (i = 0; i < n; i++)
		for (k = 0; k < RT_DROP_MAX; k++)
			sb_printf(&b, "nmbox_drops_total{worker=\"%d\",reason=\"%s\"} %llu\n", i,
			          rt_drop_names[k] ? rt_drop_names[k] : "unknown",
			          (unsigned long long)per[i].drops[k]);
	for (k = 0; k < 6; k++) {
		struct link_metric lm = {&b, k};

		sb_printf(&b, "# TYPE nmbox_link_%s_total counter\n", link_metric_names[k]);
		rt_link_walk(c->a->rt, link_metrics_cb, &lm);
	}
	free(per);
	if (b.len && b.p[b.len - 1] == '\n')
		b.len--; /* reply_sb adds the last newline */
	reply_sb(c->req, 200, &b, "text/plain; version=0.0.4");
}

/* ------------------------------------------------------------------ config */

static void config_get(struct ctx *c)
{
	struct sbuf b;
	size_t len;
	char *t = api_config_export(c->a->rt, c->a->file_cfg, &len);

	if (!t) {
		reply_err(c->req, 503, "out of memory", 0, 0);
		return;
	}
	sb_init(&b);
	b.p = t;
	b.len = len - 1; /* drop the trailing newline; reply_sb adds one */
	b.cap = len + 1;
	reply_json(c->req, 200, &b);
}

static void config_save(struct ctx *c)
{
	char err[300], extra[PATH_MAX + 64];
	struct sbuf b;
	size_t len;
	char *t;
	int rc;

	if (!c->a->config_path) {
		reply_err(c->req, 409, "no config file: the router was started without -c FILE", 0,
		          0);
		return;
	}
	t = api_config_export(c->a->rt, c->a->file_cfg, &len);
	if (!t) {
		reply_err(c->req, 503, "out of memory", 0, 0);
		return;
	}
	rc = api_config_save(c->a->config_path, t, len, err, sizeof(err));
	free(t);
	if (rc) {
		reply_err(c->req, 500, err, 0, 0);
		return;
	}
	sb_init(&b);
	sb_jstr(&b, c->a->config_path);
	snprintf(extra, sizeof(extra), ",\"path\":%s,\"bytes\":%zu", b.p ? b.p : "\"\"", len);
	sb_free(&b);
	reply_gen(c->req, c->a, extra);
}

static void generation_get(struct ctx *c)
{
	reply_gen(c->req, c->a, NULL);
}

/* ------------------------------------------------------------------ dispatch */

enum { M_GET = 1, M_POST = 2, M_PUT = 4, M_DELETE = 8 };

struct resource {
	const char *path;
	void (*fn[4])(struct ctx *); /* GET, POST, PUT, DELETE */
	const char *query[MAXQ];     /* allowed query keys */
	unsigned qmethods[MAXQ];     /* with which methods (M_*) */
};

static const struct resource resources[] = {
    {"/v1/routes",
     {routes_get, routes_post, routes_put, routes_delete},
     {"dst", "dev", "protocol", "gateway"},
     {M_GET | M_DELETE, M_GET | M_DELETE, M_GET, M_DELETE}},
    {"/v1/neigh",
     {neigh_get, neigh_post, NULL, neigh_delete},
     {"dst", "dev"},
     {M_GET | M_DELETE, M_GET | M_DELETE}},
    {"/v1/links", {links_get}, {NULL}, {0}},
    {"/v1/stats", {stats_get}, {NULL}, {0}},
    {"/v1/config", {config_get}, {NULL}, {0}},
    {"/v1/config/save", {NULL, config_save}, {NULL}, {0}},
    {"/v1/generation", {generation_get}, {NULL}, {0}},
    {"/metrics", {metrics_get}, {NULL}, {0}},
};

static int method_index(enum evhttp_cmd_type t)
{
	switch (t) {
	case EVHTTP_REQ_GET:
	case EVHTTP_REQ_HEAD:
		return 0;
	case EVHTTP_REQ_POST:
		return 1;
	case EVHTTP_REQ_PUT:
		return 2;
	case EVHTTP_REQ_DELETE:
		return 3;
	default:
		return -1;
	}
}

/* Compares in time independent of where the first difference is. */
static int token_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i;
	unsigned char d = la != lb;

	for (i = 0; i < la; i++)
		d |= a[i] ^ b[i % (lb ? lb : 1)];
	return !d && lb;
}

static int authorized(struct front *f, struct evhttp_request *req)
{
	const char *h;

	if (!f->tcp)
		return 1;
	h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
	if (!h || strncasecmp(h, "Bearer ", 7))
		return 0;
	return token_eq(h + 7, f->api->conf.token);
}

/* ------------------------------------------------------------------ request deadline */

static void conn_arm(struct conn *c)
{
	struct timeval tv = {.tv_sec = c->api->conf.request_timeout};

	evtimer_add(c->deadline, &tv);
}

/* evhttp is freeing the connection (any reason, including our deadline): forget it. */
static void conn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct conn *c = arg;

	(void)evcon;
	TAILQ_REMOVE(&c->api->conns, c, next);
	event_free(c->deadline);
	free(c);
}

static void conn_timer(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	bufferevent_event_cb ecb;
	void *cbarg;

	(void)fd;
	(void)what;
	if (c->evcon) { /* the deadline passed: drop it (conn_closed frees c) */
		evhttp_connection_free(c->evcon);
		return;
	}
	/*
	 * First run, right after evhttp set the connection up around the bufferevent we gave it:
	 * evhttp's callbacks carry its evhttp_connection. If evhttp already gave up on it (the
	 * client left at once), bufferevent_free() has cleared the callbacks.
	 */
	bufferevent_getcb(c->bev, NULL, NULL, &ecb, &cbarg);
	bufferevent_decref(c->bev);
	c->bev = NULL;
	if (!ecb || !cbarg) {
		conn_closed(NULL, c);
		return;
	}
	c->evcon = cbarg;
	evhttp_connection_set_closecb(c->evcon, conn_closed, c);
	conn_arm(c);
}

/* evhttp's hook for a new connection: we make the bufferevent and remember it. */
static struct bufferevent *conn_new(struct event_base *base, void *arg)
{
	struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	struct conn *c;

	if (!bev)
		return NULL; /* evhttp makes its own; that connection has no deadline */
	c = calloc(1, sizeof(*c));
	if (c)
		c->deadline = evtimer_new(base, conn_timer, c);
	if (!c || !c->deadline) {
		free(c);
		return bev;
	}
	c->api = arg;
	c->bev = bev;
	bufferevent_incref(bev);
	TAILQ_INSERT_TAIL(&c->api->conns, c, next);
	event_active(c->deadline, EV_TIMEOUT, 0); /* attach once evhttp is done with it */
	return bev;
}

static struct conn *conn_find(struct api *a, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct conn *c;

	TAILQ_FOREACH(c, &a->conns, next)
	if (evcon && c->evcon == evcon)
		return c;
	return NULL;
}

/* After evhttp_free(): only connections never attached are left. */
static void conn_free_all(struct api *a)
{
	struct conn *c;

	while ((c = TAILQ_FIRST(&a->conns))) {
		if (c->bev)
			bufferevent_decref(c->bev);
		conn_closed(NULL, c);
	}
}

static void conn_answered(struct evhttp_request *req, void *arg)
{
	(void)req;
	conn_arm(arg);
}

static void handle(struct evhttp_request *req, void *arg)
{
	static const char *const mnames[] = {"GET", "POST", "PUT", "DELETE"};
	struct front *f = arg;
	struct ctx c = {.a = f->api, .req = req};
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	const struct resource *r = NULL;
	struct evkeyval *kv;
	struct evbuffer *in;
	char msg[300];
	size_t i;
	int m;

	TAILQ_INIT(&c.q);
	{
		struct conn *cn = conn_find(f->api, req);

		if (cn) { /* the whole request is here; the clock restarts after the answer */
			evtimer_del(cn->deadline);
			evhttp_request_set_on_complete_cb(req, conn_answered, cn);
		}
	}
	if (!authorized(f, req)) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
		                  "Bearer realm=\"nmbox\"");
		reply_err(req, 401, "missing or wrong bearer token (Authorization: Bearer TOKEN)",
		          0, 0);
		return;
	}
	for (i = 0; path && i < sizeof(resources) / sizeof(resources[0]); i++)
		if (!strcmp(path, resources[i].path))
			r = &resources[i];
	if (!r) {
		snprintf(msg, sizeof(msg),
		         "%.100s: no such resource (see /v1/routes, /v1/neigh, "
		         "/v1/links, /v1/stats, /v1/config, /metrics)",
		         path ? path : "?");
		reply_err(req, 404, msg, 0, 0);
		return;
	}
	m = method_index(evhttp_request_get_command(req));
	if (m < 0 || !r->fn[m]) {
		struct sbuf allow;
		int k;

		sb_init(&allow);
		for (k = 0; k < 4; k++)
			if (r->fn[k])
				sb_printf(&allow, "%s%s", allow.len ? ", " : "", mnames[k]);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
		                  allow.p ? allow.p : "");
		snprintf(msg, sizeof(msg), "%s: method not allowed (allowed: %s)", r->path,
		         allow.p ? allow.p : "none");
		sb_free(&allow);
		reply_err(req, 405, msg, 0, 0);
		return;
	}
	/* %00 would decode to a NUL that cuts the value short (dst=10.0.0.0/8%00junk) */
	if (query && (strstr(query, "%00") || evhttp_parse_query_str(query, &c.q))) {
		reply_err(req, 400, "malformed query string", 0, 0);
		return;
	}
	TAILQ_FOREACH(kv, &c.q, next)
	{
		int ok = !strcmp(kv->key, "dry_run") && r->fn[2] == routes_put && m == 2;

		for (i = 0; i < MAXQ && r->query[i] && !ok; i++)
			ok = !strcmp(kv->key, r->query[i]) && (r->qmethods[i] & 1u << m);
		if (!ok) {
			snprintf(msg, sizeof(msg), "query: unknown parameter \"%.40s\" for %s %s",
			         kv->key, mnames[m], r->path);
			reply_err(req, 400, msg, 0, 0);
			evhttp_clear_headers(&c.q);
			return;
		}
		if (evhttp_find_header(&c.q, kv->key) != kv->value) { /* an earlier one */
			snprintf(msg, sizeof(msg), "query: parameter \"%.40s\" given twice",
			         kv->key);
			reply_err(req, 400, msg, 0, 0);
			evhttp_clear_headers(&c.q);
			return;
		}
	}
	in = evhttp_request_get_input_buffer(req);
	c.blen = evbuffer_get_length(in);
	c.body = c.blen ? (const char *)evbuffer_pullup(in, -1) : "";
	if (!c.body) {
		reply_err(req, 503, "out of memory", 0, 0);
	} else {
		r->fn[m](&c);
	}
	evhttp_clear_headers(&c.q);
}

/* ------------------------------------------------------------------ listeners */

static int mkdir_parents(const char *path)
{
	char buf[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *p;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

static int open_unix(struct api *a, char *err, size_t errlen)
{
	const struct api_conf *c = &a->conf;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, rc;

	if (strlen(c->unix_path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "api.unix: %s: path too long", c->unix_path);
		return -ENAMETOOLONG;
	}
	strcpy(sun.sun_path, c->unix_path);
	rc = mkdir_parents(c->unix_path);
	if (rc) {
		snprintf(err, errlen, "api.unix: %s: cannot create its directory: %s", c->unix_path,
		         strerror(-rc));
		return rc;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (lstat(c->unix_path, &st) == 0) {
		int probe;

		if (!S_ISSOCK(st.st_mode)) {
			close(fd);
			snprintf(err, errlen, "api.unix: %s exists and is not a socket; remove it",
			         c->unix_path);
			return -EEXIST;
		}
		/* Refuse to steal a live router's socket; replace a stale one. */
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(probe);
			close(fd);
			snprintf(err, errlen,
			         "api.unix: %s is in use by a running process (another nmrouter?)",
			         c->unix_path);
			return -EADDRINUSE;
		}
		if (probe >= 0)
			close(probe);
		unlink(c->unix_path);
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)))
		goto fail;
	a->unix_bound = 1;
	if (chmod(c->unix_path, c->mode))
		goto fail;
	if (c->group[0]) {
		struct group *g = getgrnam(c->group);

		if (!g) {
			snprintf(err, errlen, "api.group: %s: no such group", c->group);
			close(fd);
			return -ENOENT;
		}
		if (chown(c->unix_path, -1, g->gr_gid))
			goto fail;
	}
	if (listen(fd, 128))
		goto fail;
	if (evhttp_accept_socket(a->unix_front.http, fd)) {
		errno = ENOMEM;
		goto fail;
	}
	return 0;
fail:
	rc = -errno;
	snprintf(err, errlen, "api.unix: %s: %s", c->unix_path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Binds the TCP listener ourselves: evhttp's getaddrinfo (AI_ADDRCONFIG) refuses 127.0.0.1
 * in a namespace whose only IPv4 address is on lo. */
static int open_tcp(struct api *a, char *err, size_t errlen)
{
	const struct api_conf *c = &a->conf;
	struct sockaddr_storage ss = {0};
	socklen_t sl;
	uint8_t addr[16];
	int fam = api_addr_parse(c->tcp_host, addr), fd, one = 1, rc;

	if (fam == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(c->tcp_port);
		memcpy(&sin->sin_addr, addr, 4);
		sl = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(c->tcp_port);
		memcpy(&sin6->sin6_addr, addr, 16);
		sl = sizeof(*sin6);
	}
	fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fam == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) || listen(fd, 128))
		goto fail;
	if (evhttp_accept_socket(a->tcp_front.http, fd)) {
		errno = ENOMEM;
		goto fail;
	}
	return 0;
fail:
	rc = -errno;
	snprintf(err, errlen, "api.tcp: %s:%u: %s", c->tcp_host, c->tcp_port, strerror(errno));
	if (fd >= 0)
		close(fd);
	return rc;
}

static struct evhttp *new_http(struct api *a, struct front *f, int tcp)
{
	struct evhttp *h = evhttp_new(a->base);

	if (!h)
		return NULL;
	f->api = a;
	f->http = h;
	f->tcp = tcp;
	evhttp_set_timeout(h, a->conf.timeout);
	evhttp_set_max_headers_size(h, 16384);
	evhttp_set_max_body_size(h, a->conf.max_body);
	evhttp_set_allowed_methods(h, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
	                                  EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
	                                  EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_default_content_type(h, "application/json");
	evhttp_set_gencb(h, handle, f);
	evhttp_set_bevcb(h, conn_new, a);
	return h;
}

/* ------------------------------------------------------------------ thread */

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct api *a = arg;
	uint64_t v;

	(void)what;
	if (read(fd, &v, sizeof(v)) < 0) {
		/* nothing to do: the break below is what matters */
	}
	event_base_loopbreak(a->base);
}

static void *api_thread(void *arg)
{
	struct api *a = arg;
	sigset_t all;

	/* Signals belong to the main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	event_base_dispatch(a->base);
	return NULL;
}

static void api_free(struct api *a)
{
	if (a->unix_front.http)
		evhttp_free(a->unix_front.http);
	if (a->tcp_front.http)
		evhttp_free(a->tcp_front.http);
	conn_free_all(a);
	if (a->wake_ev)
		event_free(a->wake_ev);
	if (a->base)
		event_base_free(a->base);
	if (a->wake_fd >= 0)
		close(a->wake_fd);
	if (a->unix_bound)
		unlink(a->conf.unix_path);
	json_decref(a->file_cfg);
	free(a->config_path);
	free(a);
}

struct api *api_start(struct rt *rt, const json_t *api_cfg, const char *config_path, char *err,
                      size_t errlen)
{
	struct api *a = calloc(1, sizeof(*a));
	int rc = -ENOMEM;

	if (!a) {
		snprintf(err, errlen, "api: out of memory");
		errno = ENOMEM;
		return NULL;
	}
	a->wake_fd = -1;
	a->rt = rt;
	TAILQ_INIT(&a->conns);
	rc = api_conf_parse(api_cfg, &a->conf, err, errlen);
	if (rc)
		goto fail;
	if (config_path) {
		json_error_t je;

		a->config_path = strdup(config_path);
		a->file_cfg = json_load_file(config_path, 0, &je);
		if (!a->config_path || !a->file_cfg || !json_is_object(a->file_cfg)) {
			snprintf(err, errlen, "api: %s: cannot read it back (line %d: %s)",
			         config_path, je.line, je.text);
			rc = -EINVAL;
			goto fail;
		}
	}
	rc = -ENOMEM;
	snprintf(err, errlen, "api: out of memory");
	a->base = event_base_new();
	if (!a->base)
		goto fail;
	a->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (a->wake_fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "api: eventfd: %s", strerror(errno));
		goto fail;
	}
	a->wake_ev = event_new(a->base, a->wake_fd, EV_READ | EV_PERSIST, wake_cb, a);
	if (!a->wake_ev || event_add(a->wake_ev, NULL))
		goto fail;
	if (a->conf.unix_path[0]) {
		if (!new_http(a, &a->unix_front, 0))
			goto fail;
		rc = open_unix(a, err, errlen);
		if (rc)
			goto fail;
	}
	if (a->conf.tcp_port) {
		if (!new_http(a, &a->tcp_front, 1))
			goto fail;
		rc = open_tcp(a, err, errlen);
		if (rc)
			goto fail;
	}
	if (!a->unix_front.http && !a->tcp_front.http) {
		rc = -EINVAL;
		snprintf(err, errlen,
		         "api: neither \"unix\" nor \"tcp\" is set; nothing to listen on");
		goto fail;
	}
	rc = pthread_create(&a->thr, NULL, api_thread, a);
	if (rc) {
		snprintf(err, errlen, "api: cannot start its thread: %s", strerror(rc));
		rc = -rc;
		goto fail;
	}
	a->thr_started = 1;
	pthread_setname_np(a->thr, "nmrouter-api"); /* as top -H and /proc show it */
	return a;
fail:
	api_free(a);
	errno = -rc;
	return NULL;
}

void api_stop(struct api *a)
{
	uint64_t one = 1;

	if (!a)
		return;
	if (a->thr_started) {
		if (write(a->wake_fd, &one, sizeof(one)) < 0) {
			/* an eventfd write only fails on overflow; the thread is awake anyway */
		}
		pthread_join(a->thr, NULL);
	}
	api_free(a);
}
