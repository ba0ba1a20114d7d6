/*
 * test_lpm.c - conformance of lpm4/lpm6 against the reference trie (ref.h).
 *
 * 1. Table-driven scenarios, each with a one-line comment: a list of add/del steps with the
 *    return code each must give; after every step the table and the reference must agree on
 *    the count, on exact gets, on a walk, and on single and bulk lookups at every prefix's
 *    edges (first-1, first, first+1, last-1, last, last+1) and at the address space's ends.
 *    A step that fails must leave the table unchanged: same count, same walk (routes and
 *    next hops), same answer for every probe as just before it.
 * 2. Random churn on clustered prefixes (so they nest), all lengths, both families,
 *    checked after every operation, then a whole-table replace of the same routes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lpm/tests/fam.h"
#include "tests/check.h"

static const char *kstr(unsigned w, u128 k)
{
	static char buf[4][64];
	static int i;
	uint8_t a[16];
	char *b = buf[i++ & 3];
	if (w == 32) {
		uint32_t v = htonl(k4(k));
		inet_ntop(AF_INET, &v, b, 64);
	} else {
		unkey6(k, a);
		inet_ntop(AF_INET6, a, b, 64);
	}
	return b;
}

/* ---- comparing a table with the reference ---- */

struct probes {
	u128 k[4096];
	unsigned n;
};

static void probe_add(struct probes *p, u128 k)
{
	if (p->n < 4096)
		p->k[p->n++] = k;
}

/* The edges of prefix k/len in a w-bit space (keys left-aligned; arithmetic in the top w bits). */
static void probe_prefix(struct probes *p, unsigned w, u128 k, unsigned len)
{
	u128 unit = (u128)1 << (128 - w);
	u128 last = k | ~mask128(len);
	last &= mask128(w);
	probe_add(p, k);
	probe_add(p, k + unit);
	probe_add(p, k - unit);
	probe_add(p, last);
	probe_add(p, last - unit);
	probe_add(p, last + unit);
}

static int walk_ok;
static struct ref *walk_ref;
static size_t walk_n;
static u128 walk_prev_k;
static unsigned walk_prev_len;

static void walk_one(u128 k, unsigned len, uint32_t nh)
{
	if (ref_get(walk_ref, k, len) != nh)
		walk_ok = 0;
	if (walk_n && (k < walk_prev_k || (k == walk_prev_k && len <= walk_prev_len)))
		walk_ok = 0; /* not in address order */
	walk_prev_k = k;
	walk_prev_len = len;
	walk_n++;
}

static int walk4_cb(uint32_t prefix, uint8_t len, uint32_t nh, void *arg)
{
	(void)arg;
	walk_one((u128)prefix << 96, len, nh);
	return 0;
}

static int walk6_cb(const uint8_t prefix[16], uint8_t len, uint32_t nh, void *arg)
{
	(void)arg;
	walk_one(key6(prefix), len, nh);
	return 0;
}

/* Compare everything observable; returns the number of mismatches. */
static int compare(struct fam *f, struct ref *r, const struct probes *p, const char *what)
{
	int bad = 0;
	uint32_t nh[64];
	u128 keys[64];
	unsigned m = 0;

	if (fam_count(f) != r->count) {
		CHECK(0, "%s: count %zu, reference %zu", what, fam_count(f), r->count);
		bad++;
	}
	for (unsigned i = 0; i < p->n; i++) {
		u128 k = p->k[i] & mask128(f->w);
		uint32_t want = ref_lookup(r, k, f->w), got = fam_lookup(f, k);
		if (got != want) {
			CHECK(0, "%s: lookup %s = %d, reference %d", what, kstr(f->w, k), (int)got,
			      (int)want);
			bad++;
		}
		keys[m++] = k;
		if (m == 64 || i + 1 == p->n) {
			fam_lookup_bulk(f, keys, nh, m);
			for (unsigned j = 0; j < m; j++)
				if (nh[j] != ref_lookup(r, keys[j], f->w)) {
					CHECK(0, "%s: bulk lookup %s = %d, reference %d", what,
					      kstr(f->w, keys[j]), (int)nh[j],
					      (int)ref_lookup(r, keys[j], f->w));
					bad++;
				}
			m = 0;
		}
	}
	walk_ok = 1;
	walk_ref = r;
	walk_n = 0;
	if (f->w == 32)
		lpm4_walk(f->t4, walk4_cb, NULL);
	else
		lpm6_walk(f->t6, walk6_cb, NULL);
	if (!walk_ok || walk_n != r->count) {
		CHECK(0, "%s: walk gave %zu routes (ok=%d), reference %zu", what, walk_n, walk_ok,
		      r->count);
		bad++;
	}
	return bad;
}

