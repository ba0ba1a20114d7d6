/*
 * api_unit.c — unit tests of api/'s vocabulary: prefixes, routes, neighbors, the route-table
 * fast path against jansson, formatting, the "api" config object, config export and save.
 *
 * Linked with the real api_parse.c and api_conf.c. The few rt_ctl.h calls that config
 * export makes are answered by a fixed table below (a fixture, not a router).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api_int.h"
#include "tests/check.h"

/* Test tables leave trailing fields out on purpose. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

/* ------------------------------------------------------------------ fixture for rt_ctl.h */

const char *const rt_drop_names[RT_DROP_MAX] = {
    "bad_l2",   "bad_version", "bad_ihl", "bad_csum", "bad_len",   "martian", "ttl",  "no_route",
    "no_neigh", "hold_full",   "tx_full", "no_host",  "icmp_rate", "no_buf",  "other"};

static struct rt_route fx_routes[4];
static size_t fx_nroutes;
static struct rt_neigh fx_neigh[2];
static size_t fx_nneigh;

int rt_route_walk(struct rt *rt, int (*cb)(const struct rt_route *r, void *arg), void *arg)
{
	size_t i;

	(void)rt;
	for (i = 0; i < fx_nroutes; i++)
		if (cb(&fx_routes[i], arg))
			break;
	return 0;
}

int rt_neigh_walk(struct rt *rt, int (*cb)(const struct rt_neigh *nb, void *arg), void *arg)
{
	size_t i;

	(void)rt;
	for (i = 0; i < fx_nneigh; i++)
		if (cb(&fx_neigh[i], arg))
			break;
	return 0;
}

/* ------------------------------------------------------------------ prefixes */

static void test_prefix(void)
{
	static const struct {
		const char *in;
		int ok;
		int family, plen;
		const char *fmt; /* api_prefix_fmt of the result, or a substring of the error */
	} v[] = {
	    {"10.0.0.0/8", 1, AF_INET, 8, "10.0.0.0/8"},   /* plain IPv4 prefix */
	    {"default", 1, AF_INET, 0, "default"},         /* default is IPv4 0/0 */
	    {"0.0.0.0/0", 1, AF_INET, 0, "default"},       /* spelled out, same thing */
	    {"192.0.2.1", 1, AF_INET, 32, "192.0.2.1"},    /* bare address: host route */
	    {"192.0.2.1/32", 1, AF_INET, 32, "192.0.2.1"}, /* host route printed bare, as ip */
	    {"2001:db8::/32", 1, AF_INET6, 32, "2001:db8::/32"}, /* IPv6 prefix */
	    {"::/0", 1, AF_INET6, 0, "::/0"},                    /* IPv6 default keeps its family */
	    {"10.0.0.1/8", 0, 0, 0, "host bits set (did you mean 10.0.0.0/8?)"}, /* host bits */
	    {"2001:db8::1/32", 0, 0, 0, "did you mean 2001:db8::/32?"}, /* IPv6 host bits */
	    {"10.0.0.0/33", 0, 0, 0, "over 32"},                        /* length too long */
	    {"::/129", 0, 0, 0, "over 128"},                            /* IPv6 length too long */
	    {"10.0.0.0/", 0, 0, 0, "bad prefix length"},                /* empty length */
	    {"10.0.0.0/+8", 0, 0, 0, "bad prefix length"},              /* sign */
	    {"10.0.0.0/0008", 0, 0, 0, "bad prefix length"},            /* absurd digits */
	    {"10.0.0/8", 0, 0, 0, "not an IP prefix"},                  /* short dotted quad */
	    {"10.0.0.256/32", 0, 0, 0, "not an IP prefix"},             /* octet over 255 */
	    {"", 0, 0, 0, "not an IP prefix"},                          /* empty */
	    {"eth0", 0, 0, 0, "not an IP prefix"},                      /* a name */
	};
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t fam = 0, addr[16], plen = 99;
		char err[200] = "", out[64];
		int rc = api_prefix_parse(v[i].in, &fam, addr, &plen, err, sizeof(err));

		if (v[i].ok) {
			CHECK(rc == 0, "%s: rc %d (%s)", v[i].in, rc, err);
			if (rc)
				continue;
			CHECK(fam == v[i].family && plen == v[i].plen, "%s: fam %d plen %d",
			      v[i].in, fam, plen);
			api_prefix_fmt(fam, addr, plen, out, sizeof(out));
			CHECK(!strcmp(out, v[i].fmt), "%s: formatted as %s", v[i].in, out);
		} else {
			CHECK(rc == -EINVAL, "%s: accepted", v[i].in);
			CHECK(strstr(err, v[i].fmt), "%s: error \"%s\" lacks \"%s\"", v[i].in, err,
			      v[i].fmt);
		}
	}
}

