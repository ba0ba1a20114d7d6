/*
 * test_sys.c — unit tests of the port layer that need no network: spec errors, ring
 * arithmetic, and pipes (real shared memory, both ends and a zero-copy forwarder in one
 * process), with the ownership audit after each step.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "nmport.h"
#include "tests/check.h"

static const struct nmport_opts quiet = {.quiet = 1, .ring_size = 256};

/* Every bad spec fails with EINVAL/ENODEV and a message naming the spec. */
static void test_bad_specs(void)
{
	static const struct {
		const char *spec;
		const char *msg_has; /* part of the message */
	} cases[] = {
	    {"", "empty port spec"},                     /* empty */
	    {"foo", "not a port spec"},                  /* no netmap: prefix */
	    {"netmap:", "missing interface"},            /* no name */
	    {"netmap:nosuchif0", "no such interface"},   /* unknown interface */
	    {"netmap:lo-99", "no queue 99"},             /* queue out of range */
	    {"netmap:lo^x", "unexpected"},               /* junk after suffix */
	    {"netmap:lo/bogus", "unknown option"},       /* bad option */
	    {"netmap:x{", "pipe number"},                /* pipe without number */
	    {"netmap:x{99", "pipes 0.."},                /* pipe id too large */
	    {"netmap:abcdefghijklmnopq", "longer than"}, /* name too long */
	    {"netmap:lo/xdp,packet", "conflicting"},     /* two backends */
	    {"netmap:lo/packet,xdp", "conflicting"},     /* two backends */
	    {"netmap:lo/drv,skb", "conflicting"},        /* two XDP modes */
	    {"netmap:lo/packet,drv", "conflicting"},     /* an XDP mode without XDP */
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		errno = 0;
		struct nmport *p = nmport_open(cases[i].spec, &quiet);
		CHECK(p == NULL, "%s opened", cases[i].spec);
		CHECK(errno != 0, "%s: errno not set", cases[i].spec);
		CHECK(strstr(nmport_errmsg(), cases[i].msg_has) != NULL, "%s: message '%s'",
		      cases[i].spec, nmport_errmsg());
		nmport_close(p);
	}
	nmport_close(NULL); /* safe */
	struct nmport_opts bad = {.quiet = 1, .ring_size = 100};
	CHECK(nmport_open("netmap:x{0", &bad) == NULL, "ring size 100 accepted");
}

/* Ring arithmetic wraps at num_slots. */
static void test_ring_math(void)
{
	struct {
		struct netmap_ring r;
		struct netmap_slot s[8];
	} m;
	memset(&m, 0, sizeof(m));
	*(uint32_t *)&m.r.num_slots = 8;
	m.r.head = 6;
	m.r.tail = 2;
	CHECK(nm_ring_space(&m.r) == 4, "space %u", nm_ring_space(&m.r));
	CHECK(nm_ring_next(&m.r, 7) == 0, "next wraps");
	CHECK(nm_ring_add(&m.r, 6, 3) == 1, "add wraps");
	CHECK(nm_ring_dist(&m.r, 6, 2) == 4, "dist wraps");
	m.r.tail = 6;
	CHECK(nm_ring_empty(&m.r), "empty");
	m.r.slot[0].buf_idx = 5;
	m.r.slot[1].buf_idx = 9;
	nm_slot_swap(&m.r.slot[0], &m.r.slot[1]);
	CHECK(m.r.slot[0].buf_idx == 9 && m.r.slot[1].buf_idx == 5, "swap");
	CHECK(m.r.slot[0].flags & NS_BUF_CHANGED, "swap flags");
}

static int audit(struct nmport *a, struct nmport *b)
{
	char msg[256];
	struct nmport *v[2] = {a, b};
	int rc = nm_pool_audit(a->pool, v, 2, msg, sizeof(msg));
	if (rc)
		fprintf(stderr, "%s\n", msg);
	return rc;
}

/* Sends n frames of varying length master -> slave; every frame arrives in order. */
static void pipe_transfer(struct nmport *tx, struct nmport *rx, unsigned n, unsigned seed)
{
	unsigned sent = 0, got = 0, bad = 0, spins = 0;
	srand(seed);
	while (got < n && spins < 1000000) {
		struct netmap_ring *t = tx->ring[0].tx;
		uint32_t k = nm_ring_space(t), i = t->head;
		uint32_t want = (uint32_t)(rand() % 300);
		while (k-- && want-- && sent < n) {
			struct netmap_slot *s = &t->slot[i];
			uint16_t len = (uint16_t)(60 + sent % 1400);
			char *b = NETMAP_BUF(t, s->buf_idx);
			memset(b, (int)(sent & 0xff), len);
			memcpy(b, &sent, sizeof(sent));
			s->len = len;
			sent++;
			i = nm_ring_next(t, i);
		}
		nm_ring_advance(t, i);
		nmport_txsync(tx, 0);
		nmport_rxsync(rx, 0);
		struct netmap_ring *r = rx->ring[0].rx;
		i = r->head;
		for (k = nm_ring_space(r); k > 0; k--) {
			struct netmap_slot *s = &r->slot[i];
			const char *b = NETMAP_BUF(r, s->buf_idx);
			unsigned v;
			memcpy(&v, b, sizeof(v));
			if (v != got || s->len != 60 + got % 1400 ||
			    (s->len > 8 && (uint8_t)b[s->len - 1] != (got & 0xff)))
				bad++;
			got++;
			i = nm_ring_next(r, i);
		}
		nm_ring_advance(r, i);
		spins++;
	}
	CHECK(got == n, "received %u of %u", got, n);
	CHECK(bad == 0, "%u frames wrong", bad);
}

