# vpnd: a WireGuard-compatible VPN daemon and its control tool.
#
#   make            build vpnd and vpnctl
#   make deps       install the Debian build and test dependencies (root)
#   make demo       install what is missing, build, run the local demo (root)
#   make check      install what is missing, build, run every test: unit,
#                   unit under ASan/UBSan and valgrind, netns integration
#   make asan       build and run the unit tests under ASan and UBSan
#   make valgrind   run the unit tests under valgrind
#   make fuzz       build and run the libFuzzer harnesses (FUZZ_SECONDS each)
#   make install    install into $(DESTDIR)$(PREFIX)

PREFIX  ?= /usr/local
UNITDIR ?= $(PREFIX)/lib/systemd/system
DESTDIR ?=
BUILD   ?= build
CC      ?= cc

CFLAGS  ?= -O2 -g
# Always applied, even when CFLAGS is given on the command line (make asan).
override CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wformat=2 -fno-strict-aliasing \
           -fstack-protector-strong -D_FORTIFY_SOURCE=2 -D_GNU_SOURCE
CPPFLAGS += -Iinclude -Ivpnd -MMD -MP
LDLIBS_CORE = -lsodium -lb2 -liniparser
LDLIBS_VPND = $(LDLIBS_CORE) -lev -lmnl -lnftables -lcurl -ljson-c
LDLIBS_TEST = $(LDLIBS_CORE) -lev -lmnl -lnftables -lcurl -ljson-c -lcmocka

DEB_DEPS = build-essential pkg-config libsodium-dev libb2-dev libev-dev \
           libmnl-dev libnftables-dev libiniparser-dev libcmocka-dev \
           wireguard-go wireguard-tools iproute2 iperf3 tcpdump nftables \
           valgrind python3 iputils-ping clang systemd procps util-linux openssl \
           libcurl4-openssl-dev libjson-c-dev etcd-server etcd-client

ifeq ($(V),1)
Q :=
say = @true
else
Q := @
say = @printf '  %-7s %s\n' $(1) $(2)
endif

CORE_SRCS  := $(filter-out vpnd/main.c,$(wildcard vpnd/*.c))
CORE_OBJS  := $(CORE_SRCS:%.c=$(BUILD)/%.o)
VPND_OBJS  := $(BUILD)/vpnd/main.o
CTL_SRCS   := $(wildcard vpnctl/*.c)
CTL_OBJS   := $(CTL_SRCS:%.c=$(BUILD)/%.o)
TEST_SRCS  := $(wildcard tests/unit/test_*.c)
TEST_BINS  := $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
TEST_HELP  := $(filter-out $(TEST_SRCS),$(wildcard tests/unit/*.c))
TEST_HOBJS := $(TEST_HELP:%.c=$(BUILD)/%.o)

.PHONY: all deps check unit netns asan valgrind fuzz install clean demo
.SECONDARY:

all: vpnd/vpnd vpnctl/vpnctl

$(BUILD)/%.o: %.c
	$(call say,CC,$<)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/libvpncore.a: $(CORE_OBJS)
	$(call say,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

vpnd/vpnd: $(VPND_OBJS) $(BUILD)/libvpncore.a
	$(call say,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_VPND)

# vpnctl reads servers.conf with vpnd's own reader when vpnd is not running;
# of the archive, only conf.o and key.o are linked in.
vpnctl/vpnctl: $(CTL_OBJS) $(BUILD)/libvpncore.a
	$(call say,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lsodium -liniparser

# A unit test may #include the .c it tests to reach its statics; the core
# archive then supplies only what the test did not define itself.
# test_noise counts Diffie-Hellman operations through a link-time wrapper.
TEST_LDFLAGS_test_noise = -Wl,--wrap=wg_dh
# test_leaktest includes vpnctl/leaktest.c, which calls into ctl.c and json.c.
$(BUILD)/tests/test_leaktest: $(BUILD)/vpnctl/ctl.o $(BUILD)/vpnctl/json.o

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(TEST_HOBJS) $(BUILD)/libvpncore.a
	$(call say,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $(TEST_LDFLAGS_$*) -o $@ $^ $(LDLIBS_TEST)

# A helper the netlink integration test drives, one operation per run.
$(BUILD)/tests/netlink_driver: $(BUILD)/tests/netns/netlink_driver.o $(BUILD)/libvpncore.a
	$(call say,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lmnl

$(BUILD)/tests/firewall_driver: $(BUILD)/tests/netns/firewall_driver.o $(BUILD)/libvpncore.a
	$(call say,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lnftables -lmnl

$(BUILD)/tests/killswitch_driver: $(BUILD)/tests/netns/killswitch_driver.o $(BUILD)/libvpncore.a
	$(call say,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lnftables -lmnl

unit: $(TEST_BINS)
	@tests/unit/run $(TEST_BINS)

netns: all $(BUILD)/tests/netlink_driver $(BUILD)/tests/firewall_driver \
       $(BUILD)/tests/killswitch_driver
	@tests/netns/run

# Each phase in turn, timed; the last lines give the time of each and one
# closing count for the whole check (tests/phases.sh).
check: deps all
	@MAKE='$(MAKE)' tests/phases.sh unit asan valgrind fuzz netns

# libFuzzer harnesses under ASan/UBSan, FUZZ_SECONDS per target; check runs
# them briefly as a smoke test, longer runs are for hunting.
FUZZ_SECONDS ?= 10
fuzz:
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh

demo: deps all
	@tests/demo/demo.sh

asan:
	@echo "  ASAN    unit tests"
	$(Q)$(MAKE) --no-print-directory BUILD=build-asan \
	  CFLAGS='-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all' \
	  LDFLAGS='-fsanitize=address,undefined' unit

valgrind: $(TEST_BINS)
	@echo "  VALGRIND unit tests"
	@VALGRIND=1 tests/unit/run $(TEST_BINS)

deps:
	@if [ "$$(id -u)" = 0 ]; then \
	  missing=$$(for p in $(DEB_DEPS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	  if [ -n "$$missing" ]; then \
	    echo "  DEPS    installing:" $$missing; \
	    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null; \
	  fi; \
	else echo "  DEPS    not root: assuming $(DEB_DEPS) are installed"; fi

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(UNITDIR)
	install -m 0755 vpnd/vpnd vpnctl/vpnctl $(DESTDIR)$(PREFIX)/bin/
	sed 's|@BINDIR@|$(PREFIX)/bin|g' packaging/vpnd-killswitch.service \
		>$(DESTDIR)$(UNITDIR)/vpnd-killswitch.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/vpnd-killswitch.service

clean:
	rm -rf build build-asan vpnd/vpnd vpnctl/vpnctl

-include $(shell find $(BUILD) build-asan -name '*.d' 2>/dev/null)
