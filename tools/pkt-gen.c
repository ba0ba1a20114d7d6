/*
 * pkt-gen — traffic generator and receiver on any nmbox port spec.
 *
 *   pkt-gen -i SPEC -f tx|rx|live [-l LEN] [-n COUNT] [-b BURST] [-R PPS] [-s RANGE]
 *           [-d RANGE] [-F DSTFILE] [-S MAC] [-D MAC] [-T MS] [-w SECS] [-t SECS] [-W SECS]
 *           [-V] [-A] [-j] [-q]
 *
 * tx fills TX slots with frame(seq) (tools/pktgen_frame.h) one burst at a time; rx counts
 * what arrives and, with -V, rebuilds frame(seq) for every packet and compares it byte for
 * byte, and follows the sequence numbers to count losses, reorders and duplicates; live
 * sends with XDP live frames (tools/xdp_live.c), the fastest generator on veth.
 * A line per interval (-T, default 1000 ms) gives pps, bps and the average batch; the
 * last line sums up, in the style of netmap's pkt-gen. -A audits buffer ownership at the
 * end (exit 3 if it does not hold); -j prints the summary as one JSON object too.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "nmport.h"
#include "tools/pktgen_frame.h"
#include "tools/xdp_live.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct cfg {
	const char *spec, *func, *dstfile;
	struct pg_frame_cfg f;
	uint64_t count;
	uint32_t burst;
	double rate, duration, wait, idle;
	int report_ms, verify, audit, json, quiet;
};

struct counters {
	uint64_t pkts, bytes, batches;
	uint64_t lost, reordered, dups, bad, foreign;
	uint64_t next_seq;
};

static void usage(void)
{
	fprintf(stderr,
	        "usage: pkt-gen -i SPEC -f tx|rx|live [options]\n"
	        "  -l LEN     frame length without FCS (60..1514, default 60)\n"
	        "  -n COUNT   packets to send / to receive before exiting (0 = no limit)\n"
	        "  -b BURST   slots per sync (default 512)\n"
	        "  -R PPS     pace at this rate (tx, live)\n"
	        "  -s IP[:PORT][-IP[:PORT]]   source range (default 10.0.0.1:1234)\n"
	        "  -d IP[:PORT][-IP[:PORT]]   destination range (default 10.1.0.1:1234)\n"
	        "  -F FILE    destinations, one IPv4 address a line (overrides -d addresses)\n"
	        "  -S MAC / -D MAC   source / destination MAC\n"
	        "  -T MS      report interval (default 1000; 0 = none)\n"
	        "  -w SECS    wait before sending (default 0)\n"
	        "  -t SECS    stop after this long\n"
	        "  -W SECS    rx: stop after this long without packets once some arrived\n"
	        "  -V         rx: verify every byte and the sequence\n"
	        "  -A         audit buffer ownership at exit\n"
	        "  -j         also print the summary as JSON\n"
	        "  -q         no per-port open line\n");
	exit(2);
}

/* Numeric options: the whole argument must be a number in [lo, hi], or pkt-gen exits 2
 * naming it (strtoul/strtod alone would take "1e6" as 1, "abc" as 0 = no limit). */
static uint64_t opt_uint(int opt, const char *arg, uint64_t lo, uint64_t hi)
{
	char *e;
	errno = 0;
	unsigned long long v = strtoull(arg, &e, 0);
	if (*arg < '0' || *arg > '9' || *e || errno || v < lo || v > hi) {
		fprintf(stderr, "pkt-gen: -%c %s: want an integer in %" PRIu64 "..%" PRIu64 "\n",
		        opt, arg, lo, hi);
		exit(2);
	}
	return v;
}

static double opt_double(int opt, const char *arg, double lo, double hi)
{
	char *e;
	errno = 0;
	double v = strtod(arg, &e);
	if (e == arg || *e || errno || !(v >= lo && v <= hi)) {
		fprintf(stderr, "pkt-gen: -%c %s: want a number in %g..%g\n", opt, arg, lo, hi);
		exit(2);
	}
	return v;
}

