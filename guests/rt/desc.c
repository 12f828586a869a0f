/* GDT, TSS and IDT of the runtime. */
#include "desc.h"
#include "x86.h"

/* In pages of their own (kernel.ld). */
uint64_t desc_gdt[DESC_GDT_ENTRIES] __attribute__((aligned(8), section(".bss.desc_gdt")));
struct tss32 desc_tss __attribute__((aligned(16), section(".bss.desc_gdt")));
static uint64_t desc_idt[256] __attribute__((aligned(8), section(".bss.desc_idt")));

/* The ring-0 stack every interrupt from ring 3 switches to (TSS.ESP0). */
static uint8_t desc_kstack[8192] __attribute__((aligned(16)));

/* One stub per vector, laid out by entry.S. */
extern const uint32_t entry_stubs[256];

void desc_set_seg(unsigned index, uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
	uint64_t d = (limit & 0xFFFFu) | ((uint64_t)(base & 0xFFFFFFu) << 16);
	d |= (uint64_t)access << 40;
	d |= (uint64_t)((limit >> 16) & 0xF) << 48;
	d |= (uint64_t)(flags & 0xF) << 52;
	d |= (uint64_t)(base >> 24) << 56;
	if (index && index < DESC_GDT_ENTRIES)
		desc_gdt[index] = d;
}

uint64_t desc_get_seg(unsigned index)
{
	return index < DESC_GDT_ENTRIES ? desc_gdt[index] : 0;
}

void desc_set_gate(unsigned vector, uint8_t type, unsigned dpl, int present)
{
	uint32_t off = entry_stubs[vector & 0xFF];
	uint64_t g = (off & 0xFFFFu) | ((uint64_t)SEL_KCODE << 16);
	g |= (uint64_t)(type | (dpl & 3) << 5 | (present ? 0x80 : 0)) << 40;
	g |= (uint64_t)(off >> 16) << 48;
	desc_idt[vector & 0xFF] = g;
}

static void desc_load_segments(void)
{
	/* A far return is the simplest way to reload CS with a new selector. */
	__asm__ volatile("pushl %0\n\t"
	                 "pushl $1f\n\t"
	                 "lretl\n"
	                 "1:\n\t"
	                 "movw %w1, %%ds\n\t"
	                 "movw %w1, %%es\n\t"
	                 "movw %w1, %%fs\n\t"
	                 "movw %w1, %%gs\n\t"
	                 "movw %w1, %%ss"
	                 :
	                 : "i"(SEL_KCODE), "r"(SEL_KDATA)
	                 : "memory");
}

static void desc_init_gdt(void)
{
	struct x86_dtr gdtr = { sizeof(desc_gdt) - 1, (uint32_t)desc_gdt };
	desc_set_seg(1, 0, 0xFFFFF, DESC_P | DESC_S | DESC_CODE_RX, DESC_G | DESC_DB);
	desc_set_seg(2, 0, 0xFFFFF, DESC_P | DESC_S | DESC_DATA_RW, DESC_G | DESC_DB);
	desc_set_seg(3, 0, 0xFFFFF, DESC_P | DESC_DPL(3) | DESC_S | DESC_CODE_RX, DESC_G | DESC_DB);
	desc_set_seg(4, 0, 0xFFFFF, DESC_P | DESC_DPL(3) | DESC_S | DESC_DATA_RW, DESC_G | DESC_DB);
	/* An I/O map base past the limit means no bitmap: ring 3 port access
	 * is governed by IOPL alone (SDM 19.5.2). */
	desc_tss.ss0 = SEL_KDATA;
	desc_tss.esp0 = (uint32_t)(desc_kstack + sizeof(desc_kstack));
	desc_tss.iomap_base = sizeof(desc_tss);
	desc_set_seg(SEL_TSS >> 3, (uint32_t)&desc_tss, sizeof(desc_tss) - 1, DESC_P | DESC_TSS32,
	             0);
	lgdt(&gdtr);
	desc_load_segments();
	ltr(SEL_TSS);
}

static void desc_init_idt(void)
{
	struct x86_dtr idtr = { sizeof(desc_idt) - 1, (uint32_t)desc_idt };
	for (unsigned v = 0; v < 256; v++) {
		int user = v == X86_EXC_BP || v == X86_EXC_OF || v == 0x80 || v == 0x81;
		desc_set_gate(v, DESC_GATE_INT32, user ? 3 : 0, 1);
	}
	lidt(&idtr);
}

void desc_init(void)
{
	desc_init_gdt();
	desc_init_idt();
}
