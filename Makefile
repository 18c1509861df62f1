# yubin build. `make` builds build/yubin; `make check` runs every test (see tests/run).
# SANITIZE=1 builds into build-asan/ with AddressSanitizer + UndefinedBehaviorSanitizer.

CC ?= cc
PKGS := libevent libevent_openssl libevent_pthreads openssl sqlite3 libargon2 zlib libunbound libpsl libidn2 libxml-2.0 libzip jansson
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS := $(shell pkg-config --libs $(PKGS))

# Hardening: stack protector, position-independent executable, read-only relocations bound
# at start; _FORTIFY_SOURCE checks buffer sizes in libc calls (not under ASan, which checks
# them itself and does not mix with the fortified wrappers).
HARDEN := -fstack-protector-strong -fPIE
HARDEN_LD := -pie -Wl,-z,relro,-z,now
ifeq ($(SANITIZE),1)
BUILD := build-asan
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT := -O1 -g
else
BUILD := build
SAN :=
OPT := -O2 -g -D_FORTIFY_SOURCE=2
endif
# WERROR=1 (the test build, tests/run): a new warning fails the build.
ifeq ($(WERROR),1)
OPT += -Werror
endif

CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter \
	-Wformat=2 -Wno-missing-field-initializers -Werror=implicit-function-declaration $(OPT) $(SAN) \
	$(HARDEN) -Isrc $(PKG_CFLAGS)
LDFLAGS += $(HARDEN_LD)
LDLIBS := $(PKG_LIBS) -lpthread

LIB_SRC := $(wildcard src/lib/*.c src/net/*.c src/store/*.c src/deliver/*.c src/auth/*.c src/pop3/*.c src/imap/*.c src/mime/*.c src/outbound/*.c \
	src/smtp/*.c src/mailauth/*.c src/spam/*.c)
CLI_SRC := $(wildcard src/cli/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(wildcard tests/unit/*.c tests/unit/*/*.c)
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/%.o)

all: $(BUILD)/yubin $(BUILD)/unit-tests $(BUILD)/dkim-tool $(BUILD)/spf-suite $(BUILD)/dmarc-tool $(BUILD)/rspamd-tool

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -MMD -MP -c $< -o $@

$(BUILD)/libyubin.a: $(LIB_OBJ)
	ar rcs $@ $^

$(BUILD)/yubin: $(CLI_OBJ) $(BUILD)/libyubin.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/unit-tests: $(UNIT_OBJ) $(BUILD)/libyubin.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The DKIM driver the interoperability test uses (tests/conformance/dkim_interop.py).
$(BUILD)/dkim-tool: $(BUILD)/tests/conformance/dkim_tool.o $(BUILD)/libyubin.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The SPF conformance driver: tests/conformance/spf_suite.py feeds it the RFC 7208 suite.
$(BUILD)/spf-suite: $(BUILD)/tests/conformance/spf_suite.o $(BUILD)/libyubin.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The DMARC lookup through the real resolver (tests/integration/test_dmarc_dns.py).
$(BUILD)/dmarc-tool: $(BUILD)/tests/conformance/dmarc_tool.o $(BUILD)/libyubin.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The rspamd client driver: tests/integration/test_rspamd.py runs it against a private rspamd.
$(BUILD)/rspamd-tool: $(BUILD)/tests/conformance/rspamd_tool.o $(BUILD)/libyubin.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# libFuzzer targets (clang): make fuzz; run e.g. build-fuzz/fuzz_smtp_command fuzz/corpus/smtp_command
# The library is compiled once with fuzzer instrumentation; each target links against it.
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer-no-link,address,undefined -Isrc \
	$(PKG_CFLAGS)
FUZZ_TARGETS := $(patsubst fuzz/%.c,build-fuzz/%,$(wildcard fuzz/fuzz_*.c))
FUZZ_OBJ := $(LIB_SRC:%.c=build-fuzz/obj/%.o)
fuzz: $(FUZZ_TARGETS)
build-fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@
build-fuzz/libyubin-fuzz.a: $(FUZZ_OBJ)
	ar rcs $@ $^
build-fuzz/%: fuzz/%.c build-fuzz/libyubin-fuzz.a
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< build-fuzz/libyubin-fuzz.a $(LDLIBS)

check: all
	./tests/run

clean:
	rm -rf build build-asan build-fuzz

.PHONY: all check clean fuzz
-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(UNIT_OBJ:.o=.d) $(BUILD)/tests/conformance/dkim_tool.d \
	$(BUILD)/tests/conformance/spf_suite.d $(BUILD)/tests/conformance/dmarc_tool.d \
	$(BUILD)/tests/conformance/rspamd_tool.d \
	$(FUZZ_OBJ:.o=.d)
