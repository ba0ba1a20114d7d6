/*
 * api_parse.c — the API's JSON vocabulary: parse and validate routes and neighbors into
 * rt_ctl.h structs, and format them (and links, counters) back out.
 *
 * Input is strict: unknown keys, wrong types, duplicate keys, host bits in a prefix, a
 * gateway of the other family are all errors that name the item ("routes[3].dst") and the
 * reason. Output follows `ip -j route` / `ip -j neigh` / `ip -j -s link`.
 *
 * Large tables: a 512k-route PUT is ~30 MB of JSON. jansson builds a tree of ~2M nodes for
 * it, which costs ~0.5-1 s here; api_routes_fast() instead walks the plain shape those
 * tables have (an array of objects whose values are strings without escapes) straight into
 * an array of struct rt_route, in tens of milliseconds. It declines anything else —
 * escapes, other value types, unknown or repeated keys, any semantic error, trailing bytes —
 * and the jansson path then decides, so both paths accept and reject exactly the same bodies
 * and errors always come from one place.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "api/api_int.h"

/* ------------------------------------------------------------------ sbuf */

void sb_init(struct sbuf *b)
{
	memset(b, 0, sizeof(*b));
}

void sb_free(struct sbuf *b)
{
	free(b->p);
	sb_init(b);
}

static int sb_grow(struct sbuf *b, size_t need)
{
	size_t cap;
	char *p;

	if (b->oom)
		return -1;
	if (b->len + need + 1 <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + need + 1)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (sb_grow(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

void sb_puts(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (sb_grow(b, 64))
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= b->cap - b->len) {
		if (sb_grow(b, n))
			return;
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += n;
}

void sb_jstr(struct sbuf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	const unsigned char *run = u;

	sb_put(b, "\"", 1);
	for (; *u; u++) {
		char esc[7];

		if (*u >= 0x20 && *u != '"' && *u != '\\')
			continue;
		sb_put(b, (const char *)run, u - run);
		run = u + 1;
		if (*u == '"' || *u == '\\') {
			esc[0] = '\\';
			esc[1] = *u;
			sb_put(b, esc, 2);
		} else {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[*u >> 4];
			esc[5] = hex[*u & 15];
			sb_put(b, esc, 6);
		}
	}
	sb_put(b, (const char *)run, u - run);
	sb_put(b, "\"", 1);
}

char *sb_take(struct sbuf *b, size_t *len)
{
	char *p;

	if (b->oom) {
		sb_free(b);
		return NULL;
	}
	if (!b->p)
		sb_put(b, "", 0);
	p = b->p;
	if (len)
		*len = b->len;
	sb_init(b);
	return p;
}

/* ------------------------------------------------------------------ addresses */

int api_addr_parse(const char *s, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, s, addr) == 1)
		return AF_INET6;
	return 0;
}

int api_prefix_parse(const char *s, uint8_t *family, uint8_t addr[16], uint8_t *plen, char *err,
                     size_t errlen)
{
	char buf[64];
	const char *slash;
	unsigned len = 0, max, i;
	int fam;

	if (!strcmp(s, "default")) {
		*family = *family ? *family : AF_INET;
		memset(addr, 0, 16);
		*plen = 0;
		return 0;
	}
	slash = strchr(s, '/');
	if (strlen(s) >= sizeof(buf) || (slash && slash - s >= (long)sizeof(buf))) {
		snprintf(err, errlen, "\"%.40s...\": not an IP prefix", s);
		return -EINVAL;
	}
	if (slash) {
		const char *d = slash + 1;

		memcpy(buf, s, slash - s);
		buf[slash - s] = 0;
		if (!*d || strlen(d) > 3) {
			snprintf(err, errlen, "\"%s\": bad prefix length", s);
			return -EINVAL;
		}
		for (; *d; d++) {
			if (*d < '0' || *d > '9') {
				snprintf(err, errlen, "\"%s\": bad prefix length", s);
				return -EINVAL;
			}
			len = len * 10 + (*d - '0');
		}
	} else {
		strcpy(buf, s);
	}
	fam = api_addr_parse(buf, addr);
	if (!fam) {
		snprintf(err, errlen,
		         "\"%s\": not an IP prefix (want A.B.C.D/LEN, X::Y/LEN or default)", s);
		return -EINVAL;
	}
	max = fam == AF_INET ? 32 : 128;
	if (!slash)
		len = max;
	if (len > max) {
		snprintf(err, errlen, "\"%s\": prefix length %u is over %u", s, len, max);
		return -EINVAL;
	}
	for (i = len; i < max; i++) {
		if (addr[i / 8] & (0x80 >> (i % 8))) {
			uint8_t net[16];
			char nb[INET6_ADDRSTRLEN];
			unsigned j;

			memcpy(net, addr, 16);
			for (j = len; j < max; j++)
				net[j / 8] &= ~(0x80 >> (j % 8));
			inet_ntop(fam, net, nb, sizeof(nb));
			snprintf(err, errlen, "\"%s\": host bits set (did you mean %s/%u?)", s, nb,
			         len);
			return -EINVAL;
		}
	}
	*family = fam;
	*plen = len;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int api_mac_parse(const char *s, uint8_t mac[6])
{
	int i;

	for (i = 0; i < 6; i++) {
		int h = hexval(s[0]), l = h < 0 ? -1 : hexval(s[1]);

		if (h < 0 || l < 0)
			return -EINVAL;
		mac[i] = h << 4 | l;
		s += 2;
		if (i < 5 && *s++ != ':')
			return -EINVAL;
	}
	return *s ? -EINVAL : 0;
}

void api_mac_fmt(const uint8_t m[6], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

void api_prefix_fmt_full(uint8_t family, const uint8_t addr[16], uint8_t plen, char *out, size_t n)
{
	char a[INET6_ADDRSTRLEN];

	if (!inet_ntop(family, addr, a, sizeof(a)))
		strcpy(a, "?");
	snprintf(out, n, "%s/%u", a, plen);
}

void api_prefix_fmt(uint8_t family, const uint8_t addr[16], uint8_t plen, char *out, size_t n)
{
	if (family == AF_INET && plen == 0) {
		snprintf(out, n, "default");
	} else if (plen == (family == AF_INET ? 32 : 128)) {
		if (!inet_ntop(family, addr, out, n))
			snprintf(out, n, "?");
	} else {
		api_prefix_fmt_full(family, addr, plen, out, n);
	}
}

int api_devname_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n >= IFNAMSIZ)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] == '/' || s[i] == ' ' || s[i] == ':' || (unsigned char)s[i] <= 0x20 ||
		    (unsigned char)s[i] >= 0x7f)
			return 0;
	return strcmp(s, ".") && strcmp(s, "..");
}

