/*
 * test_rt_engine.c — nmrouter's engine on synthetic frames, no ports.
 *
 * A two-port router (p0 10.1.0.1/24 fd01::1/64, p1 10.2.0.1/24 fd02::1/64) is built with the
 * real rt_core.c / rt_engine.c / FIB; frames are written by hand, passed to rt_burst(), and
 * the verdicts, rewritten bytes, checksums and counters are checked. The I/O hooks record
 * what the engine emits and holds. Each test has a one-line scenario above it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <urcu-qsbr.h>

#include "router/rt.h"
#include "tests/router/rt_test.h"

static const uint8_t GW2[6] = {2, 0, 0, 0, 0, 0x22}, GW3[6] = {2, 0, 0, 0, 0, 0x33};

/* ---------------------------------------------------------------- I/O hooks */

#define NBUF  128
#define NSENT 80
static uint8_t held_store[NBUF][2048];
static int held_used[NBUF];
static struct rt_pkt *cur_burst;
static struct {
	unsigned port, len;
	uint8_t f[2048];
} emitted[16], sent_held[NSENT];
static unsigned nemitted, nsent_held, nfreed;
static int alloc_left = -1; /* buffers t_alloc still hands out; -1: as many as there are */

static uint32_t t_steal(struct rt_worker *w, unsigned i)
{
	(void)w;
	for (unsigned b = 1; b < NBUF; b++)
		if (!held_used[b]) {
			held_used[b] = 1;
			memcpy(held_store[b], cur_burst[i].data, cur_burst[i].len);
			return b;
		}
	return 0;
}
static uint8_t *t_held_data(struct rt_worker *w, const struct rt_held *h)
{
	(void)w;
	return held_store[h->buf];
}
static void t_send_held(struct rt_worker *w, const struct rt_held *h, unsigned port, int fwd)
{
	w->st.forwarded += fwd != 0; /* on the (never full) test ring */
	if (nsent_held < NSENT) {
		sent_held[nsent_held].port = port;
		sent_held[nsent_held].len = h->len;
		memcpy(sent_held[nsent_held].f, held_store[h->buf], h->len);
		nsent_held++;
	}
	held_used[h->buf] = 0;
}
static void t_free_held(struct rt_worker *w, const struct rt_held *h)
{
	(void)w;
	held_used[h->buf] = 0;
	nfreed++;
}
static void t_emit(struct rt_worker *w, unsigned port, const uint8_t *f, unsigned len)
{
	(void)w;
	if (nemitted < 16) {
		emitted[nemitted].port = port;
		emitted[nemitted].len = len;
		memcpy(emitted[nemitted].f, f, len);
		nemitted++;
	}
}
static uint32_t t_alloc(struct rt_worker *w, unsigned port)
{
	(void)w;
	(void)port;
	if (alloc_left == 0)
		return 0;
	for (unsigned b = 1; b < NBUF; b++)
		if (!held_used[b]) {
			held_used[b] = 1;
			memset(held_store[b], 0xee, sizeof(held_store[b])); /* stale bytes */
			if (alloc_left > 0)
				alloc_left--;
			return b;
		}
	return 0;
}
static const struct rt_io_ops test_ops = {t_steal,     t_held_data, t_send_held,
                                          t_free_held, t_emit,      t_alloc};

/* ---------------------------------------------------------------- frame builders */

static void fix_ip4_csum(uint8_t *f)
{
	uint8_t *ip = f + 14;
	ip[10] = ip[11] = 0;
	uint16_t c = cksum(ip, (ip[0] & 15u) * 4, 0);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
}

static unsigned mk_ping4(uint8_t *f, const char *src, const char *dst)
{
	unsigned len = mk_udp4(f, MAC0, src, dst, 64);
	uint8_t *ip = f + 14, *ic = ip + 20;
	ip[9] = 1;
	fix_ip4_csum(f);
	memset(ic, 0, 8);
	ic[0] = 8;
	ic[5] = 1; /* id 0, seq 1 */
	uint16_t c = cksum(ic, 26, 0);
	ic[2] = (uint8_t)(c >> 8);
	ic[3] = (uint8_t)c;
	return len;
}

static void ip6(const char *s, uint8_t *a)
{
	inet_pton(AF_INET6, s, a);
}

static uint16_t cksum6(const uint8_t *ip, const uint8_t *l4, unsigned len, uint8_t nxt)
{
	uint8_t ph[40] = {0};
	memcpy(ph, ip + 8, 32);
	ph[34] = (uint8_t)(len >> 8);
	ph[35] = (uint8_t)len;
	ph[39] = nxt;
	uint32_t s = (uint16_t)~cksum(ph, 40, 0);
	return cksum(l4, len, s);
}

/* Ethernet + IPv6 + UDP with 18 bytes of payload */
static unsigned mk_udp6(uint8_t *f, const char *src, const char *dst, uint8_t hlim)
{
	memset(f, 0, 2048);
	memcpy(f, MAC0, 6);
	memcpy(f + 6, HA, 6);
	f[12] = 0x86;
	f[13] = 0xdd;
	uint8_t *ip = f + 14;
	ip[0] = 0x60;
	ip[5] = 26;
	ip[6] = 17;
	ip[7] = hlim;
	ip6(src, ip + 8);
	ip6(dst, ip + 24);
	ip[40] = 0x30;
	ip[41] = 0x39;
	ip[43] = 53;
	ip[45] = 26;
	uint16_t c = cksum6(ip, ip + 40, 26, 17);
	ip[46] = (uint8_t)(c >> 8);
	ip[47] = (uint8_t)c;
	return 14 + 40 + 26;
}

static unsigned mk_arp(uint8_t *f, uint16_t op, const uint8_t *sha, const char *spa,
                       const char *tpa)
{
	memset(f, 0, 2048);
	memset(f, 0xff, 6);
	memcpy(f + 6, sha, 6);
	f[12] = 0x08;
	f[13] = 0x06;
	uint8_t *a = f + 14;
	a[1] = 1;
	a[2] = 8;
	a[4] = 6;
	a[5] = 4;
	a[7] = (uint8_t)op;
	memcpy(a + 8, sha, 6);
	uint32_t s = ip4(spa), t = ip4(tpa);
	memcpy(a + 14, &s, 4);
	memcpy(a + 24, &t, 4);
	return 60;
}

/* ---------------------------------------------------------------- fixture */

static struct rt *rt;
static struct rt_worker wk;
static uint8_t fb[RT_BURST][2048];
static struct rt_pkt pk[RT_BURST];
static struct rt_verdict vd[RT_BURST];

/* rt_burst on pk[0..n), then what the I/O layer does with the verdicts: a forwarded packet
 * counts as forwarded once it is on a TX ring (the test's rings never fill). */
static void burst(unsigned n)
{
	rt_burst(&wk, pk, n, vd);
	for (unsigned i = 0; i < n; i++)
		wk.st.forwarded += vd[i].action == RT_ACT_TX && vd[i].fwd;
}

static void add_route(int fam, const char *dst, unsigned plen, const char *gw, const char *dev)
{
	struct rt_route r = {.family = (uint8_t)fam, .plen = (uint8_t)plen};
	char err[256] = "";
	inet_pton(fam, dst, r.dst);
	if (gw) {
		r.has_gw = 1;
		inet_pton(fam, gw, r.gw);
	}
	if (dev)
		snprintf(r.dev, sizeof(r.dev), "%s", dev);
	int ret = rt_route_add(rt, &r, 1, err, sizeof(err));
	if (ret)
		fprintf(stderr, "route %s/%u: %s\n", dst, plen, err);
	CHECK(ret == 0);
}

static void add_neigh(int fam, const char *dst, const uint8_t *mac, const char *dev)
{
	struct rt_neigh nb = {.family = (uint8_t)fam};
	char err[256];
	inet_pton(fam, dst, nb.dst);
	memcpy(nb.lladdr, mac, 6);
	snprintf(nb.dev, sizeof(nb.dev), "%s", dev);
	CHECK(rt_neigh_add(rt, &nb, err, sizeof(err)) == 0);
}

static void setup(int host)
{
	uint8_t a[16];
	char err[256];
	rt_destroy(rt);
	rt = rt_create();
	CHECK(rt != NULL);
	CHECK(rt_port_add(rt, "p0", "test:p0", MAC0, 1500, host) == 0);
	CHECK(rt_port_add(rt, "p1", "test:p1", MAC1, 1500, 0) == 1);
	inet_pton(AF_INET, "10.1.0.1", a);
	CHECK(rt_port_addr_add(rt, 0, AF_INET, a, 24, err, sizeof(err)) == 0);
	inet_pton(AF_INET, "10.2.0.1", a);
	CHECK(rt_port_addr_add(rt, 1, AF_INET, a, 24, err, sizeof(err)) == 0);
	ip6("fd01::1", a);
	CHECK(rt_port_addr_add(rt, 0, AF_INET6, a, 64, err, sizeof(err)) == 0);
	ip6("fd02::1", a);
	CHECK(rt_port_addr_add(rt, 1, AF_INET6, a, 64, err, sizeof(err)) == 0);
	add_route(AF_INET, "10.82.0.0", 16, "10.2.0.2", NULL);
	add_route(AF_INET, "10.82.5.0", 24, "10.2.0.3", NULL);
	add_route(AF_INET6, "fd82::", 32, "fd02::2", NULL);
	add_neigh(AF_INET, "10.2.0.2", GW2, "p1");
	add_neigh(AF_INET, "10.2.0.3", GW3, "p1");
	add_neigh(AF_INET, "10.1.0.2", HA, "p0");
	add_neigh(AF_INET6, "fd02::2", GW2, "p1");
	add_neigh(AF_INET6, "fd01::2", HA, "p0");
	rt_worker_init(&wk, rt, 0, &test_ops, NULL);
	memset(held_used, 0, sizeof(held_used));
	nemitted = nsent_held = nfreed = 0;
	alloc_left = -1;
}

/* Runs frames fb[0..n) with lengths len[] through one burst. */
static void run(unsigned n, const unsigned *len)
{
	for (unsigned i = 0; i < n; i++)
		pk[i] = (struct rt_pkt){.data = fb[i], .len = (uint16_t)len[i], .port = 0};
	cur_burst = pk;
	wk.now = rt_now_ns();
	burst(n);
}

static void run1(unsigned len)
{
	run(1, &len);
}

static int ip4_valid(const uint8_t *ip)
{
	return cksum(ip, (ip[0] & 15u) * 4, 0) == 0;
}

/* ---------------------------------------------------------------- tests */

/* A UDP packet to 10.82.1.1 leaves p1 to gateway .2 with TTL-1 and a valid checksum. */
static void test_forward4(void)
{
	setup(0);
	run1(mk_udp4(fb[0], MAC0, "10.1.0.2", "10.82.1.1", 64));
	CHECK(vd[0].action == RT_ACT_TX && vd[0].port == 1 && vd[0].len == 60);
	CHECK(!memcmp(fb[0], GW2, 6) && !memcmp(fb[0] + 6, MAC1, 6));
	CHECK(fb[0][14 + 8] == 63);
	CHECK(ip4_valid(fb[0] + 14));
	CHECK(wk.st.forwarded == 1 && wk.st.rx_packets == 1);
}

/* The incremental update stays right across TTLs and checksums near 0x0000/0xffff. */
static void test_csum_incremental(void)
{
	setup(0);
	for (int ttl = 2; ttl < 256; ttl += 7)
		for (int id = 0; id < 65536; id += 997) {
			unsigned len = mk_udp4(fb[0], MAC0, "10.1.0.2", "10.82.1.1", (uint8_t)ttl);
			fb[0][18] = (uint8_t)(id >> 8);
			fb[0][19] = (uint8_t)id;
			fix_ip4_csum(fb[0]);
			run1(len);
			CHECK(vd[0].action == RT_ACT_TX && ip4_valid(fb[0] + 14));
		}
}

/* Overlapping routes: /24 via .3 beats /16 via .2; outside the /24 the /16 wins. */
static void test_lpm(void)
{
	setup(0);
	unsigned l[2] = {mk_udp4(fb[0], MAC0, "10.1.0.2", "10.82.5.9", 64),
	                 mk_udp4(fb[1], MAC0, "10.1.0.2", "10.82.6.9", 64)};
	run(2, l);
	CHECK(vd[0].action == RT_ACT_TX && !memcmp(fb[0], GW3, 6));
	CHECK(vd[1].action == RT_ACT_TX && !memcmp(fb[1], GW2, 6));
}

