# lpm/: longest-prefix-match tables (IPv4 + IPv6), RCU-published (liburcu QSBR).
# Users link lib/liblpm.a -lurcu-qsbr.
LPM_SRCS := lpm/lpm4.c lpm/lpm6.c
LPM_LDLIBS := -lurcu-qsbr

PKGS += liburcu-dev zlib1g-dev python3-pyasn
BENCH_PKGS += dpdk-dev

lib/liblpm.a: $(call objs,$(LPM_SRCS))
lib/liblpm-san.a: $(call sanobjs,$(LPM_SRCS))

$(eval $(call unit_test,lpm,lpm/tests/test_lpm.c,lib/liblpm,$(LPM_LDLIBS)))
$(eval $(call unit_test,lpm-full,lpm/tests/test_lpm_full.c,lib/liblpm,$(LPM_LDLIBS) -lz))
$(eval $(call unit_test,lpm-conc,lpm/tests/test_lpm_conc.c,lib/liblpm,$(LPM_LDLIBS) -lpthread))

# bin/lpm-bench: against DPDK's rte_lpm/rte_lpm6 when dpdk-dev is installed (make
# bench-deps); without it the same binary runs the nmbox rows only.
LPM_DPDK_OK := $(shell pkg-config --exists libdpdk 2>/dev/null && echo yes)
ifeq ($(LPM_DPDK_OK),yes)
LPM_DPDK_CFLAGS := -DHAVE_DPDK $(shell pkg-config --cflags libdpdk) -march=x86-64-v2
LPM_DPDK_LIBS := $(shell pkg-config --libs libdpdk)
endif
BINS += bin/lpm-bench

build/obj/bench/lpm-bench-dpdk.o: bench/lpm-bench-dpdk.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LPM_DPDK_CFLAGS) -c -o $@ $<

bin/lpm-bench: $(call objs,bench/lpm-bench.c bench/lpm-bench-dpdk.c) lib/liblpm.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LPM_LDLIBS) -lz $(LPM_DPDK_LIBS)
