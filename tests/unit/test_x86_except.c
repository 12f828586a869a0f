/*
 * Protected-mode events in the x86 core: exceptions with and without error
 * codes, the ring 3 -> ring 0 stack switch through the TSS, INT n against
 * the gate DPL, page faults with CR2, the double- and triple-fault rules,
 * and external interrupts with the STI shadow (SDM vol. 3, chapter 6).
 * The machine is test_x86_pm.h's; task switches are in test_x86_task.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "test_x86_pm.h"

static void test_divide_error_has_no_error_code(void **state)
{
	struct harness *h = pm_machine();
	static const uint8_t code[] = { 0x31, 0xc9, 0xf7, 0xf1 }; /* xor ecx,ecx; div ecx */
	expect_vector(h, code, sizeof(code), 0);
	uint32_t sp = h->cpu.r[X86_ESP];
	assert_int_equal(sp, HARNESS_STACK - 12);
	assert_int_equal(get32(h, sp), HARNESS_CODE + 2); /* the faulting DIV */
	assert_int_equal(get32(h, sp + 4), SEL_KCODE);
	assert_int_equal(get32(h, sp + 8) & 0x2, 0x2);
	assert_false(h->cpu.eflags & X86_IF);
	harness_free(h);
}

static void test_ud2_and_lock_on_register(void **state)
{
	struct harness *h = pm_machine();
	expect_vector(h, (const uint8_t[]){ 0x0f, 0x0b }, 2, 6);
	assert_int_equal(get32(h, h->cpu.r[X86_ESP]), HARNESS_CODE);
	h->cpu.r[X86_ESP] = HARNESS_STACK;
	expect_vector(h, (const uint8_t[]){ 0xf0, 0x01, 0xc8 }, 3, 6); /* lock add eax,ecx */
	harness_free(h);
}

static void test_segment_load_errors(void **state)
{
	struct harness *h = pm_machine();
	/* mov ax,0x48; mov ds,ax: beyond the GDT limit -> #GP(0x48) */
	static const uint8_t beyond[] = { 0x66, 0xb8, 0x48, 0x00, 0x8e, 0xd8 };
	expect_vector(h, beyond, sizeof(beyond), 13);
	assert_int_equal(get32(h, h->cpu.r[X86_ESP]), 0x48);
	assert_int_equal(get32(h, h->cpu.r[X86_ESP] + 4), HARNESS_CODE + 4);
	/* A not-present data segment -> #NP(selector) */
	h->cpu.r[X86_ESP] = HARNESS_STACK;
	static const uint8_t absent[] = { 0x66, 0xb8, SEL_ABSENT, 0x00, 0x8e, 0xd8 };
	expect_vector(h, absent, sizeof(absent), 11);
	assert_int_equal(get32(h, h->cpu.r[X86_ESP]), SEL_ABSENT);
	/* A code segment in SS -> #GP(selector) */
	h->cpu.r[X86_ESP] = HARNESS_STACK;
	static const uint8_t code_in_ss[] = { 0x66, 0xb8, SEL_KCODE, 0x00, 0x8e, 0xd0 };
	expect_vector(h, code_in_ss, sizeof(code_in_ss), 13);
	assert_int_equal(get32(h, h->cpu.r[X86_ESP]), SEL_KCODE);
	harness_free(h);
}

static void test_ring3_fault_switches_to_the_tss_stack(void **state)
{
	struct harness *h = pm_machine();
	run_user(h, (const uint8_t[]){ 0x90, 0xf4 }, 2, 13); /* nop; hlt at CPL 3 */
	struct x86_cpu *c = &h->cpu;
	uint32_t sp = c->r[X86_ESP];
	assert_int_equal(sp, KSTACK - 24);
	assert_int_equal(get32(h, sp), 0);                 /* error code */
	assert_int_equal(get32(h, sp + 4), USER_CODE + 1); /* the HLT */
	assert_int_equal(get32(h, sp + 8), SEL_UCODE);
	assert_int_equal(get32(h, sp + 16), USTACK);
	assert_int_equal(get32(h, sp + 20), SEL_UDATA);
	assert_int_equal(c->cpl, 0);
	assert_int_equal(c->seg[X86_CS].sel, SEL_KCODE);
	assert_int_equal(c->seg[X86_SS].sel, SEL_KDATA);
	harness_free(h);
}

static void test_int_n_checks_the_gate_dpl(void **state)
{
	struct harness *h = pm_machine();
	put_gate(h, 0x80, 0xf, 3);
	run_user(h, (const uint8_t[]){ 0xcd, 0x80 }, 2, 0x80);
	assert_int_equal(get32(h, h->cpu.r[X86_ESP]), USER_CODE + 2); /* a trap: after INT */
	/* The same from a DPL 0 gate: #GP(vector * 8 + 2) */
	harness_free(h);
	h = pm_machine();
	run_user(h, (const uint8_t[]){ 0xcd, 0x81 }, 2, 13);
	assert_int_equal(get32(h, h->cpu.r[X86_ESP]), 0x81 * 8 + 2);
	assert_int_equal(get32(h, h->cpu.r[X86_ESP] + 4), USER_CODE);
	harness_free(h);
}

