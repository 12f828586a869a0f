/*
 * The kvm engine's fallback to the x86 core, without /dev/kvm: the
 * kvm_segment <-> x86_seg conversion both ways, the whole register state,
 * and single instructions (IRET to ring 3, INT n from ring 3, MOV SS) run on
 * a state laid out the way KVM_GET_SREGS returns it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/kvm_fallback.h"
#include "engine/kvm_state.h"
#include "engine/kvm_step.h"
#include "vm.h"

/* kvm_fallback.c stops and waits through vm.h; these tests never get there. */
void vm_stop(struct vm *vm, int status, const char *fmt, ...)
{
	fail_msg("unexpected vm_stop");
}
void vm_wait(struct vm *vm)
{
	fail_msg("unexpected vm_wait");
}

/* ---- segments ---- */

static struct kvm_segment kseg(uint16_t sel, uint8_t type, uint8_t s, uint8_t dpl)
{
	return (struct kvm_segment){ .base = 0,
		                     .limit = 0xffffffff,
		                     .selector = sel,
		                     .type = type,
		                     .present = 1,
		                     .dpl = dpl,
		                     .db = 1,
		                     .s = s,
		                     .g = 1 };
}

static void assert_kseg_equal(const struct kvm_segment *a, const struct kvm_segment *b)
{
	assert_int_equal(a->selector, b->selector);
	assert_int_equal(a->base, b->base);
	assert_int_equal(a->limit, b->limit);
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->present, b->present);
	assert_int_equal(a->dpl, b->dpl);
	assert_int_equal(a->db, b->db);
	assert_int_equal(a->s, b->s);
	assert_int_equal(a->l, b->l);
	assert_int_equal(a->g, b->g);
	assert_int_equal(a->avl, b->avl);
	assert_int_equal(a->unusable, b->unusable);
}

static void test_seg_attr_bits(void **state)
{
	struct x86_seg s;
	struct kvm_segment code0 = kseg(0x08, 0xb, 1, 0);
	kvm_state_seg_from_kvm(&code0, &s);
	assert_int_equal(s.sel, 0x08);
	assert_int_equal(s.limit, 0xffffffff);
	assert_int_equal(s.attr, 0xc09b); /* G, D, P, DPL 0, S, code RX accessed */

	struct kvm_segment data3 = kseg(0x23, 0x3, 1, 3);
	data3.base = 0x12345678;
	kvm_state_seg_from_kvm(&data3, &s);
	assert_int_equal(s.base, 0x12345678);
	assert_int_equal(s.attr, 0xc0f3);

	struct kvm_segment tss = {
		.selector = 0x28, .base = 0x5000, .limit = 0x67, .type = 0xb, .present = 1
	};
	kvm_state_seg_from_kvm(&tss, &s);
	assert_int_equal(s.attr, 0x008b);

	struct kvm_segment odd = { .selector = 0x30,
		                   .limit = 0xffff,
		                   .type = 0x2,
		                   .s = 1,
		                   .present = 1,
		                   .avl = 1,
		                   .l = 1 };
	kvm_state_seg_from_kvm(&odd, &s);
	assert_int_equal(s.attr, 0x3092); /* L and AVL, 16-bit, byte granular */
}

static void test_seg_unusable(void **state)
{
	struct x86_seg s;
	struct kvm_segment null = { .selector = 0, .type = 3, .s = 1, .unusable = 1 };
	kvm_state_seg_from_kvm(&null, &s);
	assert_int_equal(s.attr & X86_SEG_P, 0);

	struct kvm_segment back;
	struct x86_seg core_null = { 0, 0, 0, 0 }; /* what a null load leaves */
	kvm_state_seg_to_kvm(&core_null, &back);
	assert_int_equal(back.unusable, 1);
	assert_int_equal(back.present, 0);
}