/* A snapshot of everything observable, to check that a rejected call changed nothing. */
struct snap {
	size_t count, nroutes;
	u128 rk[64];
	uint8_t rl[64];
	uint32_t rn[64];
	uint32_t ans[4096];
};

static struct snap *snap_cur;

static void snap_route(u128 k, unsigned len, uint32_t nh)
{
	struct snap *s = snap_cur;
	if (s->nroutes < 64) {
		s->rk[s->nroutes] = k;
		s->rl[s->nroutes] = (uint8_t)len;
		s->rn[s->nroutes] = nh;
	}
	s->nroutes++;
}

static int snap4_cb(uint32_t prefix, uint8_t len, uint32_t nh, void *arg)
{
	(void)arg;
	snap_route((u128)prefix << 96, len, nh);
	return 0;
}

static int snap6_cb(const uint8_t prefix[16], uint8_t len, uint32_t nh, void *arg)
{
	(void)arg;
	snap_route(key6(prefix), len, nh);
	return 0;
}

static void take_snap(struct fam *f, const struct probes *p, struct snap *s)
{
	memset(s, 0, sizeof(*s));
	s->count = fam_count(f);
	snap_cur = s;
	if (f->w == 32)
		lpm4_walk(f->t4, snap4_cb, NULL);
	else
		lpm6_walk(f->t6, snap6_cb, NULL);
	for (unsigned i = 0; i < p->n; i++)
		s->ans[i] = fam_lookup(f, p->k[i] & mask128(f->w));
}

/* ---- table-driven scenarios ---- */

struct step {
	char op;         /* 'a' add, 'd' delete */
	const char *pfx; /* "addr/len" */
	uint32_t nh;
	int rc; /* expected return code */
};

struct scenario {
	const char *what;
	struct step steps[12];
};

