/*
 * xdp-peer — the in-kernel XDP programs the benchmarks compare against, attached for as
 * long as this process lives.
 *
 *   xdp-peer drop IF            XDP_DROP everything arriving on IF (the benchmarks' sink)
 *   xdp-peer redirect IN OUT    redirect everything arriving on IN out of OUT through a
 *                               devmap (bpf_redirect_map), the in-kernel forwarding ceiling
 *
 * Programs are attached in native (driver) mode through a BPF link, so they go away when
 * the process exits, however it exits: a benchmark can never leave one behind. The
 * programs are raw BPF instructions: no compiler, no BTF at run time. Prints "attached"
 * once the program is live, then waits for SIGINT/SIGTERM.
 */
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define INSN(c, d, s, o, i)                                                                        \
	((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int ifindex_of(const char *name)
{
	int i = (int)if_nametoindex(name);
	if (!i)
		fprintf(stderr, "xdp-peer: %s: no such interface; see `ip link`\n", name);
	return i;
}

static int load(const struct bpf_insn *insns, size_t n, const char *name)
{
	char log[4096] = "";
	LIBBPF_OPTS(bpf_prog_load_opts, o, .log_buf = log, .log_size = sizeof(log),
	            .expected_attach_type = BPF_XDP);
	int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, name, "GPL", insns, n, &o);
	if (fd < 0)
		fprintf(stderr, "xdp-peer: cannot load %s: %s %s\n", name, strerror(errno), log);
	return fd;
}

int main(int argc, char **argv)
{
	int in, out = 0, prog, map = -1;

	if (argc == 3 && !strcmp(argv[1], "drop")) {
		if (!(in = ifindex_of(argv[2])))
			return 1;
		struct bpf_insn p[] = {
		    INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, XDP_DROP),
		    INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
		};
		prog = load(p, 2, "nm_sink_drop");
	} else if (argc == 4 && !strcmp(argv[1], "redirect")) {
		if (!(in = ifindex_of(argv[2])) || !(out = ifindex_of(argv[3])))
			return 1;
		map = bpf_map_create(BPF_MAP_TYPE_DEVMAP, "nm_devmap", 4, 4, 1, NULL);
		uint32_t key = 0, val = (uint32_t)out;
		if (map < 0 || bpf_map_update_elem(map, &key, &val, 0)) {
			fprintf(stderr, "xdp-peer: devmap with %s: %s\n", argv[3], strerror(errno));
			return 1;
		}
		struct bpf_insn p[] = {
		    INSN(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, map),
		    INSN(0, 0, 0, 0, 0),
		    INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_2, 0, 0, 0),
		    INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_3, 0, 0, 0),
		    INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_redirect_map),
		    INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
		};
		prog = load(p, sizeof(p) / sizeof(p[0]), "nm_redirect");
	} else {
		fprintf(stderr, "usage: xdp-peer drop IF | xdp-peer redirect IN OUT\n");
		return 2;
	}
	if (prog < 0)
		return 1;

	LIBBPF_OPTS(bpf_link_create_opts, lo, .flags = XDP_FLAGS_DRV_MODE);
	int link = bpf_link_create(prog, in, BPF_XDP, &lo);
	if (link < 0) {
		fprintf(stderr, "xdp-peer: cannot attach to %s (native mode): %s\n", argv[2],
		        strerror(errno));
		return 1;
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	printf("xdp-peer: %s attached to %s\n", argv[1], argv[2]);
	fflush(stdout);
	while (!stop)
		pause();
	close(link);
	close(prog);
	if (map >= 0)
		close(map);
	return 0;
}