static void test_iret_back_to_ring3(void **state)
{
	struct harness *h = pm_machine();
	put_gate(h, 0x80, 0xf, 3);
	h->ram[HANDLERS + 16 * 0x80] = 0xcf; /* the handler IRETs straight back */
	/* int 0x80; mov eax,cs; hlt (-> #GP at ring 3) */
	run_user(h, (const uint8_t[]){ 0xcd, 0x80, 0x8c, 0xc8, 0xf4 }, 5, 13);
	assert_int_equal(h->cpu.r[X86_EAX] & 0xffff, SEL_UCODE);
	assert_int_equal(get32(h, h->cpu.r[X86_ESP] + 4), USER_CODE + 4);
	harness_free(h);
}

static uint16_t get16(struct harness *h, uint32_t addr)
{
	uint16_t v;
	memcpy(&v, h->ram + addr, 2);
	return v;
}

/* A 16-bit interrupt (type 6) or trap (7) gate to HANDLERS + 16 * v, with
 * junk where a 32-bit gate has the offset's high half. */
static void put_gate16(struct harness *h, unsigned v, unsigned type, unsigned dpl)
{
	put_gate(h, v, type, dpl);
	put32(h, IDT + 8 * v + 4, get32(h, IDT + 8 * v + 4) | 0xabcd0000u);
}

/* A 16-bit gate pushes words: FLAGS, CS, IP and the error code as 16 bits
 * (SDM 6.12.1); an interrupt gate clears IF. */
static void test_16bit_interrupt_gate_same_level(void **state)
{
	struct harness *h = pm_machine();
	struct x86_cpu *c = &h->cpu;
	put_gate16(h, 13, 0x6, 0);
	c->eflags |= X86_IF;
	static const uint8_t beyond[] = { 0x66, 0xb8, 0x48, 0x00, 0x8e, 0xd8 }; /* #GP(0x48) */
	expect_vector(h, beyond, sizeof(beyond), 13);
	uint32_t sp = c->r[X86_ESP];
	assert_int_equal(sp, HARNESS_STACK - 8);
	assert_int_equal(get16(h, sp), 0x48);
	assert_int_equal(get16(h, sp + 2), HARNESS_CODE + 4);
	assert_int_equal(get16(h, sp + 4), SEL_KCODE);
	assert_int_equal(get16(h, sp + 6), 0x202);
	assert_int_equal(get32(h, sp + 8), 0); /* nothing above the frame */
	assert_false(c->eflags & X86_IF);
	harness_free(h);
}

/* INT n through a 16-bit trap gate and IRETW (66 CF) back, at ring 0. */
static void test_16bit_trap_gate_and_iretw(void **state)
{
	struct harness *h = pm_machine();
	struct x86_cpu *c = &h->cpu;
	put_gate16(h, 0x80, 0x7, 0);
	h->ram[HANDLERS + 16 * 0x80] = 0x66; /* iretw */
	h->ram[HANDLERS + 16 * 0x80 + 1] = 0xcf;
	c->eflags |= X86_IF | X86_CF;
	/* int 0x80; pushfd; pop ebx */
	static const uint8_t code[] = { 0xcd, 0x80, 0x9c, 0x5b };
	harness_load(h, code, sizeof(code));
	assert_int_equal(harness_run(h, 100), X86_HALT);
	assert_int_equal(c->eip, HARNESS_CODE + sizeof(code) + 1);
	assert_int_equal(c->r[X86_ESP], HARNESS_STACK);
	assert_int_equal(c->r[X86_EBX], 0x203); /* IF and CF came back from the frame */
	/* The frame's IP (PUSHFD wrote over the rest) */
	assert_int_equal(get16(h, HARNESS_STACK - 6), HARNESS_CODE + 2);
	harness_free(h);
}

/* From ring 3 the 16-bit frame gets SP and SS too, on the ring 0 stack that
 * the 32-bit TSS's SS0:ESP0 names; IRETW back to ring 3 loads SP only, so
 * the rest of ESP is 0 (a 32-bit stack segment takes the popped word as
 * ESP). */
static void test_16bit_gates_from_ring3(void **state)
{
	struct harness *h = pm_machine();
	struct x86_cpu *c = &h->cpu;
	put_gate16(h, 13, 0x6, 0);
	run_user(h, (const uint8_t[]){ 0x90, 0xf4 }, 2, 13); /* nop; hlt at CPL 3 */
	uint32_t sp = c->r[X86_ESP];
	assert_int_equal(sp, KSTACK - 12);
	assert_int_equal(get16(h, sp), 0);                 /* error code */
	assert_int_equal(get16(h, sp + 2), USER_CODE + 1); /* the HLT */
	assert_int_equal(get16(h, sp + 4), SEL_UCODE);
	assert_int_equal(get16(h, sp + 8), USTACK & 0xffff); /* SP */
	assert_int_equal(get16(h, sp + 10), SEL_UDATA);
	assert_int_equal(c->cpl, 0);
	assert_int_equal(c->seg[X86_SS].sel, SEL_KDATA);
	harness_free(h);

	h = pm_machine();
	c = &h->cpu;
	put_gate16(h, 0x80, 0x7, 3);
	h->ram[HANDLERS + 16 * 0x80] = 0x66; /* iretw */
	h->ram[HANDLERS + 16 * 0x80 + 1] = 0xcf;
	/* int 0x80; mov eax,cs; mov ebx,esp; hlt (-> #GP at ring 3) */
	run_user(h, (const uint8_t[]){ 0xcd, 0x80, 0x8c, 0xc8, 0x89, 0xe3, 0xf4 }, 7, 13);
	assert_int_equal(c->r[X86_EAX] & 0xffff, SEL_UCODE);
	assert_int_equal(c->r[X86_EBX], USTACK & 0xffff);
	assert_int_equal(get32(h, c->r[X86_ESP] + 4), USER_CODE + 6); /* the HLT's #GP */
	assert_int_equal(get32(h, c->r[X86_ESP] + 16), USTACK & 0xffff);
	harness_free(h);
}