static void test_mac(void)
{
	static const struct {
		const char *in;
		int ok;
	} v[] = {
	    {"02:00:00:00:00:01", 1},    /* lower case */
	    {"AA:bb:CC:dd:EE:ff", 1},    /* mixed case */
	    {"02:00:00:00:00", 0},       /* five octets */
	    {"02:00:00:00:00:01:02", 0}, /* seven octets */
	    {"02-00-00-00-00-01", 0},    /* dashes */
	    {"2:0:0:0:0:1", 0},          /* short octets */
	    {"", 0},                     /* empty */
	};
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t m[6];
		char out[18];
		int rc = api_mac_parse(v[i].in, m);

		CHECK((rc == 0) == v[i].ok, "%s: rc %d", v[i].in, rc);
		if (!rc) {
			api_mac_fmt(m, out);
			CHECK(!strcasecmp(out, v[i].in), "%s: formatted %s", v[i].in, out);
		}
	}
}

/* ------------------------------------------------------------------ route bodies */

static void test_route_bodies(void)
{
	static const struct {
		const char *body;
		int single_ok;
		int n;           /* routes on success, -1 for an error */
		const char *err; /* substring of the error */
		int line, col;   /* for malformed JSON */
	} v[] = {
	    /* one route in an array */
	    {"[{\"dst\":\"10.0.0.0/8\",\"gateway\":\"192.0.2.1\",\"dev\":\"eth1\"}]", 0, 1},
	    /* whitespace everywhere, all keys */
	    {" [ { \"dst\" : \"default\" , \"gateway\" : \"192.0.2.1\" , \"protocol\" : "
	     "\"static\" } ] \n",
	     0, 1},
	    /* empty table */
	    {"[]", 0, 0},
	    /* single object allowed for POST */
	    {"{\"dst\":\"10.0.0.0/8\",\"dev\":\"eth1\"}", 1, 1},
	    /* single object refused for PUT */
	    {"{\"dst\":\"10.0.0.0/8\",\"dev\":\"eth1\"}", 0, -1, "expected an array of routes"},
	    /* escaped string goes to jansson and is fine */
	    {"[{\"dst\":\"10.0.0.0\\/8\",\"dev\":\"eth1\"}]", 0, 1},
	    /* IPv6 default via gateway family */
	    {"[{\"dst\":\"default\",\"gateway\":\"fe80::1\",\"dev\":\"eth1\"}]", 0, 1},
	    /* host bits */
	    {"[{\"dst\":\"10.0.0.0/8\",\"dev\":\"e\"},{\"dst\":\"10.0.0.1/8\",\"dev\":\"e\"}]", 0,
	     -1, "routes[1].dst: \"10.0.0.1/8\": host bits set"},
	    /* wrong type */
	    {"[{\"dst\":\"10.0.0.0/8\",\"dev\":7}]", 0, -1,
	     "routes[0].dev: expected a string, got a number"},
	    /* unknown key */
	    {"[{\"dst\":\"10.0.0.0/8\",\"via\":\"1.2.3.4\"}]", 0, -1,
	     "routes[0]: unknown key \"via\""},
	    /* duplicate key */
	    {"[{\"dst\":\"10.0.0.0/8\",\"dev\":\"a\",\"dev\":\"b\"}]", 0, -1,
	     "duplicate object key", 1, 36},
	    /* malformed: trailing comma, line 2 */
	    {"[{\"dst\":\"10.0.0.0/8\",\n\"dev\":\"a\",}]", 0, -1, "malformed JSON at line 2", 2,
	     11},
	    /* malformed: truncated */
	    {"[{\"dst\":\"10.0.0.0/8\"", 0, -1, "malformed JSON at line 1"},
	    /* trailing garbage after the array */
	    {"[] x", 0, -1, "malformed JSON"},
	    /* empty body */
	    {"", 0, -1, "malformed JSON"},
	    /* missing dst */
	    {"[{\"dev\":\"a\"}]", 0, -1, "routes[0]: \"dst\" is missing"},
	    /* neither gateway nor dev */
	    {"[{\"dst\":\"10.0.0.0/8\"}]", 0, -1, "needs \"gateway\" or \"dev\""},
	    /* gateway of the other family */
	    {"[{\"dst\":\"10.0.0.0/8\",\"gateway\":\"fe80::1\"}]", 0, -1, "is IPv6 but dst"},
	    /* bad gateway */
	    {"[{\"dst\":\"10.0.0.0/8\",\"gateway\":\"1.2.3\"}]", 0, -1, "not an IP address"},
	    /* kernel routes cannot be set */
	    {"[{\"dst\":\"10.0.0.0/8\",\"dev\":\"a\",\"protocol\":\"kernel\"}]", 0, -1,
	     "only \"static\""},
	    /* bad device name */
	    {"[{\"dst\":\"10.0.0.0/8\",\"dev\":\"a/b\"}]", 0, -1, "not a valid interface name"},
	    /* device name too long */
	    {"[{\"dst\":\"10.0.0.0/8\",\"dev\":\"abcdefghijklmnopq\"}]", 0, -1,
	     "not a valid interface name"},
	    /* element not an object */
	    {"[\"10.0.0.0/8\"]", 0, -1, "routes[0]: expected an object, got a string"},
	    /* top level a number */
	    {"42", 0, -1, "malformed JSON"},
	    /* NUL byte inside a string */
	    {"[{\"dst\":\"10.0.0.0/8\",\"dev\":\"a\\u0000\"}]", 0, -1, "is not allowed"},
	};
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct rt_route *r = NULL;
		size_t n = 0;
		char err[400] = "";
		int line, col;
		int rc = api_routes_parse(v[i].body, strlen(v[i].body), v[i].single_ok, &r, &n, err,
		                          sizeof(err), &line, &col);

		if (v[i].n >= 0) {
			CHECK(rc == 0 && (int)n == v[i].n, "case %zu: rc %d n %zu (%s)", i, rc, n,
			      err);
		} else {
			CHECK(rc == -EINVAL, "case %zu: accepted", i);
			CHECK(strstr(err, v[i].err), "case %zu: error \"%s\" lacks \"%s\"", i, err,
			      v[i].err);
			if (v[i].line)
				CHECK(line == v[i].line && col == v[i].col,
				      "case %zu: line %d col %d, want %d %d", i, line, col,
				      v[i].line, v[i].col);
		}
		free(r);
	}
}

