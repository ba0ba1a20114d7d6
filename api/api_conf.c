/*
 * api_conf.c — the "api" config object, and the running config: export and atomic save.
 *
 * The running config is the file the router started from with its "routes" and "neighbors"
 * replaced by what the router holds now (static routes, permanent neighbors). Every other
 * key (ports, workers, api, ...) is copied from the file as it was read at start: the API
 * cannot change them. Large tables are written one route per line so the file stays
 * readable and small; the rest of the document is plain JSON.
 *
 * Saving writes the whole text to a temporary file in the same directory, fsyncs it, and
 * renames it over the config, then fsyncs the directory: a crash leaves the old file or the
 * new one, never a mix.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api_int.h"

#define API_DEFAULT_SOCK "/run/nmbox/nmrouter.sock"

static int read_token_file(const char *path, char *tok, size_t cap, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f) {
		snprintf(err, errlen, "api.token_file: %s: %s", path, strerror(errno));
		return -EINVAL;
	}
	if (!fgets(tok, cap, f))
		tok[0] = 0;
	n = strcspn(tok, "\r\n");
	if (!tok[n]) { /* no end of line in the buffer: the line must end here */
		int ch = getc(f);

		if (ch != EOF && ch != '\n' && ch != '\r') {
			fclose(f);
			snprintf(err, errlen, "api.token_file: %s: token longer than %zu bytes",
			         path, cap - 1);
			return -EINVAL;
		}
	}
	fclose(f);
	tok[n] = 0;
	if (!n) {
		snprintf(err, errlen, "api.token_file: %s: empty", path);
		return -EINVAL;
	}
	return 0;
}

static int parse_tcp(const char *s, struct api_conf *c, char *err, size_t errlen)
{
	const char *colon;
	char *end;
	long port;
	size_t hl;

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			goto bad;
		hl = rb - s - 1;
		if (hl >= sizeof(c->tcp_host))
			goto bad;
		memcpy(c->tcp_host, s + 1, hl);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || colon == s || (size_t)(colon - s) >= sizeof(c->tcp_host))
			goto bad;
		hl = colon - s;
		memcpy(c->tcp_host, s, hl);
	}
	c->tcp_host[hl] = 0;
	{
		static const uint8_t v6lo[16] = {[15] = 1};
		uint8_t a[16];
		int fam = api_addr_parse(c->tcp_host, a);

		if (!fam)
			goto bad;
		/* The token travels in clear text: loopback only (an ssh tunnel or a TLS proxy
		 * is the way in from elsewhere). */
		if (fam == AF_INET ? a[0] != 127 : memcmp(a, v6lo, 16)) {
			snprintf(
			    err, errlen,
			    "api.tcp: \"%s\": only loopback (127.0.0.0/8 or [::1]) is allowed; "
			    "reach it from elsewhere through ssh -L or a TLS proxy",
			    s);
			return -EINVAL;
		}
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port < 1 || port > 65535)
		goto bad;
	c->tcp_port = port;
	return 0;
bad:
	snprintf(err, errlen, "api.tcp: \"%s\": want ADDRESS:PORT, e.g. \"127.0.0.1:8080\"", s);
	return -EINVAL;
}

int api_conf_parse(const json_t *o, struct api_conf *c, char *err, size_t errlen)
{
	const char *k, *tokfile = NULL;
	json_t *v;

	memset(c, 0, sizeof(*c));
	strcpy(c->unix_path, API_DEFAULT_SOCK);
	c->mode = 0660;
	c->timeout = 10;
	c->request_timeout = 30;
	c->max_body = 64u << 20;
	if (!o)
		return 0;
	if (!json_is_object(o)) {
		snprintf(err, errlen, "api: expected an object");
		return -EINVAL;
	}
	json_object_foreach((json_t *)o, k, v)
	{
		const char *s = json_string_value(v);

		if (!strcmp(k, "timeout") || !strcmp(k, "request_timeout") ||
		    !strcmp(k, "max_body")) {
			json_int_t i = json_integer_value(v);
			int secs = strcmp(k, "max_body") != 0;

			if (!json_is_integer(v) || i < 1 || (secs && i > 3600) ||
			    i > (json_int_t)1 << 34) {
				snprintf(err, errlen, "api.%s: expected a positive integer%s", k,
				         secs ? " of seconds (1..3600)" : "");
				return -EINVAL;
			}
			if (!strcmp(k, "timeout"))
				c->timeout = i;
			else if (secs)
				c->request_timeout = i;
			else
				c->max_body = i;
			continue;
		}
		if (!s) {
			if (strcmp(k, "unix") && strcmp(k, "mode") && strcmp(k, "group") &&
			    strcmp(k, "tcp") && strcmp(k, "token") && strcmp(k, "token_file"))
				goto unknown;
			snprintf(err, errlen, "api.%s: expected a string", k);
			return -EINVAL;
		}
		if (!strcmp(k, "unix")) {
			if (strlen(s) >= sizeof(c->unix_path)) {
				snprintf(err, errlen, "api.unix: path longer than %zu bytes",
				         sizeof(c->unix_path) - 1);
				return -EINVAL;
			}
			strcpy(c->unix_path, s);
		} else if (!strcmp(k, "mode")) {
			char *end;
			long m = strtol(s, &end, 8);

			if (!*s || *end || m < 0 || m > 0777) {
				snprintf(err, errlen, "api.mode: \"%s\": want octal like \"0660\"",
				         s);
				return -EINVAL;
			}
			c->mode = m;
		} else if (!strcmp(k, "group")) {
			if (!*s || strlen(s) >= sizeof(c->group)) {
				snprintf(err, errlen, "api.group: \"%s\": bad group name", s);
				return -EINVAL;
			}
			strcpy(c->group, s);
		} else if (!strcmp(k, "tcp")) {
			if (parse_tcp(s, c, err, errlen))
				return -EINVAL;
		} else if (!strcmp(k, "token")) {
			if (!*s || strlen(s) >= sizeof(c->token)) {
				snprintf(err, errlen, "api.token: must be 1..%zu bytes",
				         sizeof(c->token) - 1);
				return -EINVAL;
			}
			strcpy(c->token, s);
		} else if (!strcmp(k, "token_file")) {
			tokfile = s;
		} else {
			goto unknown;
		}
	}
	if (tokfile && !c->token[0] &&
	    read_token_file(tokfile, c->token, sizeof(c->token), err, errlen))
		return -EINVAL;
	if (c->tcp_port && !c->token[0]) {
		snprintf(
		    err, errlen,
		    "api.tcp: needs \"token\" or \"token_file\" (TCP clients must authenticate)");
		return -EINVAL;
	}
	return 0;
unknown:
	snprintf(err, errlen,
	         "api: unknown key \"%.40s\" (known: unix, mode, group, tcp, token, token_file, "
	         "timeout, request_timeout, max_body)",
	         k);
	return -EINVAL;
}