static void test_seg_round_trip(void **state)
{
	struct kvm_segment in[] = {
		kseg(0x08, 0xb, 1, 0),
		kseg(0x1b, 0xb, 1, 3),
		kseg(0x23, 0x3, 1, 3),
		{ .selector = 0x28, .base = 0x5000, .limit = 0x67, .type = 0xb, .present = 1 },
		{ .selector = 0x50, .base = 0x9000, .limit = 0x17, .type = 0x2, .present = 1 },
		{ .selector = 0x30,
		  .base = 0xb8000,
		  .limit = 0xffff,
		  .type = 0x7,
		  .s = 1,
		  .present = 1,
		  .dpl = 2,
		  .avl = 1 },
	};
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		struct x86_seg s;
		struct kvm_segment out;
		kvm_state_seg_from_kvm(&in[i], &s);
		kvm_state_seg_to_kvm(&s, &out);
		assert_kseg_equal(&out, &in[i]);
	}
}

/* ---- the whole state ---- */

#define RAM_SIZE 0x10000
static uint8_t ram[RAM_SIZE];

static uint8_t *t_ram(void *ctx, uint64_t gpa, size_t len)
{
	return gpa < RAM_SIZE && len <= RAM_SIZE - gpa ? ram + gpa : NULL;
}
static uint64_t t_mmio_read(void *ctx, uint64_t gpa, unsigned size)
{
	return ~0ull;
}
static void t_mmio_write(void *ctx, uint64_t gpa, uint64_t value, unsigned size)
{
}
static uint32_t t_pio_in(void *ctx, uint16_t port, unsigned size)
{
	return ~0u;
}
static void t_pio_out(void *ctx, uint16_t port, uint32_t value, unsigned size)
{
}
static const struct x86_ops t_ops = { .ram = t_ram,
	                              .mmio_read = t_mmio_read,
	                              .mmio_write = t_mmio_write,
	                              .pio_in = t_pio_in,
	                              .pio_out = t_pio_out };

#define GDT 0x1000
#define IDT 0x1800
#define TSS 0x2000
#define SEL_CODE0 0x08
#define SEL_DATA0 0x10
#define SEL_CODE3 0x1b
#define SEL_DATA3 0x23
#define SEL_TSS 0x28

static void put32(uint32_t addr, uint32_t v)
{
	memcpy(ram + addr, &v, 4);
}
static uint32_t get32(uint32_t addr)
{
	uint32_t v;
	memcpy(&v, ram + addr, 4);
	return v;
}

/* A flat GDT for rings 0 and 3, a TSS whose ring-0 stack is 0x9000, and
 * an IDT whose vector 0x80 is a DPL 3 interrupt gate to 0x4000. The state
 * is ring 0 as KVM_GET_SREGS returns it. */
static void machine(struct kvm_state *st)
{
	memset(ram, 0, sizeof(ram));
	uint64_t gdt[] = { 0,
		           0x00cf9b000000ffffull,
		           0x00cf93000000ffffull,
		           0x00cffb000000ffffull,
		           0x00cff3000000ffffull,
		           0x00008b0000000067ull | ((uint64_t)TSS << 16) };
	memcpy(ram + GDT, gdt, sizeof(gdt));
	put32(TSS + 4, 0x9000);
	put32(TSS + 8, SEL_DATA0);
	put32(IDT + 0x80 * 8, (SEL_CODE0 << 16) | 0x4000);
	put32(IDT + 0x80 * 8 + 4, 0xee00);

	memset(st, 0, sizeof(*st));
	struct kvm_sregs *s = &st->sregs;
	s->cs = kseg(SEL_CODE0, 0xb, 1, 0);
	s->ds = s->es = s->fs = s->gs = s->ss = kseg(SEL_DATA0, 0x3, 1, 0);
	s->tr = (struct kvm_segment){
		.selector = SEL_TSS, .base = TSS, .limit = 0x67, .type = 0xb, .present = 1
	};
	s->ldt = (struct kvm_segment){ .type = 2, .unusable = 1 };
	s->gdt.base = GDT;
	s->gdt.limit = sizeof(gdt) - 1;
	s->idt.base = IDT;
	s->idt.limit = 0x100 * 8 - 1;
	s->cr0 = 0x11;
	s->apic_base = 0xfee00900;
	st->regs.rflags = 0x2;
}