/* The fast path gives the same routes as jansson + api_route_from_json, or declines. */
static void test_fast_equals_slow(void)
{
	static const char *const bodies[] = {
	    "[{\"dst\":\"10.0.0.0/8\",\"gateway\":\"192.0.2.1\",\"dev\":\"eth1\"},"
	    "{\"dev\":\"p2\",\"dst\":\"2001:db8::/48\"},{\"dst\":\"default\",\"gateway\":\"::1\"},"
	    "{\"dst\":\"192.0.2.7\",\"dev\":\"x\",\"protocol\":\"static\"}]",
	    "[\n  {\"dst\": \"1.0.0.0/24\", \"gateway\": \"10.81.2.2\", \"dev\": \"p1\"}\n]\n",
	    "[]",
	};
	size_t i, k;

	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		struct rt_route *fast = NULL;
		size_t n = 0;
		json_t *j = json_loads(bodies[i], 0, NULL), *o;
		int rc = api_routes_fast(bodies[i], strlen(bodies[i]), &fast, &n);

		CHECK(rc == 1, "body %zu: fast path declined", i);
		CHECK(j && n == json_array_size(j), "body %zu: %zu routes", i, n);
		json_array_foreach(j, k, o)
		{
			struct rt_route slow;
			char err[200];

			if (k >= n)
				break;
			CHECK(!api_route_from_json(o, "r", &slow, err, sizeof(err)), "%s", err);
			CHECK(!memcmp(&slow, &fast[k], sizeof(slow)), "body %zu route %zu differs",
			      i, k);
		}
		json_decref(j);
		free(fast);
	}
	/* shapes the fast path must leave to jansson */
	{
		static const char *const decline[] = {
		    "[{\"dst\":\"10.0.0.0\\/8\",\"dev\":\"a\"}]",             /* escape */
		    "[{\"dst\":\"10.0.0.0/8\",\"dev\":\"a\",\"dev\":\"a\"}]", /* duplicate */
		    "[{\"dst\":\"10.0.0.0/8\",\"metric\":\"1\"}]",            /* unknown key */
		    "[{\"dst\":\"10.0.0.1/8\",\"dev\":\"a\"}]",               /* semantic error */
		    "[{\"dst\":\"10.0.0.0/8\",\"dev\":\"a\"},]",              /* trailing comma */
		    "[{\"dst\":\"10.0.0.0/8\",\"dev\":\"a\"}] []",            /* trailing bytes */
		    "{\"dst\":\"10.0.0.0/8\",\"dev\":\"a\"}",                 /* not an array */
		};
		for (i = 0; i < sizeof(decline) / sizeof(decline[0]); i++) {
			struct rt_route *r = NULL;
			size_t n;

			CHECK(api_routes_fast(decline[i], strlen(decline[i]), &r, &n) == 0,
			      "fast path accepted %s", decline[i]);
		}
	}
}