static const struct scenario v4_cases[] = {
    /* An empty table answers "no route" everywhere, even at the edges. */
    {"v4 empty", {{0}}},
    /* 0/0 catches every address, including 0.0.0.0 and 255.255.255.255. */
    {"v4 default", {{'a', "0.0.0.0/0", 1, 0}}},
    /* /32 host routes at both ends of the space, with and without a default. */
    {"v4 host routes at the edges",
     {{'a', "0.0.0.0/32", 1, 0},
      {'a', "255.255.255.255/32", 2, 0},
      {'a', "0.0.0.0/0", 3, 0},
      {'d', "0.0.0.0/32", 0, 0},
      {'d', "0.0.0.0/0", 0, 0}}},
    /* Nested /8 /16 /24 /32: the most specific wins at each level. */
    {"v4 nested",
     {{'a', "10.0.0.0/8", 1, 0},
      {'a', "10.1.0.0/16", 2, 0},
      {'a', "10.1.1.0/24", 3, 0},
      {'a', "10.1.1.1/32", 4, 0}}},
    /* Deleting a prefix re-exposes its parent, level by level, inner first. */
    {"v4 delete re-exposes parent",
     {{'a', "10.0.0.0/8", 1, 0},
      {'a', "10.1.0.0/16", 2, 0},
      {'a', "10.1.1.0/24", 3, 0},
      {'d', "10.1.0.0/16", 0, 0},
      {'d', "10.1.1.0/24", 0, 0},
      {'d', "10.0.0.0/8", 0, 0}}},
    /* Re-adding a deleted prefix, with a different next hop. */
    {"v4 re-add",
     {{'a', "192.168.1.0/24", 1, 0}, {'d', "192.168.1.0/24", 0, 0}, {'a', "192.168.1.0/24", 7, 0}}},
    /* Changing the next hop of an existing prefix, short and long. */
    {"v4 next-hop change",
     {{'a', "10.0.0.0/8", 1, 0},
      {'a', "10.1.2.0/24", 2, 0},
      {'a', "10.0.0.0/8", 5, 0},
      {'a', "10.1.2.0/24", 6, 0},
      {'a', "10.1.2.0/24", 6, 0}}},
    /* A short prefix (<= 18 bits) added and removed over existing long ones changes their
     * regions' defaults. */
    {"v4 short prefix over long ones",
     {{'a', "10.1.2.0/24", 3, 0},
      {'a', "10.0.0.0/8", 1, 0},
      {'a', "10.0.0.0/14", 2, 0},
      {'d', "10.0.0.0/8", 0, 0},
      {'a', "10.1.2.128/25", 4, 0},
      {'d', "10.0.0.0/14", 0, 0}}},
    /* Prefixes at the direct-array boundary: /17, /18 (one region), /19 (half of one). */
    {"v4 direct boundary",
     {{'a', "10.0.0.0/17", 1, 0},
      {'a', "10.0.0.0/18", 2, 0},
      {'a', "10.0.0.0/19", 3, 0},
      {'a', "10.0.64.0/18", 4, 0},
      {'a', "10.0.96.0/19", 5, 0},
      {'d', "10.0.0.0/18", 0, 0}}},
    /* Every length at one start address, then the odd ones removed. */
    {"v4 many lengths at one address",
     {{'a', "192.168.0.0/16", 16, 0},
      {'a', "192.168.0.0/17", 17, 0},
      {'a', "192.168.0.0/18", 18, 0},
      {'a', "192.168.0.0/19", 19, 0},
      {'a', "192.168.0.0/24", 24, 0},
      {'a', "192.168.0.0/25", 25, 0},
      {'a', "192.168.0.0/30", 30, 0},
      {'a', "192.168.0.0/31", 31, 0},
      {'a', "192.168.0.0/32", 32, 0},
      {'d', "192.168.0.0/31", 0, 0},
      {'d', "192.168.0.0/19", 0, 0},
      {'d', "192.168.0.0/17", 0, 0}}},
    /* Two halves of the space as /1s, and /31 pairs at the top. */
    {"v4 halves and pairs",
     {{'a', "0.0.0.0/1", 1, 0},
      {'a', "128.0.0.0/1", 2, 0},
      {'a', "255.255.255.254/31", 3, 0},
      {'a', "127.255.255.254/31", 4, 0},
      {'d', "0.0.0.0/1", 0, 0}}},
    /* Next hops 0 and LPM_NH_MAX are valid ids. */
    {"v4 next-hop extremes", {{'a', "1.0.0.0/8", 0, 0}, {'a', "1.2.3.0/24", 0x7fffffff, 0}}},
    /* Bad length: 33 is rejected and nothing changes. */
    {"v4 bad length", {{'a', "10.0.0.0/8", 1, 0}, {'a', "10.0.0.0/33", 2, -EINVAL}}},
    /* Host bits set past the length are rejected (10.0.0.1/8, 10.128.0.0/8), not masked. */
    {"v4 host bits",
     {{'a', "10.0.0.1/8", 1, -EINVAL},
      {'a', "10.128.0.0/8", 1, -EINVAL},
      {'a', "10.128.0.0/9", 1, 0},
      {'d', "10.128.0.1/9", 0, -EINVAL},
      {'a', "0.0.0.1/0", 1, -EINVAL}}},
    /* Deleting what is not there is -ENOENT: other length, other address, twice. */
    {"v4 delete missing",
     {{'a', "10.0.0.0/8", 1, 0},
      {'d', "10.0.0.0/9", 0, -ENOENT},
      {'d', "11.0.0.0/8", 0, -ENOENT},
      {'d', "10.0.0.0/24", 0, -ENOENT},
      {'d', "10.0.0.0/8", 0, 0},
      {'d', "10.0.0.0/8", 0, -ENOENT},
      {'d', "0.0.0.0/0", 0, -ENOENT}}},
    /* A next hop above LPM_NH_MAX (LPM_NO_ROUTE among them) is rejected. */
    {"v4 bad next hop",
     {{'a', "10.0.0.0/8", 0x80000000u, -EINVAL}, {'a', "10.0.0.0/8", LPM_NO_ROUTE, -EINVAL}}},
};