/* ------------------------------------------------------------------ routes and neighbors */

int api_route_fields(const char *dst, const char *gw, const char *dev, const char *proto,
                     const char *where, struct rt_route *r, char *err, size_t errlen)
{
	char e[160];
	uint8_t gwfam = 0;

	memset(r, 0, sizeof(*r));
	if (!dst) {
		snprintf(err, errlen, "%s: \"dst\" is missing", where);
		return -EINVAL;
	}
	if (gw) {
		gwfam = api_addr_parse(gw, r->gw);
		if (!gwfam) {
			snprintf(err, errlen, "%s.gateway: \"%.64s\": not an IP address", where,
			         gw);
			return -EINVAL;
		}
		r->has_gw = 1;
	}
	r->family = gwfam;
	if (api_prefix_parse(dst, &r->family, r->dst, &r->plen, e, sizeof(e))) {
		snprintf(err, errlen, "%s.dst: %s", where, e);
		return -EINVAL;
	}
	if (gw && gwfam != r->family) {
		snprintf(err, errlen, "%s.gateway: \"%s\" is %s but dst \"%s\" is %s", where, gw,
		         gwfam == AF_INET ? "IPv4" : "IPv6", dst,
		         r->family == AF_INET ? "IPv4" : "IPv6");
		return -EINVAL;
	}
	if (dev) {
		if (!api_devname_ok(dev)) {
			snprintf(err, errlen, "%s.dev: \"%.64s\": not a valid interface name",
			         where, dev);
			return -EINVAL;
		}
		strcpy(r->dev, dev);
	}
	if (!gw && !dev) {
		snprintf(err, errlen, "%s: needs \"gateway\" or \"dev\"", where);
		return -EINVAL;
	}
	if (proto && strcmp(proto, "static")) {
		snprintf(err, errlen, "%s.protocol: \"%.64s\": only \"static\" routes can be set",
		         where, proto);
		return -EINVAL;
	}
	r->proto = RT_PROTO_STATIC;
	return 0;
}