static void test_neigh(void)
{
	static const struct {
		const char *body;
		const char *err; /* NULL = ok */
	} v[] = {
	    {"{\"dst\":\"10.0.0.2\",\"lladdr\":\"02:00:00:00:00:02\",\"dev\":\"p1\"}",
	     NULL}, /* ok */
	    {"{\"dst\":\"fe80::2\",\"lladdr\":\"02:00:00:00:00:02\",\"dev\":\"p1\","
	     "\"state\":[\"PERMANENT\"]}",
	     NULL}, /* what GET prints goes back in */
	    {"{\"dst\":\"10.0.0.2\",\"lladdr\":\"02:00:00:00:00:02\",\"dev\":\"p1\","
	     "\"state\":\"REACHABLE\"}",
	     "only \"PERMANENT\""}, /* dynamic state refused */
	    {"{\"dst\":\"10.0.0.2\",\"lladdr\":\"02:00:00:00:02\",\"dev\":\"p1\"}",
	     "neighbor.lladdr"}, /* short MAC */
	    {"{\"dst\":\"10.0.0.0/24\",\"lladdr\":\"02:00:00:00:00:02\",\"dev\":\"p1\"}",
	     "neighbor.dst"},                                                   /* a prefix */
	    {"{\"dst\":\"10.0.0.2\",\"dev\":\"p1\"}", "\"lladdr\" is missing"}, /* missing */
	    {"{\"dst\":\"10.0.0.2\",\"lladdr\":\"02:00:00:00:00:02\",\"dev\":\"p1\",\"x\":\"1\"}",
	     "unknown key \"x\""},                      /* unknown key */
	    {"[]", "expected an object, got an array"}, /* wrong type */
	};
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char err[300] = "";
		struct rt_neigh nb;
		json_t *j =
		    api_json_load(v[i].body, strlen(v[i].body), err, sizeof(err), NULL, NULL);
		int rc = j ? api_neigh_from_json(j, "neighbor", &nb, err, sizeof(err)) : -1;

		if (!v[i].err)
			CHECK(rc == 0 && nb.state == RT_NUD_PERMANENT, "case %zu: %s", i, err);
		else
			CHECK(rc && strstr(err, v[i].err), "case %zu: \"%s\" lacks \"%s\"", i, err,
			      v[i].err);
		json_decref(j);
	}
}

/* ------------------------------------------------------------------ formatting */