static const struct scenario v6_cases[] = {
    /* An empty table answers "no route" everywhere. */
    {"v6 empty", {{0}}},
    /* ::/0 catches everything, :: and ffff:...:ffff included. */
    {"v6 default", {{'a', "::/0", 1, 0}}},
    /* /128 host routes at both ends of the space, then the default under them. */
    {"v6 host routes at the edges",
     {{'a', "::/128", 1, 0},
      {'a', "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", 2, 0},
      {'a', "::/0", 3, 0},
      {'d', "::/128", 0, 0}}},
    /* Nested /32 /48 /64 /127 /128: the most specific wins. */
    {"v6 nested",
     {{'a', "2001:db8::/32", 1, 0},
      {'a', "2001:db8:1::/48", 2, 0},
      {'a', "2001:db8:1:2::/64", 3, 0},
      {'a', "2001:db8:1:2::/127", 4, 0},
      {'a', "2001:db8:1:2::1/128", 5, 0}}},
    /* Deleting re-exposes the parent, down to the /127 -> /64 step. */
    {"v6 delete re-exposes parent",
     {{'a', "2001:db8::/32", 1, 0},
      {'a', "2001:db8:1::/48", 2, 0},
      {'a', "2001:db8:1::/127", 3, 0},
      {'a', "2001:db8:1::1/128", 4, 0},
      {'d', "2001:db8:1::1/128", 0, 0},
      {'d', "2001:db8:1::/48", 0, 0},
      {'d', "2001:db8:1::/127", 0, 0}}},
    /* Re-add and next-hop change. */
    {"v6 re-add and next-hop change",
     {{'a', "2a00::/12", 1, 0},
      {'a', "2a00:1450::/32", 2, 0},
      {'d', "2a00:1450::/32", 0, 0},
      {'a', "2a00:1450::/32", 3, 0},
      {'a', "2a00::/12", 4, 0}}},
    /* Prefixes around the direct boundary and across several 6-bit strides. */
    {"v6 strides",
     {{'a', "2001::/16", 1, 0},
      {'a', "2001::/18", 2, 0},
      {'a', "2001::/19", 3, 0},
      {'a', "2001::/24", 4, 0},
      {'a', "2001::/25", 5, 0},
      {'a', "2001::/30", 6, 0},
      {'a', "2001::/31", 7, 0},
      {'a', "2001:0:8000::/33", 8, 0},
      {'a', "2001::/96", 9, 0},
      {'a', "2001::/126", 10, 0},
      {'d', "2001::/18", 0, 0}}},
    /* The two /1 halves and pairs of /127 at the top. */
    {"v6 halves and pairs",
     {{'a', "::/1", 1, 0},
      {'a', "8000::/1", 2, 0},
      {'a', "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127", 3, 0},
      {'a', "7fff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127", 4, 0}}},
    /* Bad length 129 is rejected; the table is unchanged. */
    {"v6 bad length", {{'a', "2001:db8::/32", 1, 0}, {'a', "2001:db8::/129", 2, -EINVAL}}},
    /* Host bits: 2001:db8::1/64 and 2001:db8:8000::/32 are rejected. */
    {"v6 host bits",
     {{'a', "2001:db8::1/64", 1, -EINVAL},
      {'a', "2001:db8:8000::/32", 1, -EINVAL},
      {'a', "::1/127", 1, -EINVAL},
      {'d', "2001:db8::1/64", 0, -EINVAL}}},
    /* Deleting what is not there: -ENOENT, table unchanged. */
    {"v6 delete missing",
     {{'a', "2001:db8::/32", 1, 0},
      {'d', "2001:db8::/33", 0, -ENOENT},
      {'d', "2001:db9::/32", 0, -ENOENT},
      {'d', "2001:db8::/128", 0, -ENOENT},
      {'d', "::/0", 0, -ENOENT}}},
};

static int parse(unsigned w, const char *s, u128 *k, unsigned *len)
{
	char buf[80];
	const char *slash = strchr(s, '/');
	uint8_t a[16];
	if (!slash || (size_t)(slash - s) >= sizeof(buf))
		return -1;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = 0;
	*len = (unsigned)atoi(slash + 1);
	if (w == 32) {
		uint32_t v;
		if (inet_pton(AF_INET, buf, &v) != 1)
			return -1;
		*k = (u128)ntohl(v) << 96;
	} else {
		if (inet_pton(AF_INET6, buf, a) != 1)
			return -1;
		*k = key6(a);
	}
	return 0;
}

