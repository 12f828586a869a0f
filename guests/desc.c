/* desc: descriptor tables and segment loads (SDM vol. 3, chapters 3 and 7;
 * vol. 2 for each instruction).
 *
 *  - SGDT/SIDT/SLDT/STR read back what LGDT/LIDT/LLDT/LTR loaded;
 *  - far JMP, far CALL and far RET reload CS;
 *  - data segments with a non-zero base and a small limit, from the GDT and
 *    from an LDT, read and write through the base, and fault with #GP(0)
 *    past the limit; a stack segment faults with #SS(0) instead;
 *  - a not-present segment gives #NP(selector), LTR of a busy TSS #GP, and an
 *    INT past the IDT limit #GP(vector << 3 | IDT);
 *  - rewriting the GDT or LDT entry of a loaded segment leaves the segment as
 *    it was loaded until it is loaded again (SDM 3.4.3: the hidden part is
 *    filled by the load), also while moving back and forth between two.
 *
 * QEMU's TCG, our reference, does not check data segment limits on memory
 * accesses (only when loading descriptors).  So the kernel probes once: where
 * a byte past a limit does not fault it says so on an info: line and skips
 * the limit-violation checks, whose output is identical either way. */
#include "desc.h"
#include "test.h"
#include "trap.h"
#include "x86.h"

/* GDT slots this kernel fills. */
#define DT_DATA 6  /* base desc_test_buf, limit 15 bytes */
#define DT_NP 7    /* not present */
#define DT_STACK 8 /* base 0, limit 2 MiB: the stack fits, 3 MiB does not */
#define DT_CODE2 9 /* a second flat ring-0 code segment */
#define DT_LDT 10
#define DT_TSS2 11
#define DT_NPCODE 12 /* not-present code segment */
#define DT_DATA2 13  /* rewritten while loaded */
#define DT_SEL(i) ((i) << 3)
#define DT_LDT_SEL(i) ((i) << 3 | 4) /* TI = 1 */
#define DT_TSS_BUSY 0x02             /* type 1011b vs 1001b (SDM 7.2.2) */

static uint32_t desc_test_buf[8] = { 0x11111111, 0x22222222, 0x33333333, 0x44444444,
	                             0x55555555, 0x66666666, 0x77777777, 0x88888888 };
static int desc_test_limits; /* the CPU checks data segment limits */
static uint64_t desc_test_gdt2[DESC_GDT_ENTRIES] __attribute__((aligned(8)));
static uint64_t desc_test_ldt[2] __attribute__((aligned(8)));
static struct tss32 desc_test_tss2;

/* An LDT entry in the same format as a GDT one. */
static uint64_t desc_test_make(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
	uint64_t saved = desc_get_seg(DT_DATA), d;
	desc_set_seg(DT_DATA, base, limit, access, flags);
	d = desc_get_seg(DT_DATA);
	desc_gdt[DT_DATA] = saved;
	return d;
}

static void desc_test_tables(void)
{
	struct x86_dtr g, i, g2 = { sizeof(desc_test_gdt2) - 1, (uint32_t)desc_test_gdt2 };
	sgdt(&g);
	sidt(&i);
	printf("SGDT limit 0x%x, SIDT limit 0x%x\n", g.limit, i.limit);
	test_eq(g.base, (uint32_t)desc_gdt, "SGDT base");
	test_eq(g.limit, sizeof(desc_gdt) - 1, "SGDT limit");
	test_eq(i.limit, 256 * 8 - 1, "SIDT limit");
	for (unsigned n = 0; n < DESC_GDT_ENTRIES; n++)
		desc_test_gdt2[n] = desc_gdt[n];
	lgdt(&g2);
	sgdt(&g);
	test_eq(g.base, (uint32_t)desc_test_gdt2, "SGDT base after LGDT of a copy");
	__asm__ volatile("movw %w0, %%ds" : : "r"(SEL_KDATA));
	lgdt(&(struct x86_dtr){ sizeof(desc_gdt) - 1, (uint32_t)desc_gdt });
	sgdt(&g);
	test_eq(g.base, (uint32_t)desc_gdt, "SGDT base restored");
}

