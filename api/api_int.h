/*
 * api_int.h — internals of api/ shared by its files and its unit test. Not for other modules.
 *
 * Everything here is pure (no libevent, no router): parsing and validating the JSON
 * vocabulary into rt_ctl.h structs, and formatting them back, so it can be tested
 * table-driven without a server.
 */
#ifndef NM_API_INT_H
#define NM_API_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "router/rt_ctl.h"

/* ---- a growable output buffer; on allocation failure it sets oom and stops growing ---- */
struct sbuf {
	char *p;
	size_t len, cap;
	int oom;
};

void sb_init(struct sbuf *b);
void sb_free(struct sbuf *b);
void sb_put(struct sbuf *b, const char *s, size_t n);
void sb_puts(struct sbuf *b, const char *s);
void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal (quotes, escapes). */
void sb_jstr(struct sbuf *b, const char *s);
/* Detaches the buffer (NUL-terminated); the caller frees it. NULL if oom. */
char *sb_take(struct sbuf *b, size_t *len);

/* ---- addresses ---- */
/* Parses an IPv4 or IPv6 address; returns its family or 0. */
int api_addr_parse(const char *s, uint8_t addr[16]);
/*
 * Parses "default", "A.B.C.D[/len]" or "X::Y[/len]". "default" gives plen 0 with family
 * *family (if non-zero) else AF_INET. Rejects host bits set beyond plen.
 */
int api_prefix_parse(const char *s, uint8_t *family, uint8_t addr[16], uint8_t *plen, char *err,
                     size_t errlen);
int api_mac_parse(const char *s, uint8_t mac[6]);
void api_mac_fmt(const uint8_t mac[6], char out[18]);
/* "default" for 0.0.0.0/0, "::/0" for the IPv6 default, bare address for host routes. */
void api_prefix_fmt(uint8_t family, const uint8_t addr[16], uint8_t plen, char *out, size_t n);
/* Always "addr/plen" (what the config file holds). */
void api_prefix_fmt_full(uint8_t family, const uint8_t addr[16], uint8_t plen, char *out, size_t n);
int api_devname_ok(const char *s);

/* Validates one route given as strings (NULL = absent). where prefixes messages. */
int api_route_fields(const char *dst, const char *gw, const char *dev, const char *proto,
                     const char *where, struct rt_route *r, char *err, size_t errlen);

/*
 * Parses a request body holding one route object or an array of them (single_ok allows the
 * object form). On success *out (malloc'd, freed by the caller) and *n. On error returns
 * -EINVAL and fills err; line and col are set (> 0) when the body is not well-formed JSON.
 * A fast path handles the plain shape of large tables without building a JSON tree; any
 * input it does not fully understand goes to jansson, so both give the same answers.
 */
int api_routes_parse(const char *buf, size_t len, int single_ok, struct rt_route **out, size_t *n,
                     char *err, size_t errlen, int *line, int *col);
/* Only the fast path (for tests): 1 = parsed, 0 = declined (falls back), -ENOMEM. */
int api_routes_fast(const char *buf, size_t len, struct rt_route **out, size_t *n);

/* Loads a JSON body strictly (duplicate keys rejected); NULL with err/line/col on failure. */
json_t *api_json_load(const char *buf, size_t len, char *err, size_t errlen, int *line, int *col);

/* ---- formatting in the iproute2 vocabulary ---- */
void api_route_fmt(struct sbuf *b, const struct rt_route *r);
/* Config form: full prefix, no protocol; connected routes are not written. */
void api_route_fmt_cfg(struct sbuf *b, const struct rt_route *r);
void api_neigh_fmt(struct sbuf *b, const struct rt_neigh *nb);
void api_neigh_fmt_cfg(struct sbuf *b, const struct rt_neigh *nb);
void api_link_fmt(struct sbuf *b, const struct rt_link *l);
void api_stats_fmt(struct sbuf *b, const struct rt_stats *s);
const char *api_nud_name(unsigned state);

/* Compares two routes by family, prefix, plen (for sorting and filters). */
int api_route_key_eq(const struct rt_route *a, const struct rt_route *b);

/* ---- the "api" config object, parsed ---- */
struct api_conf {
	char unix_path[108];
	unsigned mode;
	char group[64];
	char tcp_host[64];
	unsigned tcp_port; /* 0 = no TCP */
	char token[256];
	unsigned timeout;         /* seconds of inactivity */
	unsigned request_timeout; /* seconds for a whole request to arrive */
	size_t max_body;
};
int api_conf_parse(const json_t *o, struct api_conf *c, char *err, size_t errlen);

/* The running config as text (file_cfg's keys with routes/neighbors from rt); free() it. */
char *api_config_export(struct rt *rt, const json_t *file_cfg, size_t *len);
/* Writes text to path atomically (temp file, fsync, rename, fsync dir). 0 or -errno. */
int api_config_save(const char *path, const char *text, size_t len, char *err, size_t errlen);

#endif /* NM_API_INT_H */
