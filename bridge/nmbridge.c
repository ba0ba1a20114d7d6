/*
 * nmbridge — a two-port bridge on netmap rings, both directions, zero copy.
 *
 *   nmbridge -i SPEC_A [-i SPEC_B] [-b BURST] [-r SLOTS] [-w WAIT_SECS] [-c] [-a CPU] [-v]
 *
 * With one port, the second is the host rings of the same interface (netmap:IF^), which
 * joins the wire to the host stack, as netmap's bridge does.
 *
 * How a packet moves: when both ports share the buffer pool (any two AF_XDP, AF_PACKET
 * or TAP ports of this process, or two pipes of one group), the RX slot of one port and
 * a free TX slot of the other exchange buf_idx and both get NS_BUF_CHANGED: the payload
 * is never touched. Only when the pools differ, or with -c, is the payload copied (and
 * counted). head/cur of each ring are written once per burst.
 *
 * Threads: when both ports have the same number of ring pairs, ring pair i of A and ring
 * pair i of B are served by thread i, which owns those four rings outright (no locks).
 * Otherwise one thread serves all rings, round robin. -a CPU pins thread i to CPU+i.
 *
 * -r SLOTS sets the slots per ring (a power of two, 64..16384; default 1024). On AF_XDP the
 * receive side of a port has 2 x SLOTS buffers to absorb a burst (SLOTS in user slots, SLOTS
 * posted to the fill ring): when the kernel's receive work shares a core with this thread,
 * a burst that arrives while the thread waits for the core is dropped once those run out.
 *
 * SIGUSR1 prints the totals so far; SIGINT/SIGTERM/SIGHUP stop cleanly (ports closed, XDP
 * programs detached, TAP devices removed) after printing totals and the buffer audit.
 *
 * Backpressure: a packet stays in its RX slot until the other side has a free TX slot;
 * it is never dropped here. Drops happen where the kernel reports them (an RX ring or
 * fill ring that ran empty) and are shown per direction with -v and at exit.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "nmport.h"

#define MAX_THREADS NMPORT_MAX_RINGS

static volatile sig_atomic_t stop, dump;

struct dir_stats {
	_Atomic uint64_t pkts, bytes, copies, batches;
};

struct worker {
	pthread_t tid;
	int id, cpu;
	struct nmport *a, *b;
	unsigned first, step; /* ring pairs first, first+step, ... */
	unsigned nrings;
	int zcopy;
	uint32_t burst;
	struct dir_stats ab, ba;
};

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		dump = 1;
	else
		stop = 1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/*
 * Moves up to `burst` packets from rx to tx. Returns how many moved.
 * Zero copy: swap the buffers; copy mode: copy the payload into the TX slot's buffer.
 */
static uint32_t forward(struct netmap_ring *rx, struct netmap_ring *tx, uint32_t burst, int zcopy,
                        struct dir_stats *st)
{
	uint32_t n = nm_ring_space(rx), m = nm_ring_space(tx);
	if (n > m)
		n = m;
	if (n > burst)
		n = burst;
	if (!n)
		return 0;
	uint32_t ri = rx->head, ti = tx->head;
	uint64_t bytes = 0;
	if (zcopy) {
		for (uint32_t k = 0; k < n; k++) {
			struct netmap_slot *rs = &rx->slot[ri], *ts = &tx->slot[ti];
			if (k + 1 < n)
				__builtin_prefetch(&rx->slot[nm_ring_next(rx, ri)]);
			nm_slot_swap(rs, ts);
			ts->len = rs->len;
			bytes += rs->len;
			ri = nm_ring_next(rx, ri);
			ti = nm_ring_next(tx, ti);
		}
	} else {
		for (uint32_t k = 0; k < n; k++) {
			struct netmap_slot *rs = &rx->slot[ri], *ts = &tx->slot[ti];
			uint16_t len = rs->len;
			memcpy(NETMAP_BUF(tx, ts->buf_idx), NETMAP_BUF(rx, rs->buf_idx), len);
			ts->len = len;
			bytes += len;
			ri = nm_ring_next(rx, ri);
			ti = nm_ring_next(tx, ti);
		}
		atomic_fetch_add_explicit(&st->copies, n, memory_order_relaxed);
	}
	nm_ring_advance(rx, ri);
	nm_ring_advance(tx, ti);
	/* Single writer: plain load + store, no locked instruction in the hot path. */
	atomic_store_explicit(&st->pkts, atomic_load_explicit(&st->pkts, memory_order_relaxed) + n,
	                      memory_order_relaxed);
	atomic_store_explicit(&st->bytes,
	                      atomic_load_explicit(&st->bytes, memory_order_relaxed) + bytes,
	                      memory_order_relaxed);
	atomic_store_explicit(&st->batches,
	                      atomic_load_explicit(&st->batches, memory_order_relaxed) + 1,
	                      memory_order_relaxed);
	return n;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct nmport_pollent pe[2 * MAX_THREADS];