/* TTL 1: ICMP Time Exceeded back out p0 to host A, quoting the header as received + 8. */
static void test_ttl_expired(void)
{
	setup(0);
	uint8_t orig[64];
	unsigned len = mk_udp4(fb[0], MAC0, "10.1.0.2", "10.82.1.1", 1);
	memcpy(orig, fb[0] + 14, 46);
	run1(len);
	uint8_t *ip = fb[0] + 14, *ic = ip + 20;
	CHECK(vd[0].action == RT_ACT_TX && vd[0].port == 0);
	CHECK(!memcmp(fb[0], HA, 6) && !memcmp(fb[0] + 6, MAC0, 6));
	CHECK(ip4_valid(ip) && ip[9] == 1 && ip[8] == 64);
	CHECK(!memcmp(ip + 12, (uint8_t[]){10, 1, 0, 1}, 4));
	CHECK(!memcmp(ip + 16, (uint8_t[]){10, 1, 0, 2}, 4));
	CHECK(ic[0] == 11 && ic[1] == 0);
	CHECK((ip[2] << 8 | ip[3]) == 28 + 46 && vd[0].len == 14 + 28 + 46);
	CHECK(cksum(ic, 8 + 46, 0) == 0);
	CHECK(!memcmp(ic + 8, orig, 46)); /* the whole small datagram, TTL 1, as received */
	CHECK(wk.st.drops[RT_DROP_TTL] == 1 && wk.st.icmp_sent == 1 && wk.st.forwarded == 0);
}

/* No route to 10.99.0.1: ICMP Destination Unreachable (net) back to the sender. */
static void test_no_route(void)
{
	setup(0);
	run1(mk_udp4(fb[0], MAC0, "10.1.0.2", "10.99.0.1", 64));
	uint8_t *ip = fb[0] + 14;
	CHECK(vd[0].action == RT_ACT_TX && vd[0].port == 0);
	CHECK(ip[20] == 3 && ip[21] == 0 && ip4_valid(ip));
	CHECK(ip[20 + 8 + 8] == 64); /* quoted TTL untouched */
	CHECK(wk.st.drops[RT_DROP_NO_ROUTE] == 1);
}

/* Malformed IPv4 frames are dropped, each under its own reason, and nothing else moves. */
static void test_malformed(void)
{
	static const struct {
		const char *what;
		int reason;
	} cases[] = {
	    {"bad header checksum", RT_DROP_BAD_CSUM},
	    {"truncated: frame shorter than an IPv4 header", RT_DROP_BAD_LEN},
	    {"IHL 4", RT_DROP_BAD_IHL},
	    {"total length beyond the frame", RT_DROP_BAD_LEN},
	    {"version 5", RT_DROP_BAD_VERSION},
	    {"martian source 127.0.0.1", RT_DROP_MARTIAN},
	    {"martian destination 0.1.2.3", RT_DROP_MARTIAN},
	    {"runt Ethernet frame", RT_DROP_BAD_L2},
	    {"unicast to another MAC", RT_DROP_BAD_L2},
	    {"IHL 15 beyond the frame", RT_DROP_BAD_LEN},
	};
	for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		setup(0);
		unsigned len = mk_udp4(fb[0], MAC0, "10.1.0.2", "10.82.1.1", 64);
		uint8_t *ip = fb[0] + 14;
		switch (c) {
		case 0:
			ip[10] ^= 0x55;
			break;
		case 1:
			len = 14 + 19;
			break;
		case 2:
			ip[0] = 0x44;
			fix_ip4_csum(fb[0]);
			break;
		case 3:
			ip[2] = 0x05;
			fix_ip4_csum(fb[0]);
			break;
		case 4:
			ip[0] = 0x55;
			fix_ip4_csum(fb[0]);
			break;
		case 5:
			memcpy(ip + 12, (uint8_t[]){127, 0, 0, 1}, 4);
			fix_ip4_csum(fb[0]);
			break;
		case 6:
			memcpy(ip + 16, (uint8_t[]){0, 1, 2, 3}, 4);
			fix_ip4_csum(fb[0]);
			break;
		case 7:
			len = 10;
			break;
		case 8:
			fb[0][5] = 0x99;
			break;
		case 9:
			ip[0] = 0x4f;
			break;
		}
		run1(len);
		if (vd[0].action != RT_ACT_DROP || wk.st.drops[cases[c].reason] != 1)
			fprintf(stderr, "malformed case '%s' failed\n", cases[c].what);
		CHECK(vd[0].action == RT_ACT_DROP && vd[0].reason == cases[c].reason);
		CHECK(wk.st.drops[cases[c].reason] == 1 && wk.st.forwarded == 0);
		CHECK(wk.st.icmp_sent == 0);
	}
}

/* ARP request for 10.1.0.1 is answered in place; the asker is learned. */
static void test_arp_reply(void)
{
	setup(0);
	static const uint8_t HB[6] = {2, 0, 0, 0, 0, 0xb7};
	run1(mk_arp(fb[0], 1, HB, "10.1.0.7", "10.1.0.1"));
	uint8_t *a = fb[0] + 14;
	CHECK(vd[0].action == RT_ACT_TX && vd[0].port == 0);
	CHECK(!memcmp(fb[0], HB, 6) && !memcmp(fb[0] + 6, MAC0, 6));
	CHECK(a[7] == 2 && !memcmp(a + 8, MAC0, 6) && !memcmp(a + 18, HB, 6));
	CHECK(!memcmp(a + 14, (uint8_t[]){10, 1, 0, 1}, 4));
	CHECK(!memcmp(a + 24, (uint8_t[]){10, 1, 0, 7}, 4));
	uint8_t mac[6], x[16] = {10, 1, 0, 7};
	int ni = rt_neigh_find(rt, AF_INET, x, 0);
	CHECK(ni >= 0 && rt_neigh_read(rt, ni, mac) == RT_NUD_REACHABLE && !memcmp(mac, HB, 6));
	/* a request for somebody else is not answered and not learned */
	run1(mk_arp(fb[0], 1, HB, "10.1.0.8", "10.1.0.9"));
	CHECK(vd[0].action == RT_ACT_DROP && wk.st.drops[RT_DROP_OTHER] == 1);
}

/* Unresolved next hop: the packet is held, ARP goes out p1, the reply releases it. */
static void test_resolve_and_release(void)
{
	setup(0);
	static const uint8_t G9[6] = {2, 0, 0, 0, 0, 0x99};
	add_route(AF_INET, "10.83.0.0", 16, "10.2.0.9", NULL);
	run1(mk_udp4(fb[0], MAC0, "10.1.0.2", "10.83.1.1", 64));
	CHECK(vd[0].action == RT_ACT_HELD);
	CHECK(nemitted == 1 && emitted[0].port == 1 && emitted[0].len == 60);
	CHECK(emitted[0].f[12] == 8 && emitted[0].f[13] == 6 && emitted[0].f[14 + 7] == 1);
	CHECK(!memcmp(emitted[0].f + 14 + 24, (uint8_t[]){10, 2, 0, 9}, 4));
	CHECK(!memcmp(emitted[0].f + 14 + 14, (uint8_t[]){10, 2, 0, 1}, 4));
	/* a second packet joins the queue without a second probe */
	run1(mk_udp4(fb[0], MAC0, "10.1.0.2", "10.83.1.2", 64));
	CHECK(vd[0].action == RT_ACT_HELD && nemitted == 1);
	/* the reply arrives on p1 */
	unsigned len = mk_arp(fb[0], 2, G9, "10.2.0.9", "10.2.0.1");
	memcpy(fb[0], MAC1, 6);
	pk[0] = (struct rt_pkt){.data = fb[0], .len = (uint16_t)len, .port = 1};
	burst(1);
	CHECK(vd[0].action == RT_ACT_DROP && vd[0].reason == RT_DROP_MAX && wk.st.consumed == 1);
	CHECK(nsent_held == 2 && sent_held[0].port == 1 && sent_held[1].port == 1);
	CHECK(!memcmp(sent_held[0].f, G9, 6) && !memcmp(sent_held[0].f + 6, MAC1, 6));
	CHECK(sent_held[0].f[14 + 8] == 63 && ip4_valid(sent_held[0].f + 14));
	CHECK(sent_held[1].f[14 + 19] == 2); /* order kept */
	CHECK(wk.st.forwarded == 2);
	/* now resolved: straight through */
	run1(mk_udp4(fb[0], MAC0, "10.1.0.2", "10.83.1.3", 64));
	CHECK(vd[0].action == RT_ACT_TX && !memcmp(fb[0], G9, 6));
}

/* A forwarded packet and an ICMP error wait for the same unresolved neighbor (10.1.0.7 on
 * p0); once ARP resolves it both leave, but only the forwarded one counts as forwarded. */
static void test_release_counts_only_forwarded(void)
{
	setup(0);
	static const uint8_t H7[6] = {2, 0, 0, 0, 0, 0x77};
	run1(mk_udp4(fb[0], MAC0, "10.1.0.2", "10.1.0.7", 64)); /* to the unresolved host */
	CHECK(vd[0].action == RT_ACT_HELD);
	run1(mk_udp4(fb[0], MAC0, "10.1.0.7", "10.82.1.1", 1)); /* from it, TTL 1 */
	CHECK(vd[0].action == RT_ACT_HELD);
	CHECK(wk.st.drops[RT_DROP_TTL] == 1 && wk.st.icmp_sent == 1);
	unsigned len = mk_arp(fb[0], 2, H7, "10.1.0.7", "10.1.0.1");
	memcpy(fb[0], MAC0, 6);
	run1(len);
	CHECK(nsent_held == 2 && sent_held[0].port == 0 && sent_held[1].port == 0);
	CHECK(!memcmp(sent_held[1].f, H7, 6) && sent_held[1].f[14 + 9] == 1); /* the ICMP */
	CHECK(sent_held[1].f[14 + 20] == 11);
	CHECK(wk.st.forwarded == 1 && wk.st.icmp_sent == 1);
}

/* The hold queue is bounded: the ninth packet for an unresolved hop is dropped, counted. */
static void test_hold_full(void)
{
	setup(0);
	add_route(AF_INET, "10.83.0.0", 16, "10.2.0.9", NULL);
	unsigned l[RT_HOLD_MAX + 1];
	for (unsigned i = 0; i <= RT_HOLD_MAX; i++)
		l[i] = mk_udp4(fb[i], MAC0, "10.1.0.2", "10.83.1.1", 64);
	run(RT_HOLD_MAX + 1, l);
	for (unsigned i = 0; i < RT_HOLD_MAX; i++)
		CHECK(vd[i].action == RT_ACT_HELD);
	CHECK(vd[RT_HOLD_MAX].action == RT_ACT_DROP && vd[RT_HOLD_MAX].reason == RT_DROP_HOLD_FULL);
	CHECK(wk.st.drops[RT_DROP_HOLD_FULL] == 1);
}

/* A next hop that never answers: 3 probes, then FAILED; held packets dropped as no_neigh. */
static void test_resolve_fails(void)
{
	setup(0);
	add_route(AF_INET, "10.83.0.0", 16, "10.2.0.9", NULL);
	run1(mk_udp4(fb[0], MAC0, "10.1.0.2", "10.83.1.1", 64));
	CHECK(vd[0].action == RT_ACT_HELD && nemitted == 1);
	for (int t = 1; t <= 4; t++) {
		wk.now += RT_NEIGH_RETRANS_NS + 1;
		rt_neigh_tick(&wk);
	}
	CHECK(nemitted == RT_NEIGH_PROBES);
	/* the held packet went back to host A as an ICMP host unreachable (test_unreach4) */
	CHECK(nfreed == 0 && nsent_held == 1 && wk.st.drops[RT_DROP_NO_NEIGH] == 1);
	uint8_t mac[6], x[16] = {10, 2, 0, 9};
	CHECK(rt_neigh_read(rt, rt_neigh_find(rt, AF_INET, x, 1), mac) == RT_NUD_FAILED);
	/* within the hold-down new packets are dropped at once */
	unsigned len = mk_udp4(fb[0], MAC0, "10.1.0.2", "10.83.1.1", 64);
	pk[0] = (struct rt_pkt){.data = fb[0], .len = (uint16_t)len, .port = 0};
	burst(1);
	CHECK(vd[0].action == RT_ACT_DROP && vd[0].reason == RT_DROP_NO_NEIGH);
}

/* Runs fb[0] (len) received on port through one burst at the current fake time wk.now. */
static void run_now(unsigned len, unsigned port)
{
	pk[0] = (struct rt_pkt){.data = fb[0], .len = (uint16_t)len, .port = (uint16_t)port};
	cur_burst = pk;
	burst(1);
}

static void tick_at(uint64_t t)
{
	wk.now = t;
	rt_neigh_tick(&wk);
}

static int nud_of(int fam, const char *a, unsigned port, uint8_t mac[6])
{
	uint8_t x[16] = {0};
	inet_pton(fam, a, x);
	int ni = rt_neigh_find(rt, fam, x, port);
	return ni < 0 ? -1 : rt_neigh_read(rt, ni, mac);
}

/* Gateway 10.2.0.9 learned by ARP: REACHABLE, STALE after 30 s, DELAY when a packet uses it
 * (still sent to the cached MAC), PROBE after 5 s with a unicast ARP request to that MAC; its
 * reply makes it REACHABLE again. A static neighbor never moves. */
