/*
 * port.c — opening ports from netmap-style specs, polling them, closing them.
 *
 * The spec grammar (see nmport.h):
 *   netmap:NAME[-Q | ^ | * | {N | }N][/opt[,opt...]]     opt: xdp packet drv skb
 * Parsing is strict: anything left over is an error that names the spec. Opening is
 * layered like libnetmap's prepare + open: parse, check the interface, then open ring
 * pairs one by one; a failure closes the pairs already open, so nothing is left behind.
 */
#include <errno.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>
#include <linux/if_packet.h>
#include <linux/if_xdp.h>
#include "nm_internal.h"

static __thread char errbuf[NMPORT_ERRLEN];

void nm_seterr(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	va_end(ap);
}

const char *nm_geterr(void)
{
	return errbuf;
}

const char *nmport_errmsg(void)
{
	return errbuf;
}

int nm_if_info(struct nmport *p, const char *ifname)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	int rc = 0;
	if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) {
		rc = -errno;
		goto out;
	}
	p->ifindex = ifr.ifr_ifindex;
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) == 0)
		memcpy(p->mac, ifr.ifr_hwaddr.sa_data, 6);
	if (ioctl(fd, SIOCGIFMTU, &ifr) == 0)
		p->mtu = (uint32_t)ifr.ifr_mtu;
out:
	close(fd);
	return rc;
}

int nm_if_nqueues(const char *ifname)
{
	char path[128];
	snprintf(path, sizeof(path), "/sys/class/net/%s/queues", ifname);
	DIR *d = opendir(path);
	if (!d)
		return 1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "rx-", 3))
			n++;
	closedir(d);
	return n > 0 ? n : 1;
}

/* ---- spec parsing ---- */

enum spec_kind { SPEC_HW_ALL, SPEC_HW_ONE, SPEC_HOST, SPEC_HW_HOST, SPEC_PIPE_M, SPEC_PIPE_S };

struct spec {
	enum spec_kind kind;
	char name[IFNAMSIZ];
	int num; /* queue or pipe id */
	enum nm_backend backend;
	enum nm_xdp_mode xdp_mode;
};

static int parse_num(const char *s, const char **end, int *out)
{
	char *e;
	if (*s < '0' || *s > '9')
		return -1;
	long v = strtol(s, &e, 10);
	if (v < 0 || v > 4095)
		return -1;
	*out = (int)v;
	*end = e;
	return 0;
}

