/* The runtime's descriptor tables: a flat GDT with ring-0 and ring-3 code and
 * data plus a TSS, and an IDT whose every vector goes to a stub in entry.S
 * (SDM vol. 3, chapters 3, 6 and 7). */
#ifndef GUEST_DESC_H
#define GUEST_DESC_H

#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UCODE 0x1B /* GDT index 3, RPL 3 */
#define SEL_UDATA 0x23 /* GDT index 4, RPL 3 */
#define SEL_TSS 0x28
#define DESC_FIRST_FREE 6 /* GDT entries from here on are the tests' own */
#define DESC_GDT_ENTRIES 16

/* Access byte (SDM 3.4.5): P, DPL, S and type. */
#define DESC_P 0x80
#define DESC_DPL(n) ((n) << 5)
#define DESC_S 0x10 /* code or data, not system */
#define DESC_CODE_RX 0x0A
#define DESC_DATA_RW 0x02
#define DESC_DATA_RW_DOWN 0x06 /* expand-down data */
#define DESC_TSS32 0x09
#define DESC_LDT 0x02
/* Flags nibble: G (4 KiB granularity) and D/B (32-bit). */
#define DESC_G 0x8
#define DESC_DB 0x4

/* Gate types (SDM 6.11). */
#define DESC_GATE_INT32 0x0E
#define DESC_GATE_TRAP32 0x0F

#ifndef __ASSEMBLER__
#include <stdint.h>

struct tss32 {
	uint32_t prev, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
	uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
	uint32_t es, cs, ss, ds, fs, gs, ldt;
	uint16_t trap, iomap_base;
} __attribute__((packed));

/* Builds and loads the GDT, TSS and IDT and reloads every segment register.
 * Vectors 3 and 4 (INT3, INTO), 0x80 and 0x81 get DPL 3 gates; all others
 * DPL 0 interrupt gates. */
void desc_init(void);

/* Writes GDT entry index (0 < index < DESC_GDT_ENTRIES) from its parts;
 * limit is the raw 20-bit field, flags the G/DB nibble. */
void desc_set_seg(unsigned index, uint32_t base, uint32_t limit, uint8_t access, uint8_t flags);

/* Raw 8-byte descriptor of GDT entry index. */
uint64_t desc_get_seg(unsigned index);

/* Points vector at its entry.S stub with this gate type, DPL and present bit. */
void desc_set_gate(unsigned vector, uint8_t type, unsigned dpl, int present);

/* The GDT itself and the TSS, for tests that inspect or change them. */
extern uint64_t desc_gdt[DESC_GDT_ENTRIES];
extern struct tss32 desc_tss;

#endif /* __ASSEMBLER__ */

#endif