static void test_nud_stale_delay_probe_reachable(void)
{
	setup(0);
	static const uint8_t G9[6] = {2, 0, 0, 0, 0, 0x99};
	uint8_t mac[6];
	add_route(AF_INET, "10.83.0.0", 16, "10.2.0.9", NULL);
	wk.now = 1000000000000ull;
	run_now(mk_arp(fb[0], 1, G9, "10.2.0.9", "10.2.0.1"), 1); /* learns G9 */
	CHECK(nud_of(AF_INET, "10.2.0.9", 1, mac) == RT_NUD_REACHABLE && !memcmp(mac, G9, 6));
	uint64_t t0 = wk.now;
	tick_at(t0 + RT_NEIGH_STALE_NS + 1);
	CHECK(nud_of(AF_INET, "10.2.0.9", 1, mac) == RT_NUD_STALE);
	/* STALE -> DELAY on use; the packet leaves at once with the cached MAC */
	nemitted = 0;
	run_now(mk_udp4(fb[0], MAC0, "10.1.0.2", "10.83.1.1", 64), 0);
	CHECK(vd[0].action == RT_ACT_TX && vd[0].port == 1 && !memcmp(fb[0], G9, 6));
	CHECK(nud_of(AF_INET, "10.2.0.9", 1, mac) == RT_NUD_DELAY && nemitted == 0);
	uint64_t t1 = wk.now;
	tick_at(t1 + RT_NEIGH_DELAY_NS - 1000000);
	CHECK(nud_of(AF_INET, "10.2.0.9", 1, mac) == RT_NUD_DELAY && nemitted == 0);
	/* DELAY -> PROBE: one ARP request, unicast to the cached MAC */
	uint64_t sent = wk.st.arp_nd_sent;
	tick_at(t1 + RT_NEIGH_DELAY_NS + 1);
	CHECK(nud_of(AF_INET, "10.2.0.9", 1, mac) == RT_NUD_PROBE);
	CHECK(nemitted == 1 && emitted[0].port == 1 && wk.st.arp_nd_sent == sent + 1);
	CHECK(!memcmp(emitted[0].f, G9, 6) && !memcmp(emitted[0].f + 6, MAC1, 6));
	CHECK(emitted[0].f[12] == 8 && emitted[0].f[13] == 6 && emitted[0].f[14 + 7] == 1);
	CHECK(!memcmp(emitted[0].f + 14 + 24, (uint8_t[]){10, 2, 0, 9}, 4));
	CHECK(!memcmp(emitted[0].f + 14 + 14, (uint8_t[]){10, 2, 0, 1}, 4));
	/* still forwarding while probing */
	run_now(mk_udp4(fb[0], MAC0, "10.1.0.2", "10.83.1.2", 64), 0);
	CHECK(vd[0].action == RT_ACT_TX && !memcmp(fb[0], G9, 6));
	/* the reply: REACHABLE, and no more probes */
	unsigned len = mk_arp(fb[0], 2, G9, "10.2.0.9", "10.2.0.1");
	memcpy(fb[0], MAC1, 6);
	run_now(len, 1);
	CHECK(nud_of(AF_INET, "10.2.0.9", 1, mac) == RT_NUD_REACHABLE && !memcmp(mac, G9, 6));
	for (int k = 1; k <= 5; k++)
		tick_at(wk.now + RT_NEIGH_RETRANS_NS + 1);
	CHECK(nemitted == 1 && nud_of(AF_INET, "10.2.0.9", 1, mac) == RT_NUD_REACHABLE);
	/* PERMANENT: used long after, never STALE, DELAY or probed */
	tick_at(wk.now + 10 * RT_NEIGH_STALE_NS);
	run_now(mk_udp4(fb[0], MAC0, "10.1.0.2", "10.82.1.1", 64), 0);
	tick_at(wk.now + RT_NEIGH_DELAY_NS + 1);
	tick_at(wk.now + RT_NEIGH_RETRANS_NS + 1);
	CHECK(nud_of(AF_INET, "10.2.0.2", 1, mac) == RT_NUD_PERMANENT && !memcmp(mac, GW2, 6));
	CHECK(vd[0].action == RT_ACT_TX && !memcmp(fb[0], GW2, 6) && nemitted == 1);
}

/* The gateway's MAC changed silently: the 3 unicast probes to the old MAC go unanswered,
 * the entry is FAILED, and the next packet starts a broadcast resolution at once (no
 * hold-down) that learns the new MAC and releases the packet. */
static void test_nud_probe_unanswered_failed(void)
{
	setup(0);
	static const uint8_t G9[6] = {2, 0, 0, 0, 0, 0x99}, G9NEW[6] = {2, 0, 0, 0, 0, 0x9a};
	uint8_t mac[6];
	add_route(AF_INET, "10.83.0.0", 16, "10.2.0.9", NULL);
	wk.now = 1000000000000ull;
	run_now(mk_arp(fb[0], 1, G9, "10.2.0.9", "10.2.0.1"), 1);
	tick_at(wk.now + RT_NEIGH_STALE_NS + 1);
	nemitted = 0;
	run_now(mk_udp4(fb[0], MAC0, "10.1.0.2", "10.83.1.1", 64), 0);
	CHECK(nud_of(AF_INET, "10.2.0.9", 1, mac) == RT_NUD_DELAY);
	tick_at(wk.now + RT_NEIGH_DELAY_NS + 1);
	CHECK(nud_of(AF_INET, "10.2.0.9", 1, mac) == RT_NUD_PROBE && nemitted == 1);
	for (int k = 1; k < RT_NEIGH_PROBES; k++) {
		tick_at(wk.now + RT_NEIGH_RETRANS_NS / 2); /* not yet */
		CHECK(nemitted == (unsigned)k);
		tick_at(wk.now + RT_NEIGH_RETRANS_NS / 2 + 1);
		CHECK(nud_of(AF_INET, "10.2.0.9", 1, mac) == RT_NUD_PROBE);
	}
	CHECK(nemitted == RT_NEIGH_PROBES);
	for (unsigned k = 0; k < nemitted; k++)
		CHECK(!memcmp(emitted[k].f, G9, 6) && emitted[k].f[14 + 7] == 1);
	tick_at(wk.now + RT_NEIGH_RETRANS_NS + 1);
	CHECK(nud_of(AF_INET, "10.2.0.9", 1, mac) == RT_NUD_FAILED && nemitted == RT_NEIGH_PROBES);
	CHECK(wk.st.drops[RT_DROP_NO_NEIGH] == 0); /* nothing was waiting */
	/* the next packet: held, broadcast ARP request */
	run_now(mk_udp4(fb[0], MAC0, "10.1.0.2", "10.83.1.2", 64), 0);
	CHECK(vd[0].action == RT_ACT_HELD && nemitted == RT_NEIGH_PROBES + 1);
	CHECK(!memcmp(emitted[RT_NEIGH_PROBES].f, (uint8_t[]){255, 255, 255, 255, 255, 255}, 6));
	CHECK(nud_of(AF_INET, "10.2.0.9", 1, mac) == RT_NUD_INCOMPLETE);
	unsigned len = mk_arp(fb[0], 2, G9NEW, "10.2.0.9", "10.2.0.1");
	memcpy(fb[0], MAC1, 6);
	run_now(len, 1);
	CHECK(nud_of(AF_INET, "10.2.0.9", 1, mac) == RT_NUD_REACHABLE && !memcmp(mac, G9NEW, 6));
	CHECK(nsent_held == 1 && !memcmp(sent_held[0].f, G9NEW, 6));
}

/* Ethernet + an ND message (type 135 NS / 136 NA, flags byte) for target, with a link-layer
 * address option (opt 1 source / 2 target) carrying smac. */
static unsigned mk_nd(uint8_t *f, const uint8_t *dmac, const uint8_t *smac, const char *src,
                      const char *dst, uint8_t type, uint8_t flags, const char *target, uint8_t opt)
{
	uint8_t *ip = f + 14, *ic = ip + 40;
	memset(f, 0, 2048);
	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	f[12] = 0x86;
	f[13] = 0xdd;
	ip[0] = 0x60;
	ip[5] = 32;
	ip[6] = 58;
	ip[7] = 255;
	ip6(src, ip + 8);
	ip6(dst, ip + 24);
	ic[0] = type;
	ic[4] = flags;
	ip6(target, ic + 8);
	ic[24] = opt;
	ic[25] = 1;
	memcpy(ic + 26, smac, 6);
	uint16_t c = cksum6(ip, ic, 32, 58);
	ic[2] = (uint8_t)(c >> 8);
	ic[3] = (uint8_t)c;
	return 14 + 40 + 32;
}

/* Ethernet + NS from src (MAC smac, in a source link-layer address option) for target. */
static unsigned mk_ns(uint8_t *f, const uint8_t *smac, const char *src, const char *target)
{
	return mk_nd(f, (const uint8_t[]){0x33, 0x33, 0xff, 0, 0, 1}, smac, src, "ff02::1:ff00:1",
	             135, 0, target, 1);
}

/* IPv6: an NS from fd02::9 creates a STALE entry; used -> DELAY -> PROBE with an NS unicast
 * to the cached MAC and to fd02::9 itself; an NA answers it: REACHABLE. Another NS from it
 * with the same MAC leaves it REACHABLE (RFC 4861 7.2.3); one with a new MAC makes it STALE. */
/* On a fresh router at the fake clock wk.now: fd83::/32 via fd02::9 (p1, MAC g9); an NS from
 * fd02::9 makes its entry STALE, a packet to fd83::5 leaves through it and makes it DELAY,
 * and 5 s later it is PROBE, its unicast NS the one frame emitted (emitted[0]). */
static void nud6_to_probe(const uint8_t *g9)
{
	uint8_t mac[6];
	setup(0);
	add_route(AF_INET6, "fd83::", 32, "fd02::9", NULL);
	wk.now = 1000000000000ull;
	run_now(mk_ns(fb[0], g9, "fd02::9", "fd02::1"), 1);
	CHECK(vd[0].action == RT_ACT_TX && nud_of(AF_INET6, "fd02::9", 1, mac) == RT_NUD_STALE);
	nemitted = 0;
	run_now(mk_udp6(fb[0], "fd01::2", "fd83::5", 64), 0);
	CHECK(vd[0].action == RT_ACT_TX && vd[0].port == 1 && !memcmp(fb[0], g9, 6));
	CHECK(nud_of(AF_INET6, "fd02::9", 1, mac) == RT_NUD_DELAY && nemitted == 0);
	tick_at(wk.now + RT_NEIGH_DELAY_NS + 1);
	CHECK(nud_of(AF_INET6, "fd02::9", 1, mac) == RT_NUD_PROBE && nemitted == 1);
}

static void test_nud_probe6(void)
{
	static const uint8_t G9[6] = {2, 0, 0, 0, 0, 0x99};
	uint8_t mac[6];
	nud6_to_probe(G9);
	uint8_t *pf = emitted[0].f, a[16];
	CHECK(emitted[0].port == 1 && emitted[0].len == 14 + 40 + 32);
	CHECK(!memcmp(pf, G9, 6) && !memcmp(pf + 6, MAC1, 6));
	ip6("fd02::9", a);
	CHECK(pf[14 + 40] == 135 && !memcmp(pf + 14 + 24, a, 16) && !memcmp(pf + 14 + 48, a, 16));
	CHECK(cksum6(pf + 14, pf + 54, 32, 58) == 0);
	/* a solicited NA from fd02::9 */
	run_now(mk_nd(fb[0], MAC1, G9, "fd02::9", "fd02::1", 136, 0x60, "fd02::9", 2), 1);
	CHECK(nud_of(AF_INET6, "fd02::9", 1, mac) == RT_NUD_REACHABLE && !memcmp(mac, G9, 6));
	tick_at(wk.now + RT_NEIGH_RETRANS_NS + 1);
	CHECK(nemitted == 1); /* no more probes */
	run_now(mk_ns(fb[0], G9, "fd02::9", "fd02::1"), 1);
	CHECK(nud_of(AF_INET6, "fd02::9", 1, mac) == RT_NUD_REACHABLE);
	static const uint8_t G9NEW[6] = {2, 0, 0, 0, 0, 0x9a};
	run_now(mk_ns(fb[0], G9NEW, "fd02::9", "fd02::1"), 1);
	CHECK(nud_of(AF_INET6, "fd02::9", 1, mac) == RT_NUD_STALE && !memcmp(mac, G9NEW, 6));
}

/* An NA from src (MAC G, to fd02::1 on port 1) for target src, with flags, without the target
 * link-layer address option (RFC 4861 7.2.4 allows that in an answer to a unicast NS). */
static unsigned mk_na_no_tlla(uint8_t *f, const uint8_t *g, const char *src, uint8_t flags)
{
	unsigned len = mk_nd(f, MAC1, g, src, "fd02::1", 136, flags, src, 2);
	uint8_t *ip = f + 14, *ic = ip + 40;
	ip[5] = 24; /* no option */
	memset(ic + 24, 0, 8);
	ic[2] = ic[3] = 0;
	uint16_t c = cksum6(ip, ic, 24, 58);
	ic[2] = (uint8_t)(c >> 8);
	ic[3] = (uint8_t)c;
	return len - 8;
}