static int parse_spec(const char *spec, struct spec *sp)
{
	memset(sp, 0, sizeof(*sp));
	if (!spec || !*spec) {
		nm_seterr("empty port spec; expected netmap:IF, netmap:IF-N, netmap:IF^, "
		          "netmap:IF*, netmap:NAME{N or netmap:NAME}N");
		return -EINVAL;
	}
	if (strncmp(spec, "netmap:", 7)) {
		nm_seterr("%s: not a port spec; expected netmap:IF (e.g. netmap:eth0)", spec);
		return -EINVAL;
	}
	const char *s = spec + 7;
	size_t n = strcspn(s, "-^*{}/");
	/* Interface names may contain '-': take the longest prefix that names a queue
	 * suffix only if what follows the last '-' is all digits. */
	const char *dash = NULL;
	for (const char *q = s; *q && !strchr("^*{}/", *q); q++)
		if (*q == '-')
			dash = q;
	if (dash) {
		const char *e = dash + 1;
		while (*e >= '0' && *e <= '9')
			e++;
		n = (e > dash + 1 && (*e == 0 || *e == '/')) ? (size_t)(dash - s)
		                                             : strcspn(s, "^*{}/");
	}
	if (n == 0) {
		nm_seterr("%s: missing interface or pipe name after 'netmap:'", spec);
		return -EINVAL;
	}
	if (n >= IFNAMSIZ) {
		nm_seterr("%s: name longer than %d characters", spec, IFNAMSIZ - 1);
		return -EINVAL;
	}
	memcpy(sp->name, s, n);
	s += n;
	sp->kind = SPEC_HW_ALL;
	switch (*s) {
	case '-':
		if (parse_num(s + 1, &s, &sp->num)) {
			nm_seterr("%s: expected a queue number after '-'", spec);
			return -EINVAL;
		}
		sp->kind = SPEC_HW_ONE;
		break;
	case '^':
		sp->kind = SPEC_HOST;
		s++;
		break;
	case '*':
		sp->kind = SPEC_HW_HOST;
		s++;
		break;
	case '{':
	case '}':
		sp->kind = *s == '{' ? SPEC_PIPE_M : SPEC_PIPE_S;
		if (parse_num(s + 1, &s, &sp->num)) {
			nm_seterr("%s: expected a pipe number after '%c'", spec,
			          sp->kind == SPEC_PIPE_M ? '{' : '}');
			return -EINVAL;
		}
		break;
	}
	if (*s == '/') {
		enum nm_backend seen_backend = NM_BE_AUTO;
		enum nm_xdp_mode seen_mode = NM_XDP_AUTO;
		char opts[64];
		snprintf(opts, sizeof(opts), "%s", s + 1);
		for (char *save, *t = strtok_r(opts, ",", &save); t;
		     t = strtok_r(NULL, ",", &save)) {
			if (!strcmp(t, "xdp"))
				sp->backend = NM_BE_XDP;
			else if (!strcmp(t, "packet"))
				sp->backend = NM_BE_PACKET;
			else if (!strcmp(t, "drv"))
				sp->xdp_mode = NM_XDP_DRV;
			else if (!strcmp(t, "skb"))
				sp->xdp_mode = NM_XDP_SKB;
			else {
				nm_seterr("%s: unknown option '%s' (known: xdp, packet, drv, skb)",
				          spec, t);
				return -EINVAL;
			}
			if (seen_backend && seen_backend != sp->backend) {
				nm_seterr("%s: conflicting options: xdp and packet", spec);
				return -EINVAL;
			}
			if (seen_mode && seen_mode != sp->xdp_mode) {
				nm_seterr("%s: conflicting options: drv and skb", spec);
				return -EINVAL;
			}
			seen_backend = sp->backend;
			seen_mode = sp->xdp_mode;
		}
		if (sp->backend == NM_BE_PACKET && sp->xdp_mode) {
			nm_seterr("%s: conflicting options: %s is an XDP mode, packet is not XDP",
			          spec, sp->xdp_mode == NM_XDP_DRV ? "drv" : "skb");
			return -EINVAL;
		}
		s += strlen(s);
	}
	if (*s) {
		nm_seterr("%s: unexpected '%s' after the name", spec, s);
		return -EINVAL;
	}
	return 0;
}

/* ---- open / close ---- */

static int open_hw_ring(struct nmport *p, struct nm_ringpair *rp, int qid,
                        const struct nmport_opts *o)
{
	int rc;
	if (o->backend == NM_BE_PACKET)
		return nm_packet_open(p, rp, qid, o);
	rc = nm_xdp_open(p, rp, qid, o, o->backend == NM_BE_XDP);
	if (rc == 0 || o->backend == NM_BE_XDP)
		return rc;
	char why[NMPORT_ERRLEN];
	snprintf(why, sizeof(why), "%s", nm_geterr());
	rc = nm_packet_open(p, rp, qid, o);
	if (rc == 0 && !o->quiet)
		fprintf(stderr, "%s: AF_XDP unavailable (%s); using AF_PACKET\n", p->spec, why);
	return rc;
}

struct nmport *nmport_open(const char *spec, const struct nmport_opts *opts)
{
	struct nmport_opts o = {0};
	struct spec sp;
	int rc;

	if (opts)
		o = *opts;
	if (!o.ring_size)
		o.ring_size = NM_DEF_RINGSIZE;
	if (o.ring_size < 64 || o.ring_size > 16384 || (o.ring_size & (o.ring_size - 1))) {
		nm_seterr("%s: ring size %u: want a power of two in 64..16384", spec ? spec : "",
		          o.ring_size);
		errno = EINVAL;
		return NULL;
	}
	rc = parse_spec(spec, &sp);
	if (rc) {
		errno = -rc;
		return NULL;
	}
	if (sp.backend)
		o.backend = sp.backend;
	if (sp.xdp_mode)
		o.xdp_mode = sp.xdp_mode;

