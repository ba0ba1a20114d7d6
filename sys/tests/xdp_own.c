/*
 * xdp_own — integration helper: buffer ownership of AF_XDP ports on error and close paths.
 *
 *   xdp_own IF_A IF_B      (the two ends of a veth pair, both up, in this namespace)
 *
 * Each case counts the free buffers of the process pool around an open or a close and
 * checks that no buffer was lost or given back twice. Prints one line per check; exit 0
 * when all hold.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "nmport.h"
#include "tests/check.h"

/* The spec of ifname's AF_XDP port, forced (no fallback to AF_PACKET). */
static void xdp_spec(char *spec, size_t len, const char *ifname)
{
	snprintf(spec, len, "netmap:%s/xdp", ifname);
}

/*
 * An AF_XDP open that runs out of buffers half way through posting its fill ring gives
 * back exactly the buffers it took: the pool's free count is what it was before.
 */
static void test_fill_exhausted(const char *ifa)
{
	struct nm_pool *pl = nm_pool_default();
	const uint32_t n = 1024, keep = n + n / 2; /* TX takes n, the fill ring stops at n/2 */
	uint32_t nb = nm_pool_nbufs(pl), ntaken = 0;
	uint32_t *taken = calloc(nb, sizeof(*taken));
	while (nm_pool_free_count(pl) > keep)
		taken[ntaken++] = nm_pool_get(pl);
	CHECK(nm_pool_free_count(pl) == keep, "free %u", nm_pool_free_count(pl));

	char spec[64];
	xdp_spec(spec, sizeof(spec), ifa);
	struct nmport_opts o = {.quiet = 1, .ring_size = n};
	struct nmport *p = nmport_open(spec, &o);
	CHECK(p == NULL, "%s opened with %u free buffers for 2 x %u", spec, keep, n);
	CHECK(p != NULL || strstr(nmport_errmsg(), "exhausted"), "message '%s'", nmport_errmsg());
	nmport_close(p);
	uint32_t after = nm_pool_free_count(pl);
	CHECK(after == keep, "failed open: %u free before, %u after (%d lost)", keep, after,
	      (int)keep - (int)after);
	printf("xdp_own: failed open (fill ring half posted): %u free before, %u after\n", keep,
	       after);
	for (uint32_t i = 0; i < ntaken; i++)
		nm_pool_put(pl, taken[i]);
	free(taken);
}

static int is_ours(const struct netmap_ring *r, const struct netmap_slot *s)
{
	const uint8_t *b = (const uint8_t *)NETMAP_BUF(r, s->buf_idx);
	return s->len == 64 && b[12] == 0x88 && b[13] == 0xb5 && !memcmp(b + 14, "xdp_own", 7);
}

/* Opens ifname's AF_XDP port; the kernel frees a closed socket's queue after a moment
 * (deferred work), so a reopen right after the previous case may see EBUSY for a few ms. */
static struct nmport *open_retry(const char *ifname, uint32_t n)
{
	char spec[64];
	xdp_spec(spec, sizeof(spec), ifname);
	struct nmport_opts o = {.quiet = 1, .ring_size = n};
	struct nmport *p = NULL;
	for (int t = 0; t < 200 && !p; t++) {
		p = nmport_open(spec, &o);
		if (!p)
			usleep(5000);
	}
	CHECK(p != NULL, "open %s (%u slots): %s", spec, n, nmport_errmsg());
	return p;
}

/* Opens the AF_XDP ports of ifa and ifb (n slots); 1 if both opened, else 0 with neither
 * left open. */
static int open_both(const char *ifa, const char *ifb, uint32_t n, struct nmport **a,
                     struct nmport **b)
{
	*a = open_retry(ifa, n);
	*b = open_retry(ifb, n);
	if (*a && *b)
		return 1;
	nmport_close(*a);
	nmport_close(*b);
	*a = *b = NULL;
	return 0;
}

/* b sends k frames to a; a receives them (and whatever else the kernel sends) and
 * releases every slot it got, without a further rxsync. Returns how many of ours arrived;
 * *released counts the slots released. */