static void run_scenario(unsigned w, const struct scenario *sc)
{
	struct fam f;
	struct ref r;
	struct probes p = {.n = 0};
	int bad = 0;

	if (fam_create(&f, w)) {
		CHECK(0, "%s: create failed", sc->what);
		return;
	}
	ref_init(&r);
	probe_add(&p, 0);
	probe_add(&p, mask128(w));
	probe_add(&p, (u128)1 << 127);
	probe_add(&p, ((u128)1 << 127) - 1);
	for (unsigned i = 0; i < 12 && sc->steps[i].op; i++) {
		u128 k;
		unsigned len;
		if (parse(w, sc->steps[i].pfx, &k, &len) == 0 && len <= w)
			probe_prefix(&p, w, k & mask128(len), len);
	}
	bad += compare(&f, &r, &p, sc->what);
	for (unsigned i = 0; i < 12 && sc->steps[i].op; i++) {
		const struct step *s = &sc->steps[i];
		u128 k;
		unsigned len;
		int rc;
		if (parse(w, s->pfx, &k, &len)) {
			CHECK(0, "%s: bad test prefix %s", sc->what, s->pfx);
			bad++;
			continue;
		}
		static struct snap before, after;
		take_snap(&f, &p, &before);
		rc = s->op == 'a' ? fam_add(&f, k, len, s->nh) : fam_del(&f, k, len);
		if (rc != 0) { /* a rejected call leaves the table exactly as it was */
			take_snap(&f, &p, &after);
			if (memcmp(&before, &after, sizeof(before))) {
				CHECK(0, "%s: step %u %c %s failed (%d) but changed the table",
				      sc->what, i, s->op, s->pfx, rc);
				bad++;
			}
		}
		if (rc != s->rc) {
			CHECK(0, "%s: step %u %c %s: rc %d, want %d", sc->what, i, s->op, s->pfx,
			      rc, s->rc);
			bad++;
		}
		if (rc == 0 && s->op == 'a')
			ref_add(&r, k, len, s->nh);
		else if (rc == 0)
			ref_del(&r, k, len);
		if (rc == 0 && s->op == 'a') {
			uint32_t nh = LPM_NO_ROUTE;
			if (fam_get(&f, k, len, &nh) != 0 || nh != s->nh) {
				CHECK(0, "%s: get %s after add", sc->what, s->pfx);
				bad++;
			}
		}
		bad += compare(&f, &r, &p, sc->what);
	}
	printf("%-4s %s\n", bad ? "FAIL" : "ok", sc->what);
	ref_free(&r);
	fam_destroy(&f);
}

/* ---- random churn ---- */

/* A random length: every length can come up, the common ones more often. */
static unsigned rnd_len(uint64_t *s, unsigned w)
{
	uint64_t x = rnd64(s) % 100;
	if (w == 32) {
		if (x < 50)
			return 16 + (unsigned)(rnd64(s) % 9); /* 16..24 */
		if (x < 80)
			return 19 + (unsigned)(rnd64(s) % 14); /* 19..32 */
		return (unsigned)(rnd64(s) % 33);
	}
	if (x < 40)
		return 16 + (unsigned)(rnd64(s) % 49); /* 16..64 */
	if (x < 60)
		return 110 + (unsigned)(rnd64(s) % 19); /* 110..128 */
	return (unsigned)(rnd64(s) % 129);
}