/* With a 16-bit TSS in TR the ring 0 stack is its SP0:SS0 (SDM 7.6). */
static void test_16bit_tss_stack(void **state)
{
	struct harness *h = pm_machine();
	struct x86_cpu *c = &h->cpu;
	c->tr = (struct x86_seg){ SEL_TSS, 0x680, 0x2b, 0x83 }; /* busy 16-bit TSS */
	put32(h, 0x682, 0xe000 | SEL_KDATA << 16);
	run_user(h, (const uint8_t[]){ 0xf4 }, 1, 13); /* hlt at CPL 3 */
	assert_int_equal(c->r[X86_ESP], 0xe000 - 24);
	assert_int_equal(get32(h, 0xe000 - 4), SEL_UDATA);
	harness_free(h);
}

/* A fault while delivering an exception has EXT (bit 0) in its error code;
 * one while delivering INT n has not (SDM 6.13). */
static void test_fault_delivering_an_exception_sets_ext(void **state)
{
	struct harness *h = pm_machine();
	put32(h, IDT + 8 * 6 + 4, get32(h, IDT + 8 * 6 + 4) & ~0x8000u); /* #UD gate absent */
	expect_vector(h, (const uint8_t[]){ 0x0f, 0x0b }, 2, 11);        /* ud2 */
	assert_int_equal(get32(h, h->cpu.r[X86_ESP]), 6 * 8 + 2 + 1);
	assert_int_equal(get32(h, h->cpu.r[X86_ESP] + 4), HARNESS_CODE);
	h->cpu.r[X86_ESP] = HARNESS_STACK;
	expect_vector(h, (const uint8_t[]){ 0xcd, 0x06 }, 2, 11); /* int 6 */
	assert_int_equal(get32(h, h->cpu.r[X86_ESP]), 6 * 8 + 2);
	harness_free(h);
}

static void paging_on(struct harness *h)
{
	for (uint32_t p = 0; p < 256; p++)
		put32(h, PAGE_TABLE + 4 * p, p << 12 | 0x7);
	put32(h, PAGE_TABLE + 4 * 0x90, 0);             /* 0x90000: not present */
	put32(h, PAGE_TABLE + 4 * 0x91, 0x91000 | 0x5); /* 0x91000: read-only */
	put32(h, PAGE_DIR, PAGE_TABLE | 0x7);
	static const uint8_t code[] = {
		0xb8, 0x00, 0x00, 0x01, 0x00, /* mov eax, PAGE_DIR */
		0x0f, 0x22, 0xd8,             /* mov cr3, eax */
		0x0f, 0x20, 0xc0,             /* mov eax, cr0 */
		0x0d, 0x00, 0x00, 0x00, 0x80, /* or eax, PG */
		0x0f, 0x22, 0xc0,             /* mov cr0, eax */
	};
	harness_load(h, code, sizeof(code));
	assert_int_equal(harness_run(h, 100), X86_HALT);
	assert_true(h->cpu.cr0 & X86_CR0_PG);
}

static void test_call_gate_to_ring0_and_retf_back(void **state)
{
	struct harness *h = pm_machine();
	/* 32-bit call gate, DPL 3, 2 dword parameters, to SEL_KCODE:0x6000 */
	put_desc(h, SEL_GATE,
	         (uint64_t)(0x8000 | 3 << 13 | 0xc << 8 | 2) << 32 | SEL_KCODE << 16 | 0x6000);
	static const uint8_t kernel[] = {
		0x8b, 0x44, 0x24, 0x08, /* mov eax,[esp+8]: the first parameter */
		0x8c, 0xcb,             /* mov ebx,cs */
		0x8b, 0x4c, 0x24, 0x10, /* mov ecx,[esp+16]: the caller's ESP */
		0x8b, 0x54, 0x24, 0x0c, /* mov edx,[esp+12]: the second parameter */
		0xca, 0x08, 0x00,       /* retf 8 */
	};
	memcpy(h->ram + 0x6000, kernel, sizeof(kernel));
	static const uint8_t user[] = {
		0x68, 0x11, 0x11, 0x11, 0x11,                 /* push 0x11111111 */
		0x68, 0x22, 0x22, 0x22, 0x22,                 /* push 0x22222222 */
		0x9a, 0x00, 0x00, 0x00, 0x00, SEL_GATE, 0x00, /* call far SEL_GATE:0 */
		0xf4,                                         /* hlt at CPL 3 -> #GP */
	};
	run_user(h, user, sizeof(user), 13);
	struct x86_cpu *c = &h->cpu;
	assert_int_equal(c->r[X86_EAX], 0x22222222);
	assert_int_equal(c->r[X86_EDX], 0x11111111);
	assert_int_equal(c->r[X86_EBX] & 0xffff, SEL_KCODE);
	assert_int_equal(c->r[X86_ECX], USTACK - 8);
	uint32_t sp = c->r[X86_ESP];
	assert_int_equal(sp, KSTACK - 24); /* the #GP frame on an empty ring 0 stack */
	assert_int_equal(get32(h, sp + 4), USER_CODE + 17);
	assert_int_equal(get32(h, sp + 8), SEL_UCODE);
	assert_int_equal(get32(h, sp + 16), USTACK); /* RETF 8 dropped the parameters */
	harness_free(h);
}

