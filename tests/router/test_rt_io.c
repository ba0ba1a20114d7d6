/*
 * test_rt_io.c — nmrouter's I/O layer (rt_io.c) with its engine, over netmap pipes in one
 * process: the router's ports p0 and p1 are the slave ends of two pipes, the test holds the
 * master ends. It feeds frames into p0 and never reads p1's master end, so p1's TX ring
 * fills up: what the counters then say about the packets that could not leave is the point.
 * No root, no interfaces; bounded waits only.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <urcu-qsbr.h>

#include "nmport.h"
#include "router/rt_io.h"
#include "tests/router/rt_test.h"

static const uint8_t G9[6] = {2, 0, 0, 0, 1, 0x99};
static struct rt *rt;
static struct nmport *m0, *m1; /* the master ends of p0's and p1's pipes */

/* ARP reply from 10.2.0.9 (G9) to p1. */
static unsigned mk_arp_reply(uint8_t *f)
{
	memset(f, 0, 60);
	memcpy(f, MAC1, 6);
	memcpy(f + 6, G9, 6);
	memcpy(f + 12, (uint8_t[]){0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 2}, 10);
	memcpy(f + 22, G9, 6);
	inet_pton(AF_INET, "10.2.0.9", f + 28);
	memcpy(f + 32, MAC1, 6);
	inet_pton(AF_INET, "10.2.0.1", f + 38);
	return 60;
}

static void pause_1ms(void)
{
	nanosleep(&(struct timespec){0, 1000000}, NULL);
}

/* Puts one frame on the master end's TX ring (waits up to 5 s for room) and syncs. */
static void feed(struct nmport *m, const uint8_t *f, unsigned len)
{
	struct netmap_ring *t = nmport_txring(m, 0);
	for (int k = 0; k < 5000 && nm_ring_empty(t); k++) {
		pause_1ms();
		nmport_txsync(m, 0);
	}
	CHECK(!nm_ring_empty(t));
	if (nm_ring_empty(t))
		return;
	struct netmap_slot *s = &t->slot[t->head];
	memcpy(NETMAP_BUF(t, s->buf_idx), f, len);
	s->len = (uint16_t)len;
	t->head = t->cur = nm_ring_next(t, t->head);
	nmport_txsync(m, 0);
}

static struct rt_stats stats(void)
{
	struct rt_stats s;
	rt_stats_get(rt, NULL, 0, &s);
	return s;
}

/* Waits up to 10 s for rx_packets >= rx and forwarded + tx_full >= out (pushing on what the
 * master ends still have queued); the sum. */
static struct rt_stats wait_for(uint64_t rx, uint64_t out)
{
	struct rt_stats s = stats();
	for (int k = 0; k < 10000; k++) {
		if (s.rx_packets >= rx && s.forwarded + s.drops[RT_DROP_TX_FULL] >= out)
			break;
		pause_1ms();
		nmport_txsync(m0, 0);
		nmport_txsync(m1, 0);
		s = stats();
	}
	CHECK(s.rx_packets >= rx);
	return s;
}

static void add_route(const char *dst, unsigned plen, const char *gw)
{
	struct rt_route r = {.family = AF_INET, .plen = (uint8_t)plen, .has_gw = 1};
	char err[256];
	inet_pton(AF_INET, dst, r.dst);
	inet_pton(AF_INET, gw, r.gw);
	CHECK(rt_route_add(rt, &r, 1, err, sizeof(err)) == 0);
}

/* Packets routed to a port whose TX ring is full count as tx_full and not also as forwarded:
 * the ones decided in a burst (flush_dest) and the held ones a resolution releases
 * (flush_extra). forwarded + tx_full is exactly what was routed (plus the ARP probe, which
 * cannot leave either). */