static void test_format(void)
{
	struct rt_route r = {.family = AF_INET, .plen = 8, .has_gw = 1, .dev = "eth1"};
	struct rt_neigh nb = {
	    .family = AF_INET6, .state = RT_NUD_STALE, .dev = "p\"1", .lladdr = {2, 0, 0, 0, 0, 9}};
	struct sbuf b;

	inet_pton(AF_INET, "10.0.0.0", r.dst);
	inet_pton(AF_INET, "192.0.2.1", r.gw);
	inet_pton(AF_INET6, "fe80::9", nb.dst);

	/* a static route in ip -j route's words */
	sb_init(&b);
	api_route_fmt(&b, &r);
	CHECK(!strcmp(b.p, "{\"dst\":\"10.0.0.0/8\",\"gateway\":\"192.0.2.1\",\"dev\":\"eth1\","
	                   "\"protocol\":\"static\"}"),
	      "route: %s", b.p);
	sb_free(&b);

	/* the config form spells out the length and leaves out protocol */
	r.plen = 32;
	r.dst[3] = 5;
	api_route_fmt_cfg(&b, &r);
	CHECK(!strcmp(b.p,
	              "{\"dst\": \"10.0.0.5/32\", \"gateway\": \"192.0.2.1\", \"dev\": \"eth1\"}"),
	      "route cfg: %s", b.p);
	sb_free(&b);

	/* a neighbor, with a device name that needs escaping */
	api_neigh_fmt(&b, &nb);
	CHECK(!strcmp(b.p,
	              "{\"dst\":\"fe80::9\",\"dev\":\"p\\\"1\",\"lladdr\":\"02:00:00:00:00:09\","
	              "\"state\":[\"STALE\"]}"),
	      "neigh: %s", b.p);
	sb_free(&b);

	/* control characters escape as \u00XX */
	sb_jstr(&b, "a\nb\\");
	CHECK(!strcmp(b.p, "\"a\\u000ab\\\\\""), "jstr: %s", b.p);
	sb_free(&b);

	/* counters sum their drops */
	{
		struct rt_stats s = {.forwarded = 5};
		json_t *j;

		s.drops[RT_DROP_TTL] = 2;
		s.drops[RT_DROP_NO_ROUTE] = 3;
		api_stats_fmt(&b, &s);
		j = json_loads(b.p, 0, NULL);
		CHECK(j && json_integer_value(json_object_get(j, "dropped")) == 5 &&
		          json_integer_value(
		              json_object_get(json_object_get(j, "drops"), "no_route")) == 3,
		      "stats: %s", b.p);
		json_decref(j);
		sb_free(&b);
	}
}

/* ------------------------------------------------------------------ api config object */