static void test_call_gate_checks(void **state)
{
	struct harness *h = pm_machine();
	/* A DPL 0 gate called from ring 3: #GP(gate) */
	put_desc(h, SEL_GATE, (uint64_t)(0x8000 | 0xc << 8) << 32 | SEL_KCODE << 16 | 0x6000);
	static const uint8_t call[] = { 0x9a, 0, 0, 0, 0, SEL_GATE, 0x00 };
	run_user(h, call, sizeof(call), 13);
	assert_int_equal(get32(h, h->cpu.r[X86_ESP]), SEL_GATE & 0xfffc);
	/* A not-present DPL 3 gate: #NP(gate) */
	harness_free(h);
	h = pm_machine();
	put_desc(h, SEL_GATE, (uint64_t)(3 << 13 | 0xc << 8) << 32 | SEL_KCODE << 16 | 0x6000);
	run_user(h, call, sizeof(call), 11);
	assert_int_equal(get32(h, h->cpu.r[X86_ESP]), SEL_GATE & 0xfffc);
	/* JMP through a gate to a more privileged non-conforming segment: #GP(code) */
	harness_free(h);
	h = pm_machine();
	put_desc(h, SEL_GATE,
	         (uint64_t)(0x8000 | 3 << 13 | 0xc << 8) << 32 | SEL_KCODE << 16 | 0x6000);
	static const uint8_t jmp[] = { 0xea, 0, 0, 0, 0, SEL_GATE, 0x00 };
	run_user(h, jmp, sizeof(jmp), 13);
	assert_int_equal(get32(h, h->cpu.r[X86_ESP]), SEL_KCODE);
	harness_free(h);
}

static void test_sysenter_and_sysexit(void **state)
{
	struct harness *h = pm_machine();
	static const uint8_t msrs[] = {
		0x31, 0xd2, /* xor edx,edx */
		0xb9, 0x74, 0x01, 0, 0,    0xb8,
		0x08, 0,    0,    0, 0x0f, 0x30, /* SYSENTER_CS = 0x08 */
		0xb9, 0x75, 0x01, 0, 0,    0xb8,
		0,    0,    0x07, 0, 0x0f, 0x30, /* SYSENTER_ESP = KSTACK */
		0xb9, 0x76, 0x01, 0, 0,    0xb8,
		0,    0x60, 0,    0, 0x0f, 0x30, /* SYSENTER_EIP = 0x6000 */
	};
	harness_load(h, msrs, sizeof(msrs));
	assert_int_equal(harness_run(h, 100), X86_HALT);
	static const uint8_t kernel[] = {
		0x8c, 0xc8, 0x8c, 0xd3, 0x89, 0xe6, /* mov eax,cs; mov ebx,ss; mov esi,esp */
		0xba, 0x00, 0x51, 0x00, 0x00,       /* mov edx, USER_CODE + 0x100 */
		0xb9, 0x00, 0xe0, 0x07, 0x00,       /* mov ecx, 0x7e000 */
		0x0f, 0x35,                         /* sysexit */
	};
	memcpy(h->ram + 0x6000, kernel, sizeof(kernel));
	h->ram[USER_CODE + 0x100] = 0xf4; /* hlt at CPL 3 -> #GP */
	run_user(h, (const uint8_t[]){ 0x0f, 0x34 }, 2, 13);
	struct x86_cpu *c = &h->cpu;
	assert_int_equal(c->r[X86_EAX] & 0xffff, SEL_KCODE);
	assert_int_equal(c->r[X86_EBX] & 0xffff, SEL_KDATA);
	assert_int_equal(c->r[X86_ESI], KSTACK);
	uint32_t sp = c->r[X86_ESP];
	assert_int_equal(get32(h, sp + 4), USER_CODE + 0x100);
	assert_int_equal(get32(h, sp + 8), SEL_UCODE);
	assert_int_equal(get32(h, sp + 16), 0x7e000);
	assert_int_equal(get32(h, sp + 20), SEL_UDATA);
	/* SYSEXIT at CPL 3 is #GP(0) */
	c->r[X86_ESP] = HARNESS_STACK;
	run_user(h, (const uint8_t[]){ 0x0f, 0x35 }, 2, 13);
	assert_int_equal(get32(h, c->r[X86_ESP] + 4), USER_CODE);
	harness_free(h);
}

static void test_page_faults_set_cr2_and_the_error_code(void **state)
{
	struct harness *h = pm_machine();
	paging_on(h);
	/* mov [0x90010], eax: not present, write, supervisor -> error 2 */
	static const uint8_t absent[] = { 0xa3, 0x10, 0x00, 0x09, 0x00 };
	expect_vector(h, absent, sizeof(absent), 14);
	assert_int_equal(h->cpu.cr2, 0x90010);
	assert_int_equal(get32(h, h->cpu.r[X86_ESP]), 0x2);
	assert_int_equal(get32(h, h->cpu.r[X86_ESP] + 4), HARNESS_CODE);
	/* Supervisor writes to a read-only page succeed while CR0.WP=0 ... */
	h->cpu.r[X86_ESP] = HARNESS_STACK;
	static const uint8_t ro[] = { 0xa3, 0x20, 0x10, 0x09, 0x00 };
	harness_load(h, ro, sizeof(ro));
	assert_int_equal(harness_run(h, 10), X86_HALT);
	assert_int_equal(h->cpu.eip, HARNESS_CODE + sizeof(ro) + 1);
	/* ... and fault with P|W once it is set: error 3 */
	h->cpu.cr0 |= X86_CR0_WP;
	x86_tlb_flush(&h->cpu);
	expect_vector(h, ro, sizeof(ro), 14);
	assert_int_equal(get32(h, h->cpu.r[X86_ESP]), 0x3);
	assert_int_equal(h->cpu.cr2, 0x91020);
	/* The accessed and dirty bits of the page written first */
	assert_int_equal(get32(h, PAGE_TABLE + 4 * 0x91) & 0x60, 0x60);
	harness_free(h);
}

