# api/: the JSON control API (lib/libnmapi.a, linked by nmrouter) and its client, bin/nmctl.
# A program that links lib/libnmapi.a adds $(API_LDLIBS).
API_SRCS := api/api_parse.c api/api_conf.c api/api_http.c
API_LDLIBS := -levent -ljansson -lpthread

lib/libnmapi.a: $(call objs,$(API_SRCS))
lib/libnmapi-san.a: $(call sanobjs,$(API_SRCS))

BINS += bin/nmctl bin/tests/nmapi-fakert bin/tests/nmapi-fakert-san

bin/nmctl: $(call objs,api/nmctl.c)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ -ljansson

# Development stand-in for nmrouter's control side (rt_ctl.h on arrays); see api/tests/fakert.c.
bin/tests/nmapi-fakert: $(call objs,api/tests/fakert.c) lib/libnmapi.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(API_LDLIBS)

# The same under ASan+UBSan: NMAPI_SERVER=fakert-san tests/run.sh integ tests/api/test_api.py
bin/tests/nmapi-fakert-san: $(call sanobjs,api/tests/fakert.c) lib/libnmapi-san.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(API_LDLIBS)

$(eval $(call unit_test,api_unit,tests/api/api_unit.c api/api_parse.c api/api_conf.c,,-ljansson))

INTEG_TESTS += tests/api/test_api.py