static int shm_exists(const char *group)
{
	char path[128];
	struct stat st;
	snprintf(path, sizeof(path), "/dev/shm/nmbox-pipe-%s", group);
	return stat(path, &st) == 0;
}

/* Both ends of a pipe in one process: data passes, ownership holds, shm goes away. */
static void test_pipe_pair(void)
{
	char m[64], s[64], g[32];
	snprintf(g, sizeof(g), "ut%d", (int)getpid());
	snprintf(m, sizeof(m), "netmap:%s{0", g);
	snprintf(s, sizeof(s), "netmap:%s}0", g);
	struct nmport *a = nmport_open(m, &quiet);
	CHECK(a != NULL, "open %s: %s", m, nmport_errmsg());
	struct nmport *b = nmport_open(s, &quiet);
	CHECK(b != NULL, "open %s: %s", s, nmport_errmsg());
	if (!a || !b)
		return;
	CHECK(nmport_same_pool(a, b), "ends of one pipe share a pool");
	CHECK(nmport_open(m, &quiet) == NULL && errno == EBUSY, "second open of an end");
	CHECK(audit(a, b) == 0, "audit at start");
	pipe_transfer(a, b, 20000, 1);
	CHECK(audit(a, b) == 0, "audit after a -> b");
	pipe_transfer(b, a, 20000, 2);
	CHECK(audit(a, b) == 0, "audit after b -> a");
	nmport_close(a);
	nmport_close(b);
	CHECK(!shm_exists(g), "shared memory of %s left behind", g);
}

/* A forwarder between pipe 0 and pipe 1 of one group swaps buffers, never copies. */
static void test_pipe_forward_zero_copy(void)
{
	char spec[4][64], g[32];
	snprintf(g, sizeof(g), "uf%d", (int)getpid());
	snprintf(spec[0], 64, "netmap:%s}0", g); /* source */
	snprintf(spec[1], 64, "netmap:%s{0", g); /* forwarder in */
	snprintf(spec[2], 64, "netmap:%s{1", g); /* forwarder out */
	snprintf(spec[3], 64, "netmap:%s}1", g); /* sink */
	struct nmport *p[4];
	for (int i = 0; i < 4; i++) {
		p[i] = nmport_open(spec[i], &quiet);
		CHECK(p[i] != NULL, "open %s: %s", spec[i], nmport_errmsg());
		if (!p[i])
			return;
	}
	CHECK(nmport_same_pool(p[1], p[2]), "pipes of one group share a pool");
	unsigned n = 5000, sent = 0, got = 0, swaps = 0;
	for (int round = 0; round < 100000 && got < n; round++) {
		struct netmap_ring *t = p[0]->ring[0].tx;
		uint32_t i = t->head;
		for (uint32_t k = nm_ring_space(t); k && sent < n; k--, sent++) {
			memcpy(NETMAP_BUF(t, t->slot[i].buf_idx), &sent, 4);
			t->slot[i].len = 64;
			i = nm_ring_next(t, i);
		}
		nm_ring_advance(t, i);
		nmport_txsync(p[0], 0);
		/* forward: swap RX(1) slots into TX(2) slots */
		nmport_rxsync(p[1], 0);
		struct netmap_ring *rx = p[1]->ring[0].rx, *tx = p[2]->ring[0].tx;
		uint32_t k = nm_ring_space(rx);
		if (k > nm_ring_space(tx))
			k = nm_ring_space(tx);
		uint32_t ri = rx->head, ti = tx->head;
		while (k--) {
			nm_slot_swap(&rx->slot[ri], &tx->slot[ti]);
			tx->slot[ti].len = rx->slot[ri].len;
			swaps++;
			ri = nm_ring_next(rx, ri);
			ti = nm_ring_next(tx, ti);
		}
		nm_ring_advance(rx, ri);
		nm_ring_advance(tx, ti);
		nmport_txsync(p[2], 0);
		nmport_rxsync(p[3], 0);
		struct netmap_ring *r = p[3]->ring[0].rx;
		i = r->head;
		for (k = nm_ring_space(r); k; k--) {
			unsigned v;
			memcpy(&v, NETMAP_BUF(r, r->slot[i].buf_idx), 4);
			CHECK(v == got, "frame %u arrived as %u", got, v);
			got++;
			i = nm_ring_next(r, i);
		}
		nm_ring_advance(r, i);
	}
	CHECK(got == n && swaps == n, "got %u swaps %u of %u", got, swaps, n);
	CHECK(audit(p[1], p[2]) == 0, "audit after forwarding");
	for (int i = 0; i < 4; i++)
		nmport_close(p[i]);
	CHECK(!shm_exists(g), "shared memory left behind");
}

int main(void)
{
	test_bad_specs();
	test_ring_math();
	test_pipe_pair();
	test_pipe_forward_zero_copy();
	printf("sys_test: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