/* ENTER copies the outer frame pointers from below EBP: when one of those
 * reads faults, ESP and EBP are as before the instruction (it restarts),
 * which is what the host CPU does under the monitor. */
static void test_enter_restarts_after_a_fault(void **state)
{
	struct harness *h = pm_machine();
	paging_on(h);
	static const uint8_t code[] = {
		0xbd, 0x10, 0x00, 0x09, 0x00, /* mov ebp, 0x90010 (not present) */
		0xc8, 0x10, 0x00, 0x02,       /* enter 0x10, 2: reads [ebp-4] */
	};
	expect_vector(h, code, sizeof(code), 14);
	assert_int_equal(h->cpu.cr2, 0x9000c);
	assert_int_equal(h->cpu.r[X86_ESP], HARNESS_STACK - 16); /* error, EIP, CS, EFLAGS */
	assert_int_equal(get32(h, h->cpu.r[X86_ESP] + 4), HARNESS_CODE + 5);
	assert_int_equal(h->cpu.r[X86_EBP], 0x90010);
	harness_free(h);
}

static void test_user_page_fault_error_code(void **state)
{
	struct harness *h = pm_machine();
	paging_on(h);
	put32(h, PAGE_TABLE + 4 * 0x92, 0x92000 | 0x3); /* supervisor-only */
	/* push SEL_UDATA; pop ds; mov eax, [0x92000] at CPL 3: present, read, user -> error 5 */
	run_user(h, (const uint8_t[]){ 0x6a, SEL_UDATA, 0x1f, 0xa1, 0x00, 0x20, 0x09, 0x00 }, 8,
	         14);
	assert_int_equal(get32(h, h->cpu.r[X86_ESP]), 0x5);
	assert_int_equal(h->cpu.cr2, 0x92000);
	harness_free(h);
}

/* The inlined access path keeps per TLB entry a tag for what the current
 * CPL may do: an entry filled by ring 0 must not let ring 3 read a
 * supervisor page afterwards. */
static void test_tlb_rights_follow_the_cpl(void **state)
{
	struct harness *h = pm_machine();
	paging_on(h);
	put32(h, PAGE_TABLE + 4 * 0x92, 0x92000 | 0x3); /* supervisor-only */
	/* mov eax, [0x92000]; then to ring 3 */
	uint8_t code[5 + sizeof(to_ring3)] = { 0xa1, 0x00, 0x20, 0x09, 0x00 };
	memcpy(code + 5, to_ring3, sizeof(to_ring3));
	/* push SEL_UDATA; pop ds; mov eax, [0x92000] at CPL 3 */
	static const uint8_t user[] = { 0x6a, SEL_UDATA, 0x1f, 0xa1, 0x00, 0x20, 0x09, 0x00 };
	memcpy(h->ram + USER_CODE, user, sizeof(user));
	expect_vector(h, code, sizeof(code), 14);
	assert_int_equal(get32(h, h->cpu.r[X86_ESP]), 0x5);
	assert_int_equal(h->cpu.cr2, 0x92000);
	assert_int_equal(get32(h, h->cpu.r[X86_ESP] + 4), USER_CODE + 3);
	harness_free(h);
}

/* An access whose last bytes are in the next page (or wrap from the last
 * page to page 0) misses the inlined path's tag compare even with both
 * pages in the TLB: the slow path faults on the second page with CR2 at
 * its start, raises #GP past a flat segment's limit, or reads both. */
static void test_access_across_a_page_end(void **state)
{
	struct harness *h = pm_machine();
	paging_on(h);
	static const uint8_t absent[] = {
		0xa1, 0x00, 0xf0, 0x08, 0x00, /* mov eax, [0x8f000] */
		0xa1, 0xfe, 0xff, 0x08, 0x00, /* mov eax, [0x8fffe]: into 0x90000, absent */
	};
	expect_vector(h, absent, sizeof(absent), 14);
	assert_int_equal(h->cpu.cr2, 0x90000);
	assert_int_equal(get32(h, h->cpu.r[X86_ESP]), 0x0);
	assert_int_equal(get32(h, h->cpu.r[X86_ESP] + 4), HARNESS_CODE + 5);

	/* With both the last page and page 0 in the TLB, a dword at
	 * 0xfffffffe in a flat segment passes its 4 GiB limit: #GP(0), which
	 * the inlined path leaves to the slow one (it checks no flat limit). */
	put32(h, PAGE_DIR + 4 * 1023, 0x12000 | 0x7);
	put32(h, 0x12000 + 4 * 1023, 0x93000 | 0x7);
	h->cpu.r[X86_ESP] = HARNESS_STACK;
	static const uint8_t wrap[] = {
		0xa1, 0x00, 0xf0, 0xff, 0xff, /* mov eax, [0xfffff000] */
		0xa1, 0x00, 0x00, 0x00, 0x00, /* mov eax, [0] */
		0xa1, 0xfe, 0xff, 0xff, 0xff, /* mov eax, [0xfffffffe] */
	};
	expect_vector(h, wrap, sizeof(wrap), 13);
	assert_int_equal(get32(h, h->cpu.r[X86_ESP]), 0x0);
	assert_int_equal(get32(h, h->cpu.r[X86_ESP] + 4), HARNESS_CODE + 10);

	/* Read across a page end into a present page: both halves. */
	h->cpu.r[X86_ESP] = HARNESS_STACK;
	put32(h, 0x8effc, 0x22110000);
	put32(h, 0x8f000, 0x4433);
	static const uint8_t across[] = {
		0xa1, 0x00, 0xe0, 0x08, 0x00, /* mov eax, [0x8e000] */
		0xa1, 0x00, 0xf0, 0x08, 0x00, /* mov eax, [0x8f000] */
		0xa1, 0xfe, 0xef, 0x08, 0x00, /* mov eax, [0x8effe] */
	};
	harness_load(h, across, sizeof(across));
	assert_int_equal(harness_run(h, 10), X86_HALT);
	assert_int_equal(h->cpu.eip, HARNESS_CODE + sizeof(across) + 1);
	assert_int_equal(h->cpu.r[X86_EAX], 0x44332211);
	harness_free(h);
}