static const char *jtype(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

/* Fetches the string members named in keys[]; any other key or a non-string is an error. */
static int get_strings(const json_t *o, const char *where, const char *const keys[],
                       const char *vals[], const char *known, char *err, size_t errlen)
{
	const char *k;
	json_t *v;
	int i;

	if (!json_is_object(o)) {
		snprintf(err, errlen, "%s: expected an object, got %s", where, jtype(o));
		return -EINVAL;
	}
	for (i = 0; keys[i]; i++)
		vals[i] = NULL;
	json_object_foreach((json_t *)o, k, v)
	{
		for (i = 0; keys[i]; i++)
			if (!strcmp(k, keys[i]))
				break;
		if (!keys[i]) {
			snprintf(err, errlen, "%s: unknown key \"%.40s\" (known: %s)", where, k,
			         known);
			return -EINVAL;
		}
		if (!json_is_string(v)) {
			snprintf(err, errlen, "%s.%s: expected a string, got %s", where, k,
			         jtype(v));
			return -EINVAL;
		}
		vals[i] = json_string_value(v);
	}
	return 0;
}

int api_route_from_json(const json_t *o, const char *where, struct rt_route *r, char *err,
                        size_t errlen)
{
	static const char *const keys[] = {"dst", "gateway", "dev", "protocol", NULL};
	const char *v[4];

	if (get_strings(o, where, keys, v, "dst, gateway, dev, protocol", err, errlen))
		return -EINVAL;
	return api_route_fields(v[0], v[1], v[2], v[3], where, r, err, errlen);
}

int api_neigh_from_json(const json_t *o, const char *where, struct rt_neigh *nb, char *err,
                        size_t errlen)
{
	static const char *const keys[] = {"dst", "lladdr", "dev", NULL};
	const char *v[3];
	json_t *tmp = NULL, *st;
	int rc;

	memset(nb, 0, sizeof(*nb));
	/* "state" may be "PERMANENT" or ["PERMANENT"] (what GET returns); only static ones. */
	st = json_is_object(o) ? json_object_get(o, "state") : NULL;
	if (st) {
		json_t *s =
		    json_is_array(st) && json_array_size(st) == 1 ? json_array_get(st, 0) : st;

		if (!json_is_string(s) || strcasecmp(json_string_value(s), "permanent")) {
			snprintf(err, errlen, "%s.state: only \"PERMANENT\" neighbors can be set",
			         where);
			return -EINVAL;
		}
		tmp = json_deep_copy(o);
		if (!tmp) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		json_object_del(tmp, "state");
		o = tmp;
	}
	rc = get_strings(o, where, keys, v, "dst, lladdr, dev, state", err, errlen);
	if (rc)
		goto out;
	rc = -EINVAL;
	if (!v[0] || !v[1] || !v[2]) {
		snprintf(err, errlen, "%s: \"%s\" is missing", where,
		         !v[0]   ? "dst"
		         : !v[1] ? "lladdr"
		                 : "dev");
		goto out;
	}
	nb->family = api_addr_parse(v[0], nb->dst);
	if (!nb->family) {
		snprintf(err, errlen, "%s.dst: \"%.64s\": not an IP address", where, v[0]);
		goto out;
	}
	if (api_mac_parse(v[1], nb->lladdr)) {
		snprintf(err, errlen,
		         "%s.lladdr: \"%.64s\": not a MAC address (want 02:00:00:00:00:01)", where,
		         v[1]);
		goto out;
	}
	if (!api_devname_ok(v[2])) {
		snprintf(err, errlen, "%s.dev: \"%.64s\": not a valid interface name", where, v[2]);
		goto out;
	}
	strcpy(nb->dev, v[2]);
	nb->state = RT_NUD_PERMANENT;
	rc = 0;
out:
	json_decref(tmp);
	return rc;
}

json_t *api_json_load(const char *buf, size_t len, char *err, size_t errlen, int *line, int *col)
{
	json_error_t je;
	json_t *j;

	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		snprintf(err, errlen, "malformed JSON at line %d, column %d: %s", je.line,
		         je.column, je.text);
		if (line)
			*line = je.line;
		if (col)
			*col = je.column;
	}
	return j;
}