static int load_dsts(const char *path, struct pg_frame_cfg *f)
{
	FILE *fp = fopen(path, "r");
	if (!fp) {
		fprintf(stderr, "pkt-gen: %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t cap = 1024, n = 0;
	uint32_t *v = malloc(cap * sizeof(*v));
	char line[128];
	while (v && fgets(line, sizeof(line), fp)) {
		line[strcspn(line, " \t\r\n")] = 0;
		if (!line[0] || line[0] == '#')
			continue;
		struct in_addr a;
		if (inet_pton(AF_INET, line, &a) != 1) {
			fprintf(stderr, "pkt-gen: %s: bad address '%s'\n", path, line);
			free(v);
			fclose(fp);
			return -1;
		}
		if (n == cap) {
			cap *= 2;
			uint32_t *nv = realloc(v, cap * sizeof(*v));
			if (!nv)
				break;
			v = nv;
		}
		v[n++] = ntohl(a.s_addr);
	}
	fclose(fp);
	if (!v || n == 0) {
		fprintf(stderr, "pkt-gen: %s: no addresses\n", path);
		free(v);
		return -1;
	}
	f->dst_list = v;
	f->dst_count = (uint32_t)n;
	return 0;
}

static void report(const char *what, const struct counters *c, const struct counters *last,
                   double dt)
{
	double pps = (double)(c->pkts - last->pkts) / dt;
	double bps = (double)(c->bytes - last->bytes) * 8 / dt;
	double batch = c->batches > last->batches
	                   ? (double)(c->pkts - last->pkts) / (double)(c->batches - last->batches)
	                   : 0;
	fprintf(stderr, "%s: %.3f Mpps %.3f Gbps avg batch %.1f\n", what, pps / 1e6, bps / 1e9,
	        batch);
}

static void summary(const struct cfg *g, const char *verb, const struct counters *c, double t)
{
	double pps = t > 0 ? (double)c->pkts / t : 0;
	printf("%s %" PRIu64 " packets, %" PRIu64 " bytes, in %.3f s. Speed: %.0f pps, %.3f Gbps. "
	       "Average batch: %.1f\n",
	       verb, c->pkts, c->bytes, t, pps, t > 0 ? (double)c->bytes * 8 / t / 1e9 : 0,
	       c->batches ? (double)c->pkts / (double)c->batches : 0);
	if (g->verify)
		printf("Verified: lost %" PRIu64 ", reordered %" PRIu64 ", duplicates %" PRIu64
		       ", bad %" PRIu64 ", foreign %" PRIu64 "\n",
		       c->lost, c->reordered, c->dups, c->bad, c->foreign);
	if (g->json)
		printf("{\"func\": \"%s\", \"packets\": %" PRIu64 ", \"bytes\": %" PRIu64
		       ", \"seconds\": %.6f, \"pps\": %.1f, \"lost\": %" PRIu64
		       ", \"reordered\": %" PRIu64 ", \"duplicates\": %" PRIu64
		       ", \"bad\": %" PRIu64 "}\n",
		       g->func, c->pkts, c->bytes, t, pps, c->lost, c->reordered, c->dups, c->bad);
	fflush(stdout);
}

/* Sleeps until `sent` packets are due at the configured rate. */
static void pace(const struct cfg *g, double t0, uint64_t sent)
{
	if (g->rate <= 0)
		return;
	double due = t0 + (double)sent / g->rate;
	double d = due - now_s();
	if (d > 0) {
		struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
		nanosleep(&ts, NULL);
	}
}

static int do_tx(const struct cfg *g, struct nmport *p, struct counters *c)
{
	double t0 = now_s(), tlast = t0;
	struct counters last = *c;
	uint64_t seq = 0;
	struct nmport_pollent pe[NMPORT_MAX_RINGS];
	for (unsigned r = 0; r < p->nrings; r++)
		pe[r] = (struct nmport_pollent){.port = p, .ring = r, .events = POLLOUT};

	while (!stop && (!g->count || seq < g->count)) {
		if (g->duration > 0 && now_s() - t0 >= g->duration)
			break;
		int progress = 0;
		for (unsigned r = 0; r < p->nrings && !stop; r++) {
			struct netmap_ring *ring = p->ring[r].tx;
			uint32_t n = nm_ring_space(ring);
			if (n > g->burst)
				n = g->burst;
			if (g->count && n > g->count - seq)
				n = (uint32_t)(g->count - seq);
			if (g->rate > 0) {
				uint64_t due = (uint64_t)((now_s() - t0) * g->rate) + 1;
				if (due <= seq) {
					pace(g, t0, seq + 1);
					continue;
				}
				if (n > due - seq)
					n = (uint32_t)(due - seq);
			}
			if (!n)
				continue;
			uint32_t i = ring->head;
			for (uint32_t k = 0; k < n; k++) {
				struct netmap_slot *s = &ring->slot[i];
				pg_frame_build(&g->f, seq++,
				               (uint8_t *)NETMAP_BUF(ring, s->buf_idx));
				s->len = g->f.len;
				i = nm_ring_next(ring, i);
			}
			nm_ring_advance(ring, i);
			nmport_txsync(p, r);
			c->pkts += n;
			c->bytes += (uint64_t)n * g->f.len;
			c->batches++;
			progress = 1;
		}
		if (!progress && !stop && g->rate <= 0)
			nmport_poll(pe, p->nrings, 100);
		double t = now_s();
		if (g->report_ms && (t - tlast) * 1000 >= g->report_ms) {
			report("tx", c, &last, t - tlast);
			last = *c;
			tlast = t;
		}
	}
	/* Let the last descriptors go out and complete. */
	for (int k = 0; k < 200; k++) {
		int busy = 0;
		for (unsigned r = 0; r < p->nrings; r++) {
			nmport_txsync(p, r);
			struct netmap_ring *ring = p->ring[r].tx;
			if (nm_ring_space(ring) < ring->num_slots - 1)
				busy = 1;
		}
		if (!busy)
			break;
		usleep(1000);
	}
	return 0;
}

static void verify(const struct cfg *g, struct counters *c, const uint8_t *buf, uint32_t len,
                   uint8_t *expect)
{
	int64_t seq = pg_frame_seq(buf, len);
	if (seq < 0) {
		c->foreign++;
		return;
	}
	pg_frame_build(&g->f, (uint64_t)seq, expect);
	if (len != g->f.len || memcmp(buf, expect, len))
		c->bad++;
	if ((uint64_t)seq == c->next_seq) {
		c->next_seq++;
	} else if ((uint64_t)seq > c->next_seq) {
		c->lost += (uint64_t)seq - c->next_seq;
		c->next_seq = (uint64_t)seq + 1;
	} else {
		/* Earlier than expected: a reorder that fills a gap counted as lost, or a dup. */
		if (c->lost > 0) {
			c->lost--;
			c->reordered++;
		} else {
			c->dups++;
		}
	}
}

static int do_rx(const struct cfg *g, struct nmport *p, struct counters *c, double *t_first,
                 double *t_last)
{
	double t0 = now_s(), tlast = t0, tpkt = 0;
	struct counters last = *c;
	uint8_t expect[2048];
	struct nmport_pollent pe[NMPORT_MAX_RINGS];
	for (unsigned r = 0; r < p->nrings; r++)
		pe[r] = (struct nmport_pollent){.port = p, .ring = r, .events = POLLIN};

	while (!stop && (!g->count || c->pkts < g->count)) {
		double t = now_s();
		if (g->duration > 0 && t - t0 >= g->duration)
			break;
		if (g->idle > 0 && tpkt > 0 && t - tpkt >= g->idle)
			break;
		int rc = nmport_poll(pe, p->nrings, 100);
		if (rc < 0 && rc != -EINTR) {
			fprintf(stderr, "pkt-gen: poll: %s\n", strerror(-rc));
			return -1;
		}
		for (unsigned r = 0; r < p->nrings; r++) {
			struct netmap_ring *ring = p->ring[r].rx;
			uint32_t n = nm_ring_space(ring);
			if (!n)
				continue;
			uint32_t i = ring->head;
			uint64_t bytes = 0;
			for (uint32_t k = 0; k < n; k++) {
				struct netmap_slot *s = &ring->slot[i];
				bytes += s->len;
				if (g->verify)
					verify(g, c, (uint8_t *)NETMAP_BUF(ring, s->buf_idx),
					       s->len, expect);
				i = nm_ring_next(ring, i);
			}
			nm_ring_advance(ring, i);
			c->pkts += n;
			c->bytes += bytes;
			c->batches++;
			tpkt = now_s();
			if (*t_first == 0)
				*t_first = tpkt;
			*t_last = tpkt;
		}
		t = now_s();
		if (g->report_ms && (t - tlast) * 1000 >= g->report_ms) {
			report("rx", c, &last, t - tlast);
			last = *c;
			tlast = t;
		}
	}
	return 0;
}

static int do_live(const struct cfg *g, struct counters *c)
{
	char ifname[IFNAMSIZ] = "";
	const char *s = g->spec + 7;
	size_t n = strcspn(s, "-^*{}/");
	if (strncmp(g->spec, "netmap:", 7) || n == 0 || n >= IFNAMSIZ || s[n]) {
		fprintf(stderr, "pkt-gen: %s: live mode takes netmap:IF (a whole interface)\n",
		        g->spec);
		return -1;
	}
	memcpy(ifname, s, n);
	int ifindex = (int)if_nametoindex(ifname);
	if (!ifindex) {
		fprintf(stderr, "pkt-gen: %s: %s: no such interface; see `ip link`\n", g->spec,
		        ifname);
		return -1;
	}
	struct xdp_live lv;
	int rc = xdp_live_open(&lv, ifindex, &g->f);
	if (rc) {
		fprintf(stderr, "pkt-gen: %s: cannot load the XDP live-frames program: %s\n",
		        g->spec, strerror(-rc));
		return -1;
	}
	if (!g->quiet)
		fprintf(stderr, "%s: XDP live frames (BPF_PROG_RUN), %u destination%s\n", g->spec,
		        lv.mask + 1, lv.mask ? "s" : "");
	double t0 = now_s(), tlast = t0;
	struct counters last = *c;
	/* Each BPF_PROG_RUN call costs ~25 ms of setup and teardown (page pool, an RCU
	 * grace period), so calls must be long: pacing with -R is coarse, in bursts of at
	 * least 64k frames at full speed followed by a pause. */
	uint32_t chunk = 1u << 17;
	if (g->rate > 0 && chunk > g->rate / 10)
		chunk = g->rate / 10 < 65536 ? 65536 : (uint32_t)(g->rate / 10);
	while (!stop && (!g->count || c->pkts < g->count)) {
		if (g->duration > 0 && now_s() - t0 >= g->duration)
			break;
		uint32_t k = chunk;
		if (g->count && k > g->count - c->pkts)
			k = (uint32_t)(g->count - c->pkts);
		rc = xdp_live_send(&lv, k);
		if (rc == -EINTR || (rc && stop))
			break; /* a signal cut the run short: a normal stop */
		if (rc) {
			fprintf(stderr, "pkt-gen: %s: BPF_PROG_RUN: %s\n", g->spec, strerror(-rc));
			xdp_live_close(&lv);
			return -1;
		}
		c->pkts += k;
		c->bytes += (uint64_t)k * g->f.len;
		c->batches++;
		pace(g, t0, c->pkts);
		double t = now_s();
		if (g->report_ms && (t - tlast) * 1000 >= g->report_ms) {
			report("live", c, &last, t - tlast);
			last = *c;
			tlast = t;
		}
	}
	xdp_live_close(&lv);
	return 0;
}

int main(int argc, char **argv)
{
	struct cfg g = {.burst = 512, .report_ms = 1000};
	struct nmport_opts po = {0};
	int opt;

	g.f.len = 60;
	pg_parse_range("10.0.0.1:1234", &g.f.src);
	pg_parse_range("10.1.0.1:1234", &g.f.dst);
	pg_parse_mac("02:00:00:00:00:01", g.f.src_mac);
	pg_parse_mac("ff:ff:ff:ff:ff:ff", g.f.dst_mac);

	while ((opt = getopt(argc, argv, "i:f:l:n:b:R:s:d:F:S:D:T:w:t:W:VAjqh")) != -1) {
		switch (opt) {
		case 'i':
			g.spec = optarg;
			break;
		case 'f':
			g.func = optarg;
			break;
		case 'l':
			g.f.len = (uint16_t)opt_uint(opt, optarg, PG_MIN_LEN, 1514);
			break;
		case 'n':
			g.count = opt_uint(opt, optarg, 0, UINT64_MAX);
			break;
		case 'b':
			g.burst = (uint32_t)opt_uint(opt, optarg, 1, UINT32_MAX);
			break;
		case 'R':
			g.rate = opt_double(opt, optarg, 0, 1e12);
			break;
		case 's':
		case 'd':
			if (pg_parse_range(optarg, opt == 's' ? &g.f.src : &g.f.dst)) {
				fprintf(stderr, "pkt-gen: -%c %s: want IP[:PORT][-IP[:PORT]]\n",
				        opt, optarg);
				return 2;
			}
			break;
		case 'F':
			g.dstfile = optarg;
			break;
		case 'S':
		case 'D':
			if (pg_parse_mac(optarg, opt == 'S' ? g.f.src_mac : g.f.dst_mac)) {
				fprintf(stderr, "pkt-gen: -%c %s: want aa:bb:cc:dd:ee:ff\n", opt,
				        optarg);
				return 2;
			}
			break;
		case 'T':
			g.report_ms = (int)opt_uint(opt, optarg, 0, 86400000);
			break;
		case 'w':
			g.wait = opt_double(opt, optarg, 0, 1e9);
			break;
		case 't':
			g.duration = opt_double(opt, optarg, 0, 1e9);
			break;
		case 'W':
			g.idle = opt_double(opt, optarg, 0, 1e9);
			break;
		case 'V':
			g.verify = 1;
			break;
		case 'A':
			g.audit = 1;
			break;
		case 'j':
			g.json = 1;
			break;
		case 'q':
			g.quiet = po.quiet = 1;
			break;
		default:
			usage();
		}
	}
	if (!g.spec || !g.func || optind != argc)
		usage();
	if (strcmp(g.func, "tx") && strcmp(g.func, "rx") && strcmp(g.func, "live")) {
		fprintf(stderr, "pkt-gen: -f %s: want tx, rx or live\n", g.func);
		return 2;
	}
	if (g.dstfile && load_dsts(g.dstfile, &g.f))
		return 2;

	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	if (g.wait > 0) {
		struct timespec ts = {(time_t)g.wait,
		                      (long)((g.wait - (double)(time_t)g.wait) * 1e9)};
		nanosleep(&ts, NULL);
	}

	struct counters c = {0};
	int rc = 0;
	if (!strcmp(g.func, "live")) {
		double t0 = now_s();
		rc = do_live(&g, &c);
		if (rc == 0)
			summary(&g, "Sent", &c, now_s() - t0);
		free(g.f.dst_list);
		return rc ? 1 : 0;
	}

	struct nmport *p = nmport_open(g.spec, &po);
	if (!p) {
		fprintf(stderr, "pkt-gen: %s\n", nmport_errmsg());
		return 1;
	}
	if (!strcmp(g.func, "tx")) {
		double t0 = now_s();
		rc = do_tx(&g, p, &c);
		summary(&g, "Sent", &c, now_s() - t0);
	} else {
		double t_first = 0, t_last = 0;
		rc = do_rx(&g, p, &c, &t_first, &t_last);
		summary(&g, "Received", &c, t_last > t_first ? t_last - t_first : 0);
	}
	if (g.audit) {
		char msg[256];
		struct nmport *ports[1] = {p};
		int a = nm_pool_audit(p->pool, ports, 1, msg, sizeof(msg));
		printf("%s\n", msg);
		if (a)
			rc = 3;
	}
	nmport_close(p);
	free(g.f.dst_list);
	return rc < 0 ? 1 : rc;
}