/* A solicited NA answering a unicast NS may omit the target link-layer address option (RFC
 * 4861 7.2.4; Linux always does): it still confirms the cached MAC, PROBE -> REACHABLE (RFC
 * 4861 7.2.5), so no more probes and no FAILED. */
static void test_nud_probe6_na_no_tlla(void)
{
	static const uint8_t G9[6] = {2, 0, 0, 0, 0, 0x99};
	uint8_t mac[6];
	nud6_to_probe(G9);
	run_now(mk_na_no_tlla(fb[0], G9, "fd02::9", 0x60), 1);
	CHECK(nud_of(AF_INET6, "fd02::9", 1, mac) == RT_NUD_REACHABLE && !memcmp(mac, G9, 6));
	for (int k = 0; k < RT_NEIGH_PROBES + 1; k++)
		tick_at(wk.now + RT_NEIGH_RETRANS_NS + 1);
	CHECK(nemitted == 1 && nud_of(AF_INET6, "fd02::9", 1, mac) == RT_NUD_REACHABLE);
	/* an unsolicited one without the option teaches nothing; nor one for an unknown entry */
	run_now(mk_ns(fb[0], G9, "fd02::8", "fd02::1"), 1);
	tick_at(wk.now + RT_NEIGH_STALE_NS + 1);
	CHECK(nud_of(AF_INET6, "fd02::8", 1, mac) == RT_NUD_STALE);
	run_now(mk_na_no_tlla(fb[0], G9, "fd02::8", 0x20), 1);
	CHECK(nud_of(AF_INET6, "fd02::8", 1, mac) == RT_NUD_STALE);
	CHECK(nud_of(AF_INET6, "fd02::7", 1, mac) == -1);
	run_now(mk_na_no_tlla(fb[0], G9, "fd02::7", 0x60), 1);
	CHECK(nud_of(AF_INET6, "fd02::7", 1, mac) == -1);
}

/* RFC 4861 7.2.5, an NA for a known entry: without Override and with another MAC (a proxy,
 * an anycast answer) it does not replace the MAC (REACHABLE becomes STALE, other states are
 * left alone); unsolicited with a new MAC and Override it is STALE, not REACHABLE; an
 * unsolicited one for an INCOMPLETE entry gives STALE (the held packet still leaves). */
static void test_na_flags(void)
{
	setup(0);
	static const uint8_t G9[6] = {2, 0, 0, 0, 0, 0x99}, GX[6] = {2, 0, 0, 0, 0, 0x9b};
	uint8_t mac[6];
	add_route(AF_INET6, "fd83::", 32, "fd02::9", NULL);
	wk.now = 1000000000000ull;
	run_now(mk_udp6(fb[0], "fd01::2", "fd83::5", 64), 0);
	CHECK(vd[0].action == RT_ACT_HELD &&
	      nud_of(AF_INET6, "fd02::9", 1, mac) == RT_NUD_INCOMPLETE);
	/* unsolicited (S=0, O=1) for the INCOMPLETE entry: STALE, packet released */
	run_now(mk_nd(fb[0], MAC1, G9, "fd02::9", "ff02::1", 136, 0x20, "fd02::9", 2), 1);
	CHECK(nud_of(AF_INET6, "fd02::9", 1, mac) == RT_NUD_STALE && !memcmp(mac, G9, 6));
	CHECK(nsent_held == 1);
	/* solicited + override: REACHABLE */
	run_now(mk_nd(fb[0], MAC1, G9, "fd02::9", "fd02::1", 136, 0x60, "fd02::9", 2), 1);
	CHECK(nud_of(AF_INET6, "fd02::9", 1, mac) == RT_NUD_REACHABLE);
	/* O=0 with another MAC: REACHABLE -> STALE, MAC kept */
	run_now(mk_nd(fb[0], MAC1, GX, "fd02::9", "fd02::1", 136, 0x40, "fd02::9", 2), 1);
	CHECK(nud_of(AF_INET6, "fd02::9", 1, mac) == RT_NUD_STALE && !memcmp(mac, G9, 6));
	/* again: STALE stays, MAC kept */
	run_now(mk_nd(fb[0], MAC1, GX, "fd02::9", "fd02::1", 136, 0x40, "fd02::9", 2), 1);
	CHECK(nud_of(AF_INET6, "fd02::9", 1, mac) == RT_NUD_STALE && !memcmp(mac, G9, 6));
	/* O=0, S=1, same MAC: confirmed */
	run_now(mk_nd(fb[0], MAC1, G9, "fd02::9", "fd02::1", 136, 0x40, "fd02::9", 2), 1);
	CHECK(nud_of(AF_INET6, "fd02::9", 1, mac) == RT_NUD_REACHABLE && !memcmp(mac, G9, 6));
	/* unsolicited, O=1, new MAC: STALE with the new MAC */
	run_now(mk_nd(fb[0], MAC1, GX, "fd02::9", "ff02::1", 136, 0x20, "fd02::9", 2), 1);
	CHECK(nud_of(AF_INET6, "fd02::9", 1, mac) == RT_NUD_STALE && !memcmp(mac, GX, 6));
	/* unsolicited, same MAC: unchanged */
	run_now(mk_nd(fb[0], MAC1, GX, "fd02::9", "ff02::1", 136, 0x20, "fd02::9", 2), 1);
	CHECK(nud_of(AF_INET6, "fd02::9", 1, mac) == RT_NUD_STALE);
}

/* Resolution of 10.2.0.9 fails with three packets held: two UDP packets from host A become
 * ICMP host unreachable (type 3 code 1) back to A, each quoting its packet as received (TTL
 * 64); the third, itself an ICMP error, is only dropped. With a bucket of 1 the second UDP
 * packet's error is suppressed and counted as icmp_rate. */
static void test_unreach4(void)
{
	for (int limited = 0; limited <= 1; limited++) {
		setup(0);
		if (limited) {
			rt->icmp_rate = 0;
			rt->icmp_burst = 1;
			rt_worker_init(&wk, rt, 0, &test_ops, NULL);
		}
		add_route(AF_INET, "10.83.0.0", 16, "10.2.0.9", NULL);
		uint8_t orig[2][64];
		wk.now = 1000000000000ull;
		for (int k = 0; k < 2; k++) {
			unsigned len = mk_udp4(fb[0], MAC0, "10.1.0.2", "10.83.1.1", 64);
			fb[0][14 + 28 + 17] = (uint8_t)(0xa0 + k); /* tell them apart */
			fb[0][14 + 26] = fb[0][14 + 27] = 0;       /* no UDP checksum */
			memcpy(orig[k], fb[0] + 14, 46);
			run_now(len, 0);
			CHECK(vd[0].action == RT_ACT_HELD);
		}
		/* an ICMP port unreachable from A to 10.83.1.1: held, never answered with an error
		 */
		unsigned len = mk_udp4(fb[0], MAC0, "10.1.0.2", "10.83.1.1", 64);
		fb[0][14 + 9] = 1;
		fix_ip4_csum(fb[0]);
		fb[0][14 + 20] = 3;
		fb[0][14 + 21] = 3;
		run_now(len, 0);
		CHECK(vd[0].action == RT_ACT_HELD);
		for (int k = 0; k < RT_NEIGH_PROBES; k++)
			tick_at(wk.now + RT_NEIGH_RETRANS_NS + 1);
		uint8_t mac[6];
		CHECK(nud_of(AF_INET, "10.2.0.9", 1, mac) == RT_NUD_FAILED);
		unsigned nerr = limited ? 1 : 2;
		CHECK(nsent_held == nerr && nfreed == 3 - nerr);
		CHECK(wk.st.icmp_sent == nerr && wk.st.forwarded == 0);
		CHECK(wk.st.drops[RT_DROP_NO_NEIGH] == 1 + nerr);
		CHECK(wk.st.drops[RT_DROP_ICMP_RATE] == 2 - nerr);
		for (unsigned k = 0; k < nsent_held; k++) {
			uint8_t *ef = sent_held[k].f, *ip = ef + 14, *ic = ip + 20;
			CHECK(sent_held[k].port == 0 && sent_held[k].len == 14 + 28 + 46);
			CHECK(!memcmp(ef, HA, 6) && !memcmp(ef + 6, MAC0, 6));
			CHECK(ef[12] == 8 && ef[13] == 0 && ip4_valid(ip) && ip[9] == 1);
			CHECK((ip[2] << 8 | ip[3]) == 28 + 46);
			CHECK(!memcmp(ip + 12, (uint8_t[]){10, 1, 0, 1}, 4));
			CHECK(!memcmp(ip + 16, (uint8_t[]){10, 1, 0, 2}, 4));
			CHECK(ic[0] == 3 && ic[1] == 1 && cksum(ic, 8 + 46, 0) == 0);
			CHECK(!memcmp(ic + 8, orig[k], 46)); /* as received: TTL 64, its checksum */
		}
		for (int b = 0; b < NBUF; b++)
			CHECK(!held_used[b]); /* every held buffer sent or freed */
		/* within the hold-down: dropped at once, no error */
		run_now(mk_udp4(fb[0], MAC0, "10.1.0.2", "10.83.1.1", 64), 0);
		CHECK(vd[0].action == RT_ACT_DROP && vd[0].reason == RT_DROP_NO_NEIGH);
		CHECK(wk.st.icmp_sent == nerr);
	}
}

/* IPv6: resolution of fd02::9 fails; the held packet becomes an ICMPv6 address unreachable
 * (type 1 code 3) from fd01::1 to fd01::2 quoting it as received (hop limit 64). */
static void test_unreach6(void)
{
	setup(0);
	add_route(AF_INET6, "fd83::", 32, "fd02::9", NULL);
	wk.now = 1000000000000ull;
	uint8_t orig[80];
	unsigned len = mk_udp6(fb[0], "fd01::2", "fd83::5", 64);
	memcpy(orig, fb[0] + 14, 66);
	run_now(len, 0);
	CHECK(vd[0].action == RT_ACT_HELD && nemitted == 1);
	for (int k = 0; k < RT_NEIGH_PROBES; k++)
		tick_at(wk.now + RT_NEIGH_RETRANS_NS + 1);
	uint8_t mac[6], a[16];
	CHECK(nud_of(AF_INET6, "fd02::9", 1, mac) == RT_NUD_FAILED);
	CHECK(nsent_held == 1 && nfreed == 0 && nemitted == RT_NEIGH_PROBES);
	CHECK(wk.st.icmp_sent == 1 && wk.st.drops[RT_DROP_NO_NEIGH] == 1);
	uint8_t *ef = sent_held[0].f, *ip = ef + 14;
	CHECK(sent_held[0].port == 0 && sent_held[0].len == 14 + 48 + 66);
	CHECK(!memcmp(ef, HA, 6) && !memcmp(ef + 6, MAC0, 6) && ef[12] == 0x86);
	CHECK(ip[6] == 58 && ip[40] == 1 && ip[41] == 3);
	CHECK((ip[4] << 8 | ip[5]) == 8 + 66 && !memcmp(ip + 48, orig, 66));
	CHECK(cksum6(ip, ip + 40, 8 + 66, 58) == 0);
	ip6("fd01::1", a);
	CHECK(!memcmp(ip + 8, a, 16));
	ip6("fd01::2", a);
	CHECK(!memcmp(ip + 24, a, 16));
}

/* Without a host port the router answers ping to its own address itself. */
static void test_ping_self(void)
{
	setup(0);
	run1(mk_ping4(fb[0], "10.1.0.2", "10.2.0.1"));
	uint8_t *ip = fb[0] + 14;
	CHECK(vd[0].action == RT_ACT_TX && vd[0].port == 0 && !memcmp(fb[0], HA, 6));
	CHECK(ip[20] == 0 && ip4_valid(ip) && cksum(ip + 20, 26, 0) == 0);
	CHECK(!memcmp(ip + 12, (uint8_t[]){10, 2, 0, 1}, 4));
	CHECK(wk.st.local_replies == 1);
	/* UDP to our address has nowhere to go */
	run1(mk_udp4(fb[0], MAC0, "10.1.0.2", "10.1.0.1", 64));
	CHECK(vd[0].action == RT_ACT_DROP && vd[0].reason == RT_DROP_NO_HOST);
}

/* With a host port, traffic for our addresses (even with TTL 1) goes to the host ring. */
static void test_punt_and_inject(void)
{
	setup(1);
	unsigned l[2] = {mk_ping4(fb[0], "10.1.0.2", "10.1.0.1"),
	                 mk_udp4(fb[1], MAC0, "10.1.0.2", "10.1.0.1", 1)};
	run(2, l);
	CHECK(vd[0].action == RT_ACT_HOST && vd[0].port == 0);
	CHECK(vd[1].action == RT_ACT_HOST && wk.st.punted == 2);
	/* what the host sends leaves the port as is, with the port's MAC */
	unsigned len = mk_udp4(fb[0], HA, "10.1.0.1", "10.1.0.2", 64);
	pk[0] = (struct rt_pkt){.data = fb[0], .len = (uint16_t)len, .port = 0, .from_host = 1};
	burst(1);
	CHECK(vd[0].action == RT_ACT_TX && vd[0].port == 0 && wk.st.injected == 1);
	CHECK(!memcmp(fb[0] + 6, MAC0, 6));
}

