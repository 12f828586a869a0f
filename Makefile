# plexvm — build, run and test.
#
#   make            build build/plexvm and the test kernels
#   make run        install what is missing, build, boot the built-in guest
#   make check      install what is missing, build, run every test
#   make linux      fetch Debian's i386 kernel and busybox, boot them
#
# CC=clang works as well as gcc; warnings are errors with both.

CC      ?= gcc
BUILD   ?= build
VERSION := 0.1.0

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-unused-parameter
# OPT and SANITIZE are the knobs (make unit-asan sets both); CFLAGS from the
# command line still gets the project's flags added.
OPT      ?= -O2 -g
SANITIZE ?=
override CFLAGS += $(OPT) $(SANITIZE) -std=gnu11 $(WARN) -fPIE -D_GNU_SOURCE -DPLEXVM_VERSION='"$(VERSION)"' \
           -MMD -MP
override LDFLAGS += -pie $(SANITIZE)
LIBS    := -linih

# Every .c/.S under src/ and x86/ is part of the product; main.c (the command
# line) and demo_guest.S (the built-in guest) are linked into plexvm alone, so
# unit tests can link everything else without building guests.
SRC_C   := $(filter-out src/main.c,$(wildcard src/*.c src/*/*.c src/*/*/*.c x86/*.c))
SRC_S   := $(filter-out src/demo_guest.S,$(wildcard src/*.S src/*/*.S src/*/*/*.S))
OBJ     := $(SRC_C:%.c=$(BUILD)/%.o) $(SRC_S:%.S=$(BUILD)/%.o)
LIB     := $(BUILD)/libplexvm.a

.PHONY: all run check unit unit-asan system deps clean format linux
all: $(BUILD)/plexvm guests

include guests/guests.mk

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# The built-in demo guest is linked into plexvm itself (src/demo_guest.S
# includes it with .incbin), so it must exist first.
$(BUILD)/src/demo_guest.o: $(BUILD)/guests/demo.elf
$(BUILD)/src/demo_guest.o: CFLAGS += -DDEMO_GUEST_PATH='"$(BUILD)/guests/demo.elf"'

$(LIB): $(OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/plexvm: $(BUILD)/src/main.o $(BUILD)/src/demo_guest.o $(LIB)
	$(CC) $(LDFLAGS) $^ $(LIBS) -o $@

# ---- unit tests (cmocka), linked against the same objects as plexvm ----
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -Isrc $< $(LIB) $(LIBS) -lcmocka -o $@

unit: $(UNIT_BIN)
	@tests/run-unit $(UNIT_BIN)

# The same unit tests once more with AddressSanitizer and UBSan.
unit-asan:
	@$(MAKE) --no-print-directory BUILD=build/asan OPT="-O1 -g" \
		SANITIZE="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" unit

system: all
	@tests/system/run

deps:
	@scripts/install-deps

run: deps
	@$(MAKE) --no-print-directory all
	$(BUILD)/plexvm

check: deps
	@$(MAKE) --no-print-directory all
	@tests/check

# Debian 12's i386 kernel and busybox-static, fetched with apt-get download
# into $(BUILD)/linux with a busybox initramfs (scripts/linux-fetch), then
# booted to a shell on the serial console.  make linux ENGINE=emu picks the
# engine; LINUX_APPEND the command line.
ENGINE       ?= auto
LINUX_APPEND ?= console=ttyS0 pci=off noisapnp cryptomgr.notests panic=-1
linux: deps
	@$(MAKE) --no-print-directory $(BUILD)/plexvm
	@scripts/linux-fetch $(BUILD)/linux
	$(BUILD)/plexvm --engine $(ENGINE) --kernel $(BUILD)/linux/vmlinuz \
		--initrd $(BUILD)/linux/initrd.gz --append "$(LINUX_APPEND)" -m 256M

format:
	clang-format -i $(wildcard src/*.[ch] src/*/*.[ch] x86/*.[ch] tests/unit/*.c)

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