static void desc_test_far(void)
{
	uint32_t cs_jmp, cs_call;
	desc_set_seg(DT_CODE2, 0, 0xFFFFF, DESC_P | DESC_S | DESC_CODE_RX, DESC_G | DESC_DB);
	__asm__ volatile("ljmp %1, $1f\n1:\tmovl %%cs, %0\n\tljmp %2, $2f\n2:"
	                 : "=r"(cs_jmp)
	                 : "i"(DT_SEL(DT_CODE2)), "i"(SEL_KCODE));
	__asm__ volatile("lcall %1, $1f\n\tjmp 2f\n1:\tmovl %%cs, %0\n\tlret\n2:"
	                 : "=r"(cs_call)
	                 : "i"(DT_SEL(DT_CODE2)));
	printf("far JMP: CS 0x%x; far CALL: CS 0x%x; after far RET: CS 0x%x\n", cs_jmp & 0xFFFF,
	       cs_call & 0xFFFF, read_cs());
	test_eq(cs_jmp & 0xFFFF, DT_SEL(DT_CODE2), "CS after far JMP");
	test_eq(cs_call & 0xFFFF, DT_SEL(DT_CODE2), "CS in far CALL");
	test_eq(read_cs(), SEL_KCODE, "CS after far RET");
	desc_set_seg(DT_NPCODE, 0, 0xFFFFF, DESC_S | DESC_CODE_RX, DESC_G | DESC_DB);
	test_eq(TRAP_TRY("ljmp %0, $1f\n1:",
	                 :
	                 : "i"(DT_SEL(DT_NPCODE))),
	        X86_EXC_NP, "far JMP to a not-present code segment");
	test_eq(trap_last.error, DT_SEL(DT_NPCODE), "#NP error code");
}

/* Loads ES with the small segment only around the access: the compiler's
 * own string instructions use ES, so C code must never run with it. */
static uint32_t desc_test_es_try(uint32_t offset, int dword)
{
	uint32_t v;
	__asm__ volatile("movw %w0, %%es" : : "r"(DT_SEL(DT_DATA)));
	if (dword)
		v = TRAP_TRY("movl %%es:(%0), %%eax", : : "r"(offset) : "eax");
	else
		v = TRAP_TRY("movb %%es:(%0), %%al", : : "r"(offset) : "eax");
	__asm__ volatile("movw %w0, %%es" : : "r"(SEL_KDATA));
	return v;
}

/* ES with base desc_test_buf and a 16-byte limit. */
static void desc_test_base_limit(void)
{
	uint32_t v = 0, v2 = 0;
	desc_set_seg(DT_DATA, (uint32_t)desc_test_buf, 15, DESC_P | DESC_S | DESC_DATA_RW, DESC_DB);
	__asm__ volatile("movw %w2, %%es\n\t"
	                 "movl %%es:4, %0\n\t"
	                 "movl %3, %%es:8\n\t"
	                 "movzbl %%es:15, %1\n\t"
	                 "movw %w4, %%es"
	                 : "=&r"(v), "=&r"(v2)
	                 : "r"(DT_SEL(DT_DATA)), "r"(0xCAFEF00D), "r"(SEL_KDATA)
	                 : "memory");
	printf("ES base+4 reads 0x%x, byte at the limit 0x%x\n", v, v2);
	test_eq(v, 0x22222222, "read through a segment base");
	test_eq(desc_test_buf[2], 0xCAFEF00D, "write through a segment base");
	test_eq(v2, 0x44, "byte at the segment limit");
	desc_test_limits = desc_test_es_try(16, 0) == X86_EXC_GP;
	if (!desc_test_limits) {
		printf("info: data segment limits are not checked here; limit checks skipped\n");
		return;
	}
	test_eq(desc_test_es_try(14, 1), X86_EXC_GP, "dword crossing the limit");
	test_eq(trap_last.error, 0, "#GP error for a limit violation");
	test_eq(desc_test_es_try(12, 1), TRAP_NONE, "last dword within the limit");
}

/* A limit violation through SS is #SS(0), not #GP (SDM 6.15, interrupt 12).
 * The frame for it goes on the same stack, which the limit still covers. */