	struct nmport *p = calloc(1, sizeof(*p));
	if (!p) {
		nm_seterr("%s: out of memory", spec);
		errno = ENOMEM;
		return NULL;
	}
	snprintf(p->spec, sizeof(p->spec), "%s", spec);
	snprintf(p->ifname, sizeof(p->ifname), "%s", sp.name);
	p->host_ring = -1;
	for (int i = 0; i < NMPORT_MAX_RINGS; i++)
		p->ring[i].fd = -1;

	if (sp.kind == SPEC_PIPE_M || sp.kind == SPEC_PIPE_S) {
		rc = nm_pipe_open(p, sp.name, sp.num, sp.kind == SPEC_PIPE_M, &o);
		if (rc)
			goto fail;
		goto opened;
	}

	rc = nm_if_info(p, sp.name);
	if (rc) {
		if (rc == -ENODEV)
			nm_seterr("%s: %s: no such interface; see `ip link`", spec, sp.name);
		else
			nm_seterr("%s: %s: %s", spec, sp.name, strerror(-rc));
		goto fail;
	}
	p->pool = nm_pool_default();
	if (!p->pool) {
		rc = -errno;
		goto fail;
	}
	int nq = nm_if_nqueues(sp.name);
	if (sp.kind == SPEC_HW_ONE && sp.num >= nq) {
		nm_seterr("%s: %s has %d queue%s (0..%d); no queue %d", spec, sp.name, nq,
		          nq == 1 ? "" : "s", nq - 1, sp.num);
		rc = -EINVAL;
		goto fail;
	}
	/* With a socket per queue (AF_XDP) every queue gets a ring pair, or frames hashed to
	 * the ones left out would never be seen: refuse what does not fit rather than open
	 * part of the interface. */
	int maxq = NMPORT_MAX_RINGS - (sp.kind == SPEC_HW_HOST ? 1 : 0);
	if (sp.kind == SPEC_HW_ALL || sp.kind == SPEC_HW_HOST || sp.kind == SPEC_HW_ONE) {
		int first = sp.kind == SPEC_HW_ONE ? sp.num : 0;
		int last = sp.kind == SPEC_HW_ONE ? sp.num : nq - 1;
		for (int q = first; q <= last; q++) {
			rc = open_hw_ring(p, &p->ring[p->nrings], q, &o);
			if (rc)
				goto fail;
			p->nrings++;
			/* The first ring decides the backend for all of them. AF_PACKET has no
			 * per-queue sockets: its one socket already sees every queue. */
			o.backend = p->ring[0].backend;
			if (o.backend == NM_BE_PACKET)
				break;
			if (last - first + 1 > maxq) {
				nm_seterr(
				    "%s: %s has %d queues; a port has at most %d: reduce them "
				    "(ethtool -L %s combined %d) or open queues one by one "
				    "(netmap:%s-N)",
				    spec, sp.name, nq, maxq, sp.name, maxq, sp.name);
				rc = -E2BIG;
				goto fail;
			}
		}
	}
	if (sp.kind == SPEC_HOST || sp.kind == SPEC_HW_HOST) {
		rc = nm_tap_open(p, &p->ring[p->nrings], &o);
		if (rc)
			goto fail;
		p->host_ring = (int)p->nrings++;
		if (sp.kind == SPEC_HOST)
			snprintf(p->mode, sizeof(p->mode), "TAP host rings");
	}
opened:
	if (!o.quiet)
		fprintf(stderr, "%s: opened, %u ring pair%s, %s, %u slots\n", p->spec, p->nrings,
		        p->nrings == 1 ? "" : "s", p->mode, p->ring[0].rx->num_slots);
	return p;
fail:
	nmport_close(p);
	errno = -rc;
	return NULL;
}

void nmport_close(struct nmport *p)
{
	if (!p)
		return;
	int e = errno;
	for (unsigned i = 0; i < NMPORT_MAX_RINGS; i++) {
		struct nm_ringpair *rp = &p->ring[i];
		if (rp->ops && rp->ops->close)
			rp->ops->close(p, rp);
	}
	free(p);
	errno = e;
}

int nmport_same_pool(const struct nmport *a, const struct nmport *b)
{
	return a && b && a->pool && a->pool == b->pool;
}

