/*
 * The kvm engine's entry state, checked without /dev/kvm: the segment and
 * control register values VM entry will see, and the long-mode page tables
 * walked the way the CPU walks them (Intel SDM vol. 3, 4.5).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/kvm_cpu.h"
#include "mem.h"

static void assert_flat(const struct kvm_segment *s, uint16_t sel, uint8_t type)
{
	assert_int_equal(s->selector, sel);
	assert_int_equal(s->type, type);
	assert_int_equal(s->base, 0);
	assert_int_equal(s->limit, 0xffffffff);
	assert_int_equal(s->g, 1);
	assert_int_equal(s->s, 1);
	assert_int_equal(s->present, 1);
	assert_int_equal(s->dpl, 0);
	assert_int_equal(s->unusable, 0);
}

/* VM entry needs TR usable, a busy TSS, S=0 (SDM 26.3.1.2). */
static void assert_tr_ldt(const struct kvm_sregs *s)
{
	assert_int_equal(s->tr.type, 0xb);
	assert_int_equal(s->tr.present, 1);
	assert_int_equal(s->tr.s, 0);
	assert_int_equal(s->tr.unusable, 0);
	assert_int_equal(s->tr.selector & 4, 0); /* TI clear */
	assert_int_equal(s->ldt.unusable, 1);
}

static void test_pm32_entry(void **state)
{
	struct kvm_sregs s;
	memset(&s, 0x5a, sizeof(s)); /* whatever KVM_GET_SREGS returned */
	kvm_cpu_entry_sregs(&s, BOOT_PM32_FLAT);
	assert_flat(&s.cs, 0x10, 0xb);
	assert_int_equal(s.cs.db, 1);
	assert_int_equal(s.cs.l, 0);
	const struct kvm_segment *data[] = { &s.ds, &s.es, &s.fs, &s.gs, &s.ss };
	for (int i = 0; i < 5; i++) {
		assert_flat(data[i], 0x18, 0x3);
		assert_int_equal(data[i]->db, 1);
	}
	assert_tr_ldt(&s);
	assert_int_equal(s.cr0, 0x11); /* PE | ET, paging off */
	assert_int_equal(s.cr3, 0);
	assert_int_equal(s.cr4, 0);
	assert_int_equal(s.efer, 0);
	assert_int_equal(s.gdt.limit, 0);
	assert_int_equal(s.idt.limit, 0);
}

static void test_long64_entry(void **state)
{
	struct kvm_sregs s;
	memset(&s, 0, sizeof(s));
	kvm_cpu_entry_sregs(&s, BOOT_LONG64);
	assert_flat(&s.cs, 0x10, 0xb);
	assert_int_equal(s.cs.l, 1);
	assert_int_equal(s.cs.db, 0); /* L=1 requires D=0 */
	assert_flat(&s.ss, 0x18, 0x3);
	assert_tr_ldt(&s);
	assert_int_equal(s.cr0, 0x80000011ull); /* PG | ET | PE */
	assert_int_equal(s.cr4 & 0x20, 0x20);   /* PAE */
	assert_int_equal(s.efer, 0x500);        /* LMA | LME */
	assert_int_equal(s.cr3, KVM_CPU_PT_BASE);
}

static void test_entry_regs(void **state)
{
	struct boot_entry e = { .mode = BOOT_PM32_FLAT,
		                .rip = 0x100010,
		                .rax = 0x2badb002,
		                .rbx = 0x9000,
		                .rcx = 3,
		                .rdx = 4,
		                .rsi = 5,
		                .rdi = 6,
		                .rsp = 0x7000,
		                .rbp = 8 };
	struct kvm_regs r;
	memset(&r, 0xee, sizeof(r));
	kvm_cpu_entry_regs(&r, &e);
	assert_int_equal(r.rip, 0x100010);
	assert_int_equal(r.rax, 0x2badb002);
	assert_int_equal(r.rbx, 0x9000);
	assert_int_equal(r.rcx, 3);
	assert_int_equal(r.rdx, 4);
	assert_int_equal(r.rsi, 5);
	assert_int_equal(r.rdi, 6);
	assert_int_equal(r.rsp, 0x7000);
	assert_int_equal(r.rbp, 8);
	assert_int_equal(r.rflags, 0x2); /* interrupts off */
	assert_int_equal(r.r8, 0);
	assert_int_equal(r.r15, 0);
}

/* Translates @va through the 4-level tables at CR3 like the MMU; returns
 * UINT64_MAX if a level is not present or the walk leaves RAM. */
static uint64_t walk(const struct mem *m, uint64_t cr3, uint64_t va)
{
	uint64_t table = cr3 & ~0xfffull;
	for (int level = 3; level >= 0; level--) {
		unsigned idx = (va >> (12 + 9 * level)) & 0x1ff;
		uint64_t entry;
		if (mem_read(m, table + idx * 8, &entry, 8) < 0 || !(entry & 1))
			return UINT64_MAX;
		uint64_t addr = entry & 0x000ffffffffff000ull;
		if (level == 1 && (entry & 0x80))
			return (addr & ~0x1fffffull) | (va & 0x1fffff);
		assert_int_not_equal(level, 0); /* we only build 2 MiB pages */
		assert_int_equal(entry & 2, 2); /* writable */
		table = addr;
	}
	return UINT64_MAX;
}