static void desc_test_stack_limit(void)
{
	uint32_t here = (uint32_t)&here;
	if (!desc_test_limits)
		return;
	test_check(here < 0x200000, "stack at 0x%x is above 2 MiB", here);
	desc_set_seg(DT_STACK, 0, 0x1FF, DESC_P | DESC_S | DESC_DATA_RW, DESC_G | DESC_DB);
	__asm__ volatile("movw %w0, %%ss" : : "r"(DT_SEL(DT_STACK)));
	uint32_t v = TRAP_TRY("movl %%ss:0x300000, %%eax", : : : "eax");
	__asm__ volatile("movw %w0, %%ss" : : "r"(SEL_KDATA));
	test_eq(v, X86_EXC_SS, "access past the SS limit");
	test_eq(trap_last.error, 0, "#SS error for a limit violation");
}

static void desc_test_not_present(void)
{
	desc_set_seg(DT_NP, 0, 0xFFFFF, DESC_DPL(3) | DESC_S | DESC_DATA_RW, DESC_G | DESC_DB);
	test_eq(TRAP_TRY("movw %w0, %%ds",
	                 :
	                 : "r"(DT_SEL(DT_NP))),
	        X86_EXC_NP, "load of a not-present DS");
	test_eq(trap_last.error, DT_SEL(DT_NP), "#NP error code");
	test_eq(TRAP_TRY("movw %w0, %%gs",
	                 :
	                 : "r"(DT_SEL(DT_NP) | 3)),
	        X86_EXC_NP, "not-present GS, RPL 3");
	test_eq(trap_last.error, DT_SEL(DT_NP), "#NP error code leaves out the RPL");
}

static void desc_test_ldt_run(void)
{
	uint32_t v = 0;
	desc_test_ldt[1] = desc_test_make((uint32_t)&desc_test_buf[4], 7,
	                                  DESC_P | DESC_S | DESC_DATA_RW, DESC_DB);
	desc_set_seg(DT_LDT, (uint32_t)desc_test_ldt, sizeof(desc_test_ldt) - 1, DESC_P | DESC_LDT,
	             0);
	lldt(DT_SEL(DT_LDT));
	printf("SLDT 0x%x after LLDT 0x%x\n", sldt(), DT_SEL(DT_LDT));
	test_eq(sldt(), DT_SEL(DT_LDT), "SLDT");
	__asm__ volatile("movw %w1, %%fs\n\tmovl %%fs:4, %0" : "=r"(v) : "r"(DT_LDT_SEL(1)));
	test_eq(v, 0x66666666, "read through an LDT segment");
	if (desc_test_limits)
		test_eq(TRAP_TRY("movl %%fs:8, %%eax",
		                 :
		                 :
		                 : "eax"),
		        X86_EXC_GP, "past the LDT segment's limit");
	test_eq(TRAP_TRY("movw %w0, %%fs",
	                 :
	                 : "r"(DT_LDT_SEL(2))),
	        X86_EXC_GP, "selector past the LDT limit");
	test_eq(trap_last.error, DT_LDT_SEL(2), "#GP error code names the LDT selector");
	__asm__ volatile("movw %w0, %%fs" : : "r"(SEL_KDATA));
	lldt(0);
	test_eq(sldt(), 0, "SLDT after LLDT 0");
}

/* FS:0 and FS:4 after loading FS with @sel. */
static uint64_t desc_test_fs_read(uint16_t sel)
{
	uint32_t lo, hi;
	__asm__ volatile("movw %w2, %%fs\n\tmovl %%fs:0, %0\n\tmovl %%fs:4, %1"
	                 : "=&r"(lo), "=&r"(hi)
	                 : "r"(sel)
	                 : "memory");
	return (uint64_t)hi << 32 | lo;
}

/* Reads FS:0 without loading FS. */
static uint32_t desc_test_fs0(void)
{
	uint32_t v;
	__asm__ volatile("movl %%fs:0, %0" : "=r"(v) : : "memory");
	return v;
}

/* A descriptor rewritten under a loaded segment register: the register keeps
 * what it loaded; the next load takes the new descriptor. */