/* ------------------------------------------------------------------ the fast path */

static inline const char *skip_ws(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p;
}

/* p at '"'; copies a plain string (no escapes, printable ASCII) into out[cap]. */
static inline const char *fast_str(const char *p, const char *e, char *out, size_t cap)
{
	const char *s = ++p;

	while (p < e && *p != '"') {
		unsigned char c = *p;

		if (c < 0x20 || c >= 0x7f || c == '\\')
			return NULL;
		p++;
	}
	if (p >= e || (size_t)(p - s) >= cap)
		return NULL;
	memcpy(out, s, p - s);
	out[p - s] = 0;
	return p + 1;
}

int api_routes_fast(const char *buf, size_t len, struct rt_route **out, size_t *n)
{
	static const char *const keys[] = {"dst", "gateway", "dev", "protocol"};
	const char *p = buf, *e = buf + len;
	struct rt_route *v = NULL;
	size_t cnt = 0, cap = 0;
	char dummy[8];

	p = skip_ws(p, e);
	if (p >= e || *p != '[')
		return 0;
	p = skip_ws(p + 1, e);
	if (p < e && *p == ']') {
		p = skip_ws(p + 1, e);
		goto done;
	}
	for (;;) {
		char val[4][72], key[16];
		unsigned seen = 0;

		if (p >= e || *p != '{')
			goto decline;
		p = skip_ws(p + 1, e);
		if (p < e && *p == '}') {
			p++;
		} else {
			for (;;) {
				int k;

				if (p >= e || *p != '"' || !(p = fast_str(p, e, key, sizeof(key))))
					goto decline;
				for (k = 0; k < 4; k++)
					if (!strcmp(key, keys[k]))
						break;
				if (k == 4 || (seen & 1u << k))
					goto decline;
				seen |= 1u << k;
				p = skip_ws(p, e);
				if (p >= e || *p != ':')
					goto decline;
				p = skip_ws(p + 1, e);
				if (p >= e || *p != '"' ||
				    !(p = fast_str(p, e, val[k], sizeof(val[k]))))
					goto decline;
				p = skip_ws(p, e);
				if (p < e && *p == ',') {
					p = skip_ws(p + 1, e);
					continue;
				}
				if (p < e && *p == '}') {
					p++;
					break;
				}
				goto decline;
			}
		}
		if (cnt == cap) {
			struct rt_route *nv;

			cap = cap ? cap * 2 : len / 48 + 16;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
		}
		if (api_route_fields(seen & 1 ? val[0] : NULL, seen & 2 ? val[1] : NULL,
		                     seen & 4 ? val[2] : NULL, seen & 8 ? val[3] : NULL, "",
		                     &v[cnt], dummy, sizeof(dummy)))
			goto decline;
		cnt++;
		p = skip_ws(p, e);
		if (p < e && *p == ',') {
			p = skip_ws(p + 1, e);
			continue;
		}
		if (p < e && *p == ']') {
			p = skip_ws(p + 1, e);
			break;
		}
		goto decline;
	}
done:
	if (p != e)
		goto decline;
	*out = v;
	*n = cnt;
	return 1;
decline:
	free(v);
	return 0;
}