/* IPv6: forwarded with hop limit - 1 to the gateway's MAC. */
static void test_forward6(void)
{
	setup(0);
	run1(mk_udp6(fb[0], "fd01::2", "fd82:0:1::5", 64));
	CHECK(vd[0].action == RT_ACT_TX && vd[0].port == 1);
	CHECK(!memcmp(fb[0], GW2, 6) && fb[0][14 + 7] == 63);
}

/* IPv6 hop limit 1 and no route: ICMPv6 errors with valid checksums and quotes. */
static void test_icmp6_errors(void)
{
	setup(0);
	uint8_t orig[80];
	unsigned len = mk_udp6(fb[0], "fd01::2", "fd82:0:1::5", 1);
	memcpy(orig, fb[0] + 14, 66);
	run1(len);
	uint8_t *ip = fb[0] + 14;
	CHECK(vd[0].action == RT_ACT_TX && vd[0].port == 0 && !memcmp(fb[0], HA, 6));
	CHECK(ip[6] == 58 && ip[40] == 3 && ip[41] == 0);
	CHECK((ip[4] << 8 | ip[5]) == 8 + 66 && !memcmp(ip + 48, orig, 66));
	CHECK(cksum6(ip, ip + 40, 8 + 66, 58) == 0);
	uint8_t a[16];
	ip6("fd01::1", a);
	CHECK(!memcmp(ip + 8, a, 16));
	run1(mk_udp6(fb[0], "fd01::2", "fd99::5", 64));
	CHECK(vd[0].action == RT_ACT_TX && ip[40] == 1 && ip[41] == 0);
	CHECK(cksum6(ip, ip + 40, (unsigned)(ip[4] << 8 | ip[5]), 58) == 0);
	CHECK(wk.st.drops[RT_DROP_TTL] == 1 && wk.st.drops[RT_DROP_NO_ROUTE] == 1);
}

/* RFC 4443 2.4(e.1): no ICMPv6 error about an ICMPv6 error even behind extension headers
 * (here a Destination Options header); an echo request behind one still gets its error. */
static void test_icmp6_no_error_about_error_exthdr(void)
{
	setup(0);
	for (int echo = 0; echo < 2; echo++) {
		unsigned len = mk_udp6(fb[0], "fd01::2", "fd82:0:1::5", 1);
		uint8_t *ip = fb[0] + 14;
		ip[6] = 60;  /* destination options */
		ip[40] = 58; /* next: ICMPv6 */
		ip[41] = 0;  /* 8 bytes */
		ip[42] = 1;  /* PadN, 4 bytes of padding */
		ip[43] = 4;
		memset(ip + 44, 0, 4);
		ip[48] = echo ? 128 : 1; /* echo request, or destination unreachable */
		ip[49] = 0;
		ip[50] = ip[51] = 0;
		uint16_t c = cksum6(ip, ip + 48, 18, 58);
		ip[50] = (uint8_t)(c >> 8);
		ip[51] = (uint8_t)c;
		run1(len);
		if (echo)
			CHECK(vd[0].action == RT_ACT_TX && vd[0].port == 0 && wk.st.icmp_sent == 1);
		else
			CHECK(vd[0].action == RT_ACT_DROP && vd[0].reason == RT_DROP_TTL &&
			      wk.st.icmp_sent == 0);
	}
}

/* A neighbor solicitation for fd01::1 gets a solicited NA with our MAC. */
static void test_nd(void)
{
	setup(0);
	static const uint8_t HB[6] = {2, 0, 0, 0, 0, 0xb7};
	uint8_t *f = fb[0], *ip = f + 14, *ic = ip + 40;
	run1(mk_ns(f, HB, "fd01::7", "fd01::1"));
	CHECK(vd[0].action == RT_ACT_TX && vd[0].port == 0 && !memcmp(f, HB, 6));
	CHECK(ic[0] == 136 && (ic[4] & 0x40) && ic[24] == 2 && !memcmp(ic + 26, MAC0, 6));
	CHECK(cksum6(ip, ic, 32, 58) == 0);
	uint8_t x[16], mac[6];
	ip6("fd01::7", x);
	int ni = rt_neigh_find(rt, AF_INET6, x, 0);
	CHECK(ni >= 0 && rt_neigh_read(rt, ni, mac) == RT_NUD_STALE && !memcmp(mac, HB, 6));
	/* unresolved IPv6 next hop: an NS goes to the solicited-node group */
	add_route(AF_INET6, "fd83::", 32, "fd02::9", NULL);
	run1(mk_udp6(fb[0], "fd01::2", "fd83::5", 64));
	CHECK(vd[0].action == RT_ACT_HELD && nemitted == 1 && emitted[0].port == 1);
	CHECK(emitted[0].f[0] == 0x33 && emitted[0].f[2] == 0xff && emitted[0].f[5] == 9);
	CHECK(emitted[0].f[14 + 40] == 135);
	CHECK(cksum6(emitted[0].f + 14, emitted[0].f + 54, 32, 58) == 0);
}

/* ICMP errors are rate limited: with a bucket of 2 and no refill, the third is suppressed. */
static void test_icmp_rate(void)
{
	setup(0);
	rt->icmp_rate = 0;
	rt->icmp_burst = 2;
	rt_worker_init(&wk, rt, 0, &test_ops, NULL);
	unsigned l[3];
	for (int i = 0; i < 3; i++)
		l[i] = mk_udp4(fb[i], MAC0, "10.1.0.2", "10.99.0.1", 64);
	run(3, l);
	CHECK(vd[0].action == RT_ACT_TX && vd[1].action == RT_ACT_TX);
	CHECK(vd[2].action == RT_ACT_DROP && vd[2].reason == RT_DROP_ICMP_RATE);
	CHECK(wk.st.icmp_sent == 2 && wk.st.drops[RT_DROP_ICMP_RATE] == 1);
}

/* The ICMP bucket refills to its depth after a long quiet time, whatever the rate: with
 * icmp_rate 1000000, 5.1 hours without an error (elapsed ns * rate passes 2^64) must not
 * leave the bucket empty. */
static void test_icmp_rate_long_idle(void)
{
	setup(0);
	rt->icmp_rate = 1000000;
	rt->icmp_burst = 100;
	rt_worker_init(&wk, rt, 0, &test_ops, NULL);
	wk.icmp_tokens_milli = 0;
	wk.icmp_last = 1000000000ull;
	wk.now = wk.icmp_last + 18446744073710ull; /* 2^64 / 1e6 ns, rounded up */
	run_now(mk_udp4(fb[0], MAC0, "10.1.0.2", "10.99.0.1", 64), 0);
	CHECK(vd[0].action == RT_ACT_TX && wk.st.icmp_sent == 1);
	CHECK(wk.st.drops[RT_DROP_ICMP_RATE] == 0);
}

static int count_cb(const struct rt_route *r, void *arg)
{
	(void)r;
	(*(int *)arg)++;
	return 0;
}

struct find_dev {
	const uint8_t *dst;
	unsigned plen;
	char dev[IFNAMSIZ];
};

static int find_dev_cb(const struct rt_route *r, void *arg)
{
	struct find_dev *f = arg;
	if (r->family == AF_INET && r->plen == f->plen && !memcmp(r->dst, f->dst, 4))
		snprintf(f->dev, sizeof(f->dev), "%s", r->dev);
	return 0;
}

/* The control interface: errors name the item; all-or-nothing; replace diffs. */
static void test_ctl(void)
{
	setup(0);
	char err[256];
	struct rt_route r[3];
	memset(r, 0, sizeof(r));
	uint64_t g = rt_generation(rt);
	r[0].family = AF_INET;
	r[0].plen = 24;
	inet_pton(AF_INET, "10.90.0.0", r[0].dst);
	snprintf(r[0].dev, sizeof(r[0].dev), "p1");
	r[1] = r[0];
	inet_pton(AF_INET, "10.91.0.1", r[1].dst); /* host bits set */
	CHECK(rt_route_add(rt, r, 2, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "routes[1]") != NULL);
	CHECK(rt_generation(rt) == g);
	r[1].plen = 32;
	snprintf(r[1].dev, sizeof(r[1].dev), "p7");
	CHECK(rt_route_add(rt, r, 2, err, sizeof(err)) == -ENODEV);
	snprintf(r[1].dev, sizeof(r[1].dev), "p1");
	CHECK(rt_route_add(rt, r, 2, err, sizeof(err)) == 0);
	CHECK(rt_route_add(rt, r, 1, err, sizeof(err)) == -EEXIST);
	CHECK(rt_generation(rt) == g + 1);
	int n = 0;
	rt_route_walk(rt, count_cb, &n);
	CHECK(n == 4 /* connected v4+v6 */ + 3 /* setup */ + 2);
	/* replace: keep 10.90.0.0/24, drop the rest, add one */
	r[2] = r[0];
	inet_pton(AF_INET, "10.92.0.0", r[2].dst);
	size_t adds, dels;
	CHECK(rt_route_replace(rt, (struct rt_route[]){r[0], r[2]}, 2, 1, &adds, &dels, err,
	                       sizeof(err)) == 0);
	CHECK(adds == 1 && dels == 4 && rt_generation(rt) == g + 1); /* dry run */
	CHECK(rt_route_replace(rt, (struct rt_route[]){r[0], r[2]}, 2, 0, &adds, &dels, err,
	                       sizeof(err)) == 0);
	n = 0;
	rt_route_walk(rt, count_cb, &n);
	CHECK(n == 4 + 2);
	/* the old 10.82/16 is gone from the data plane */
	run1(mk_udp4(fb[0], MAC0, "10.1.0.2", "10.82.1.1", 64));
	CHECK(vd[0].action == RT_ACT_TX && fb[0] + 14 && fb[0][14 + 20] == 3);
	/* a next-hop change is made in place: counted as one add and one delete, the route
	 * store holds the new egress, the data plane uses it; the unchanged route stays */
	struct rt_route moved = r[0];
	snprintf(moved.dev, sizeof(moved.dev), "p0");
	uint64_t g2 = rt_generation(rt);
	CHECK(rt_route_replace(rt, (struct rt_route[]){moved, r[2]}, 2, 0, &adds, &dels, err,
	                       sizeof(err)) == 0);
	CHECK(adds == 1 && dels == 1 && rt_generation(rt) == g2 + 1);
	struct find_dev fd = {.dst = moved.dst, .plen = 24};
	rt_route_walk(rt, find_dev_cb, &fd);
	CHECK(!strcmp(fd.dev, "p0"));
	n = 0;
	rt_route_walk(rt, count_cb, &n);
	CHECK(n == 4 + 2);
	nemitted = 0;
	run1(mk_udp4(fb[0], MAC0, "10.1.0.2", "10.90.0.5", 64));
	CHECK(vd[0].action == RT_ACT_HELD && nemitted == 1 && emitted[0].port == 0);
	/* a replace that fails (a device that does not exist) changes nothing */
	struct rt_route bad = r[2];
	snprintf(bad.dev, sizeof(bad.dev), "p9");
	CHECK(rt_route_replace(rt, (struct rt_route[]){r[0], bad}, 2, 0, &adds, &dels, err,
	                       sizeof(err)) < 0);
	CHECK(rt_generation(rt) == g2 + 1 && strstr(err, "routes[1]") != NULL);
	memset(&fd, 0, sizeof(fd));
	fd.dst = moved.dst;
	fd.plen = 24;
	rt_route_walk(rt, find_dev_cb, &fd);
	CHECK(!strcmp(fd.dev, "p0"));
	CHECK(rt_route_del(rt, &r[1], 1, err, sizeof(err)) == -ENOENT);
	CHECK(rt_route_del(rt, &r[2], 1, err, sizeof(err)) == 0);
	struct rt_route conn = {.family = AF_INET, .plen = 24};
	inet_pton(AF_INET, "10.1.0.0", conn.dst);
	CHECK(rt_route_del(rt, &conn, 1, err, sizeof(err)) == -EINVAL);
	struct rt_stats sum;
	CHECK(rt_stats_get(rt, NULL, 0, &sum) == 1 && sum.rx_packets == 2);
}