/* The core keeps the last uop windows to find them again on calls and
 * returns across pages: a CR3 load must drop them with the TLB, so the
 * second call runs the page now mapped there. */
static void test_code_windows_follow_a_remap(void **state)
{
	struct harness *h = pm_machine();
	paging_on(h);
	static const uint8_t f1[] = { 0xbb, 0x01, 0x00, 0x00, 0x00, 0xc3 }; /* mov ebx, 1; ret */
	static const uint8_t f2[] = { 0xbb, 0x02, 0x00, 0x00, 0x00, 0xc3 }; /* mov ebx, 2; ret */
	memcpy(h->ram + 0x3000, f1, sizeof(f1));
	memcpy(h->ram + 0x96000, f2, sizeof(f2));
	static const uint8_t code[] = {
		0xe8, 0xfb, 0x1f, 0x00, 0x00,       /* call 0x3000 */
		0xc7, 0x05, 0x0c, 0x10, 0x01, 0x00, /* mov dword [PAGE_TABLE + 4 * 3], */
		0x07, 0x60, 0x09, 0x00,             /*   0x96007 */
		0x0f, 0x20, 0xd8,                   /* mov eax, cr3 */
		0x0f, 0x22, 0xd8,                   /* mov cr3, eax */
		0xe8, 0xe6, 0x1f, 0x00, 0x00,       /* call 0x3000 */
	};
	expect_halt(h, code, sizeof(code));
	assert_int_equal(h->cpu.r[X86_EBX], 2);
	harness_free(h);
}

/* A window found again keeps the code window it was built with, which
 * may start after EIP: the interpreter's fetches there take the slow
 * path and must read the right bytes. */
static void test_code_window_found_again_below_its_start(void **state)
{
	struct harness *h = pm_machine();
	h->ram[0x2800] = 0xc3; /* ret */
	/* mov eax, 0x11223344; bswap eax; ret */
	static const uint8_t f[] = { 0xb8, 0x44, 0x33, 0x22, 0x11, 0x0f, 0xc8, 0xc3 };
	memcpy(h->ram + 0x2100, f, sizeof(f));
	static const uint8_t code[] = {
		0xe8, 0xfb, 0x17, 0x00, 0x00, /* call 0x2800 */
		0xe8, 0xf6, 0x10, 0x00, 0x00, /* call 0x2100 */
	};
	expect_halt(h, code, sizeof(code));
	assert_int_equal(h->cpu.r[X86_EAX], 0x44332211);
	harness_free(h);
}

static void put64(struct harness *h, uint32_t addr, uint64_t v)
{
	memcpy(h->ram + addr, &v, 8);
}

/* PAE with NX: PDPT at 0x12000, the first 1 MiB identity-mapped by 4 KiB
 * pages (0x90000 absent, 0x93000 no-execute), 2-4 MiB a 2 MiB page onto 0. */
static void pae_on(struct harness *h)
{
	put64(h, 0x12000, 0x13000 | 1);
	put64(h, 0x13000, 0x14000 | 7);
	put64(h, 0x13008, 0x0 | 0x87);
	for (uint32_t p = 0; p < 256; p++)
		put64(h, 0x14000 + 8 * p, p << 12 | 7);
	put64(h, 0x14000 + 8 * 0x90, 0);
	put64(h, 0x14000 + 8 * 0x93, 1ull << 63 | 0x93000 | 7);
	static const uint8_t code[] = {
		0xb8, 0x00, 0x20, 0x01, 0x00, 0x0f, 0x22, 0xd8, /* cr3 = 0x12000 */
		0x0f, 0x20, 0xe0, 0x0d, 0x20, 0,    0,    0,    0x0f, 0x22, 0xe0, /* cr4 |= PAE */
		0xb9, 0x80, 0x00, 0x00, 0xc0, 0x0f, 0x32,                         /* rdmsr EFER */
		0x0d, 0x00, 0x08, 0,    0,    0x0f, 0x30,                         /* EFER |= NXE */
		0x0f, 0x20, 0xc0, 0x0d, 0,    0,    0,    0x80, 0x0f, 0x22, 0xc0, /* cr0 |= PG */
	};
	harness_load(h, code, sizeof(code));
	assert_int_equal(harness_run(h, 100), X86_HALT);
	assert_true(h->cpu.cr4 & X86_CR4_PAE);
}

