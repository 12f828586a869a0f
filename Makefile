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
SRC_C   := $(filter-out src/main.c src/engine/monitor/vcpu_main.c,$(wildcard src/*.c src/*/*.c src/*/*/*.c x86/*.c))
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

# ---- the monitor's vCPU process (src/engine/monitor/vcpu_main.c) ----
# A static-pie program on musl, linked into plexvm (vcpu_blob.S) and run
# from a memfd: a fresh address space holding none of plexvm's libraries.
# It is the monitor and the x86 core, built a second time, with no
# floating-point or vector code of its own (-mgeneral-regs-only): the
# guest's x87 and AVX state stays in the CPU across traps (monitor_switch.h,
# checked by scripts/check-vcpu-fpu).
MUSL_CC  ?= musl-gcc
MUSL_LIB := /usr/lib/x86_64-linux-musl
VCPU_CFLAGS := -O2 -g -std=gnu11 $(WARN) -fPIE -fno-stack-protector -mgeneral-regs-only -D_GNU_SOURCE \
               -idirafter /usr/include -idirafter /usr/include/x86_64-linux-gnu -MMD -MP
VCPU_SRC := $(wildcard x86/*.c) src/mem.c src/stats.c \
            $(addprefix src/engine/monitor/,monitor_core.c monitor_emulate.c monitor_insn.c monitor_ldt.c monitor_loop.c \
              monitor_paging.c monitor_probe.c monitor_scan.c monitor_space.c monitor_tables.c \
              monitor_trap.c vcpu_lockdown.c vcpu_main.c monitor_switch.S)
VCPU_OBJ := $(VCPU_SRC:%=$(BUILD)/vcpu/%.o)

$(BUILD)/vcpu/%.o: %
	@mkdir -p $(dir $@)
	$(MUSL_CC) $(VCPU_CFLAGS) -c $< -o $@

# A check that fails after the link must not leave its target behind: the
# next make would take it for built.
.DELETE_ON_ERROR:

$(BUILD)/plexvm-vcpu: $(VCPU_OBJ)
	gcc -nostdlib -static-pie -Wl,-z,noexecstack -o $@ $(MUSL_LIB)/rcrt1.o $(MUSL_LIB)/crti.o \
	  $$(gcc -print-file-name=crtbeginS.o) $^ -L$(MUSL_LIB) -lc $$(gcc -print-libgcc-file-name) \
	  $$(gcc -print-file-name=crtendS.o) $(MUSL_LIB)/crtn.o
	scripts/check-vcpu-fpu $@

# plexvm carries it without debug information (a third of the size, so
# less to write and map at each start); build/plexvm-vcpu keeps it for gdb.
$(BUILD)/plexvm-vcpu.stripped: $(BUILD)/plexvm-vcpu
	objcopy --strip-debug $< $@

$(BUILD)/src/engine/monitor/vcpu_blob.o: $(BUILD)/plexvm-vcpu.stripped
$(BUILD)/src/engine/monitor/vcpu_blob.o: CFLAGS += -DVCPU_BLOB_PATH='"$(BUILD)/plexvm-vcpu.stripped"'

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

# test_x86_bcd compares the core with the host CPU running DAA & co., which
# are #UD in 64-bit mode: a 32-bit helper runs them (tests/unit/x86_bcd_host.c).
$(BUILD)/tests/test_x86_bcd: $(BUILD)/tests/x86_bcd_host
$(BUILD)/tests/x86_bcd_host: tests/unit/x86_bcd_host.c tests/unit/x86_bcd_host.h
	@mkdir -p $(dir $@)
	$(CC) -m32 -static -O2 -std=gnu11 $(WARN) $< -o $@

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
	clang-format -i $(wildcard src/*.[ch] src/*/*.[ch] src/*/*/*.[ch] x86/*.[ch] tests/unit/*.c)

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
