/*
 * A protected-mode machine for the x86 core's tests of events, gates and
 * tasks: on top of test_x86_harness.h, a GDT with ring 0 and ring 3 flat
 * segments and a TSS, an IDT whose every vector halts at its own HLT (a
 * test reads which vector ran from EIP and the frame from the stack), and
 * pm_machine(), which loads them with LGDT/LIDT/LTR.  Include it after
 * <cmocka.h>.
 */
#ifndef PLEXVM_TEST_X86_PM_H
#define PLEXVM_TEST_X86_PM_H

#include "test_x86_harness.h"

#define GDT 0x500u
#define TSS 0x600u
#define IDT 0x800u
#define HANDLERS 0x4000u /* vector v halts at HANDLERS + 16 * v */
#define KSTACK 0x70000u  /* ring 0 stack from the TSS */
#define USTACK 0x7f000u
#define USER_CODE 0x5000u
#define PAGE_DIR 0x10000u
#define PAGE_TABLE 0x11000u

#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UCODE 0x1b
#define SEL_UDATA 0x23
#define SEL_TSS 0x28
#define SEL_ABSENT 0x30 /* a data descriptor with P=0 */
#define SEL_GATE 0x3b   /* a DPL 3 call gate to ring 0 with 2 parameters */
#define SEL_TSS2 0x40   /* a second task's TSS, at TSS2 */
#define TSS2 0x700u

static inline void put32(struct harness *h, uint32_t addr, uint32_t v)
{
	memcpy(h->ram + addr, &v, 4);
}

static inline uint32_t get32(struct harness *h, uint32_t addr)
{
	uint32_t v;
	memcpy(&v, h->ram + addr, 4);
	return v;
}

static inline void put_desc(struct harness *h, unsigned sel, uint64_t d)
{
	memcpy(h->ram + GDT + (sel & ~7u), &d, 8);
}

/* A 32-bit interrupt (type 0xE) or trap (0xF) gate to HANDLERS + 16 * v. */
static inline void put_gate(struct harness *h, unsigned v, unsigned type, unsigned dpl)
{
	uint32_t off = HANDLERS + 16 * v;
	put32(h, IDT + 8 * v, (SEL_KCODE << 16) | (off & 0xffff));
	put32(h, IDT + 8 * v + 4, (off & 0xffff0000u) | 0x8000 | (dpl << 13) | (type << 8));
}

static const uint8_t prelude[] = {
	0x0f, 0x01, 0x15,      0x00, 0x04, 0x00,      0x00, /* lgdt [0x400] */
	0x0f, 0x01, 0x1d,      0x08, 0x04, 0x00,      0x00, /* lidt [0x408] */
	0x66, 0xb8, SEL_TSS,   0x00,                        /* mov ax, SEL_TSS */
	0x0f, 0x00, 0xd8,                                   /* ltr ax */
	0xea, 0x1c, 0x10,      0x00, 0x00, SEL_KCODE, 0x00, /* jmp far 0x08:0x101c */
	0x66, 0xb8, SEL_KDATA, 0x00,                        /* mov ax, SEL_KDATA */
	0x8e, 0xd8, 0x8e,      0xd0,                        /* mov ds, ax; mov ss, ax */
};

static inline struct harness *pm_machine(void)
{
	struct harness *h = harness_new();
	put_desc(h, SEL_KCODE, 0x00cf9a000000ffffull);
	put_desc(h, SEL_KDATA, 0x00cf92000000ffffull);
	put_desc(h, SEL_UCODE, 0x00cffa000000ffffull);
	put_desc(h, SEL_UDATA, 0x00cff2000000ffffull);
	put_desc(h, SEL_TSS, 0x0000890000000067ull | ((uint64_t)TSS << 16));
	put_desc(h, SEL_ABSENT, 0x00cf12000000ffffull);
	put32(h, 0x400, 0x47 | (GDT & 0xffff) << 16);
	put32(h, 0x404, GDT >> 16);
	put32(h, 0x408, 0x7ff | (IDT & 0xffff) << 16);
	put32(h, 0x40c, IDT >> 16);
	put32(h, TSS + 4, KSTACK);
	put32(h, TSS + 8, SEL_KDATA);
	for (unsigned v = 0; v < 256; v++) {
		put_gate(h, v, 0xe, 0);
		h->ram[HANDLERS + 16 * v] = 0xf4;
	}
	harness_load(h, prelude, sizeof(prelude));
	assert_int_equal(harness_run(h, 100), X86_HALT);
	assert_int_equal(h->cpu.tr.sel, SEL_TSS);
	return h;
}

/* Runs @code at HARNESS_CODE and expects the handler of @vector to halt. */
static inline void expect_vector(struct harness *h, const uint8_t *code, size_t len,
                                 unsigned vector)
{
	harness_load(h, code, len);
	assert_int_equal(harness_run(h, 1000), X86_HALT);
	assert_int_equal(h->cpu.eip, HANDLERS + 16 * vector + 1);
}

/* Runs @code at HARNESS_CODE and expects it to reach the HLT after it. */
static inline void expect_halt(struct harness *h, const uint8_t *code, size_t len)
{
	harness_load(h, code, len);
	assert_int_equal(harness_run(h, 1000), X86_HALT);
	assert_int_equal(h->cpu.eip, HARNESS_CODE + len + 1);
}

/* Pushes an IRET frame to ring 3 at USER_CODE and executes IRET. */
static const uint8_t to_ring3[] = {
	0x6a, SEL_UDATA,                   /* push SEL_UDATA */
	0x68, 0x00,      0xf0, 0x07, 0x00, /* push USTACK */
	0x9c,                              /* pushfd */
	0x6a, SEL_UCODE,                   /* push SEL_UCODE */
	0x68, 0x00,      0x50, 0x00, 0x00, /* push USER_CODE */
	0xcf,                              /* iretd */
};

static inline void run_user(struct harness *h, const uint8_t *user, size_t len, unsigned vector)
{
	memcpy(h->ram + USER_CODE, user, len);
	expect_vector(h, to_ring3, sizeof(to_ring3), vector);
}

#endif