/* A burst mixing every kind of frame gets one verdict per frame and balanced counters. */
static void test_mixed_burst(void)
{
	setup(0);
	unsigned l[RT_BURST];
	for (unsigned i = 0; i < RT_BURST; i++) {
		switch (i % 4) {
		case 0:
			l[i] = mk_udp4(fb[i], MAC0, "10.1.0.2", "10.82.5.1", 64);
			break;
		case 1:
			l[i] = mk_udp4(fb[i], MAC0, "10.1.0.2", "10.82.9.1", 1);
			break;
		case 2:
			l[i] = mk_udp6(fb[i], "fd01::2", "fd82::1", 64);
			break;
		case 3:
			l[i] = mk_udp4(fb[i], MAC0, "10.1.0.2", "10.82.9.1", 64);
			fb[i][24] ^= 1;
			break;
		}
	}
	run(RT_BURST, l);
	unsigned tx = 0, dr = 0;
	for (unsigned i = 0; i < RT_BURST; i++)
		vd[i].action == RT_ACT_TX ? tx++ : dr++;
	CHECK(wk.st.forwarded == RT_BURST / 2);
	CHECK(wk.st.drops[RT_DROP_BAD_CSUM] == RT_BURST / 4);
	CHECK(wk.st.drops[RT_DROP_TTL] + wk.st.drops[RT_DROP_ICMP_RATE] == RT_BURST / 4);
	CHECK(tx == RT_BURST / 2 + wk.st.icmp_sent);
}

/* ---------------------------------------------------------------- MTU */

/* Ethernet + IPv4 (20 + optlen bytes of header, options opt) + UDP, total IP length tot,
 * DF and the fragment field fo (flags | offset) as given; the payload is a byte pattern. */
static unsigned mk_big4(uint8_t *f, unsigned tot, uint16_t fo, const uint8_t *opt, unsigned optlen)
{
	memset(f, 0, 2048);
	memcpy(f, MAC0, 6);
	memcpy(f + 6, HA, 6);
	f[12] = 0x08;
	uint8_t *ip = f + 14;
	unsigned hl = 20 + optlen;
	ip[0] = (uint8_t)(0x40 | hl / 4);
	ip[2] = (uint8_t)(tot >> 8);
	ip[3] = (uint8_t)tot;
	ip[4] = 0x56;
	ip[5] = 0x78;
	ip[6] = (uint8_t)(fo >> 8);
	ip[7] = (uint8_t)fo;
	ip[8] = 64;
	ip[9] = 17;
	uint32_t a = ip4("10.1.0.2"), b = ip4("10.82.1.1");
	memcpy(ip + 12, &a, 4);
	memcpy(ip + 16, &b, 4);
	if (optlen)
		memcpy(ip + 20, opt, optlen);
	uint8_t *u = ip + hl;
	u[0] = 0x30;
	u[1] = 0x39;
	u[3] = 53;
	u[4] = (uint8_t)((tot - hl) >> 8);
	u[5] = (uint8_t)(tot - hl);
	for (unsigned i = 8; i < tot - hl; i++)
		u[i] = (uint8_t)(i * 7 + 3);
	fix_ip4_csum(f);
	return 14 + tot;
}

struct frag_want {
	unsigned mtu, n;     /* egress MTU, fragments expected */
	const uint8_t *opt2; /* options of the fragments after the first */
	unsigned hl2;        /* and their header length */
};

/*
 * Checks the fragments of orig (the IPv4 packet as sent, ol bytes): the first in fb[0] /
 * vd[0], the others in sent_held[0..]: Ethernet to GW2 from p1; valid header checksums;
 * TTL - 1; id, protocol, addresses kept; each no longer than the MTU; offsets continue
 * the original's, data a multiple of 8 but in the last; MF on all but the last (which has
 * the original's); options all in the first, only the copied ones after; and the data,
 * put back together by offset, is the original's byte for byte.
 */
static void check_frags(const uint8_t *orig, const struct frag_want *fw)
{
	unsigned ohl = (orig[0] & 15u) * 4, otot = (unsigned)(orig[2] << 8 | orig[3]);
	unsigned ofo = (unsigned)(orig[6] << 8 | orig[7]), base = (ofo & 0x1fff) * 8u;
	uint8_t data[2048];
	unsigned covered = 0;
	memset(data, 0, sizeof(data));
	CHECK(vd[0].action == RT_ACT_TX && vd[0].port == 1);
	CHECK(nsent_held == fw->n - 1);
	for (unsigned k = 0; k < fw->n && k < NSENT + 1; k++) {
		const uint8_t *f = k ? sent_held[k - 1].f : fb[0];
		unsigned flen = k ? sent_held[k - 1].len : vd[0].len;
		const uint8_t *ip = f + 14;
		unsigned hl = (ip[0] & 15u) * 4, tot = (unsigned)(ip[2] << 8 | ip[3]);
		unsigned fo = (unsigned)(ip[6] << 8 | ip[7]), off = (fo & 0x1fff) * 8u;
		int last = k == fw->n - 1;
		if (k)
			CHECK(sent_held[k - 1].port == 1);
		CHECK(!memcmp(f, GW2, 6) && !memcmp(f + 6, MAC1, 6) && f[12] == 8 && f[13] == 0);
		CHECK(flen == 14 + tot && tot <= fw->mtu && ip4_valid(ip));
		CHECK(ip[8] == orig[8] - 1 && ip[9] == orig[9] && !memcmp(ip + 4, orig + 4, 2));
		CHECK(!memcmp(ip + 12, orig + 12, 8) && ip[1] == orig[1]);
		CHECK((fo & 0x4000) == 0);
		if (k == 0) {
			CHECK(hl == ohl && !memcmp(ip + 20, orig + 20, ohl - 20));
		} else {
			CHECK(hl == fw->hl2 && (hl == 20 || !memcmp(ip + 20, fw->opt2, hl - 20)));
		}
		CHECK(last ? (fo & 0x2000) == (ofo & 0x2000) : (fo & 0x2000) != 0);
		CHECK(last || (tot - hl) % 8 == 0);
		CHECK(off == base + covered); /* in order, no gap, no overlap */
		if (off >= base && off - base + (tot - hl) <= sizeof(data))
			memcpy(data + off - base, ip + hl, tot - hl);
		covered += tot - hl;
	}
	CHECK(covered == otot - ohl && !memcmp(data, orig + ohl, otot - ohl));
	CHECK(wk.st.frag_ok == 1 && wk.st.fragments == fw->n && wk.st.forwarded == 1);
	for (int r = 0; r < RT_DROP_MAX; r++)
		CHECK(wk.st.drops[r] == 0);
}

/* A 1400-byte datagram without DF towards p1 (MTU 1000) becomes two fragments, 976 + 404
 * bytes of data; with MTU 1001 the first still carries 976 (a multiple of 8). */
static void test_frag4_plain(void)
{
	for (unsigned mtu = 1000; mtu <= 1001; mtu++) {
		setup(0);
		rt->port[1].mtu = mtu;
		uint8_t orig[2048];
		unsigned len = mk_big4(fb[0], 1400, 0, NULL, 0);
		memcpy(orig, fb[0] + 14, 1400);
		run1(len);
		CHECK(vd[0].len == 14 + 20 + 976 && sent_held[0].len == 14 + 20 + 404);
		check_frags(orig, &(struct frag_want){mtu, 2, NULL, 20});
		for (int b = 0; b < NBUF; b++)
			CHECK(!held_used[b]);
	}
}

/* Options (RFC 791 3.1): NOP (not copied), Record Route (copy bit 0), Router Alert (copy
 * bit 1). The first fragment keeps all 12 bytes; the others carry only Router Alert (24-byte
 * header). MTU 500: 464 + 472 + 432 bytes of data. A datagram that is already a fragment
 * (offset 800, MF) keeps its offset base and its MF on the last piece; one that is the last
 * fragment (MF clear) ends with MF clear. */
static void test_frag4_options(void)
{
	static const uint8_t opt[12] = {0x01, 0x07, 0x07, 0x04, 0, 0, 0, 0, 0x94, 0x04, 0, 0};
	static const uint8_t opt2[4] = {0x94, 0x04, 0, 0};
	static const uint16_t fos[3] = {0, 0x2000 | 100, 100};
	for (int c = 0; c < 3; c++) {
		setup(0);
		rt->port[1].mtu = 500;
		uint8_t orig[2048];
		unsigned len = mk_big4(fb[0], 1400, fos[c], opt, sizeof(opt));
		memcpy(orig, fb[0] + 14, 1400);
		run1(len);
		check_frags(orig, &(struct frag_want){500, 3, opt2, 24});
		CHECK(vd[0].len == 14 + 32 + 464 && sent_held[0].len == 14 + 24 + 472);
		CHECK(sent_held[1].len == 14 + 24 + 432);
	}
	/* MTU 68 (the minimum) with 40 bytes of options copied into every fragment: 8 bytes of
	 * data each, a multiple of 8 still */
	setup(0);
	rt->port[1].mtu = 68;
	uint8_t o40[40], orig[2048];
	memset(o40, 0, sizeof(o40));
	o40[0] = 0x94; /* router alert, 4 bytes, copied */
	o40[1] = 4;
	o40[4] = 0x88; /* stream id, 4 bytes, copied (obsolete, but has the copy bit) */
	o40[5] = 4;
	o40[8] = 0x01; /* NOPs up to the end: not copied */
	memset(o40 + 8, 1, 32);
	unsigned len = mk_big4(fb[0], 260, 0, o40, sizeof(o40));
	memcpy(orig, fb[0] + 14, 260);
	run1(len);
	static const uint8_t o8[8] = {0x94, 4, 0, 0, 0x88, 4, 0, 0};
	check_frags(orig, &(struct frag_want){68, 1 + (200 - 8 + 39) / 40, o8, 28});
}

/* No buffer for the second fragment: the datagram is dropped (no_buf), nothing is sent,
 * no buffer leaks; more than RT_FRAG_MAX fragments likewise. */
static void test_frag4_no_buf(void)
{
	setup(0);
	rt->port[1].mtu = 500;
	alloc_left = 1; /* three fragments need two */
	run1(mk_big4(fb[0], 1400, 0, NULL, 0));
	CHECK(vd[0].action == RT_ACT_DROP && vd[0].reason == RT_DROP_NO_BUF);
	CHECK(wk.st.drops[RT_DROP_NO_BUF] == 1 && nsent_held == 0 && wk.st.frag_ok == 0);
	CHECK(wk.st.fragments == 0 && wk.st.forwarded == 0 && nfreed == 1);
	for (int b = 0; b < NBUF; b++)
		CHECK(!held_used[b]);
	setup(0);
	rt->port[1].mtu = 68; /* 48 bytes a fragment: 1380 bytes are 29 */
	run1(mk_big4(fb[0], 1400, 0, NULL, 0));
	CHECK(vd[0].action == RT_ACT_TX && wk.st.fragments == 29 && nsent_held == 28);
	setup(0);
	rt->port[1].mtu = 68;
	uint8_t o40[40];
	memset(o40, 0, sizeof(o40));
	o40[0] = 0x94;
	o40[1] = 40; /* one 40-byte copied option: 8 bytes of data a fragment */
	run1(mk_big4(fb[0], 1400, 0, o40, sizeof(o40)));
	CHECK(vd[0].action == RT_ACT_DROP && vd[0].reason == RT_DROP_NO_BUF);
	CHECK(nsent_held == 0 && nfreed == 0);
}

/* DF set and bigger than p1's MTU 1000: ICMP Destination Unreachable, Fragmentation Needed
 * (3/4) back to A from 10.1.0.1 with next-hop MTU 1000 in the low 16 bits of the unused
 * word (RFC 1191), quoting 548 bytes of the datagram as received (TTL 64); counted as
 * frag_needed and icmp_sent. Exactly 1000 bytes with DF passes untouched. With a bucket of
 * 1 the second error is suppressed (icmp_rate). */
