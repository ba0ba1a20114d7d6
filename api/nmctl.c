/*
 * nmctl — command-line client of nmrouter's control API, in the manner of `ip`.
 *
 *   nmctl [-j] [-s SOCKET | -H http://127.0.0.1:PORT [-T TOKEN]] OBJECT [COMMAND] [ARGS]
 *
 *   route show [dst PREFIX] [dev NAME] [proto static|kernel]
 *   route add PREFIX [via GATEWAY] [dev NAME]
 *   route del PREFIX [via GATEWAY] [dev NAME]
 *   route replace -f FILE|- [--dry-run]       FILE: a JSON array of routes
 *   neigh show [dev NAME] | neigh add ADDR lladdr MAC dev NAME | neigh del ADDR [dev NAME]
 *   link [show] [-s]     stats     config [show|save]     metrics     generation
 *
 * It speaks HTTP/1.1 over a Unix socket (default /run/nmbox/nmrouter.sock, or $NMCTL_SOCKET)
 * or TCP, one request per connection, blocking: a client this small does not need an
 * event loop. Server errors are printed as the server wrote them; the exit status is 0 on
 * success, 1 on a server or connection error, 2 on a usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_SOCK "/run/nmbox/nmrouter.sock"

static const char *sock_path = DEFAULT_SOCK;
static char tcp_host[256];
static char tcp_port[8];
static const char *token;
static int json_out;

struct resp {
	int status;
	char *body;
	size_t len;
};

static void usage(void)
{
	fprintf(
	    stderr,
	    "usage: nmctl [-j] [-s SOCKET | -H http://127.0.0.1:PORT [-T TOKEN]] OBJECT CMD ...\n"
	    "  route show [dst PREFIX] [dev NAME] [proto static|kernel]\n"
	    "  route add|del PREFIX [via GATEWAY] [dev NAME]\n"
	    "  route replace -f FILE|- [--dry-run]   (FILE: JSON array of routes)\n"
	    "  neigh show [dev NAME]\n"
	    "  neigh add ADDR lladdr MAC dev NAME\n"
	    "  neigh del ADDR [dev NAME]\n"
	    "  link [show] [-s]\n"
	    "  stats | metrics | generation | config [show|save]\n");
	exit(2);
}

static void die(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "nmctl: ");
	fprintf(stderr, fmt, a, b);
	fprintf(stderr, "\n");
	exit(1);
}

/* ------------------------------------------------------------------ HTTP */

static int connect_server(void)
{
	struct timeval tv = {.tv_sec = 300};
	int fd;

	if (tcp_host[0]) {
		struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
		int rc = getaddrinfo(tcp_host, tcp_port, &hints, &ai);

		if (rc)
			die("%s: %s", tcp_host, gai_strerror(rc));
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen))
			die("%s: connect: %s (is nmrouter running with api.tcp?)", tcp_host,
			    strerror(errno));
		freeaddrinfo(ai);
	} else {
		struct sockaddr_un sun = {.sun_family = AF_UNIX};

		if (strlen(sock_path) >= sizeof(sun.sun_path))
			die("%s: %s", sock_path, "path too long");
		strcpy(sun.sun_path, sock_path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)))
			die("%s: connect: %s (is nmrouter running? see -s)", sock_path,
			    strerror(errno));
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("send: %s%s", strerror(errno), "");
		p += w;
		n -= w;
	}
}

/* One request, Connection: close; the whole answer is read until EOF. */
static struct resp request(const char *method, const char *path, const char *body, size_t blen)
{
	struct resp r = {0};
	char head[1024], *buf = NULL, *hend;
	size_t len = 0, cap = 0;
	int fd = connect_server(), n;

