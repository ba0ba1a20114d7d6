# bench/: benchmark scripts (bench/*.sh, run by `make bench`) and their helpers.
# dpdk-testpmd (the DPDK row of bench/bridge.sh) ships in Debian 12's dpdk-dev.
BENCH_PKGS += dpdk-dev
BINS += bin/xdp-peer

bin/xdp-peer: build/obj/bench/xdp-peer.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ -lbpf