static void test_state_registers(void **state)
{
	struct kvm_state st;
	struct x86_cpu c;
	machine(&st);
	struct kvm_regs *r = &st.regs;
	r->rax = 1, r->rcx = 2, r->rdx = 3, r->rbx = 4, r->rsp = 5, r->rbp = 6, r->rsi = 7;
	r->rdi = 8, r->r8 = 0x88, r->rip = 0x1234, r->rflags = 0x246;
	st.sregs.cr2 = 0xdead000;
	st.sysenter_cs = 0x08;
	st.sysenter_eip = 0x4444;
	assert_true(kvm_state_to_cpu(&st, &c));
	for (int i = 0; i < 8; i++)
		assert_int_equal(c.r[i], i + 1); /* EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI */
	assert_int_equal(c.eip, 0x1234);
	assert_int_equal(c.eflags, 0x246);
	assert_int_equal(c.cpl, 0);
	assert_int_equal(c.cr2, 0xdead000);
	assert_int_equal(c.gdtr.base, GDT);
	assert_int_equal(c.tr.sel, SEL_TSS);
	assert_int_equal(c.sysenter_eip, 0x4444);

	c.r[X86_EDI] = 0x99;
	c.cr0 |= X86_CR0_TS;
	kvm_state_from_cpu(&c, &st);
	assert_int_equal(st.regs.rdi, 0x99);
	assert_int_equal(st.regs.r8, 0x88);               /* not the core's: kept */
	assert_int_equal(st.sregs.apic_base, 0xfee00900); /* kept */
	assert_int_equal(st.sregs.cr0, 0x19);
	assert_int_equal(st.sregs.ldt.unusable, 1);
	assert_int_equal(st.sregs.tr.type, 0xb);
}

/* The x87 registers travel in the XSAVE area's legacy region: stack order
 * there, physical order in the core; an x87 left in its initial state
 * (XSTATE_BV bit 0 clear) is FNINIT's whatever the region holds. */
static void test_state_x87(void **state)
{
	struct kvm_state st;
	struct x86_cpu c;
	uint8_t *x = (uint8_t *)st.xsave.region;
	machine(&st);
	x[512] = 1;                     /* XSTATE_BV: x87 */
	x[0] = 0x7f, x[1] = 0x0b;       /* FCW */
	x[2] = 0x01, x[3] = 0x30;       /* FSW: TOP 6, IE */
	x[4] = 0xc0;                    /* abridged tags: R6, R7 */
	x[32] = 0x11, x[32 + 9] = 0x3f; /* ST0 */
	x[48] = 0x22, x[48 + 9] = 0x40; /* ST1 */
	assert_true(kvm_state_to_cpu(&st, &c));
	assert_int_equal(c.fpu.cw, 0x0b7f);
	assert_int_equal(c.fpu.sw, 0x3001);
	assert_int_equal(c.fpu.tw, 0x0fff);
	assert_int_equal(c.fpu.r[6][0], 0x11);
	assert_int_equal(c.fpu.r[7][0], 0x22);
	c.fpu.sw = 0x3801; /* TOP 7: ST0 is R7 */
	c.fpu.tw = 0x3fff;
	x[512] = 0;
	kvm_state_from_cpu(&c, &st);
	assert_int_equal(x[512] & 1, 1);
	assert_int_equal(x[4], 0x80);
	assert_int_equal(x[32], 0x22);          /* ST0 is R7 */
	assert_int_equal(x[32 + 16 * 7], 0x11); /* ST7 is R6 */
	x[512] = 0;
	assert_true(kvm_state_to_cpu(&st, &c));
	assert_int_equal(c.fpu.cw, 0x037f);
	assert_int_equal(c.fpu.tw, 0xffff);
}