static uint32_t b_to_a(struct nmport *a, struct nmport *b, uint32_t k, uint32_t *released)
{
	struct netmap_ring *tx = b->ring[0].tx;
	uint32_t i = tx->head;
	for (uint32_t j = 0; j < k; j++) {
		struct netmap_slot *s = &tx->slot[i];
		uint8_t *f = (uint8_t *)NETMAP_BUF(tx, s->buf_idx);
		memset(f, 0, 64);
		memset(f, 0xff, 6);
		memcpy(f + 6, b->mac, 6);
		f[12] = 0x88;
		f[13] = 0xb5;
		memcpy(f + 14, "xdp_own", 7);
		s->len = 64;
		i = nm_ring_next(tx, i);
	}
	nm_ring_advance(tx, i);
	uint32_t ours = 0;
	*released = 0;
	for (int t = 0; t < 300 && ours < k; t++) {
		nmport_txsync(b, 0);
		struct nmport_pollent pe = {.port = a, .ring = 0, .events = POLLIN};
		if (nmport_poll(&pe, 1, 10) <= 0)
			continue;
		struct netmap_ring *rx = a->ring[0].rx;
		for (i = rx->head; i != rx->tail; i = nm_ring_next(rx, i))
			ours += is_ours(rx, &rx->slot[i]);
		*released += nm_ring_space(rx);
		nm_ring_advance(rx, rx->tail);
	}
	return ours;
}

/*
 * Closing an AF_XDP port gives back every buffer its slots name, including received
 * slots the user released (head moved past them) with no rxsync since: only the
 * buffers posted to the kernel's fill ring stay out of the pool.
 */
static void test_close_released(const char *ifa, const char *ifb)
{
	struct nm_pool *pl = nm_pool_default();
	const uint32_t n = 256, k = 100;
	struct nmport *a, *b;
	if (!open_both(ifa, ifb, n, &a, &b))
		return;
	uint32_t released, ours = b_to_a(a, b, k, &released);
	CHECK(ours == k, "received %u of %u frames", ours, k);
	char msg[256];
	struct nmport *v[2] = {a, b};
	CHECK(nm_pool_audit(pl, v, 2, msg, sizeof(msg)) == 0, "%s", msg);
	/* a's TX slots own n buffers, its released RX slots `released` more */
	uint32_t before = nm_pool_free_count(pl);
	nmport_close(a);
	uint32_t after = nm_pool_free_count(pl);
	CHECK(after - before == n + released,
	      "close: %u buffers back, want %u (%u TX slots + %u released RX slots)",
	      after - before, n + released, n, released);
	printf("xdp_own: close after releasing %u received slots: %u buffers back (want %u)\n",
	       released, after - before, n + released);
	nmport_close(b);
}

/*
 * Every ring size nmport_open accepts (64..16384) works on AF_XDP: the port opens as
 * AF_XDP (with /xdp it must) and receives. (No audit here: the closes of the cases before
 * left their fill-ring buffers out of the pool, as documented.)
 */
static void test_ring_sizes(const char *ifa, const char *ifb)
{
	static const uint32_t sizes[] = {64, 4096, 8192, 16384};
	for (unsigned z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
		struct nmport *a = open_retry(ifa, sizes[z]), *b = open_retry(ifb, 256);
		uint32_t released = 0, ours = 0;
		if (a && b) {
			ours = b_to_a(a, b, 50, &released);
			CHECK(ours == 50, "%u slots: received %u of 50 frames", sizes[z], ours);
		}
		printf("xdp_own: AF_XDP ring of %u slots: %s, %u of 50 frames\n", sizes[z],
		       a ? "opened" : "open failed", ours);
		nmport_close(a);
		nmport_close(b);
	}
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: xdp_own IF_A IF_B\n");
		return 2;
	}
	/* room for a 16384-slot port (2 x 16384 buffers) beside a small one */
	setenv("NMBOX_POOL_BUFS", "65536", 1);
	test_fill_exhausted(argv[1]);
	test_close_released(argv[1], argv[2]);
	test_ring_sizes(argv[1], argv[2]);
	printf("xdp_own: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