static void test_frag_needed4(void)
{
	setup(0);
	rt->port[1].mtu = 1000;
	uint8_t orig[2048];
	unsigned len = mk_big4(fb[0], 1400, 0x4000, NULL, 0);
	memcpy(orig, fb[0] + 14, 1400);
	run1(len);
	uint8_t *ip = fb[0] + 14, *ic = ip + 20;
	CHECK(vd[0].action == RT_ACT_TX && vd[0].port == 0 && !memcmp(fb[0], HA, 6));
	CHECK(!memcmp(fb[0] + 6, MAC0, 6) && ip4_valid(ip) && ip[9] == 1);
	CHECK(!memcmp(ip + 12, (uint8_t[]){10, 1, 0, 1}, 4));
	CHECK(!memcmp(ip + 16, (uint8_t[]){10, 1, 0, 2}, 4));
	CHECK(ic[0] == 3 && ic[1] == 4 && ic[4] == 0 && ic[5] == 0);
	CHECK((ic[6] << 8 | ic[7]) == 1000);
	CHECK((ip[2] << 8 | ip[3]) == 576 && vd[0].len == 14 + 576);
	CHECK(cksum(ic, 556, 0) == 0 && !memcmp(ic + 8, orig, 548));
	CHECK(wk.st.drops[RT_DROP_FRAG_NEEDED] == 1 && wk.st.icmp_sent == 1);
	CHECK(wk.st.forwarded == 0 && wk.st.frag_ok == 0 && nsent_held == 0);
	run1(mk_big4(fb[0], 1000, 0x4000, NULL, 0));
	CHECK(vd[0].action == RT_ACT_TX && vd[0].port == 1 && vd[0].len == 1014);
	CHECK(wk.st.forwarded == 1 && wk.st.frag_ok == 0 && nsent_held == 0);

	setup(0);
	rt->port[1].mtu = 1000;
	rt->icmp_rate = 0;
	rt->icmp_burst = 1;
	rt_worker_init(&wk, rt, 0, &test_ops, NULL);
	unsigned l[2] = {mk_big4(fb[0], 1400, 0x4000, NULL, 0),
	                 mk_big4(fb[1], 1400, 0x4000, NULL, 0)};
	run(2, l);
	CHECK(vd[0].action == RT_ACT_TX && vd[0].port == 0);
	CHECK(vd[1].action == RT_ACT_DROP && vd[1].reason == RT_DROP_ICMP_RATE);
	CHECK(wk.st.drops[RT_DROP_FRAG_NEEDED] == 1 && wk.st.drops[RT_DROP_ICMP_RATE] == 1);
	/* an ICMP error with DF is dropped without an error about it */
	setup(0);
	rt->port[1].mtu = 1000;
	len = mk_big4(fb[0], 1400, 0x4000, NULL, 0);
	fb[0][14 + 9] = 1;
	fb[0][14 + 20] = 3;
	fix_ip4_csum(fb[0]);
	run1(len);
	CHECK(vd[0].action == RT_ACT_DROP && vd[0].reason == RT_DROP_FRAG_NEEDED);
	CHECK(wk.st.icmp_sent == 0);
}

/* Fragments of a datagram to an unresolved next hop wait in its hold queue (the first in
 * the stolen RX buffer, the others in their pool buffers) and leave in order when ARP
 * answers; the datagram counts once as forwarded. */
static void test_frag4_held(void)
{
	setup(0);
	static const uint8_t G9[6] = {2, 0, 0, 0, 0, 0x99};
	add_route(AF_INET, "10.83.0.0", 16, "10.2.0.9", NULL);
	rt->port[1].mtu = 500;
	unsigned len = mk_big4(fb[0], 1400, 0, NULL, 0);
	memcpy(fb[0] + 14 + 16, (uint8_t[]){10, 83, 1, 1}, 4);
	fix_ip4_csum(fb[0]);
	run1(len);
	CHECK(vd[0].action == RT_ACT_HELD && nemitted == 1 && nsent_held == 0);
	CHECK(wk.st.frag_ok == 1 && wk.st.fragments == 3 && wk.st.forwarded == 0);
	len = mk_arp(fb[0], 2, G9, "10.2.0.9", "10.2.0.1");
	memcpy(fb[0], MAC1, 6);
	pk[0] = (struct rt_pkt){.data = fb[0], .len = (uint16_t)len, .port = 1};
	burst(1);
	CHECK(nsent_held == 3 && wk.st.forwarded == 1);
	for (unsigned k = 0; k < 3 && k < nsent_held; k++) {
		const uint8_t *ip = sent_held[k].f + 14;
		CHECK(!memcmp(sent_held[k].f, G9, 6) && ip4_valid(ip) && sent_held[k].port == 1);
		CHECK(((ip[6] << 8 | ip[7]) & 0x1fff) == (k == 0 ? 0 : k == 1 ? 60 : 120));
	}
	for (int b = 0; b < NBUF; b++)
		CHECK(!held_used[b]);
}

/* IPv6 bigger than p1's MTU 1280: ICMPv6 Packet Too Big (2/0) from fd01::1 to fd01::2 with
 * MTU 1280, quoting as much as fits in 1280 bytes (1232), as received (hop limit 64);
 * counted as too_big and icmp_sent. 1280 bytes pass. Routers never fragment IPv6. */
static void test_too_big6(void)
{
	setup(0);
	rt->port[1].mtu = 1280;
	uint8_t orig[2048];
	unsigned len = mk_udp6(fb[0], "fd01::2", "fd82:0:1::5", 64);
	uint8_t *ip = fb[0] + 14;
	ip[4] = (1400 - 40) >> 8;
	ip[5] = (1400 - 40) & 0xff;
	for (unsigned i = 48; i < 1400; i++)
		ip[i] = (uint8_t)(i * 13);
	len = 14 + 1400;
	memcpy(orig, ip, 1400);
	run1(len);
	uint8_t *ic = ip + 40, a[16];
	CHECK(vd[0].action == RT_ACT_TX && vd[0].port == 0 && !memcmp(fb[0], HA, 6));
	CHECK(vd[0].len == 14 + 1280 && (ip[4] << 8 | ip[5]) == 1240);
	CHECK(ip[6] == 58 && ic[0] == 2 && ic[1] == 0);
	CHECK(ic[4] == 0 && ic[5] == 0 && (ic[6] << 8 | ic[7]) == 1280);
	CHECK(!memcmp(ic + 8, orig, 1232) && cksum6(ip, ic, 1240, 58) == 0);
	ip6("fd01::1", a);
	CHECK(!memcmp(ip + 8, a, 16));
	ip6("fd01::2", a);
	CHECK(!memcmp(ip + 24, a, 16));
	CHECK(wk.st.drops[RT_DROP_TOO_BIG] == 1 && wk.st.icmp_sent == 1);
	CHECK(wk.st.forwarded == 0 && wk.st.fragments == 0 && nsent_held == 0);
	len = mk_udp6(fb[0], "fd01::2", "fd82:0:1::5", 64);
	ip[4] = (1280 - 40) >> 8;
	ip[5] = (1280 - 40) & 0xff;
	run1(14 + 1280);
	CHECK(vd[0].action == RT_ACT_TX && vd[0].port == 1 && vd[0].len == 14 + 1280);
	CHECK(wk.st.forwarded == 1 && wk.st.drops[RT_DROP_TOO_BIG] == 1);
}

/* RFC 4291 2.5.6: a packet with a link-local source is not forwarded to another link; the
 * source hears ICMPv6 Destination Unreachable, beyond scope of source address (RFC 4443 3.1,
 * code 2), and the packet counts as martian. Back out of the link it came from it may go. */
static void test_linklocal_src6(void)
{
	setup(0);
	add_neigh(AF_INET6, "fe80::2", HA, "p0");
	add_route(AF_INET6, "fd84::", 32, "fd01::2", NULL);
	uint8_t orig[80], a[16];
	unsigned len = mk_udp6(fb[0], "fe80::2", "fd82:0:1::5", 64);
	memcpy(orig, fb[0] + 14, 66);
	run1(len);
	uint8_t *ip = fb[0] + 14;
	CHECK(!(vd[0].action == RT_ACT_TX && vd[0].port == 1));
	CHECK(wk.st.forwarded == 0 && wk.st.drops[RT_DROP_MARTIAN] == 1);
	CHECK(vd[0].action == RT_ACT_TX && vd[0].port == 0 && !memcmp(fb[0], HA, 6));
	CHECK(ip[6] == 58 && ip[40] == 1 && ip[41] == 2);
	CHECK((ip[4] << 8 | ip[5]) == 8 + 66 && !memcmp(ip + 48, orig, 66));
	CHECK(cksum6(ip, ip + 40, 8 + 66, 58) == 0);
	ip6("fe80::2", a);
	CHECK(!memcmp(ip + 24, a, 16));
	/* to a route out of the same link: forwarded */
	run1(mk_udp6(fb[0], "fe80::2", "fd84::5", 64));
	CHECK(vd[0].action == RT_ACT_TX && vd[0].port == 0 && ip[7] == 63);
	CHECK(wk.st.forwarded == 1 && wk.st.drops[RT_DROP_MARTIAN] == 1);
}

/* RFC 4291 2.5.2: a packet with the unspecified source address is never forwarded (martian,
 * and no error: there is nobody to send it to). A DAD NS from :: is still answered. */
static void test_unspec_src6(void)
{
	setup(0);
	run1(mk_udp6(fb[0], "::", "fd82:0:1::5", 64));
	CHECK(vd[0].action == RT_ACT_DROP && vd[0].reason == RT_DROP_MARTIAN);
	CHECK(wk.st.forwarded == 0 && wk.st.drops[RT_DROP_MARTIAN] == 1 && wk.st.icmp_sent == 0);
	static const uint8_t HB[6] = {2, 0, 0, 0, 0, 0xb7};
	run1(mk_nd(fb[0], (const uint8_t[]){0x33, 0x33, 0xff, 0, 0, 1}, HB, "::", "ff02::1:ff00:1",
	           135, 0, "fd01::1", 0));
	CHECK(vd[0].action == RT_ACT_TX && fb[0][14 + 40] == 136);
}

/* RFC 1812 5.3.4: a packet received as a link-layer broadcast or multicast is not forwarded
 * unless its IP destination is multicast (a subnet broadcast such as NetBIOS's to
 * 10.1.0.255 must not be routed or ARPed for); likewise IPv6. It may still be for us. */
static void test_l2_bcast_not_forwarded(void)
{
	setup(0);
	static const uint8_t mc6[6] = {0x33, 0x33, 0, 0, 0, 1},
	                     bcast[6] = {255, 255, 255, 255, 255, 255};
	run1(mk_udp4(fb[0], bcast, "10.1.0.2", "10.82.1.1", 64));
	CHECK(vd[0].action == RT_ACT_DROP && vd[0].reason == RT_DROP_BAD_L2);
	run1(mk_udp4(fb[0], bcast, "10.1.0.2", "10.2.0.255", 64)); /* ours: test_directed_bcast4 */
	CHECK(vd[0].action == RT_ACT_DROP && vd[0].reason == RT_DROP_NO_HOST);
	unsigned len = mk_udp6(fb[0], "fd01::2", "fd82:0:1::5", 64);
	memcpy(fb[0], mc6, 6);
	run1(len);
	CHECK(vd[0].action == RT_ACT_DROP && vd[0].reason == RT_DROP_BAD_L2);
	CHECK(wk.st.forwarded == 0 && nemitted == 0 && wk.st.drops[RT_DROP_BAD_L2] == 2);
	/* for us: still answered */
	len = mk_ping4(fb[0], "10.1.0.2", "10.1.0.1");
	memcpy(fb[0], bcast, 6);
	run1(len);
	CHECK(vd[0].action == RT_ACT_TX && vd[0].port == 0 && wk.st.local_replies == 1);
	/* unicast: forwarded as ever */
	run1(mk_udp4(fb[0], MAC0, "10.1.0.2", "10.82.1.1", 64));
	CHECK(vd[0].action == RT_ACT_TX && vd[0].port == 1 && wk.st.forwarded == 1);
}

/* A directed broadcast to a connected subnet (10.2.0.255 on p1's 10.2.0.0/24) is the
 * router's own broadcast (RFC 1812 5.3.5.2, forwarding off by default per RFC 2644, as in
 * Linux): to the host port, or dropped without one; never ARPed for, never answered with
 * ICMP host unreachable (RFC 1812 4.3.2.7: no error about a broadcast). */
static void test_directed_bcast4(void)
{
	setup(0);
	wk.now = 1000000000000ull;
	run_now(mk_udp4(fb[0], MAC0, "10.1.0.2", "10.2.0.255", 64), 0);
	CHECK(vd[0].action == RT_ACT_DROP && vd[0].reason == RT_DROP_NO_HOST);
	CHECK(nemitted == 0 && wk.st.drops[RT_DROP_NO_HOST] == 1);
	for (int k = 0; k <= RT_NEIGH_PROBES; k++)
		tick_at(wk.now + RT_NEIGH_RETRANS_NS + 1);
	CHECK(nemitted == 0 && wk.st.icmp_sent == 0 && nsent_held == 0);
	setup(1);
	run1(mk_udp4(fb[0], MAC0, "10.1.0.2", "10.2.0.255", 1));
	CHECK(vd[0].action == RT_ACT_HOST && vd[0].port == 0 && nemitted == 0);
	/* the same address in a /23 is a host: forwarded */
	setup(0);
	add_route(AF_INET, "10.84.0.0", 23, NULL, "p1");
	add_neigh(AF_INET, "10.84.0.255", GW3, "p1");
	run1(mk_udp4(fb[0], MAC0, "10.1.0.2", "10.84.0.255", 64));
	CHECK(vd[0].action == RT_ACT_TX && vd[0].port == 1 && !memcmp(fb[0], GW3, 6));
}

/* The config side: an IPv6 address or route on a port whose MTU is below 1280 is refused,
 * naming it. */
static void test_mtu_ipv6_min(void)
{
	setup(0);
	char err[256] = "";
	uint8_t a[16];
	CHECK(rt_port_add(rt, "p2", "test:p2", (uint8_t[6]){2, 0, 0, 0, 0, 0x12}, 1000, 0) == 2);
	ip6("fd03::1", a);
	CHECK(rt_port_addr_add(rt, 2, AF_INET6, a, 64, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "p2: mtu 1000") != NULL);
	struct rt_route r = {.family = AF_INET6, .plen = 32};
	ip6("fd99::", r.dst);
	snprintf(r.dev, sizeof(r.dev), "p2");
	CHECK(rt_route_add(rt, &r, 1, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "routes[0]: dev p2 has mtu 1000") != NULL);
}