static void test_pae_paging_with_nx(void **state)
{
	struct harness *h = pm_machine();
	pae_on(h);
	struct x86_cpu *c = &h->cpu;
	/* mov eax,[0x202000]: through the 2 MiB page to physical 0x2000 */
	put32(h, 0x2000, 0xdeadbeef);
	static const uint8_t big[] = { 0xa1, 0x00, 0x20, 0x20, 0x00 };
	harness_load(h, big, sizeof(big));
	assert_int_equal(harness_run(h, 10), X86_HALT);
	assert_int_equal(c->r[X86_EAX], 0xdeadbeef);
	assert_int_equal(get32(h, 0x13008) & 0x20, 0x20); /* accessed */
	/* mov [0x90010],eax: not present, write -> error 2 */
	static const uint8_t absent[] = { 0xa3, 0x10, 0x00, 0x09, 0x00 };
	expect_vector(h, absent, sizeof(absent), 14);
	assert_int_equal(get32(h, c->r[X86_ESP]), 0x2);
	assert_int_equal(c->cr2, 0x90010);
	/* Reading a no-execute page is fine; jumping there is #PF(P | I/D) */
	c->r[X86_ESP] = HARNESS_STACK;
	h->ram[0x93000] = 0x90;
	static const uint8_t fetch[] = {
		0x8b, 0x1d, 0x00, 0x30, 0x09, 0x00, /* mov ebx,[0x93000] */
		0xb8, 0x00, 0x30, 0x09, 0x00, 0xff, 0xe0
	}; /* jmp 0x93000 */
	expect_vector(h, fetch, sizeof(fetch), 14);
	assert_int_equal(get32(h, c->r[X86_ESP]), 0x11);
	assert_int_equal(get32(h, c->r[X86_ESP] + 4), 0x93000);
	assert_int_equal(c->cr2, 0x93000);
	assert_int_equal(c->r[X86_EBX] & 0xff, 0x90);
	harness_free(h);
}

static void test_double_fault_then_shutdown(void **state)
{
	struct harness *h = pm_machine();
	put32(h, IDT + 8 * 13 + 4, get32(h, IDT + 8 * 13 + 4) & ~0x8000u); /* #GP gate absent */
	/* #GP, then #NP delivering it: two contributory faults -> #DF(0) */
	static const uint8_t beyond[] = { 0x66, 0xb8, 0x48, 0x00, 0x8e, 0xd8 };
	expect_vector(h, beyond, sizeof(beyond), 8);
	assert_int_equal(get32(h, h->cpu.r[X86_ESP]), 0);
	/* And with #DF's gate gone too: a triple fault */
	put32(h, IDT + 8 * 8 + 4, get32(h, IDT + 8 * 8 + 4) & ~0x8000u);
	h->cpu.r[X86_ESP] = HARNESS_STACK;
	harness_load(h, beyond, sizeof(beyond));
	assert_int_equal(harness_run(h, 100), X86_SHUTDOWN);
	harness_free(h);
}

/* Ring 3 with IOPL 0: ports the TSS I/O bitmap allows work, others and
 * CLI raise #GP(0); POPF silently keeps IF and IOPL (SDM 18.5.2, POPF). */
static void test_io_bitmap_and_iopl_at_ring3(void **state)
{
	struct harness *h = pm_machine();
	struct x86_cpu *c = &h->cpu;
	put_desc(h, SEL_TSS, 0x00008b00000000e8ull | ((uint64_t)TSS << 16)); /* busy, limit 0xe8 */
	c->tr.limit = 0xe8;
	put32(h, TSS + 0x64, 0x68u << 16); /* I/O map base */
	memset(h->ram + TSS + 0x68, 0xff, 0x81);
	h->ram[TSS + 0x68 + 0x80 / 8] &= (uint8_t)~1u; /* port 0x80 allowed */
	c->eflags |= X86_IF;
	static const uint8_t user[] = {
		0xe4, 0x80,       /* in al,0x80: allowed by the bitmap */
		0x6a, 0x00, 0x9d, /* push 0; popfd: IF and IOPL stay */
		0x9c, 0x5b,       /* pushfd; pop ebx */
		0xe4, 0x60,       /* in al,0x60: not allowed -> #GP(0) */
	};
	run_user(h, user, sizeof(user), 13);
	assert_int_equal(c->r[X86_EBX] & (X86_IF | X86_IOPL), X86_IF);
	assert_int_equal(c->r[X86_EAX] & 0xff, 0xff);
	assert_int_equal(get32(h, c->r[X86_ESP]), 0);
	assert_int_equal(get32(h, c->r[X86_ESP] + 4), USER_CODE + 7);
	c->r[X86_ESP] = HARNESS_STACK;
	run_user(h, (const uint8_t[]){ 0xfa }, 1, 13); /* cli */
	assert_int_equal(get32(h, c->r[X86_ESP] + 4), USER_CODE);
	harness_free(h);
}

static void test_iopl3_allows_cli_and_any_port(void **state)
{
	struct harness *h = pm_machine();
	struct x86_cpu *c = &h->cpu;
	c->eflags |= X86_IOPL; /* the IRET frame takes it from PUSHFD */
	static const uint8_t user[] = {
		0xfa, 0xe4, 0x60, 0x9c, 0x5b, 0xf4
	}; /* cli; in; pushfd; pop ebx; hlt */
	run_user(h, user, sizeof(user), 13);
	assert_int_equal(c->r[X86_EBX] & (X86_IF | X86_IOPL), X86_IOPL);
	assert_int_equal(get32(h, c->r[X86_ESP] + 4), USER_CODE + 5); /* HLT still faults */
	harness_free(h);
}

