/*
 * xdp_live.c — pkt-gen's fast transmit mode: XDP "live frames" (BPF_PROG_RUN).
 *
 * The kernel runs a tiny XDP program `repeat` times over copies of one frame, and because
 * of BPF_F_TEST_XDP_LIVE_FRAMES it really transmits each copy the program returns XDP_TX
 * for, out of the given interface, in batches, without any socket or copy from userspace.
 * On veth this offers several Mpps from one core, well above what AF_XDP or AF_PACKET
 * TX reach, so benchmarks use it as their generator.
 *
 * To spread destinations (a router benchmark needs random destinations over a whole
 * table), the program picks a random entry of an array map of {dst address, IPv4 header
 * checksum} prepared by userspace and writes both into the frame. The program is written
 * as raw BPF instructions: no compiler and no BTF are needed at run time.
 *
 * Limits: the receiver of a veth must have an XDP program or GRO on (a veth delivers
 * XDP-transmitted frames only then); "sent" counts frames offered, not delivered.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "tools/pktgen_frame.h"
#include "tools/xdp_live.h"

#define INSN(c, d, s, o, i)                                                                        \
	((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})

struct live_entry {
	uint32_t dst; /* network order */
	uint16_t csum;
	uint16_t pad;
};

static int load_prog(int map_fd, uint32_t mask)
{
	struct bpf_insn simple[] = {
	    INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, XDP_TX),
	    INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	/* Offsets: 30 = dst address in eth+ip, 24 = IPv4 checksum. */
	struct bpf_insn spread[] = {
	    /* 0 */ INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_6, BPF_REG_1, 0, 0),
	    /* 1 */ INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_get_prandom_u32),
	    /* 2 */ INSN(BPF_ALU64 | BPF_AND | BPF_K, BPF_REG_0, 0, 0, (int32_t)mask),
	    /* 3 */ INSN(BPF_STX | BPF_MEM | BPF_W, BPF_REG_10, BPF_REG_0, -4, 0),
	    /* 4 */ INSN(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, map_fd),
	    /* 5 */ INSN(0, 0, 0, 0, 0),
	    /* 6 */ INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0),
	    /* 7 */ INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -4),
	    /* 8 */ INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem),
	    /* 9 */ INSN(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_0, 0, 9, 0), /* -> 19 */
	    /* 10 */ INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_6, 0, 0),
	    /* 11 */ INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_3, BPF_REG_6, 4, 0),
	    /* 12 */ INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_4, BPF_REG_2, 0, 0),
	    /* 13 */ INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_4, 0, 0, 34),
	    /* 14 */ INSN(BPF_JMP | BPF_JGT | BPF_X, BPF_REG_4, BPF_REG_3, 4, 0), /* -> 19 */
	    /* 15 */ INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_5, BPF_REG_0, 0, 0),
	    /* 16 */ INSN(BPF_STX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_5, 30, 0),
	    /* 17 */ INSN(BPF_LDX | BPF_MEM | BPF_H, BPF_REG_5, BPF_REG_0, 4, 0),
	    /* 18 */ INSN(BPF_STX | BPF_MEM | BPF_H, BPF_REG_2, BPF_REG_5, 24, 0),
	    /* 19 */ INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, XDP_TX),
	    /* 20 */ INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	char log[4096] = "";
	LIBBPF_OPTS(bpf_prog_load_opts, o, .log_buf = log, .log_size = sizeof(log), .log_level = 0);
	int fd;
	if (map_fd < 0)
		fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "nm_live_tx", "GPL", simple, 2, &o);
	else
		fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "nm_live_spread", "GPL", spread,
		                   sizeof(spread) / sizeof(spread[0]), &o);
	if (fd < 0 && log[0])
		fprintf(stderr, "pkt-gen: verifier: %s\n", log);
	return fd;
}

int xdp_live_open(struct xdp_live *lv, int ifindex, const struct pg_frame_cfg *c)
{
	memset(lv, 0, sizeof(*lv));
	lv->ifindex = ifindex;
	lv->map_fd = -1;
	lv->len = c->len;
	struct pg_frame_cfg cc = *c;
	cc.no_udp_csum = 1; /* the program rewrites the destination; keep UDP's sum out of it */
	pg_frame_build(&cc, 0, lv->frame);

	uint64_t ndst = c->dst_list ? c->dst_count : (uint64_t)c->dst.ip_hi - c->dst.ip_lo + 1;
	if (ndst > 1) {
		uint32_t n = 1;
		while (n < ndst && n < (1u << 22))
			n <<= 1;
		lv->map_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "nm_live_dst", 4,
		                            sizeof(struct live_entry), n, NULL);
		if (lv->map_fd < 0)
			return -errno;
		uint8_t f[2048];
		for (uint32_t i = 0; i < n; i++) {
			/* the program sends the template (frame 0) with frame i's destination:
			 * the checksum is the template's header with that destination, not
			 * frame i's own (its IP id and source differ) */
			pg_frame_build(&cc, i, f);
			struct live_entry e;
			memcpy(&e.dst, f + 30, 4);
			uint8_t ip[20];
			memcpy(ip, lv->frame + 14, 20);
			memcpy(ip + 16, &e.dst, 4);
			ip[10] = ip[11] = 0;
			uint16_t ck = htons(pg_csum_fold(pg_csum_add(0, ip, 20)));
			memcpy(&e.csum, &ck, 2);
			e.pad = 0;
			if (bpf_map_update_elem(lv->map_fd, &i, &e, 0)) {
				int rc = -errno;
				close(lv->map_fd);
				return rc;
			}
		}
		lv->mask = n - 1;
	}
	lv->prog_fd = load_prog(lv->map_fd, lv->mask);
	if (lv->prog_fd < 0) {
		int rc = -errno;
		if (lv->map_fd >= 0)
			close(lv->map_fd);
		return rc;
	}
	return 0;
}

int xdp_live_send(struct xdp_live *lv, uint32_t count)
{
	struct xdp_md ctx = {
	    .data = 0,
	    .data_end = lv->len,
	    .ingress_ifindex = (uint32_t)lv->ifindex,
	    .rx_queue_index = 0,
	};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = lv->frame, .data_size_in = lv->len,
	            .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = count,
	            .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = 64);
	if (bpf_prog_test_run_opts(lv->prog_fd, &o))
		return -errno;
	return 0;
}

void xdp_live_close(struct xdp_live *lv)
{
	if (lv->prog_fd > 0)
		close(lv->prog_fd);
	if (lv->map_fd >= 0)
		close(lv->map_fd);
}