static void test_page_tables_identity(void **state)
{
	struct mem m;
	assert_int_equal(mem_init(&m, 8 << 20), 0);
	assert_int_equal(kvm_cpu_page_tables(&m), 0);
	const uint64_t va[] = { 0,          0xb8000,    0x100000,   0x7fffff,  0x1234567,
		                0x40000000, 0xbfffffff, 0xfee00000, 0xffffffff };
	for (size_t i = 0; i < sizeof(va) / sizeof(va[0]); i++)
		assert_int_equal(walk(&m, KVM_CPU_PT_BASE, va[i]), va[i]);
	/* Only the low 4 GiB are mapped. */
	assert_int_equal(walk(&m, KVM_CPU_PT_BASE, 0x100000000ull), UINT64_MAX);
	/* Nothing outside the documented range was written. */
	const uint8_t *ram = mem_ptr(&m, 0, 8 << 20);
	for (uint64_t a = 0; a < (8 << 20); a++)
		if (a < KVM_CPU_PT_BASE || a >= KVM_CPU_PT_END)
			assert_int_equal(ram[a], 0);
	mem_free(&m);
}

/* A kernel loaded where the tables go is refused, not overwritten. */
static void test_page_tables_refuse_loaded_range(void **state)
{
	struct mem m;
	assert_int_equal(mem_init(&m, 4 << 20), 0);
	uint8_t code = 0x90;
	assert_int_equal(mem_write(&m, KVM_CPU_PT_END - 1, &code, 1), 0);
	assert_int_equal(kvm_cpu_page_tables(&m), -ENOTSUP);
	uint64_t pml4e;
	assert_int_equal(mem_read(&m, KVM_CPU_PT_BASE, &pml4e, 8), 0);
	assert_int_equal(pml4e, 0);
	assert_int_equal(mem_read(&m, KVM_CPU_PT_END - 1, &code, 1), 0);
	assert_int_equal(code, 0x90);
	mem_free(&m);
}

/* Leaf 1 loses x2APIC and TSC-deadline; everything else (APIC too) stays. */
static void test_cpuid_xapic_only(void **state)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 3 * sizeof(c->entries[0]));
	assert_non_null(c);
	c->nent = 3;
	c->entries[0] = (struct kvm_cpuid_entry2){ .function = 0, .eax = 0xd, .ebx = 0x756e6547 };
	c->entries[1] =
	        (struct kvm_cpuid_entry2){ .function = 1,
		                           .eax = 0x306a9,
		                           .ecx = 0x80000000u | (1u << 21) | (1u << 24) | 1u,
		                           .edx = 0x0f8bfbffu };
	c->entries[2] = (struct kvm_cpuid_entry2){ .function = 0x80000001, .edx = 1u << 29 };
	kvm_cpu_fix_cpuid(c);
	assert_int_equal(c->entries[0].ebx, 0x756e6547);
	assert_int_equal(c->entries[1].eax, 0x306a9);
	assert_int_equal(c->entries[1].edx, 0x0f8bfbffu);
	assert_int_equal(c->entries[1].ecx, 0x80000000u | 1u); /* hypervisor, SSE3 kept */
	assert_int_equal(c->entries[2].edx, 1u << 29);         /* long mode kept */
	free(c);
}

/* The crash dump of a 32-bit kernel at its entry point. */
static void test_print_pm32(void **state)
{
	struct boot_entry e = {
		.mode = BOOT_PM32_FLAT, .rip = 0x100010, .rax = 0x2badb002, .rbx = 0x9000
	};
	struct kvm_regs r;
	struct kvm_sregs s;
	memset(&s, 0, sizeof(s));
	kvm_cpu_entry_regs(&r, &e);
	kvm_cpu_entry_sregs(&s, e.mode);
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	assert_non_null(out);
	kvm_cpu_print(&r, &s, out);
	fclose(out);
	assert_non_null(strstr(text, "EAX=2badb002 EBX=00009000 ECX=00000000 EDX=00000000\n"));
	assert_non_null(strstr(text, "EIP=00100010 EFLAGS=00000002\n"));
	assert_non_null(strstr(text, "CS=0010 base=00000000 limit=ffffffff type=b dpl=0 32-bit\n"));
	assert_non_null(strstr(text, "SS=0018 base=00000000 limit=ffffffff type=3 dpl=0 32-bit\n"));
	assert_non_null(strstr(text, "GS=0018 "));
	assert_non_null(strstr(text, "GDT=00000000/0000 IDT=00000000/0000\n"));
	assert_non_null(strstr(
	        text, "CR0=00000011 CR2=00000000 CR3=00000000 CR4=00000000 EFER=00000000\n"));
	assert_null(strstr(text, "R8=")); /* only for 64-bit code */
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pm32_entry),
		cmocka_unit_test(test_long64_entry),
		cmocka_unit_test(test_entry_regs),
		cmocka_unit_test(test_page_tables_identity),
		cmocka_unit_test(test_page_tables_refuse_loaded_range),
		cmocka_unit_test(test_print_pm32),
		cmocka_unit_test(test_cpuid_xapic_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