/*
 * Frames the kernel dropped before they reached an RX ring: AF_XDP counts them per socket
 * (no fill buffer, RX ring full) and never resets; AF_PACKET resets on every read, so the
 * reads are summed in the ring pair (only the stats caller reads them).
 */
static uint64_t kernel_rx_drops(const struct nm_ringpair *rp)
{
	if (rp->fd < 0)
		return 0;
	if (rp->backend == NM_BE_XDP) {
		struct xdp_statistics xs;
		socklen_t len = sizeof(xs);
		if (getsockopt(rp->fd, SOL_XDP, XDP_STATISTICS, &xs, &len))
			return 0;
		return xs.rx_dropped + xs.rx_ring_full;
	}
	if (rp->backend == NM_BE_PACKET) {
		struct tpacket_stats_v3 ps;
		socklen_t len = sizeof(ps);
		uint64_t *acc = (uint64_t *)&rp->kernel_drops;
		if (getsockopt(rp->fd, SOL_PACKET, PACKET_STATISTICS, &ps, &len) == 0)
			*acc += ps.tp_drops;
		return *acc;
	}
	return 0;
}

void nmport_stats(const struct nmport *p, struct nmport_ring_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < p->nrings; i++) {
		const struct nmport_ring_stats *s = &p->ring[i].st;
		out->rx_pkts += s->rx_pkts;
		out->rx_bytes += s->rx_bytes;
		out->tx_pkts += s->tx_pkts;
		out->tx_bytes += s->tx_bytes;
		out->rx_copies += s->rx_copies;
		out->tx_copies += s->tx_copies;
		out->tx_kicks += s->tx_kicks;
		out->rx_dropped += s->rx_dropped + kernel_rx_drops(&p->ring[i]);
		out->tx_errors += s->tx_errors;
	}
}

/* ---- poll ---- */

/* Syncs one ring of pair r of p (TX if tx, else RX): 1 if it then has slots for the user
 * (received packets, free TX slots), 0 if not, or -errno. */
static int sync_ready(struct nmport *p, unsigned r, int tx)
{
	int rc = tx ? nmport_txsync(p, r) : nmport_rxsync(p, r);
	if (rc < 0)
		return rc;
	return !nm_ring_empty(tx ? p->ring[r].tx : p->ring[r].rx);
}

static int poll_check(struct nmport_pollent *e, unsigned n)
{
	static const short ev[2] = {POLLIN, POLLOUT};
	int ready = 0;
	for (unsigned i = 0; i < n; i++) {
		e[i].revents = 0;
		for (int tx = 0; tx < 2; tx++) {
			if (!(e[i].events & ev[tx]))
				continue;
			int rc = sync_ready(e[i].port, e[i].ring, tx);
			if (rc < 0)
				return rc;
			if (rc)
				e[i].revents |= ev[tx];
		}
		if (e[i].revents)
			ready++;
	}
	return ready;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int nmport_poll(struct nmport_pollent *e, unsigned n, int timeout_ms)
{
	struct pollfd pfd[2 * NMPORT_MAX_RINGS];
	int64_t deadline = timeout_ms < 0 ? INT64_MAX : now_ms() + timeout_ms;

	if (n > 2 * NMPORT_MAX_RINGS)
		return -EINVAL;
	for (;;) {
		int ready = poll_check(e, n);
		if (ready != 0)
			return ready;
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return 0;
		unsigned nfd = 0;
		int nofd = 0;
		for (unsigned i = 0; i < n; i++) {
			int fd = e[i].port->ring[e[i].ring].fd;
			if (fd < 0) {
				nofd = 1;
				continue;
			}
			pfd[nfd].fd = fd;
			pfd[nfd].events = e[i].events & (POLLIN | POLLOUT);
			pfd[nfd].revents = 0;
			nfd++;
		}
		if (nofd) {
			/* Pipes have no fd: look again every 100 us. */
			struct timespec ts = {0, 100000};
			if (nfd)
				poll(pfd, nfd, 0);
			nanosleep(&ts, NULL);
			continue;
		}
		int rc = poll(pfd, nfd, left > 1000 ? 1000 : (int)left);
		if (rc < 0 && errno != EINTR)
			return -errno;
		if (rc < 0)
			return -EINTR;
	}
}