/* ---------------------------------------------------------------- neighbor table GC */

static int neigh_count_cb(const struct rt_neigh *nb, void *arg)
{
	(void)nb;
	(*(unsigned *)arg)++;
	return 0;
}

static unsigned neigh_count(void)
{
	unsigned n = 0;
	rt_neigh_walk(rt, neigh_count_cb, &n);
	return n;
}

/* Scanned neighbor k: 10.84.(k >> 8).(k & 255) with MAC 02:84:00:kk:kk:01. */
static void scan_addr(unsigned k, char *a)
{
	sprintf(a, "10.84.%u.%u", (k >> 8) & 255, k & 255);
}

static void scan_mac(unsigned k, uint8_t *m)
{
	memcpy(m, (uint8_t[6]){2, 0x84, 0, (uint8_t)(k >> 8), (uint8_t)k, 1}, 6);
}

/* Every listed entry is found again under its own key (lookups still reach it after the
 * table moved entries) with the MAC it was learned with; returns how many are listed. */
static int neigh_check_cb(const struct rt_neigh *nb, void *arg)
{
	uint8_t mac[6], want[6];
	int *bad = arg;
	int ni = rt_neigh_find(rt, nb->family, nb->dst, (unsigned)rt_port_by_name(rt, nb->dev));
	if (ni < 0 || rt_neigh_read(rt, ni, mac) != nb->state || memcmp(mac, nb->lladdr, 6))
		(*bad)++;
	if (nb->family == AF_INET && nb->dst[0] == 10 && nb->dst[1] == 84) {
		scan_mac((unsigned)nb->dst[2] << 8 | nb->dst[3], want);
		if (memcmp(mac, want, 6))
			(*bad)++;
	}
	return 0;
}

/* Sends one packet to each of the scanned neighbors [k0, k0 + n) (n <= RT_BURST) at wk.now
 * (each is held while ARP runs); then, if answer, each neighbor's ARP reply (it becomes
 * REACHABLE and its packet leaves). Returns how many packets were held. */
static unsigned scan_batch(unsigned k0, unsigned n, int answer)
{
	char a[32];
	unsigned held = 0;
	for (unsigned i = 0; i < n; i++) {
		scan_addr(k0 + i, a);
		pk[i] = (struct rt_pkt){.data = fb[i],
		                        .len = (uint16_t)mk_udp4(fb[i], MAC0, "10.1.0.2", a, 64)};
	}
	cur_burst = pk;
	burst(n);
	for (unsigned i = 0; i < n; i++)
		held += vd[i].action == RT_ACT_HELD;
	if (!answer)
		return held;
	for (unsigned i = 0; i < n; i++) {
		uint8_t m[6];
		scan_addr(k0 + i, a);
		scan_mac(k0 + i, m);
		pk[i] = (struct rt_pkt){
		    .data = fb[i], .len = (uint16_t)mk_arp(fb[i], 2, m, a, "10.2.0.1"), .port = 1};
		memcpy(fb[i], MAC1, 6);
	}
	burst(n);
	return held;
}

/* 10.2.0.9 answers ARP (a neighbor in use, confirmed now) and carries 10.83/16. */
static void confirm_g9(const uint8_t *g9)
{
	run_now(mk_arp(fb[0], 2, g9, "10.2.0.9", "10.2.0.1"), 1);
	run_now(mk_udp4(fb[0], MAC0, "10.1.0.2", "10.83.1.1", 64), 0);
	CHECK(vd[0].action == RT_ACT_TX && vd[0].port == 1 && !memcmp(fb[0], g9, 6));
}

/* A scan of an on-link /16 meets more distinct neighbors than the table holds (RT_NEIGH_MAX
 * at once). Like Linux's neighbour GC: when the table is full, entries nobody uses (STALE,
 * FAILED) make room for new next hops; entries idle for RT_NEIGH_GC_STALE_NS go in the
 * periodic tick. A neighbor in use (REACHABLE, confirmed) and the static ones stay, and no
 * entry ever gives another address's MAC. */
static void test_neigh_gc(void)
{
	setup(0);
	static const uint8_t G9[6] = {2, 0, 0, 0, 0, 0x99};
	uint8_t mac[6];
	add_route(AF_INET, "10.83.0.0", 16, "10.2.0.9", NULL);
	add_route(AF_INET, "10.84.0.0", 16, NULL, "p1");
	/* rt_neigh_add (the control thread) reads the real clock: keep the fake one ahead of it,
	 * so entries confirmed at wk.now are fresh to rt_neigh_add however slow this runs */
	wk.now = rt_now_ns() + 600000000000ull;
	confirm_g9(G9);
	/* fill the table with live neighbors: every one resolves */
	unsigned room = RT_NEIGH_MAX - neigh_count(), k = 0, held = 0;
	while (k < room) {
		unsigned n = room - k < 64 ? room - k : 64;
		held += scan_batch(k, n, 1);
		k += n;
		wk.now += 1000;
	}
	CHECK(held == room && neigh_count() == RT_NEIGH_MAX);
	/* all of them in use (confirmed just now): nothing to reclaim, the next one is refused,
	 * and so is a static one */
	CHECK(scan_batch(k, 1, 0) == 0 && vd[0].reason == RT_DROP_NO_NEIGH);
	struct rt_neigh nb = {.family = AF_INET, .dev = "p1", .lladdr = {2, 0, 0, 0, 0, 0x44}};
	char err[256] = "";
	inet_pton(AF_INET, "10.2.0.44", nb.dst);
	CHECK(rt_neigh_add(rt, &nb, err, sizeof(err)) == -ENOSPC);
	CHECK(strstr(err, "table full (16384 entries)") != NULL);
	/* 31 s later they are STALE (unused); 10.2.0.9 is used and confirmed again */
	tick_at(wk.now + RT_NEIGH_STALE_NS + 1000000000ull);
	confirm_g9(G9);
	CHECK(nud_of(AF_INET, "10.84.0.7", 1, mac) == RT_NUD_STALE);
	/* the scan goes on: 3000 more neighbors, each resolves (room made from STALE ones) */
	held = 0;
	for (unsigned end = k + 3000; k < end; k += 60, wk.now += 1000)
		held += scan_batch(k, 60, 1);
	CHECK(held == 3000);
	CHECK(neigh_count() <= RT_NEIGH_MAX);
	CHECK(rt_neigh_add(rt, &nb, err, sizeof(err)) == 0); /* room now */
	CHECK(nud_of(AF_INET, "10.2.0.44", 1, mac) == RT_NUD_PERMANENT);
	CHECK(nud_of(AF_INET, "10.2.0.9", 1, mac) == RT_NUD_REACHABLE && !memcmp(mac, G9, 6));
	CHECK(nud_of(AF_INET, "10.2.0.2", 1, mac) == RT_NUD_PERMANENT && !memcmp(mac, GW2, 6));
	CHECK(nud_of(AF_INET6, "fd01::2", 0, mac) == RT_NUD_PERMANENT && !memcmp(mac, HA, 6));
	char a[32];
	scan_addr(k - 1, a);
	CHECK(nud_of(AF_INET, a, 1, mac) == RT_NUD_REACHABLE);
	int bad = 0;
	rt_neigh_walk(rt, neigh_check_cb, &bad);
	CHECK(bad == 0);
	confirm_g9(G9);
	/* 64 that never answer: FAILED after the probes (their packets: host unreachable) */
	CHECK(scan_batch(k, 64, 0) == 64);
	for (int t = 0; t <= RT_NEIGH_PROBES; t++)
		tick_at(wk.now + RT_NEIGH_RETRANS_NS + 1);
	scan_addr(k + 5, a);
	CHECK(nud_of(AF_INET, a, 1, mac) == RT_NUD_FAILED);
	/* a minute of idleness later, the periodic tick has reclaimed every unused entry */
	wk.now += RT_NEIGH_STALE_NS + 2 * RT_NEIGH_GC_STALE_NS;
	confirm_g9(G9);
	tick_at(wk.now + 1000000000ull);
	CHECK(nud_of(AF_INET, a, 1, mac) == -1);
	CHECK(nud_of(AF_INET, "10.84.0.7", 1, mac) == -1);
	CHECK(neigh_count() == 7); /* the 6 static ones and 10.2.0.9 */
	CHECK(nud_of(AF_INET, "10.2.0.44", 1, mac) == RT_NUD_PERMANENT && mac[5] == 0x44);
	CHECK(nud_of(AF_INET, "10.2.0.9", 1, mac) == RT_NUD_REACHABLE && !memcmp(mac, G9, 6));
	CHECK(nud_of(AF_INET, "10.2.0.3", 1, mac) == RT_NUD_PERMANENT && !memcmp(mac, GW3, 6));
	bad = 0;
	rt_neigh_walk(rt, neigh_check_cb, &bad);
	CHECK(bad == 0);
	/* and a new one resolves at once */
	CHECK(scan_batch(k + 100, 1, 1) == 1);
	scan_addr(k + 100, a);
	CHECK(nud_of(AF_INET, a, 1, mac) == RT_NUD_REACHABLE);
}

/* The lock-free reader never gets another address's MAC, nor a torn one, while a writer
 * deletes entries (moving others back) and reuses their slots for new addresses. */
#define RACE_KEYS 6000
static volatile int race_stop;
static unsigned long race_hits, race_bad;

static void *race_reader(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&race_stop, __ATOMIC_ACQUIRE))
		for (unsigned k = 0; k < RACE_KEYS; k++) {
			uint8_t a[16] = {10, 84, (uint8_t)(k >> 8), (uint8_t)k}, mac[6], want[6];
			if (rt_neigh_lookup(rt, AF_INET, a, 1, mac) == RT_NUD_NONE)
				continue;
			scan_mac(k, want);
			race_hits++;
			race_bad += memcmp(mac, want, 6) != 0;
		}
	return NULL;
}

static void test_neigh_race(void)
{
	setup(0);
	pthread_t th;
	race_stop = 0;
	race_hits = race_bad = 0;
	CHECK(pthread_create(&th, NULL, race_reader, NULL) == 0);
	struct rt_neigh nb = {.family = AF_INET, .dev = "p1"};
	char err[256];
	int fails = 0;
	for (unsigned round = 0; round < 40; round++) {
		/* add every key of this round's parity, then delete them in another order */
		for (unsigned k = round & 1; k < RACE_KEYS; k += 2) {
			memcpy(nb.dst, (uint8_t[4]){10, 84, (uint8_t)(k >> 8), (uint8_t)k}, 4);
			scan_mac(k, nb.lladdr);
			fails += rt_neigh_add(rt, &nb, err, sizeof(err)) != 0;
		}
		for (unsigned j = 0; j < RACE_KEYS / 2; j++) {
			unsigned k = (j * 7919u) % (RACE_KEYS / 2) * 2 + (round & 1);
			memcpy(nb.dst, (uint8_t[4]){10, 84, (uint8_t)(k >> 8), (uint8_t)k}, 4);
			fails += rt_neigh_del(rt, &nb, err, sizeof(err)) != 0;
		}
	}
	__atomic_store_n(&race_stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	CHECK(fails == 0 && race_bad == 0);
	CHECK(neigh_count() == 5);
	printf("test_neigh_race: %lu lookups found an entry, %lu with a wrong MAC\n", race_hits,
	       race_bad);
}

int main(void)
{
	rcu_register_thread();
	test_forward4();
	test_csum_incremental();
	test_lpm();
	test_ttl_expired();
	test_no_route();
	test_malformed();
	test_arp_reply();
	test_resolve_and_release();
	test_release_counts_only_forwarded();
	test_hold_full();
	test_resolve_fails();
	test_nud_stale_delay_probe_reachable();
	test_nud_probe_unanswered_failed();
	test_nud_probe6();
	test_nud_probe6_na_no_tlla();
	test_na_flags();
	test_unreach4();
	test_unreach6();
	test_ping_self();
	test_punt_and_inject();
	test_forward6();
	test_icmp6_errors();
	test_icmp6_no_error_about_error_exthdr();
	test_nd();
	test_icmp_rate();
	test_icmp_rate_long_idle();
	test_ctl();
	test_mixed_burst();
	test_frag4_plain();
	test_frag4_options();
	test_frag4_no_buf();
	test_frag_needed4();
	test_frag4_held();
	test_too_big6();
	test_mtu_ipv6_min();
	test_linklocal_src6();
	test_unspec_src6();
	test_l2_bcast_not_forwarded();
	test_directed_bcast4();
	test_neigh_gc();
	test_neigh_race();
	rt_destroy(rt);
	rcu_unregister_thread();
	printf("test_rt_engine: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