static void test_tx_full_not_forwarded(void)
{
	char g0[32], g1[32], s0[48], s1[48], err[256];
	snprintf(g0, sizeof(g0), "trio%da", (int)getpid() % 100000);
	snprintf(g1, sizeof(g1), "trio%db", (int)getpid() % 100000);
	struct nmport_opts o = {.ring_size = 64, .quiet = 1};
	snprintf(s0, sizeof(s0), "netmap:%s{0", g0);
	snprintf(s1, sizeof(s1), "netmap:%s{0", g1);
	m0 = nmport_open(s0, &o);
	m1 = nmport_open(s1, &o);
	CHECK(m0 && m1);
	if (!m0 || !m1) {
		fprintf(stderr, "%s\n", nmport_errmsg());
		return;
	}
	snprintf(s0, sizeof(s0), "netmap:%s}0", g0);
	snprintf(s1, sizeof(s1), "netmap:%s}0", g1);
	struct rt_port_cfg pc[2] = {
	    {.name = "p0", .spec = s0, .has_mac = 1, .ring_size = 64},
	    {.name = "p1", .spec = s1, .has_mac = 1, .ring_size = 64},
	};
	memcpy(pc[0].mac, MAC0, 6);
	memcpy(pc[1].mac, MAC1, 6);
	rt = rt_create();
	struct rt_io *io = rt_io_open(rt, pc, 2, err, sizeof(err));
	CHECK(io != NULL);
	if (!io) {
		fprintf(stderr, "rt_io_open: %s\n", err);
		return;
	}
	uint8_t a[16];
	inet_pton(AF_INET, "10.1.0.1", a);
	CHECK(rt_port_addr_add(rt, 0, AF_INET, a, 24, err, sizeof(err)) == 0);
	inet_pton(AF_INET, "10.2.0.1", a);
	CHECK(rt_port_addr_add(rt, 1, AF_INET, a, 24, err, sizeof(err)) == 0);
	add_route("10.82.0.0", 16, "10.2.0.2");
	add_route("10.83.0.0", 16, "10.2.0.9");
	struct rt_neigh nb = {.family = AF_INET, .dev = "p1"};
	inet_pton(AF_INET, "10.2.0.2", nb.dst);
	memcpy(nb.lladdr, (uint8_t[6]){2, 0, 0, 0, 1, 0x22}, 6);
	CHECK(rt_neigh_add(rt, &nb, err, sizeof(err)) == 0);
	CHECK(rt_io_start(io, 1, err, sizeof(err)) == 0);

	/* 300 packets to a resolved next hop on p1, whose ring takes far fewer */
	enum { N = 300 };
	uint8_t f[2048];
	for (unsigned k = 0; k < N; k++) {
		char d[32];
		snprintf(d, sizeof(d), "10.82.%u.%u", k / 250, k % 250 + 1);
		feed(m0, f, mk_udp4(f, MAC0, "10.1.0.2", d, 64));
	}
	struct rt_stats s = wait_for(N, N);
	uint64_t fwd1 = s.forwarded, full1 = s.drops[RT_DROP_TX_FULL];
	printf("test_rt_io: %d routed to a full ring: forwarded %llu, tx_full %llu\n", N,
	       (unsigned long long)fwd1, (unsigned long long)full1);
	CHECK(full1 > 0 && fwd1 < N);
	CHECK(fwd1 + full1 == N);

	/* 8 packets wait for 10.2.0.9 (its ARP request cannot leave: tx_full); the reply
	 * releases them onto the full ring: 8 more tx_full, no more forwarded */
	for (unsigned k = 0; k < 8; k++)
		feed(m0, f, mk_udp4(f, MAC0, "10.1.0.2", "10.83.0.1", 64));
	s = wait_for(N + 8, N + 1);
	CHECK(s.arp_nd_sent == 1 && s.drops[RT_DROP_HOLD_FULL] == 0);
	feed(m1, f, mk_arp_reply(f));
	s = wait_for(N + 9, N + 9);
	CHECK(s.consumed == 1);
	CHECK(s.forwarded == fwd1);
	CHECK(s.drops[RT_DROP_TX_FULL] == full1 + 9);

	rt_io_close(io);
	rt_destroy(rt);
	nmport_close(m0);
	nmport_close(m1);
}

int main(void)
{
	rcu_register_thread();
	test_tx_full_not_forwarded();
	rcu_unregister_thread();
	printf("test_rt_io: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