static void test_state_cpl_is_ss_dpl(void **state)
{
	struct kvm_state st;
	struct x86_cpu c;
	machine(&st);
	/* Conforming code segment with DPL 0 running at CPL 3. */
	st.sregs.cs = kseg(0x0b, 0xf, 1, 0);
	st.sregs.ss = kseg(SEL_DATA3, 0x3, 1, 3);
	assert_true(kvm_state_to_cpu(&st, &c));
	assert_int_equal(c.cpl, 3);
}

static void test_state_modes_the_core_lacks(void **state)
{
	struct kvm_state st;
	struct x86_cpu c;
	machine(&st);
	st.sregs.cr0 = 0x10; /* real mode */
	assert_false(kvm_state_to_cpu(&st, &c));
	machine(&st);
	st.regs.rflags |= X86_VM;
	assert_false(kvm_state_to_cpu(&st, &c));
	machine(&st);
	st.sregs.efer = 0x500; /* long mode active */
	assert_false(kvm_state_to_cpu(&st, &c));

	struct kvm_state before = st;
	assert_int_equal(kvm_fallback_step(&st, &t_ops, &c), X86_UNHANDLED);
	assert_memory_equal(&st, &before, sizeof(st));
}

/* ---- instructions ---- */

static void test_iret_to_ring3(void **state)
{
	struct kvm_state st;
	struct x86_cpu c;
	machine(&st);
	ram[0x3000] = 0xcf; /* iret */
	uint32_t sp = 0x8000 - 20;
	uint32_t frame[] = { 0x5000, SEL_CODE3, 0x202, 0x7000, SEL_DATA3 };
	memcpy(ram + sp, frame, sizeof(frame));
	st.regs.rip = 0x3000;
	st.regs.rsp = sp;

	assert_int_equal(kvm_fallback_step(&st, &t_ops, &c), X86_OK);
	assert_int_equal(st.regs.rip, 0x5000);
	assert_int_equal(st.regs.rsp, 0x7000);
	assert_int_equal(st.regs.rflags, 0x202);
	assert_int_equal(st.sregs.cs.selector, SEL_CODE3);
	assert_int_equal(st.sregs.cs.dpl, 3);
	assert_int_equal(st.sregs.ss.selector, SEL_DATA3);
	assert_int_equal(st.sregs.ss.dpl, 3);
	assert_int_equal(st.sregs.ss.unusable, 0);
	/* Ring-0 data segments are nulled on the way out (SDM IRET). */
	assert_int_equal(st.sregs.ds.unusable, 1);
	assert_int_equal(st.sregs.es.unusable, 1);
}

static void test_int80_from_ring3(void **state)
{
	struct kvm_state st;
	struct x86_cpu c;
	machine(&st);
	ram[0x5000] = 0xcd;
	ram[0x5001] = 0x80;
	st.sregs.cs = kseg(SEL_CODE3, 0xb, 1, 3);
	st.sregs.ss = st.sregs.ds = kseg(SEL_DATA3, 0x3, 1, 3);
	st.regs.rip = 0x5000;
	st.regs.rsp = 0x7000;
	st.regs.rflags = 0x202;

	assert_int_equal(kvm_fallback_step(&st, &t_ops, &c), X86_OK);
	assert_int_equal(st.regs.rip, 0x4000);
	assert_int_equal(st.sregs.cs.selector, SEL_CODE0);
	assert_int_equal(st.sregs.cs.dpl, 0);
	assert_int_equal(st.sregs.ss.selector, SEL_DATA0);
	assert_int_equal(st.regs.rsp, 0x9000 - 20);
	assert_int_equal(st.regs.rflags & X86_IF, 0); /* interrupt gate */
	assert_int_equal(get32(0x9000 - 20), 0x5002);
	assert_int_equal(get32(0x9000 - 16), SEL_CODE3);
	assert_int_equal(get32(0x9000 - 12), 0x202);
	assert_int_equal(get32(0x9000 - 8), 0x7000);
	assert_int_equal(get32(0x9000 - 4), SEL_DATA3);
}

