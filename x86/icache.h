/*
 * The decoded-instruction cache's data (icache.c explains it): a uop per
 * code byte offset of a cached guest physical page.  Here, apart from
 * icache.c, because the inlined write path (cpu.h) reads a page's lines.
 */
#ifndef PLEXVM_X86_ICACHE_H
#define PLEXVM_X86_ICACHE_H

#include <stdbool.h>
#include <stdint.h>

struct x86_insn;

#define X86_NOREG 8 /* no base or index register */

/* uop flags */
#define UOP_MEM 0x01 /* the r/m operand is memory (else the register rm) */
#define UOP_A32 0x02 /* 32-bit addressing */
#define UOP_O32 0x04 /* 32-bit operand size */

struct x86_uop;
typedef void (*x86_uop_fn)(struct x86_insn *x, const struct x86_uop *u);

struct x86_uop {
	x86_uop_fn fn;              /* NULL: not decoded yet (or invalidated by a write) */
	uint32_t imm;               /* immediate, sign-extended where the instruction does;
	                * relative branches: the displacement */
	uint32_t disp;              /* memory operand displacement */
	uint8_t len;                /* instruction length; 0 for x86_uop_legacy, which
	                * fetches the instruction itself */
	uint8_t op;                 /* opcode byte (the second one after 0F) */
	uint8_t reg;                /* ModRM reg field, or the register of an op+reg form */
	uint8_t rm;                 /* ModRM rm field (a register when !UOP_MEM) */
	uint8_t base, index, scale; /* address = base + (index << scale) + disp */
	uint8_t seg;                /* segment of the memory operand, override applied */
	uint8_t size;               /* operand size in bytes: 1, 2 or 4 */
	uint8_t flags;              /* UOP_* */
	uint16_t step;              /* len * sizeof(struct x86_uop): the successor is
	                * that many bytes on (a multiply less per instruction) */
};

/* A cached page.  @lines has bit n set when bytes [64n, 64n + 64) hold a
 * decoded instruction: only stores there need to invalidate anything. */
struct x86_icache_page {
	uint64_t lines;
	uint32_t frame;
	int32_t next; /* the next page in the same hash bucket */
	bool code32;
	struct x86_uop uop[4096];
	/* The successor of the page's last instruction: no cached uop
	 * crosses the page end, and a window runs to it, so a handler's
	 * successor is in the window or this uop, whose handler leaves the
	 * window (icache.c), and x86_uop_next_seq() tests no bound. */
	struct x86_uop end;
};

/* The lines bits that bytes [off, off + size) touch (same page, size <= 4). */
static inline uint64_t x86_icache_lines(uint32_t off, unsigned size)
{
	return (1ull << (off >> 6)) | (1ull << ((off + size - 1) >> 6));
}

#endif