static void test_fpu_instructions_and_cr0(void **state)
{
	struct harness *h = pm_machine();
	struct x86_cpu *c = &h->cpu;
	static const uint8_t fninit[] = { 0xdb, 0xe3 };
	static const uint8_t reserved[] = { 0xd9, 0xd1 };
	expect_vector(h, reserved, sizeof(reserved), 6); /* EM=0 TS=0: a reserved form is #UD */
	c->r[X86_ESP] = HARNESS_STACK;
	c->cr0 |= X86_CR0_TS;
	expect_vector(h, fninit, sizeof(fninit), 7); /* TS: #NM, so a kernel can emulate */
	assert_int_equal(get32(h, c->r[X86_ESP]), HARNESS_CODE);
	c->r[X86_ESP] = HARNESS_STACK;
	c->cr0 = (c->cr0 & ~X86_CR0_TS) | X86_CR0_EM;
	expect_vector(h, fninit, sizeof(fninit), 7);
	harness_free(h);
}

static void test_empty_idt_triple_faults(void **state)
{
	struct harness *h = pm_machine();
	put32(h, 0x408, 0 | (IDT & 0xffff) << 16);
	static const uint8_t code[] = { 0x0f, 0x01, 0x1d, 0x08, 0x04, 0x00, 0x00, 0x0f, 0x0b };
	harness_load(h, code, sizeof(code));
	assert_int_equal(harness_run(h, 100), X86_SHUTDOWN);
	harness_free(h);
}

static void test_external_interrupt_after_the_sti_shadow(void **state)
{
	struct harness *h = pm_machine();
	struct x86_cpu *c = &h->cpu;
	static const uint8_t code[] = { 0xfb, 0x90, 0x90 }; /* sti; nop; nop */
	harness_load(h, code, sizeof(code));
	assert_false(x86_can_interrupt(c));
	assert_int_equal(x86_run(c, &h->ops, 1), X86_OK);
	assert_false(x86_can_interrupt(c)); /* the instruction after STI runs first */
	assert_int_equal(x86_run(c, &h->ops, 1), X86_OK);
	assert_true(x86_can_interrupt(c));
	assert_int_equal(x86_interrupt(c, &h->ops, 0x20), X86_OK);
	assert_int_equal(c->eip, HANDLERS + 16 * 0x20);
	assert_int_equal(get32(h, c->r[X86_ESP]), HARNESS_CODE + 2);
	assert_true(get32(h, c->r[X86_ESP] + 8) & X86_IF);
	assert_false(c->eflags & X86_IF); /* an interrupt gate */
	harness_free(h);
}

static void test_interrupt_wakes_hlt(void **state)
{
	struct harness *h = pm_machine();
	struct x86_cpu *c = &h->cpu;
	h->ram[HANDLERS + 16 * 0x21] = 0xcf;                /* iretd */
	static const uint8_t code[] = { 0xfb, 0xf4, 0x40 }; /* sti; hlt; inc eax */
	harness_load(h, code, sizeof(code));
	c->r[X86_EAX] = 0;
	assert_int_equal(harness_run(h, 100), X86_HALT);
	assert_true(c->halted);
	assert_true(x86_can_interrupt(c));
	assert_int_equal(x86_interrupt(c, &h->ops, 0x21), X86_OK);
	assert_false(c->halted);
	assert_int_equal(harness_run(h, 100), X86_HALT); /* the final HLT after inc */
	assert_int_equal(c->r[X86_EAX], 1);
	harness_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_divide_error_has_no_error_code),
		cmocka_unit_test(test_ud2_and_lock_on_register),
		cmocka_unit_test(test_segment_load_errors),
		cmocka_unit_test(test_ring3_fault_switches_to_the_tss_stack),
		cmocka_unit_test(test_int_n_checks_the_gate_dpl),
		cmocka_unit_test(test_iret_back_to_ring3),
		cmocka_unit_test(test_16bit_interrupt_gate_same_level),
		cmocka_unit_test(test_16bit_trap_gate_and_iretw),
		cmocka_unit_test(test_16bit_gates_from_ring3),
		cmocka_unit_test(test_16bit_tss_stack),
		cmocka_unit_test(test_fault_delivering_an_exception_sets_ext),
		cmocka_unit_test(test_call_gate_to_ring0_and_retf_back),
		cmocka_unit_test(test_call_gate_checks),
		cmocka_unit_test(test_sysenter_and_sysexit),
		cmocka_unit_test(test_enter_restarts_after_a_fault),
		cmocka_unit_test(test_page_faults_set_cr2_and_the_error_code),
		cmocka_unit_test(test_user_page_fault_error_code),
		cmocka_unit_test(test_tlb_rights_follow_the_cpl),
		cmocka_unit_test(test_access_across_a_page_end),
		cmocka_unit_test(test_code_windows_follow_a_remap),
		cmocka_unit_test(test_code_window_found_again_below_its_start),
		cmocka_unit_test(test_pae_paging_with_nx),
		cmocka_unit_test(test_double_fault_then_shutdown),
		cmocka_unit_test(test_io_bitmap_and_iopl_at_ring3),
		cmocka_unit_test(test_iopl3_allows_cli_and_any_port),
		cmocka_unit_test(test_fpu_instructions_and_cr0),
		cmocka_unit_test(test_empty_idt_triple_faults),
		cmocka_unit_test(test_external_interrupt_after_the_sti_shadow),
		cmocka_unit_test(test_interrupt_wakes_hlt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