static void test_mov_ss_sets_shadow(void **state)
{
	struct kvm_state st;
	struct x86_cpu c;
	machine(&st);
	ram[0x3000] = 0x8e; /* mov %eax, %ss */
	ram[0x3001] = 0xd0;
	st.regs.rip = 0x3000;
	st.regs.rax = SEL_DATA0;
	assert_int_equal(kvm_fallback_step(&st, &t_ops, &c), X86_OK);
	assert_true(st.intr_shadow);
	assert_int_equal(st.regs.rip, 0x3002);
}

/* A fault in the emulated instruction is delivered through the IDT: here
 * vector 0x80's gate is the only one, so #GP has none and the CPU ends in
 * a triple fault. */
static void test_fault_without_handler_shuts_down(void **state)
{
	struct kvm_state st;
	struct x86_cpu c;
	machine(&st);
	ram[0x3000] = 0xcf;
	st.regs.rip = 0x3000;
	st.regs.rsp = 0x8000 - 12;
	memcpy(ram + 0x8000 - 12, (uint32_t[]){ 0x5000, 0x40 /* past the GDT */, 0x2 }, 12);
	assert_int_equal(kvm_fallback_step(&st, &t_ops, &c), X86_SHUTDOWN);
}

/* ---- names and the instructions KVM refuses ---- */

static void test_names(void **state)
{
	char buf[24];
	kvm_fallback_name((const uint8_t[]){ 0xcf }, 1, true, buf, sizeof(buf));
	assert_string_equal(buf, "iret");
	kvm_fallback_name((const uint8_t[]){ 0x66, 0xcf }, 2, true, buf, sizeof(buf));
	assert_string_equal(buf, "iret");
	kvm_fallback_name((const uint8_t[]){ 0xcd, 0x80 }, 2, true, buf, sizeof(buf));
	assert_string_equal(buf, "int");
	kvm_fallback_name((const uint8_t[]){ 0x0f, 0x34 }, 2, true, buf, sizeof(buf));
	assert_string_equal(buf, "sysenter");
	kvm_fallback_name((const uint8_t[]){ 0x0f, 0x01, 0xd8 }, 3, true, buf, sizeof(buf));
	assert_string_equal(buf, "op-0f-01");
	kvm_fallback_name((const uint8_t[]){ 0x90 }, 1, true, buf, sizeof(buf));
	assert_string_equal(buf, "op-90");
	kvm_fallback_name(NULL, 0, true, buf, sizeof(buf));
	assert_string_equal(buf, "undecodable");
}

static void test_kvm_refuses(void **state)
{
	assert_true(kvm_step_kvm_refuses((const uint8_t[]){ 0xcd, 0x80 }, 2, true));
	assert_true(kvm_step_kvm_refuses((const uint8_t[]){ 0xcc }, 1, true));
	assert_true(kvm_step_kvm_refuses((const uint8_t[]){ 0xce }, 1, true));
	assert_true(kvm_step_kvm_refuses((const uint8_t[]){ 0x66, 0xcf }, 2, true));
	assert_false(kvm_step_kvm_refuses((const uint8_t[]){ 0x90 }, 1, true));
	assert_false(kvm_step_kvm_refuses((const uint8_t[]){ 0xfa }, 1, true));
	assert_false(kvm_step_kvm_refuses((const uint8_t[]){ 0x0f, 0x0b }, 2, true));
	assert_false(kvm_step_kvm_refuses((const uint8_t[]){ 0xcd }, 1, true)); /* cut short */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seg_attr_bits),
		cmocka_unit_test(test_seg_unusable),
		cmocka_unit_test(test_seg_round_trip),
		cmocka_unit_test(test_state_registers),
		cmocka_unit_test(test_state_cpl_is_ss_dpl),
		cmocka_unit_test(test_state_modes_the_core_lacks),
		cmocka_unit_test(test_iret_to_ring3),
		cmocka_unit_test(test_int80_from_ring3),
		cmocka_unit_test(test_mov_ss_sets_shadow),
		cmocka_unit_test(test_fault_without_handler_shuts_down),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_kvm_refuses),
		cmocka_unit_test(test_state_x87),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