static void test_conf(void)
{
	static const struct {
		const char *json;
		const char *err; /* NULL = ok */
	} v[] = {
	    {"{}", NULL},                                                         /* defaults */
	    {"{\"unix\":\"/tmp/x.sock\",\"mode\":\"0600\",\"timeout\":5}", NULL}, /* set all */
	    {"{\"tcp\":\"127.0.0.1:8080\",\"token\":\"t\"}", NULL},           /* TCP with a token */
	    {"{\"tcp\":\"[::1]:8080\",\"token\":\"t\"}", NULL},               /* IPv6 loopback */
	    {"{\"tcp\":\"127.0.0.1:8080\"}", "needs \"token\""},              /* TCP, no token */
	    {"{\"tcp\":\"127.0.0.1\",\"token\":\"t\"}", "want ADDRESS:PORT"}, /* no port */
	    {"{\"tcp\":\"127.0.0.1:99999\",\"token\":\"t\"}", "want ADDRESS:PORT"}, /* bad port */
	    {"{\"tcp\":\"localhost:80\",\"token\":\"t\"}", "want ADDRESS:PORT"},    /* a name */
	    {"{\"tcp\":\"0.0.0.0:8080\",\"token\":\"t\"}", "only loopback"},        /* wildcard */
	    {"{\"tcp\":\"10.0.0.1:8080\",\"token\":\"t\"}", "only loopback"},       /* not lo */
	    {"{\"tcp\":\"[::]:8080\",\"token\":\"t\"}", "only loopback"},           /* v6 any */
	    {"{\"tcp\":\"127.0.0.2:8080\",\"token\":\"t\"}", NULL},                 /* 127/8 */
	    {"{\"mode\":\"rw\"}", "api.mode"},                                      /* not octal */
	    {"{\"mode\":660}", "api.mode: expected a string"},                      /* wrong type */
	    {"{\"timeout\":0}", "api.timeout"},                          /* zero timeout */
	    {"{\"request_timeout\":0}", "api.request_timeout"},          /* zero deadline */
	    {"{\"request_timeout\":3601}", "1..3600"},                   /* over an hour */
	    {"{\"request_timeout\":\"5\"}", "api.request_timeout"},      /* wrong type */
	    {"{\"port\":1}", "unknown key \"port\""},                    /* unknown key */
	    {"{\"token_file\":\"/nonexistent/tok\"}", "api.token_file"}, /* missing file */
	};
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct api_conf c;
		char err[300] = "";
		json_t *j = json_loads(v[i].json, 0, NULL);
		int rc = api_conf_parse(j, &c, err, sizeof(err));

		if (!v[i].err)
			CHECK(rc == 0, "case %zu: %s", i, err);
		else
			CHECK(rc && strstr(err, v[i].err), "case %zu: \"%s\" lacks \"%s\"", i, err,
			      v[i].err);
		json_decref(j);
	}
	/* the token from a file: first line, without its newline; "token" wins over it */
	{
		char path[] = "/tmp/nmapi-tok.XXXXXX", err[300] = "";
		int fd = mkstemp(path);
		struct api_conf c;
		char js[200];
		json_t *j;

		CHECK(fd >= 0 && write(fd, "s3cret\nsecond line\n", 19) == 19, "token file");
		close(fd);
		snprintf(js, sizeof(js), "{\"tcp\":\"127.0.0.1:8080\",\"token_file\":\"%s\"}",
		         path);
		j = json_loads(js, 0, NULL);
		CHECK(!api_conf_parse(j, &c, err, sizeof(err)) && !strcmp(c.token, "s3cret") &&
		          c.tcp_port == 8080,
		      "token_file: %s / \"%s\"", err, c.token);
		json_decref(j);
		snprintf(js, sizeof(js), "{\"token\":\"inline\",\"token_file\":\"%s\"}", path);
		j = json_loads(js, 0, NULL);
		CHECK(!api_conf_parse(j, &c, err, sizeof(err)) && !strcmp(c.token, "inline"),
		      "token over token_file: %s", err);
		json_decref(j);
		fd = open(path, O_WRONLY | O_TRUNC);
		close(fd);
		snprintf(js, sizeof(js), "{\"tcp\":\"127.0.0.1:8080\",\"token_file\":\"%s\"}",
		         path);
		j = json_loads(js, 0, NULL);
		CHECK(api_conf_parse(j, &c, err, sizeof(err)) && strstr(err, "empty"),
		      "empty token file: %s", err);
		json_decref(j);
		/* a token longer than the buffer is refused (as "token" is), never cut to a prefix
		 * that the server would then accept; 255 bytes still fit, with or without \r\n */
		{
			static const char *const ends[] = {"", "\n", "\r\n"};
			char tok[301];
			int k;

			memset(tok, 'x', 300);
			tok[300] = 0;
			fd = open(path, O_WRONLY | O_TRUNC);
			CHECK(write(fd, tok, 300) == 300, "long token file");
			close(fd);
			j = json_loads(js, 0, NULL);
			err[0] = 0;
			CHECK(api_conf_parse(j, &c, err, sizeof(err)) &&
			          strstr(err, "api.token_file"),
			      "300-byte token accepted as its %zu-byte prefix: %s", strlen(c.token),
			      err);
			json_decref(j);
			for (k = 0; k < 3; k++) {
				fd = open(path, O_WRONLY | O_TRUNC);
				CHECK(write(fd, tok, 255) == 255 &&
				          write(fd, ends[k], strlen(ends[k])) ==
				              (ssize_t)strlen(ends[k]),
				      "255-byte token file");
				close(fd);
				j = json_loads(js, 0, NULL);
				CHECK(!api_conf_parse(j, &c, err, sizeof(err)) &&
				          strlen(c.token) == 255,
				      "255-byte token (end %d): %s", k, err);
				json_decref(j);
			}
		}
		unlink(path);
	}
	/* defaults as documented */
	{
		struct api_conf c;
		char err[100];

		CHECK(!api_conf_parse(NULL, &c, err, sizeof(err)) &&
		          !strcmp(c.unix_path, "/run/nmbox/nmrouter.sock") && c.mode == 0660 &&
		          c.tcp_port == 0 && c.timeout == 10 && c.request_timeout == 30 &&
		          c.max_body == 64u << 20,
		      "defaults");
	}
}

/* ------------------------------------------------------------------ config export, save */