	if (w->cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(w->cpu, &set);
		if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
			fprintf(stderr, "nmbridge: thread %d: cannot pin to CPU %d\n", w->id,
			        w->cpu);
	}
	while (!stop) {
		unsigned np = 0;
		for (unsigned r = w->first; r < w->nrings; r += w->step) {
			unsigned rb = r % w->b->nrings, ra = r % w->a->nrings;
			pe[np++] =
			    (struct nmport_pollent){.port = w->a, .ring = ra, .events = POLLIN};
			pe[np++] =
			    (struct nmport_pollent){.port = w->b, .ring = rb, .events = POLLIN};
		}
		int rc = nmport_poll(pe, np, 500);
		if (rc < 0 && rc != -EINTR) {
			fprintf(stderr, "nmbridge: poll: %s\n", strerror(-rc));
			stop = 1;
			break;
		}
		for (unsigned r = w->first; r < w->nrings; r += w->step) {
			unsigned ra = r % w->a->nrings, rb = r % w->b->nrings;
			uint32_t n1 = forward(w->a->ring[ra].rx, w->b->ring[rb].tx, w->burst,
			                      w->zcopy, &w->ab);
			uint32_t n2 = forward(w->b->ring[rb].rx, w->a->ring[ra].tx, w->burst,
			                      w->zcopy, &w->ba);
			/* Always sync TX: it sends what we queued and reaps completions. */
			(void)n1;
			(void)n2;
			nmport_txsync(w->b, rb);
			nmport_txsync(w->a, ra);
		}
	}
	return NULL;
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: nmbridge -i SPEC_A [-i SPEC_B] [-b BURST] [-r SLOTS] [-w WAIT_SECS] [-c] "
	        "[-a CPU] [-v]\n"
	        "  one -i netmap:IF bridges IF with its host rings (netmap:IF^)\n"
	        "  -b BURST  slots moved per ring per round (default 512)\n"
	        "  -r SLOTS  slots per ring (power of two, 64..16384; default 1024)\n"
	        "  -w SECS   wait before forwarding (default 0)\n"
	        "  -c        copy payloads even when the ports could swap buffers\n"
	        "  -a CPU    pin thread i to CPU+i\n"
	        "  -v        print per-second rates per direction\n");
	exit(2);
}

/* Numeric options: the whole argument must be a number in [lo, hi], or nmbridge exits 2
 * naming it (strtoul alone wraps 2^32 + 64 to 64; atoi/strtod read "abc" as 0). */
static double opt_num(int opt, const char *arg, double lo, double hi, int integer)
{
	char *e;
	errno = 0;
	double v = integer ? (double)strtoull(arg, &e, 0) : strtod(arg, &e);
	if (e == arg || *e || errno || (integer && (*arg < '0' || *arg > '9')) ||
	    !(v >= lo && v <= hi)) {
		fprintf(stderr, "nmbridge: -%c %s: want %s in %g..%g\n", opt, arg,
		        integer ? "an integer" : "a number", lo, hi);
		exit(2);
	}
	return v;
}

struct totals {
	uint64_t pkts[2], bytes[2], copies, batches[2];
	uint64_t kdrops[2];
};