	n = snprintf(head, sizeof(head),
	             "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
	             "Content-Type: application/json\r\nContent-Length: %zu\r\n%s%s%s\r\n",
	             method, path, blen, token ? "Authorization: Bearer " : "", token ? token : "",
	             token ? "\r\n" : "");
	if (n >= (int)sizeof(head))
		die("%s: %s", path, "request too long");
	write_all(fd, head, n);
	if (blen)
		write_all(fd, body, blen);
	for (;;) {
		ssize_t got;

		if (cap - len < 65536) {
			cap = cap ? cap * 2 : 131072;
			buf = realloc(buf, cap + 1);
			if (!buf)
				die("%s%s", "out of memory", "");
		}
		got = read(fd, buf + len, cap - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			die("receive: %s%s", strerror(errno), errno == EAGAIN ? " (timeout)" : "");
		if (got == 0)
			break;
		len += got;
	}
	close(fd);
	if (!buf)
		die("%s: %s", path, "the server closed the connection without an answer");
	buf[len] = 0;
	if (sscanf(buf, "HTTP/1.%*d %d", &r.status) != 1 || !(hend = strstr(buf, "\r\n\r\n")))
		die("%s: %s", path, "not an HTTP answer");
	r.body = hend + 4;
	r.len = len - (r.body - buf);
	memmove(buf, r.body, r.len + 1);
	r.body = buf;
	return r;
}

/* Exits with the server's message on an error status; else returns the parsed body. */
static json_t *check(struct resp *r)
{
	json_error_t je;
	json_t *j = json_loadb(r->body, r->len, 0, &je);

	if (r->status >= 300) {
		const char *msg = j ? json_string_value(json_object_get(j, "error")) : NULL;

		fprintf(stderr, "nmctl: %s (HTTP %d)\n", msg ? msg : r->body, r->status);
		exit(1);
	}
	return j;
}

/* Appends &key=val (percent-encoded) to q[cap]; a query that does not fit is a usage error. */
static void append_q(char *q, size_t cap, const char *key, const char *val)
{
	size_t n = strlen(q);
	const char *p;

	n += snprintf(q + n, cap - n, "%s%s=", strchr(q, '?') ? "&" : "?", key);
	for (p = val; *p && n + 4 < cap; p++) {
		unsigned char c = *p;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("-._~:/", c))
			q[n++] = c;
		else
			n += snprintf(q + n, cap - n, "%%%02X", c);
	}
	if (*p || n + 4 >= cap) {
		fprintf(stderr, "nmctl: %s: arguments too long\n", key);
		exit(2);
	}
	q[n] = 0;
}

/* Prints the body for -j, or returns 0 to let the caller format it. */
static int raw(struct resp *r)
{
	if (!json_out)
		return 0;
	fwrite(r->body, 1, r->len, stdout);
	return 1;
}

/* GET q filtered by "KEY VALUE" pairs of argv[1..] (KEY one of the space-separated `keys`,
 * "proto" meaning "protocol"). Returns the parsed list, or NULL when -j printed it already. */