static void random_churn(unsigned w, unsigned ops, uint64_t seed)
{
	struct fam f;
	struct ref r;
	static struct probes p;
	u128 base[16], *hk = malloc(ops * sizeof(u128));
	uint8_t *hl = malloc(ops);
	uint32_t *hn = malloc(ops * sizeof(uint32_t));
	unsigned nh_hist = 0;
	int bad = 0;
	char what[64];

	snprintf(what, sizeof(what), "v%u random churn (%u ops)", w == 32 ? 4 : 6, ops);
	fam_create(&f, w);
	ref_init(&r);
	for (int i = 0; i < 16; i++)
		base[i] = ((u128)rnd64(&seed) << 64 | rnd64(&seed)) & mask128(w);
	for (unsigned op = 0; op < ops && bad < 10; op++) {
		u128 b = base[rnd64(&seed) % 16];
		unsigned len = rnd_len(&seed, w);
		/* Flip a few random bits below a random depth so that prefixes nest and
		 * overlap in the same and neighbouring regions. */
		unsigned d = (unsigned)(rnd64(&seed) % (w + 1));
		if (d < w && rnd64(&seed) % 2)
			b ^= (u128)1 << (127 - d - (unsigned)(rnd64(&seed) % (w - d)));
		u128 k = b & mask128(len);
		int rc;
		if (rnd64(&seed) % 100 < 65) {
			uint32_t nh = (uint32_t)(rnd64(&seed) % 1000);
			rc = fam_add(&f, k, len, nh);
			CHECK(rc == 0, "%s: add %s/%u: %d", what, kstr(w, k), len, rc);
			if (rc == 0) {
				ref_add(&r, k, len, nh);
				hk[nh_hist] = k;
				hl[nh_hist] = (uint8_t)len;
				hn[nh_hist++] = nh;
			}
		} else {
			int was = ref_get(&r, k, len) != LPM_NO_ROUTE;
			rc = fam_del(&f, k, len);
			CHECK(rc == (was ? 0 : -ENOENT), "%s: del %s/%u: %d", what, kstr(w, k), len,
			      rc);
			ref_del(&r, k, len);
		}
		p.n = 0;
		probe_prefix(&p, w, k, len);
		for (int i = 0; i < 10; i++) {
			u128 x = base[rnd64(&seed) % 16] ^
			         (((u128)rnd64(&seed) << 64 | rnd64(&seed)) >> (rnd64(&seed) % w));
			probe_add(&p, x);
		}
		if (op % 16 == 0 || op + 1 == ops)
			bad += compare(&f, &r, &p, what);
		else
			for (unsigned i = 0; i < p.n; i++) {
				u128 x = p.k[i] & mask128(w);
				if (fam_lookup(&f, x) != ref_lookup(&r, x, w)) {
					CHECK(0, "%s: op %u: lookup %s", what, op, kstr(w, x));
					bad++;
				}
			}
	}
	printf("%-4s %s\n", bad ? "FAIL" : "ok", what);

	/* The same history as one replace: duplicates resolve to the last; deleted ones are
	 * deleted from the reference afterwards by rebuilding it from the history. */
	struct ref r2;
	ref_init(&r2);
	for (unsigned i = 0; i < nh_hist; i++)
		ref_add(&r2, hk[i], hl[i], hn[i]);
	int rc = fam_replace(&f, hk, hl, hn, nh_hist);
	CHECK(rc == 0, "replace: %d", rc);
	p.n = 0;
	for (unsigned i = 0; i < nh_hist && i < 600; i++)
		probe_prefix(&p, w, hk[i], hl[i]);
	int bad2 = compare(&f, &r2, &p, "replace");
	/* An invalid route in a replace changes nothing. */
	hl[0] = (uint8_t)(w + 1);
	rc = fam_replace(&f, hk, hl, hn, nh_hist);
	CHECK(rc == -EINVAL, "replace with a bad length: %d", rc);
	bad2 += compare(&f, &r2, &p, "replace rejected");
	/* Replace by nothing empties the table. */
	rc = fam_replace(&f, NULL, NULL, NULL, 0);
	ref_free(&r2);
	ref_init(&r2);
	bad2 += compare(&f, &r2, &p, "replace by empty");
	printf("%-4s v%u replace with %u routes (duplicates, rejected, empty)\n",
	       bad2 || rc ? "FAIL" : "ok", w == 32 ? 4 : 6, nh_hist);
	ref_free(&r2);
	ref_free(&r);
	fam_destroy(&f);
	free(hk);
	free(hl);
	free(hn);
}

/* Argument checks on the API itself. */
static void api_edges(void)
{
	struct lpm_stats st;
	struct lpm4 *t = lpm4_create();
	uint32_t nh;
	lpm4_destroy(NULL);
	lpm6_destroy(NULL);
	CHECK(t != NULL, "lpm4_create");
	CHECK(lpm4_add(NULL, 0, 0, 1) == -EINVAL, "add on NULL table");
	CHECK(lpm4_get(t, 0, 0, &nh) == -ENOENT, "get on empty table");
	CHECK(lpm4_lookup(t, 0) == LPM_NO_ROUTE, "empty lookup");
	CHECK(lpm4_count(t) == 0, "empty count");
	lpm4_stats(t, &st);
	CHECK(st.prefixes == 0 && st.lookup_bytes >= ((size_t)8 << LPM4_DIRECT_BITS),
	      "empty stats");
	CHECK(lpm4_replace(t, NULL, 3) == -EINVAL, "replace with NULL routes");
	lpm4_destroy(t);
	printf("ok   api argument checks\n");
}

int main(void)
{
	api_edges();
	for (size_t i = 0; i < sizeof(v4_cases) / sizeof(v4_cases[0]); i++)
		run_scenario(32, &v4_cases[i]);
	for (size_t i = 0; i < sizeof(v6_cases) / sizeof(v6_cases[0]); i++)
		run_scenario(128, &v6_cases[i]);
	random_churn(32, 20000, 0x1234567);
	random_churn(128, 20000, 0x7654321);
	printf("lpm unit tests: %s (%d failures)\n", failures ? "FAILED" : "passed", failures);
	return failures ? 1 : 0;
}