int api_routes_parse(const char *buf, size_t len, int single_ok, struct rt_route **out, size_t *n,
                     char *err, size_t errlen, int *line, int *col)
{
	struct rt_route *v;
	json_t *j;
	size_t i, cnt;
	int rc;

	*line = *col = 0;
	rc = api_routes_fast(buf, len, out, n);
	if (rc)
		return rc < 0 ? rc : 0;
	j = api_json_load(buf, len, err, errlen, line, col);
	if (!j)
		return -EINVAL;
	if (json_is_object(j) && single_ok) {
		v = malloc(sizeof(*v));
		rc = v ? api_route_from_json(j, "route", v, err, errlen) : -ENOMEM;
		cnt = 1;
	} else if (json_is_array(j)) {
		cnt = json_array_size(j);
		v = malloc((cnt ? cnt : 1) * sizeof(*v));
		rc = v ? 0 : -ENOMEM;
		for (i = 0; i < cnt && !rc; i++) {
			char where[40];

			snprintf(where, sizeof(where), "routes[%zu]", i);
			rc = api_route_from_json(json_array_get(j, i), where, &v[i], err, errlen);
		}
	} else {
		snprintf(err, errlen, "body: expected %s, got %s",
		         single_ok ? "a route object or an array of them" : "an array of routes",
		         jtype(j));
		v = NULL;
		cnt = 0;
		rc = -EINVAL;
	}
	json_decref(j);
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	if (rc) {
		free(v);
		return rc;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int api_route_key_eq(const struct rt_route *a, const struct rt_route *b)
{
	return a->family == b->family && a->plen == b->plen &&
	       !memcmp(a->dst, b->dst, a->family == AF_INET ? 4 : 16);
}

/* ------------------------------------------------------------------ formatting */

static void fmt_addr(struct sbuf *b, uint8_t family, const uint8_t *a)
{
	char s[INET6_ADDRSTRLEN + 2];

	s[0] = '"';
	if (!inet_ntop(family, a, s + 1, INET6_ADDRSTRLEN))
		strcpy(s + 1, "?");
	strcat(s, "\"");
	sb_puts(b, s);
}

/* One route as a JSON object: for the API (compact, the prefix as given, with protocol and
 * scope) or, with cfg, for the config file (", " and ": ", the prefix in full, no protocol). */
static void route_fmt(struct sbuf *b, const struct rt_route *r, int cfg)
{
	const char *kv = cfg ? "\": " : "\":", *comma = cfg ? ", \"" : ",\"";
	char p[INET6_ADDRSTRLEN + 8];

	if (cfg)
		api_prefix_fmt_full(r->family, r->dst, r->plen, p, sizeof(p));
	else
		api_prefix_fmt(r->family, r->dst, r->plen, p, sizeof(p));
	sb_puts(b, "{\"dst");
	sb_puts(b, kv);
	sb_puts(b, "\"");
	sb_puts(b, p);
	sb_puts(b, "\"");
	if (r->has_gw) {
		sb_puts(b, comma);
		sb_puts(b, "gateway");
		sb_puts(b, kv);
		fmt_addr(b, r->family, r->gw);
	}
	if (r->dev[0]) {
		sb_puts(b, comma);
		sb_puts(b, "dev");
		sb_puts(b, kv);
		sb_jstr(b, r->dev);
	}
	if (cfg)
		sb_puts(b, "}");
	else if (r->proto == RT_PROTO_KERNEL)
		sb_puts(b, ",\"protocol\":\"kernel\",\"scope\":\"link\"}");
	else
		sb_puts(b, ",\"protocol\":\"static\"}");
}

void api_route_fmt(struct sbuf *b, const struct rt_route *r)
{
	route_fmt(b, r, 0);
}

void api_route_fmt_cfg(struct sbuf *b, const struct rt_route *r)
{
	route_fmt(b, r, 1);
}

const char *api_nud_name(unsigned state)
{
	static const char *const names[] = {"PERMANENT", "REACHABLE", "STALE", "INCOMPLETE",
	                                    "FAILED",    "DELAY",     "PROBE"};

	return state < sizeof(names) / sizeof(names[0]) ? names[state] : "NONE";
}

void api_neigh_fmt(struct sbuf *b, const struct rt_neigh *nb)
{
	char mac[18];

	sb_puts(b, "{\"dst\":");
	fmt_addr(b, nb->family, nb->dst);
	sb_puts(b, ",\"dev\":");
	sb_jstr(b, nb->dev);
	if (nb->state != RT_NUD_INCOMPLETE && nb->state != RT_NUD_FAILED) {
		api_mac_fmt(nb->lladdr, mac);
		sb_printf(b, ",\"lladdr\":\"%s\"", mac);
	}
	sb_printf(b, ",\"state\":[\"%s\"]}", api_nud_name(nb->state));
}

void api_neigh_fmt_cfg(struct sbuf *b, const struct rt_neigh *nb)
{
	char mac[18];

	api_mac_fmt(nb->lladdr, mac);
	sb_puts(b, "{\"dst\": ");
	fmt_addr(b, nb->family, nb->dst);
	sb_printf(b, ", \"lladdr\": \"%s\", \"dev\": ", mac);
	sb_jstr(b, nb->dev);
	sb_puts(b, "}");
}

void api_link_fmt(struct sbuf *b, const struct rt_link *l)
{
	char mac[18];
	unsigned i, n = l->naddrs < 8 ? l->naddrs : 8;

	api_mac_fmt(l->mac, mac);
	sb_puts(b, "{\"ifname\":");
	sb_jstr(b, l->name);
	sb_printf(b, ",\"mtu\":%u,\"link_type\":\"ether\",\"address\":\"%s\",\"spec\":", l->mtu,
	          mac);
	sb_jstr(b, l->spec);
	sb_puts(b, ",\"mode\":");
	sb_jstr(b, l->mode);
	sb_printf(b, ",\"host\":%s,\"addr_info\":[", l->host ? "true" : "false");
	for (i = 0; i < n; i++) {
		sb_printf(b, "%s{\"family\":\"%s\",\"local\":", i ? "," : "",
		          l->addrs[i].family == AF_INET ? "inet" : "inet6");
		fmt_addr(b, l->addrs[i].family, l->addrs[i].addr);
		sb_printf(b, ",\"prefixlen\":%u}", l->addrs[i].plen);
	}
	sb_printf(b,
	          "],\"stats64\":{\"rx\":{\"bytes\":%llu,\"packets\":%llu,\"errors\":0,"
	          "\"dropped\":%llu},\"tx\":{\"bytes\":%llu,\"packets\":%llu,\"errors\":0,"
	          "\"dropped\":%llu}}}",
	          (unsigned long long)l->rx_bytes, (unsigned long long)l->rx_packets,
	          (unsigned long long)l->rx_dropped, (unsigned long long)l->tx_bytes,
	          (unsigned long long)l->tx_packets, (unsigned long long)l->tx_dropped);
}

void api_stats_fmt(struct sbuf *b, const struct rt_stats *s)
{
	unsigned long long total = 0;
	int i;

	sb_printf(b,
	          "{\"rx_packets\":%llu,\"rx_bytes\":%llu,\"forwarded\":%llu,\"punted\":%llu,"
	          "\"injected\":%llu,\"icmp_sent\":%llu,\"arp_nd_sent\":%llu,"
	          "\"local_replies\":%llu,\"consumed\":%llu,\"frag_ok\":%llu,\"fragments\":%llu,"
	          "\"drops\":{",
	          (unsigned long long)s->rx_packets, (unsigned long long)s->rx_bytes,
	          (unsigned long long)s->forwarded, (unsigned long long)s->punted,
	          (unsigned long long)s->injected, (unsigned long long)s->icmp_sent,
	          (unsigned long long)s->arp_nd_sent, (unsigned long long)s->local_replies,
	          (unsigned long long)s->consumed, (unsigned long long)s->frag_ok,
	          (unsigned long long)s->fragments);
	for (i = 0; i < RT_DROP_MAX; i++) {
		sb_printf(b, "%s", i ? "," : "");
		sb_jstr(b, rt_drop_names[i] ? rt_drop_names[i] : "unknown");
		sb_printf(b, ":%llu", (unsigned long long)s->drops[i]);
		total += s->drops[i];
	}
	sb_printf(b, "},\"dropped\":%llu}", total);
}