static json_t *list_get(char *q, size_t cap, int argc, char **argv, const char *keys)
{
	struct resp r;
	int k;

	for (k = 1; k + 1 < argc; k += 2) {
		const char *key = !strcmp(argv[k], "proto") ? "protocol" : argv[k], *w = keys;
		size_t n = strlen(key), t;

		while (*w && !((t = strcspn(w, " ")) == n && !strncmp(w, key, n)))
			w += t + !!w[t];
		if (!*w)
			usage();
		append_q(q, cap, key, argv[k + 1]);
	}
	if (k < argc)
		usage();
	r = request("GET", q, NULL, 0);
	json_t *j = check(&r);
	if (raw(&r)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static const char *jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static unsigned long long jnum(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static void print_change(struct resp *r)
{
	json_t *j = check(r);

	if (raw(r))
		return;
	printf("ok, generation %llu\n", jnum(j, "generation"));
	json_decref(j);
}

/* ------------------------------------------------------------------ route */

/* Parses "PREFIX [via GW] [dev NAME]" into a route object (and a query). */
static json_t *route_args(int argc, char **argv, char *q, size_t qcap)
{
	json_t *o = json_object();
	int i;

	if (argc < 1)
		usage();
	json_object_set_new(o, "dst", json_string(argv[0]));
	append_q(q, qcap, "dst", argv[0]);
	for (i = 1; i < argc; i += 2) {
		if (i + 1 >= argc)
			usage();
		if (!strcmp(argv[i], "via") || !strcmp(argv[i], "gateway")) {
			json_object_set_new(o, "gateway", json_string(argv[i + 1]));
			append_q(q, qcap, "gateway", argv[i + 1]);
		} else if (!strcmp(argv[i], "dev")) {
			json_object_set_new(o, "dev", json_string(argv[i + 1]));
			append_q(q, qcap, "dev", argv[i + 1]);
		} else {
			fprintf(stderr, "nmctl: route: unknown argument \"%s\"\n", argv[i]);
			exit(2);
		}
	}
	return o;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	size_t cap = 1 << 20, n = 0;
	char *p = malloc(cap);

	if (!f)
		die("%s: %s", path, strerror(errno));
	while (p) {
		n += fread(p + n, 1, cap - n, f);
		if (n < cap)
			break;
		cap *= 2;
		p = realloc(p, cap);
	}
	if (!p || ferror(f))
		die("%s: %s", path, p ? "read error" : "out of memory");
	if (f != stdin)
		fclose(f);
	*len = n;
	return p;
}

static int route_cmd(int argc, char **argv)
{
	const char *cmd = argc ? argv[0] : "show";
	char q[1024] = "/v1/routes";
	struct resp r;

	if (!strcmp(cmd, "show") || !strcmp(cmd, "list") || !strcmp(cmd, "ls")) {
		json_t *j = list_get(q, sizeof(q), argc, argv, "dst dev protocol"), *v;
		size_t i;

		if (!j)
			return 0;
		json_array_foreach(j, i, v)
		{
			printf("%s", jstr(v, "dst"));
			if (jstr(v, "gateway"))
				printf(" via %s", jstr(v, "gateway"));
			if (jstr(v, "dev"))
				printf(" dev %s", jstr(v, "dev"));
			if (jstr(v, "protocol"))
				printf(" proto %s", jstr(v, "protocol"));
			if (jstr(v, "scope"))
				printf(" scope %s", jstr(v, "scope"));
			printf("\n");
		}
		json_decref(j);
		return 0;
	}
	if (!strcmp(cmd, "add") || !strcmp(cmd, "del") || !strcmp(cmd, "delete")) {
		json_t *o = route_args(argc - 1, argv + 1, q, sizeof(q));

		if (cmd[0] == 'a') {
			char *body = json_dumps(o, JSON_COMPACT);

			r = request("POST", "/v1/routes", body, strlen(body));
			free(body);
		} else {
			r = request("DELETE", q, NULL, 0);
		}
		json_decref(o);
		print_change(&r);
		return 0;
	}
	if (!strcmp(cmd, "replace")) {
		const char *file = NULL;
		int dry = 0, k;
		size_t len;
		char *body;
		json_t *j;

		for (k = 1; k < argc; k++) {
			if (!strcmp(argv[k], "-f") && k + 1 < argc)
				file = argv[++k];
			else if (!strcmp(argv[k], "--dry-run") || !strcmp(argv[k], "-n"))
				dry = 1;
			else
				usage();
		}
		if (!file)
			usage();
		body = read_file(file, &len);
		r = request("PUT", dry ? "/v1/routes?dry_run=1" : "/v1/routes", body, len);
		free(body);
		j = check(&r);
		if (raw(&r))
			return 0;
		printf("%s %llu routes: %llu added, %llu removed, generation %llu\n",
		       dry ? "would replace with" : "replaced with", jnum(j, "routes"),
		       jnum(j, "adds"), jnum(j, "dels"), jnum(j, "generation"));
		json_decref(j);
		return 0;
	}
	usage();
	return 2;
}

/* ------------------------------------------------------------------ neigh */

static int neigh_cmd(int argc, char **argv)
{
	const char *cmd = argc ? argv[0] : "show";
	char q[1024] = "/v1/neigh";
	struct resp r;
	int k;

	if (!strcmp(cmd, "show") || !strcmp(cmd, "list") || !strcmp(cmd, "ls")) {
		json_t *j = list_get(q, sizeof(q), argc, argv, "dst dev"), *v;
		size_t i;

		if (!j)
			return 0;
		json_array_foreach(j, i, v)
		{
			json_t *st = json_object_get(v, "state");

			printf("%s dev %s", jstr(v, "dst"), jstr(v, "dev"));
			if (jstr(v, "lladdr"))
				printf(" lladdr %s", jstr(v, "lladdr"));
			printf(" %s\n", json_string_value(json_array_get(st, 0)) ?: "");
		}
		json_decref(j);
		return 0;
	}
	if (!strcmp(cmd, "add") && argc >= 2) {
		json_t *o = json_object();
		char *body;

		json_object_set_new(o, "dst", json_string(argv[1]));
		for (k = 2; k + 1 < argc; k += 2) {
			if (strcmp(argv[k], "lladdr") && strcmp(argv[k], "dev"))
				usage();
			json_object_set_new(o, argv[k], json_string(argv[k + 1]));
		}
		if (k < argc)
			usage();
		body = json_dumps(o, JSON_COMPACT);
		r = request("POST", "/v1/neigh", body, strlen(body));
		free(body);
		json_decref(o);
		print_change(&r);
		return 0;
	}
	if ((!strcmp(cmd, "del") || !strcmp(cmd, "delete")) && argc >= 2) {
		append_q(q, sizeof(q), "dst", argv[1]);
		for (k = 2; k + 1 < argc; k += 2) {
			if (strcmp(argv[k], "dev"))
				usage();
			append_q(q, sizeof(q), "dev", argv[k + 1]);
		}
		if (k < argc)
			usage();
		r = request("DELETE", q, NULL, 0);
		print_change(&r);
		return 0;
	}
	usage();
	return 2;
}

/* ------------------------------------------------------------------ link, stats, config */

static int link_cmd(int argc, char **argv, int stats)
{
	struct resp r;
	json_t *j, *v, *a;
	size_t i, k;
	int n;

	for (n = 0; n < argc; n++) {
		if (!strcmp(argv[n], "-s"))
			stats = 1;
		else if (strcmp(argv[n], "show") && strcmp(argv[n], "list"))
			usage();
	}
	r = request("GET", "/v1/links", NULL, 0);
	j = check(&r);
	if (raw(&r))
		return 0;
	json_array_foreach(j, i, v)
	{
		printf("%zu: %s: mtu %llu spec %s mode %s%s\n    link/ether %s\n", i + 1,
		       jstr(v, "ifname"), jnum(v, "mtu"), jstr(v, "spec") ?: "",
		       jstr(v, "mode") ?: "",
		       json_is_true(json_object_get(v, "host")) ? " host" : "",
		       jstr(v, "address") ?: "");
		json_array_foreach(json_object_get(v, "addr_info"), k, a) printf(
		    "    %s %s/%llu\n", jstr(a, "family"), jstr(a, "local"), jnum(a, "prefixlen"));
		if (stats) {
			json_t *s = json_object_get(v, "stats64");
			json_t *rx = json_object_get(s, "rx"), *tx = json_object_get(s, "tx");

			printf("    RX:  bytes  packets  errors  dropped\n    %6llu %8llu %7llu "
			       "%8llu\n",
			       jnum(rx, "bytes"), jnum(rx, "packets"), jnum(rx, "errors"),
			       jnum(rx, "dropped"));
			printf("    TX:  bytes  packets  errors  dropped\n    %6llu %8llu %7llu "
			       "%8llu\n",
			       jnum(tx, "bytes"), jnum(tx, "packets"), jnum(tx, "errors"),
			       jnum(tx, "dropped"));
		}
	}
	json_decref(j);
	return 0;
}

static void print_counters(const char *title, json_t *s)
{
	const char *k;
	json_t *v;

	printf("%s:\n", title);
	json_object_foreach(s, k, v)
	{
		if (json_is_integer(v))
			printf("  %-14s %llu\n", k, (unsigned long long)json_integer_value(v));
	}
	json_object_foreach(json_object_get(s, "drops"), k, v)
	{
		if (json_integer_value(v))
			printf("  drop %-9s %llu\n", k, (unsigned long long)json_integer_value(v));
	}
}

static int stats_cmd(void)
{
	struct resp r = request("GET", "/v1/stats", NULL, 0);
	json_t *j = check(&r), *w;
	size_t i;

	if (raw(&r))
		return 0;
	json_array_foreach(json_object_get(j, "workers"), i, w)
	{
		char t[32];

		snprintf(t, sizeof(t), "worker %zu", i);
		print_counters(t, w);
	}
	print_counters("total", json_object_get(j, "total"));
	json_t *nt = json_object_get(j, "neighbor_table");
	if (nt)
		printf("neighbors: %llu in the table, %llu reclaimed\n", jnum(nt, "entries"),
		       jnum(nt, "reclaimed"));
	json_decref(j);
	return 0;
}

static int plain_get(const char *path)
{
	struct resp r = request("GET", path, NULL, 0);
	json_t *j = r.status < 300 ? NULL : check(&r);

	json_decref(j);
	fwrite(r.body, 1, r.len, stdout);
	return 0;
}

static int config_cmd(int argc, char **argv)
{
	if (argc > 1)
		usage();
	if (argc == 0 || !strcmp(argv[0], "show"))
		return plain_get("/v1/config");
	if (!strcmp(argv[0], "save")) {
		struct resp r = request("POST", "/v1/config/save", NULL, 0);
		json_t *j = check(&r);

		if (!raw(&r))
			printf("saved to %s (%llu bytes), generation %llu\n", jstr(j, "path"),
			       jnum(j, "bytes"), jnum(j, "generation"));
		json_decref(j);
		return 0;
	}
	usage();
	return 2;
}

static void set_url(const char *url)
{
	const char *h = url, *colon;

	if (!strncmp(h, "http://", 7))
		h += 7;
	if (*h == '[') {
		const char *rb = strchr(h, ']');

		if (!rb || rb[1] != ':')
			usage();
		snprintf(tcp_host, sizeof(tcp_host), "%.*s", (int)(rb - h - 1), h + 1);
		colon = rb + 1;
	} else {
		colon = strchr(h, ':');
		if (!colon)
			usage();
		snprintf(tcp_host, sizeof(tcp_host), "%.*s", (int)(colon - h), h);
	}
	snprintf(tcp_port, sizeof(tcp_port), "%.*s", (int)strcspn(colon + 1, "/"), colon + 1);
}

static int matches(const char *arg, const char *full)
{
	return *arg && !strncmp(arg, full, strlen(arg));
}

int main(int argc, char **argv)
{
	const char *obj;
	int i = 1;

	if (getenv("NMCTL_SOCKET"))
		sock_path = getenv("NMCTL_SOCKET");
	if (getenv("NMCTL_TOKEN"))
		token = getenv("NMCTL_TOKEN");
	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "-json"))
			json_out = 1;
		else if (!strcmp(argv[i], "-s") && i + 1 < argc)
			sock_path = argv[++i];
		else if (!strcmp(argv[i], "-H") && i + 1 < argc)
			set_url(argv[++i]);
		else if (!strcmp(argv[i], "-T") && i + 1 < argc)
			token = argv[++i];
		else
			usage();
	}
	if (i >= argc)
		usage();
	obj = argv[i++];
	argc -= i;
	argv += i;
	if (matches(obj, "route"))
		return route_cmd(argc, argv);
	if (matches(obj, "neighbor") || !strcmp(obj, "neigh"))
		return neigh_cmd(argc, argv);
	if (matches(obj, "link"))
		return link_cmd(argc, argv, 0);
	if (matches(obj, "stats") && argc == 0)
		return stats_cmd();
	if (matches(obj, "config"))
		return config_cmd(argc, argv);
	if (matches(obj, "metrics") && argc == 0)
		return plain_get("/metrics");
	if (matches(obj, "generation") && argc == 0)
		return plain_get("/v1/generation");
	usage();
	return 2;
}
