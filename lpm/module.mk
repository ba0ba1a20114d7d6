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

# bin/tests/lpm-conc-tsan: the concurrency test under ThreadSanitizer, from its own objects
# (TSan does not mix with ASan). liburcu is not built with TSan, so tsan_urcu.c wraps its
# grace-period calls (ld --wrap) to tell TSan the ordering they provide; see that file.
LPM_TSAN_SRCS := lpm/tests/test_lpm_conc.c lpm/tests/tsan_urcu.c $(LPM_SRCS)
LPM_TSAN_WRAP := -Wl,--wrap=urcu_qsbr_synchronize_rcu,--wrap=urcu_qsbr_quiescent_state,$\
                 --wrap=urcu_qsbr_thread_offline,--wrap=urcu_qsbr_unregister_thread

build/tsan/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -O1 -fsanitize=thread -c -o $@ $<

bin/tests/lpm-conc-tsan: $(patsubst %.c,build/tsan/%.o,$(LPM_TSAN_SRCS))
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -O1 -fsanitize=thread -o $@ $^ $(LPM_LDLIBS) -lpthread $(LPM_TSAN_WRAP)
EXTRA_UNIT_BINS += bin/tests/lpm-conc-tsan

# bin/lpm-bench: against DPDK's rte_lpm/rte_lpm6 when dpdk-dev is installed (make
# bench-deps); without it the same binary runs the nmbox rows only.
LPM_DPDK_OK := $(shell pkg-config --exists libdpdk 2>/dev/null && echo yes)
ifeq ($(LPM_DPDK_OK),yes)
LPM_DPDK_CFLAGS := -DHAVE_DPDK $(shell pkg-config --cflags libdpdk) -march=x86-64-v2
LPM_DPDK_LIBS := $(shell pkg-config --libs libdpdk)
endif
BINS += bin/lpm-bench

# a stamp named after whether DPDK was found: installing dpdk-dev later (make bench-deps)
# makes a new stamp, so the object is rebuilt with DPDK instead of silently staying without
LPM_DPDK_STAMP := build/lpm-dpdk-$(if $(LPM_DPDK_OK),yes,no).stamp
$(LPM_DPDK_STAMP):
	@mkdir -p $(@D)
	@rm -f build/lpm-dpdk-*.stamp
	@touch $@

build/obj/bench/lpm-bench-dpdk.o: bench/lpm-bench-dpdk.c $(LPM_DPDK_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LPM_DPDK_CFLAGS) -c -o $@ $<

bin/lpm-bench: $(call objs,bench/lpm-bench.c bench/lpm-bench-dpdk.c) lib/liblpm.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LPM_LDLIBS) -lz $(LPM_DPDK_LIBS)
