/*
 * tap.c — host rings (netmap:IF^) as a TAP device standing for IF in the host stack.
 *
 * Linux has no netmap host rings, so, as VPP's linux-cp and DPDK's exception path do, we
 * give the host stack a TAP device with IF's MAC address and MTU: what the host stack
 * sends out of it appears on the host RX ring, and frames put on the host TX ring are
 * delivered to the host stack as if IF had received them. The operator puts IF's
 * addresses on the TAP (named "nmh-IF", truncated to 15 characters; NMBOX_TAP_NAME
 * overrides). The device is not persistent: it disappears when the port closes.
 *
 * One read() or write() per packet: the kernel copies at this boundary (counted).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/if_arp.h>
#include <linux/if_tun.h>
#include "nm_internal.h"

struct tap_rp {
	int fd;
};

static int tap_rxsync(struct nmport *p, struct nm_ringpair *rp)
{
	struct tap_rp *k = rp->priv;
	struct netmap_ring *r = rp->rx;
	uint32_t space = nm_rx_room(r);
	uint32_t t = r->tail, got = 0, maxlen = nm_pool_buf_size(p->pool);
	uint64_t bytes = 0;

	rp->rx_hwcur = r->head;
	while (space--) {
		struct netmap_slot *s = &r->slot[t];
		ssize_t n = read(k->fd, NETMAP_BUF(r, s->buf_idx), maxlen);
		if (n <= 0)
			break;
		s->len = (uint16_t)n;
		s->flags = 0;
		bytes += (uint64_t)n;
		got++;
		t = nm_ring_next(r, t);
	}
	nm_rx_done(rp, t, got, bytes, got);
	return 0;
}

static int tap_txsync(struct nmport *p, struct nm_ringpair *rp)
{
	struct tap_rp *k = rp->priv;
	struct netmap_ring *r = rp->tx;
	uint32_t i = rp->tx_hwcur, head = r->head, sent = 0;
	uint64_t bytes = 0;
	(void)p;

	while (i != head) {
		struct netmap_slot *s = &r->slot[i];
		ssize_t n = write(k->fd, NETMAP_BUF(r, s->buf_idx), s->len);
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			rp->st.tx_errors++;
		else {
			sent++;
			bytes += s->len;
		}
		s->flags &= (uint16_t)~NS_BUF_CHANGED;
		i = nm_ring_next(r, i);
	}
	nm_tx_done(rp, i, sent, bytes, sent);
	return 0;
}

static void tap_close(struct nmport *p, struct nm_ringpair *rp)
{
	struct tap_rp *k = rp->priv;
	if (k) {
		if (k->fd >= 0)
			close(k->fd);
		free(k);
	}
	nm_rp_release(p, rp);
}

static const struct nm_ringpair_ops tap_ops = {
    .rxsync = tap_rxsync,
    .txsync = tap_txsync,
    .audit = nm_rp_audit_all,
    .close = tap_close,
};

void nmport_tap_name(const char *ifname, char *out)
{
	const char *env = getenv("NMBOX_TAP_NAME");
	if (env && *env)
		snprintf(out, IFNAMSIZ, "%s", env);
	else
		snprintf(out, IFNAMSIZ, "nmh-%.*s", IFNAMSIZ - 5, ifname);
}

int nm_tap_open(struct nmport *p, struct nm_ringpair *rp, const struct nmport_opts *o)
{
	uint32_t n = o->ring_size;
	int rc, sk = -1;
	struct ifreq ifr;
	struct tap_rp *k = calloc(1, sizeof(*k));

	if (k)
		k->fd = -1;
	rc = nm_rp_init(p, rp, &tap_ops, NM_BE_TAP, -1, (uint16_t)p->nrings, n, k);
	if (rc)
		goto fail;
	k->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (k->fd < 0) {
		rc = -errno;
		nm_seterr("%s: /dev/net/tun: %s (host rings need TUN/TAP)", p->spec,
		          strerror(errno));
		goto fail;
	}
	memset(&ifr, 0, sizeof(ifr));
	nmport_tap_name(p->ifname, ifr.ifr_name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	if (ioctl(k->fd, TUNSETIFF, &ifr) < 0) {
		rc = -errno;
		nm_seterr("%s: cannot create TAP %s: %s", p->spec, ifr.ifr_name, strerror(errno));
		goto fail;
	}
	char name[IFNAMSIZ];
	snprintf(name, sizeof(name), "%s", ifr.ifr_name);

	/* Give the TAP IF's MAC and MTU, and bring it up. */
	sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sk < 0) {
		rc = -errno;
		nm_seterr("%s: socket: %s", p->spec, strerror(errno));
		goto fail;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	memcpy(ifr.ifr_hwaddr.sa_data, p->mac, 6);
	if (ioctl(sk, SIOCSIFHWADDR, &ifr) < 0) {
		rc = -errno;
		nm_seterr("%s: set MAC of %s: %s", p->spec, name, strerror(errno));
		goto fail;
	}
	if (p->mtu) {
		ifr.ifr_mtu = (int)p->mtu;
		ioctl(sk, SIOCSIFMTU, &ifr);
	}
	if (ioctl(sk, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(sk, SIOCSIFFLAGS, &ifr) < 0) {
			rc = -errno;
			nm_seterr("%s: bring %s up: %s", p->spec, name, strerror(errno));
			goto fail;
		}
	}
	close(sk);
	sk = -1;
	rc = nm_rp_fill(p, rp);
	if (rc)
		goto fail;
	rp->fd = k->fd;
	if (!o->quiet)
		fprintf(stderr, "%s: host rings are TAP device %s (MAC of %s)\n", p->spec, name,
		        p->ifname);
	return 0;
fail:
	if (sk >= 0)
		close(sk);
	tap_close(p, rp);
	return rc;
}