static void desc_test_rewrite(uint64_t *entry, uint16_t sel, unsigned to)
{
	uint8_t access = DESC_P | DESC_S | DESC_DATA_RW;
	*entry = desc_test_make((uint32_t)&desc_test_buf[0], 31, access, DESC_DB);
	uint32_t loaded = (uint32_t)desc_test_fs_read(sel);
	*entry = desc_test_make((uint32_t)&desc_test_buf[to], 7, access, DESC_DB);
	uint32_t kept = desc_test_fs0();
	uint32_t reloaded = (uint32_t)desc_test_fs_read(sel);
	printf("FS 0x%x reads 0x%x, 0x%x after a rewrite of its descriptor, 0x%x reloaded\n", sel,
	       loaded, kept, reloaded);
	test_eq(loaded, desc_test_buf[0], "read through the loaded descriptor");
	test_eq(kept, desc_test_buf[0], "a loaded segment keeps its descriptor");
	test_eq(reloaded, desc_test_buf[to], "a reload takes the rewritten descriptor");
}

static void desc_test_cache(void)
{
	desc_test_rewrite(&desc_gdt[DT_DATA2], DT_SEL(DT_DATA2), 5);
	desc_test_ldt[1] = 0;
	desc_set_seg(DT_LDT, (uint32_t)desc_test_ldt, sizeof(desc_test_ldt) - 1, DESC_P | DESC_LDT,
	             0);
	lldt(DT_SEL(DT_LDT));
	desc_test_rewrite(&desc_test_ldt[1], DT_LDT_SEL(1), 2);

	/* FS back and forth between three segments with other bases */
	unsigned wrong = 0;
	for (int i = 0; i < 200; i++) {
		uint64_t a = desc_test_fs_read(DT_SEL(DT_DATA2));
		uint64_t b = desc_test_fs_read(DT_LDT_SEL(1));
		uint64_t c = desc_test_fs_read(DT_SEL(DT_DATA));
		wrong += a != ((uint64_t)desc_test_buf[6] << 32 | desc_test_buf[5]);
		wrong += b != ((uint64_t)desc_test_buf[3] << 32 | desc_test_buf[2]);
		wrong += c != ((uint64_t)desc_test_buf[1] << 32 | desc_test_buf[0]);
	}
	printf("FS moved between three segments 200 times: %u wrong reads\n", wrong);
	test_eq(wrong, 0, "reads after moving between segments");
	__asm__ volatile("movw %w0, %%fs" : : "r"(SEL_KDATA));
	lldt(0);
}

static void desc_test_tr(void)
{
	printf("STR 0x%x\n", str());
	test_eq(str(), SEL_TSS, "STR");
	test_eq(TRAP_TRY("ltr %w0", : : "r"(SEL_TSS)), X86_EXC_GP, "LTR of the busy TSS");
	test_eq(trap_last.error, SEL_TSS, "#GP error code for LTR");
	desc_test_tss2 = desc_tss;
	desc_set_seg(DT_TSS2, (uint32_t)&desc_test_tss2, sizeof(desc_test_tss2) - 1,
	             DESC_P | DESC_TSS32, 0);
	ltr(DT_SEL(DT_TSS2));
	test_eq(str(), DT_SEL(DT_TSS2), "STR after LTR");
	test_check(desc_get_seg(DT_TSS2) >> 40 & DT_TSS_BUSY, "LTR did not mark the TSS busy");
	/* Back to the runtime's TSS: clear its busy bit first. */
	desc_gdt[SEL_TSS >> 3] &= ~((uint64_t)DT_TSS_BUSY << 40);
	ltr(SEL_TSS);
	test_eq(str(), SEL_TSS, "STR after going back");
}

static void desc_test_idt_limit(void)
{
	struct x86_dtr full, small;
	sidt(&full);
	small = full;
	small.limit = 0x30 * 8 - 1;
	lidt(&small);
	sidt(&small);
	uint32_t v = TRAP_TRY("int $0x80");
	lidt(&full);
	printf("SIDT limit 0x%x; INT 0x80 past it: vector %u error 0x%x\n", small.limit, v,
	       trap_last.error);
	test_eq(small.limit, 0x30 * 8 - 1, "SIDT after LIDT");
	test_eq(v, X86_EXC_GP, "INT past the IDT limit");
	test_eq(trap_last.error, 0x80 << 3 | 2, "#GP error code for a vector past the IDT limit");
}

void test_main(void)
{
	desc_test_tables();
	desc_test_far();
	desc_test_base_limit();
	desc_test_stack_limit();
	desc_test_not_present();
	desc_test_ldt_run();
	desc_test_cache();
	desc_test_tr();
	desc_test_idt_limit();
}