static void sum(struct worker *w, int nw, struct nmport *a, struct nmport *b, struct totals *t)
{
	memset(t, 0, sizeof(*t));
	for (int i = 0; i < nw; i++) {
		t->pkts[0] += atomic_load(&w[i].ab.pkts);
		t->pkts[1] += atomic_load(&w[i].ba.pkts);
		t->bytes[0] += atomic_load(&w[i].ab.bytes);
		t->bytes[1] += atomic_load(&w[i].ba.bytes);
		t->batches[0] += atomic_load(&w[i].ab.batches);
		t->batches[1] += atomic_load(&w[i].ba.batches);
		t->copies += atomic_load(&w[i].ab.copies) + atomic_load(&w[i].ba.copies);
	}
	struct nmport_ring_stats sa, sb;
	nmport_stats(a, &sa);
	nmport_stats(b, &sb);
	t->kdrops[0] = sa.rx_dropped;
	t->kdrops[1] = sb.rx_dropped;
}

int main(int argc, char **argv)
{
	const char *spec[2] = {NULL, NULL};
	char host_spec[64];
	int nspec = 0, copy = 0, cpu = -1, verbose = 0, opt;
	uint32_t burst = 512;
	struct nmport_opts po = {0};
	double wait = 0;

	while ((opt = getopt(argc, argv, "i:b:r:w:ca:vh")) != -1) {
		switch (opt) {
		case 'i':
			if (nspec == 2) {
				fprintf(stderr, "nmbridge: at most two -i\n");
				return 2;
			}
			spec[nspec++] = optarg;
			break;
		case 'b':
			burst = (uint32_t)opt_num(opt, optarg, 1, 8192, 1);
			break;
		case 'r':
			po.ring_size = (uint32_t)opt_num(opt, optarg, 64, 16384, 1);
			if (po.ring_size & (po.ring_size - 1)) {
				fprintf(stderr, "nmbridge: -r %s: want a power of two, 64..16384\n",
				        optarg);
				return 2;
			}
			break;
		case 'w':
			wait = opt_num(opt, optarg, 0, 1e9, 0);
			break;
		case 'c':
			copy = 1;
			break;
		case 'a':
			cpu = (int)opt_num(opt, optarg, 0, CPU_SETSIZE - 1, 1);
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
		}
	}
	if (nspec == 0 || optind != argc)
		usage();
	if (nspec == 1) {
		/* netmap:IF -> netmap:IF^ ; anything else needs two ports. A '-' belongs to
		 * the name unless digits alone follow it (netmap:IF-N, a queue), as in the
		 * port layer's parser. */
		const char *s = spec[0], *dash = strrchr(s, '-');
		int queue = dash && dash[1] && strspn(dash + 1, "0123456789") == strlen(dash + 1);
		if (strncmp(s, "netmap:", 7) || strpbrk(s + 7, "^*{}/") || queue) {
			fprintf(stderr,
			        "nmbridge: %s: with one -i, give netmap:IF (bridged to its host "
			        "rings)\n",
			        s);
			return 2;
		}
		snprintf(host_spec, sizeof(host_spec), "%s^", s);
		spec[1] = host_spec;
	}

	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL); /* the terminal went away: still detach and clean up */
	sigaction(SIGUSR1, &sa, NULL);

	struct nmport *a = nmport_open(spec[0], &po);
	if (!a) {
		fprintf(stderr, "nmbridge: %s\n", nmport_errmsg());
		return 1;
	}
	struct nmport *b = nmport_open(spec[1], &po);
	if (!b) {
		fprintf(stderr, "nmbridge: %s\n", nmport_errmsg());
		nmport_close(a);
		return 1;
	}
	int zcopy = !copy && nmport_same_pool(a, b);
	int nw = a->nrings == b->nrings ? (int)a->nrings : 1;
	unsigned nrings = a->nrings > b->nrings ? a->nrings : b->nrings;
	fprintf(stderr, "nmbridge: %s <-> %s: %s, %d thread%s, burst %u\n", spec[0], spec[1],
	        zcopy  ? "zero copy (buffer swap)"
	        : copy ? "copy (-c)"
	               : "copy (separate pools)",
	        nw, nw == 1 ? "" : "s", burst);

	if (wait > 0) {
		struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
		nanosleep(&ts, NULL);
	}

	struct worker *w = calloc((size_t)nw, sizeof(*w));
	if (!w) {
		nmport_close(a);
		nmport_close(b);
		return 1;
	}
	double t0 = now_s();
	for (int i = 0; i < nw; i++) {
		w[i].id = i;
		w[i].cpu = cpu >= 0 ? cpu + i : -1;
		w[i].a = a;
		w[i].b = b;
		w[i].first = (unsigned)i;
		w[i].step = (unsigned)nw;
		w[i].nrings = nrings;
		w[i].zcopy = zcopy;
		w[i].burst = burst;
		if (pthread_create(&w[i].tid, NULL, worker_main, &w[i])) {
			fprintf(stderr, "nmbridge: cannot start thread %d\n", i);
			stop = 1;
			nw = i;
			break;
		}
	}

	struct totals last, cur;
	sum(w, nw, a, b, &last);
	double tl = now_s();
	while (!stop) {
		struct timespec ts = {0, 100000000};
		nanosleep(&ts, NULL);
		double t = now_s();
		if (dump) {
			/* SIGUSR1: totals so far, in the format of the exit line. */
			dump = 0;
			sum(w, nw, a, b, &cur);
			printf("nmbridge: totals: A->B %" PRIu64 " packets, B->A %" PRIu64
			       " packets, copies %" PRIu64 "\n",
			       cur.pkts[0], cur.pkts[1], cur.copies);
			fflush(stdout);
		}
		if (verbose && t - tl >= 1.0) {
			sum(w, nw, a, b, &cur);
			double dt = t - tl;
			fprintf(
			    stderr,
			    "A->B %.3f Mpps %.3f Gbps | B->A %.3f Mpps %.3f Gbps | drops A %" PRIu64
			    " B %" PRIu64 " | batch %.1f/%.1f\n",
			    (double)(cur.pkts[0] - last.pkts[0]) / dt / 1e6,
			    (double)(cur.bytes[0] - last.bytes[0]) * 8 / dt / 1e9,
			    (double)(cur.pkts[1] - last.pkts[1]) / dt / 1e6,
			    (double)(cur.bytes[1] - last.bytes[1]) * 8 / dt / 1e9,
			    cur.kdrops[0] - last.kdrops[0], cur.kdrops[1] - last.kdrops[1],
			    cur.batches[0] > last.batches[0]
			        ? (double)(cur.pkts[0] - last.pkts[0]) /
			              (double)(cur.batches[0] - last.batches[0])
			        : 0,
			    cur.batches[1] > last.batches[1]
			        ? (double)(cur.pkts[1] - last.pkts[1]) /
			              (double)(cur.batches[1] - last.batches[1])
			        : 0);
			last = cur;
			tl = t;
		}
	}
	for (int i = 0; i < nw; i++)
		pthread_join(w[i].tid, NULL);
	double t = now_s() - t0;
	sum(w, nw, a, b, &cur);
	printf("nmbridge: A->B %" PRIu64 " packets %" PRIu64 " bytes, B->A %" PRIu64
	       " packets %" PRIu64 " bytes, copies %" PRIu64 ", in %.1f s\n",
	       cur.pkts[0], cur.bytes[0], cur.pkts[1], cur.bytes[1], cur.copies, t);
	char msg[256];
	struct nmport *ports[2] = {a, b};
	int rc = 0;
	if (nmport_same_pool(a, b)) {
		rc = nm_pool_audit(a->pool, ports, 2, msg, sizeof(msg));
		printf("nmbridge: %s\n", msg);
	} else {
		int r1 = nm_pool_audit(a->pool, ports, 1, msg, sizeof(msg));
		printf("nmbridge: A: %s\n", msg);
		int r2 = nm_pool_audit(b->pool, ports + 1, 1, msg, sizeof(msg));
		printf("nmbridge: B: %s\n", msg);
		rc = r1 ? r1 : r2;
	}
	fflush(stdout);
	nmport_close(a);
	nmport_close(b);
	free(w);
	return rc ? 3 : 0;
}
