# Test kernels: freestanding i386 multiboot ELF files, one per guests/NAME.c
# (plus guests/NAME.S when a kernel needs one), each linked with the small
# runtime in guests/rt/.  hello.c is built a second time with -DPLEXVM_DEMO
# as the built-in demo guest.  Included by the top-level Makefile.
#
# -march=i386 keeps the compiler from using later instructions (CMOV and
# friends) on its own: each kernel should exercise only what it tests.

GUEST_DIR     := $(BUILD)/guests
GUEST_CC      ?= gcc
GUEST_LD      ?= ld
GUEST_CFLAGS  := -m32 -march=i386 -mtune=generic -std=gnu11 -ffreestanding -fno-pic -fno-pie \
                 -fno-stack-protector -fno-asynchronous-unwind-tables -nostdlib \
                 -mno-sse -mno-mmx -mno-80387 -O2 -g -Wall -Wextra -Werror \
                 -Iguests/rt -MMD -MP
GUEST_LDFLAGS := -m elf_i386 -T guests/rt/kernel.ld -z max-page-size=0x1000 \
                 -z noexecstack --no-warn-rwx-segments --build-id=none -nostdlib

GUEST_RT_SRC  := $(wildcard guests/rt/*.c guests/rt/*.S)
GUEST_RT_OBJ  := $(patsubst guests/rt/%,$(GUEST_DIR)/rt/%.o,$(GUEST_RT_SRC))
GUEST_NAMES   := $(basename $(notdir $(wildcard guests/*.c)))
GUEST_ELF     := $(GUEST_NAMES:%=$(GUEST_DIR)/%.elf) $(GUEST_DIR)/demo.elf

.PHONY: guests
guests: $(GUEST_ELF)

# Keep the objects so that a rebuild relinks only what changed.
.SECONDARY: $(GUEST_RT_OBJ) $(GUEST_NAMES:%=$(GUEST_DIR)/%.o) $(GUEST_DIR)/demo.o

$(GUEST_DIR)/rt/%.c.o: guests/rt/%.c
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -c $< -o $@

$(GUEST_DIR)/rt/%.S.o: guests/rt/%.S
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -c $< -o $@

$(GUEST_DIR)/%.o: guests/%.c
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -c $< -o $@

$(GUEST_DIR)/%.S.o: guests/%.S
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -c $< -o $@

$(GUEST_DIR)/demo.o: guests/hello.c
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -DPLEXVM_DEMO -c $< -o $@

# A kernel with its own NAME.S links that object too.
$(foreach s,$(wildcard guests/*.S),$(eval \
  $(GUEST_DIR)/$(basename $(notdir $(s))).elf: $(GUEST_DIR)/$(basename $(notdir $(s))).S.o))

$(GUEST_DIR)/%.elf: $(GUEST_DIR)/%.o $(GUEST_RT_OBJ) guests/rt/kernel.ld
	$(GUEST_LD) $(GUEST_LDFLAGS) $(filter %.o,$^) -o $@

# ldlayout is linked by GNU ld's default script, as a kernel without a
# linker script of its own is (see guests/ldlayout.c): its own entry
# (ldlayout.S, first, with the multiboot header) instead of rt's start.S.
$(GUEST_DIR)/ldlayout.elf: $(GUEST_DIR)/ldlayout.S.o $(GUEST_DIR)/ldlayout.o $(GUEST_RT_OBJ)
	$(GUEST_LD) -m elf_i386 -Ttext=0x100000 --build-id=none -nostdlib $(filter %ldlayout.S.o,$^) \
		$(filter-out %ldlayout.S.o %/start.S.o,$(filter %.o,$^)) -o $@