int api_check_config(const json_t *api_cfg, char *err, size_t errlen)
{
	struct api_conf c;

	return api_conf_parse(api_cfg, &c, err, errlen);
}

/* ------------------------------------------------------------------ running config */

static int route_cfg_cb(const struct rt_route *r, void *arg)
{
	struct sbuf *b = arg;

	if (r->proto != RT_PROTO_STATIC)
		return 0;
	sb_puts(b, b->p[b->len - 1] == '[' ? "\n    " : ",\n    ");
	api_route_fmt_cfg(b, r);
	return 0;
}

static int neigh_cfg_cb(const struct rt_neigh *nb, void *arg)
{
	struct sbuf *b = arg;

	if (nb->state != RT_NUD_PERMANENT)
		return 0;
	sb_puts(b, b->p[b->len - 1] == '[' ? "\n    " : ",\n    ");
	api_neigh_fmt_cfg(b, nb);
	return 0;
}

static void put_routes(struct sbuf *b, struct rt *rt)
{
	sb_puts(b, "  \"routes\": [");
	rt_route_walk(rt, route_cfg_cb, b);
	sb_puts(b, b->p[b->len - 1] == '[' ? "]" : "\n  ]");
}

static void put_neighbors(struct sbuf *b, struct rt *rt)
{
	sb_puts(b, "  \"neighbors\": [");
	rt_neigh_walk(rt, neigh_cfg_cb, b);
	sb_puts(b, b->p[b->len - 1] == '[' ? "]" : "\n  ]");
}

char *api_config_export(struct rt *rt, const json_t *file_cfg, size_t *len)
{
	int routes_done = 0, neigh_done = 0, first = 1;
	struct sbuf b;
	const char *k;
	json_t *v;

	sb_init(&b);
	sb_puts(&b, "{");
	if (file_cfg) {
		json_object_foreach((json_t *)file_cfg, k, v)
		{
			sb_puts(&b, first ? "\n" : ",\n");
			first = 0;
			if (!strcmp(k, "routes")) {
				put_routes(&b, rt);
				routes_done = 1;
			} else if (!strcmp(k, "neighbors")) {
				put_neighbors(&b, rt);
				neigh_done = 1;
			} else {
				char *s = json_dumps(v, JSON_ENCODE_ANY);

				sb_puts(&b, "  ");
				sb_jstr(&b, k);
				sb_puts(&b, ": ");
				if (s)
					sb_puts(&b, s);
				else
					b.oom = 1;
				free(s);
			}
		}
	}
	if (!routes_done) {
		sb_puts(&b, first ? "\n" : ",\n");
		first = 0;
		put_routes(&b, rt);
	}
	if (!neigh_done) {
		sb_puts(&b, ",\n");
		put_neighbors(&b, rt);
	}
	sb_puts(&b, "\n}\n");
	return sb_take(&b, len);
}

int api_config_save(const char *path, const char *text, size_t len, char *err, size_t errlen)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	struct stat st;
	mode_t mode = 0644;
	size_t off = 0;
	int fd, dfd, rc, had = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	if (stat(path, &st) == 0) {
		mode = st.st_mode & 07777;
		had = 1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return rc;
	}
	/* the new file takes the old one's owner and mode (open's mode went through umask) */
	if (had) {
		if (fchown(fd, st.st_uid, st.st_gid)) {
			/* not ours to give away (not root): it stays the writer's */
		}
		if (fchmod(fd, mode))
			goto fail;
	}
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		off += w;
	}
	if (fsync(fd))
		goto fail;
	if (close(fd)) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path))
		goto fail;
	snprintf(dir, sizeof(dir), "%s", path);
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
fail:
	rc = errno ? -errno : -EIO;
	snprintf(err, errlen, "%s: %s", path, strerror(-rc));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return rc;
}