static void test_export_save(void)
{
	const char *file = "{\"ports\": [{\"name\": \"p1\"}], \"routes\": [], \"api\": {}}";
	json_t *cfg = json_loads(file, 0, NULL), *back;
	char dir[] = "/tmp/api_unit.XXXXXX", path[64], err[200];
	size_t len;
	char *t;

	fx_nroutes = 2;
	fx_routes[0] =
	    (struct rt_route){.family = AF_INET, .plen = 24, .dev = "p1", .proto = RT_PROTO_KERNEL};
	fx_routes[1] = (struct rt_route){.family = AF_INET, .plen = 0, .has_gw = 1};
	fx_routes[1].gw[0] = 10;
	fx_routes[1].gw[3] = 1;
	fx_nneigh = 1;
	fx_neigh[0] = (struct rt_neigh){.family = AF_INET, .dev = "p1", .lladdr = {2}};
	fx_neigh[0].dst[0] = 10;
	fx_neigh[0].dst[3] = 1;

	/* routes in place of the file's, connected routes left out, neighbors appended */
	t = api_config_export(NULL, cfg, &len);
	back = t ? json_loads(t, JSON_REJECT_DUPLICATES, NULL) : NULL;
	CHECK(back, "export is not JSON: %s", t);
	CHECK(json_array_size(json_object_get(back, "routes")) == 1, "routes: %s", t);
	CHECK(!strcmp(json_string_value(json_object_get(
	                  json_array_get(json_object_get(back, "routes"), 0), "dst")),
	              "0.0.0.0/0"),
	      "default spelled out: %s", t);
	CHECK(json_array_size(json_object_get(back, "neighbors")) == 1, "neighbors: %s", t);
	CHECK(json_object_get(back, "api") && json_object_get(back, "ports"), "kept keys: %s", t);
	/* every route of the export reads back through the same parser */
	{
		json_t *o = json_array_get(json_object_get(back, "routes"), 0);
		struct rt_route r;

		CHECK(!api_route_from_json(o, "routes[0]", &r, err, sizeof(err)) &&
		          !memcmp(&r, &fx_routes[1], sizeof(r)),
		      "round trip: %s", err);
	}

	/* save: atomic replace, same bytes, no temporary left behind */
	CHECK(mkdtemp(dir), "mkdtemp");
	snprintf(path, sizeof(path), "%s/cfg.json", dir);
	CHECK(!api_config_save(path, t, len, err, sizeof(err)), "save: %s", err);
	{
		FILE *f = fopen(path, "r");
		char buf[4096];
		size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;

		CHECK(n == len && !memcmp(buf, t, len), "saved bytes differ");
		if (f)
			fclose(f);
	}
	snprintf(err, sizeof(err), "%s.tmp.%d", path, (int)getpid());
	CHECK(access(err, F_OK) != 0, "temporary file left behind");
	/* the replaced file keeps its mode whatever the umask, and its group (root only) */
	{
		mode_t old = umask(022);
		struct stat st;

		CHECK(!chmod(path, 0664), "chmod");
		if (geteuid() == 0)
			CHECK(!chown(path, -1, 65534), "chown");
		CHECK(!api_config_save(path, t, len, err, sizeof(err)), "save: %s", err);
		CHECK(!stat(path, &st) && (st.st_mode & 07777) == 0664,
		      "save changed the mode 0664 to %04o", (unsigned)(st.st_mode & 07777));
		if (geteuid() == 0)
			CHECK(st.st_gid == 65534, "save changed the group 65534 to %u",
			      (unsigned)st.st_gid);
		umask(old);
	}
	/* a directory that cannot be written: error names the file, nothing changes */
	CHECK(api_config_save("/nonexistent/dir/cfg.json", t, len, err, sizeof(err)) < 0 &&
	          strstr(err, "/nonexistent/dir/cfg.json"),
	      "save to a missing directory: %s", err);
	unlink(path);
	rmdir(dir);
	free(t);
	json_decref(back);
	json_decref(cfg);
}

int main(void)
{
	test_prefix();
	test_mac();
	test_route_bodies();
	test_fast_equals_slow();
	test_neigh();
	test_format();
	test_conf();
	test_export_save();
	printf("api_unit: %d checks, %d failed\n", checks, failures);
	return failures != 0;
}
