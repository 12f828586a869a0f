/*
 * x86_step()'s four results and the optional hooks of struct x86_ops:
 * CPUID, MSRs, the TSC, control/debug register writes, segment loads, the exception
 * hook (let through or kept pending, then delivered later), and the stop
 * and retry requests an op can make.
 *
 * The flat harness gets a GDT at 0 (kernel code 0x08, data 0x10, a TSS
 * descriptor 0x28) and an IDT at IDT whose every vector halts at its own
 * address, so EIP tells which vector ran.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "test_x86_harness.h"

#define IDT 0x800u
#define HANDLERS 0x4000u /* vector v halts at HANDLERS + 16 * v */

/* What the hooks saw, and how they answer. */
struct hooks {
	struct harness *h;
	bool deliver; /* the exception hook's answer */
	int exc_calls, last_vector;
	uint32_t last_err;
	bool last_soft;
	int ctrl_calls, last_cr;
	uint32_t last_old, last_new;
	int seg_calls, last_sreg;
	struct x86_seg last_seg;
	int retries_left; /* pio_out asks to retry this many times */
	bool stop_on_out;
	uint64_t msr_0x1b;
};

static struct hooks hk;

static void put64(struct harness *h, uint32_t addr, uint64_t v)
{
	memcpy(h->ram + addr, &v, 8);
}

static void hk_cpuid(void *ctx, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
	if (leaf == 0x40000000u) {
		out[0] = leaf;
		out[1] = subleaf;
		out[2] = out[3] = 0x12345678;
		return;
	}
	x86_cpuid_builtin(leaf, subleaf, out);
}

static bool hk_rdmsr(void *ctx, uint32_t index, uint64_t *value)
{
	if (index != 0x1b)
		return false;
	*value = hk.msr_0x1b;
	return true;
}

static bool hk_wrmsr(void *ctx, uint32_t index, uint64_t value)
{
	if (index != 0x1b)
		return false;
	hk.msr_0x1b = value;
	return true;
}

static void hk_ctrl_written(void *ctx, int cr, uint32_t old)
{
	const struct x86_cpu *c = &hk.h->cpu;
	hk.ctrl_calls++;
	hk.last_cr = cr;
	hk.last_old = old;
	hk.last_new = cr == 0 ? c->cr0 : cr == 3 ? c->cr3 : cr == 4 ? c->cr4 : c->dr[cr - 16];
}

static void hk_seg_loaded(void *ctx, int sreg, const struct x86_seg *seg)
{
	hk.seg_calls++;
	hk.last_sreg = sreg;
	hk.last_seg = *seg;
}

static bool hk_exception(void *ctx, int vector, uint32_t err, bool soft)
{
	hk.exc_calls++;
	hk.last_vector = vector;
	hk.last_err = err;
	hk.last_soft = soft;
	return hk.deliver;
}

static void hk_pio_out(void *ctx, uint16_t port, uint32_t value, unsigned size)
{
	if (hk.retries_left > 0) {
		hk.retries_left--;
		x86_request_retry(&hk.h->cpu);
	}
	if (hk.stop_on_out)
		x86_request_stop(&hk.h->cpu);
	hk.h->last_out_port = port;
	hk.h->outs++;
}

/* The flat harness with descriptor tables and every hook set. */
static struct harness *step_machine(void)
{
	struct harness *h = harness_new();
	hk = (struct hooks){ .h = h, .deliver = true };
	put64(h, 0x08, 0x00cf9a000000ffffull);
	put64(h, 0x10, 0x00cf92000000ffffull);
	put64(h, 0x28, 0x0000890000000067ull | (0x600ull << 16)); /* an available TSS */
	h->cpu.idtr = (struct x86_dtr){ IDT, 0x7ff };
	for (unsigned v = 0; v < 256; v++) {
		uint32_t off = HANDLERS + 16 * v;
		put64(h, IDT + 8 * v, (0x08u << 16) | (off & 0xffff) | (uint64_t)0x8e00 << 32);
		h->ram[off] = 0xf4;
	}
	h->ops.cpuid = hk_cpuid;
	h->ops.rdmsr = hk_rdmsr;
	h->ops.wrmsr = hk_wrmsr;
	h->ops.ctrl_written = hk_ctrl_written;
	h->ops.seg_loaded = hk_seg_loaded;
	h->ops.exception = hk_exception;
	h->ops.pio_out = hk_pio_out;
	return h;
}

/* Puts @code at HARNESS_CODE; the test writes RAM behind the core's back. */
static void step_load(struct harness *h, const uint8_t *code, size_t len)
{
	harness_load(h, code, len);
	x86_icache_flush(&h->cpu);
}

static void test_step_ok(void **state)
{
	struct harness *h = step_machine();
	step_load(h, (const uint8_t[]){ 0xb8, 0x05, 0x00, 0x00, 0x00 }, 5); /* mov eax, 5 */
	assert_int_equal(x86_step(&h->cpu, &h->ops), X86_STEP_OK);
	assert_int_equal(h->cpu.r[X86_EAX], 5);
	assert_int_equal(h->cpu.eip, HARNESS_CODE + 5);
	assert_int_equal(x86_step(&h->cpu, &h->ops), X86_STEP_OK); /* HLT */
	assert_true(h->cpu.halted);
	assert_int_equal(hk.exc_calls, 0);
	harness_free(h);
}

static void test_step_unhandled_changes_nothing(void **state)
{
	struct harness *h = step_machine();
	/* mov eax, 7; jmp far 0x30:0 (a switch to a task with a 16-bit TSS) */
	put64(h, 0x30, 0x0000810000000067ull | (0x600ull << 16));
	step_load(h, (const uint8_t[]){ 0xb8, 7, 0, 0, 0, 0xea, 0, 0, 0, 0, 0x30, 0 }, 12);
	assert_int_equal(x86_step(&h->cpu, &h->ops), X86_STEP_OK);
	struct x86_cpu before = h->cpu;
	assert_int_equal(x86_step(&h->cpu, &h->ops), X86_STEP_UNHANDLED);
	assert_int_equal(h->cpu.eip, HARNESS_CODE + 5);
	assert_memory_equal(h->cpu.r, before.r, sizeof(before.r));
	assert_memory_equal(&h->cpu.seg[X86_CS], &before.seg[X86_CS], sizeof(struct x86_seg));
	assert_int_equal(h->cpu.icount, before.icount);
	assert_int_equal(x86_run(&h->cpu, &h->ops, 10), X86_UNHANDLED);
	harness_free(h);
}

static void test_step_exception_delivered(void **state)
{
	struct harness *h = step_machine();
	step_load(h, (const uint8_t[]){ 0x0f, 0x0b }, 2); /* ud2 */
	assert_int_equal(x86_step(&h->cpu, &h->ops), X86_STEP_EXCEPTION);
	assert_int_equal(h->cpu.exc_vector, 6);
	assert_int_equal(h->cpu.exc_err, X86_NO_ERR);
	assert_false(h->cpu.exc_pending);
	assert_int_equal(h->cpu.eip, HANDLERS + 16 * 6);
	assert_int_equal(hk.exc_calls, 1);
	assert_false(hk.last_soft);
	/* The handler's HLT is an ordinary instruction again. */
	assert_int_equal(x86_step(&h->cpu, &h->ops), X86_STEP_OK);
	harness_free(h);
}

static void test_step_exception_left_pending(void **state)
{
	struct harness *h = step_machine();
	hk.deliver = false;
	/* mov ax, 0x33; mov ds, ax: a selector past the GDT's end... */
	h->cpu.gdtr.limit = 0x2f;
	step_load(h, (const uint8_t[]){ 0x66, 0xb8, 0x33, 0x00, 0x8e, 0xd8 }, 6);
	assert_int_equal(x86_step(&h->cpu, &h->ops), X86_STEP_OK);
	uint32_t esp = h->cpu.r[X86_ESP];
	assert_int_equal(x86_step(&h->cpu, &h->ops), X86_STEP_EXCEPTION);
	/* ...is #GP(selector), kept pending with the CPU on the fault. */
	assert_int_equal(h->cpu.exc_vector, 13);
	assert_int_equal(h->cpu.exc_err, 0x30);
	assert_true(h->cpu.exc_pending);
	assert_int_equal(hk.last_vector, 13);
	assert_int_equal(hk.last_err, 0x30);
	assert_int_equal(h->cpu.eip, HARNESS_CODE + 4);
	assert_int_equal(h->cpu.r[X86_ESP], esp);
	/* The caller delivers it when it wants: error code on the stack. */
	assert_int_equal(x86_deliver_exception(&h->cpu, &h->ops, 13, 0x30), X86_OK);
	assert_int_equal(h->cpu.eip, HANDLERS + 16 * 13);
	assert_int_equal(h->cpu.r[X86_ESP], esp - 16);
	uint32_t frame[2];
	memcpy(frame, h->ram + esp - 16, 8);
	assert_int_equal(frame[0], 0x30);
	assert_int_equal(frame[1], HARNESS_CODE + 4);
	assert_int_equal(hk.exc_calls, 1); /* not asked again about its own exception */
	harness_free(h);
}

static void test_int_n_goes_through_the_hook(void **state)
{
	struct harness *h = step_machine();
	step_load(h, (const uint8_t[]){ 0xcd, 0x21 }, 2); /* int 0x21 */
	assert_int_equal(x86_step(&h->cpu, &h->ops), X86_STEP_EXCEPTION);
	assert_int_equal(h->cpu.exc_vector, 0x21);
	assert_false(h->cpu.exc_pending);
	assert_true(hk.last_soft);
	assert_int_equal(h->cpu.eip, HANDLERS + 16 * 0x21);

	h->cpu.r[X86_ESP] = HARNESS_STACK;
	hk.deliver = false;
	step_load(h, (const uint8_t[]){ 0xcc }, 1); /* int3: a trap, EIP after it */
	assert_int_equal(x86_run(&h->cpu, &h->ops, 10), X86_EXCEPTION);
	assert_int_equal(h->cpu.exc_vector, 3);
	assert_true(h->cpu.exc_pending);
	assert_int_equal(h->cpu.eip, HARNESS_CODE + 1);
	assert_int_equal(h->cpu.r[X86_ESP], HARNESS_STACK);
	harness_free(h);
}

static void test_triple_fault_is_an_exception(void **state)
{
	struct harness *h = step_machine();
	h->cpu.idtr.limit = 0; /* every delivery faults */
	step_load(h, (const uint8_t[]){ 0x0f, 0x0b }, 2);
	assert_int_equal(x86_step(&h->cpu, &h->ops), X86_STEP_EXCEPTION);
	assert_true(h->cpu.triple_fault);
	assert_int_equal(hk.last_vector, 8); /* #UD, #GP, then #DF was asked about */
	harness_free(h);
}

static void test_retry_then_ok(void **state)
{
	struct harness *h = step_machine();
	hk.retries_left = 2;
	/* mov al, 1; out 0x80, al */
	step_load(h, (const uint8_t[]){ 0xb0, 0x01, 0xe6, 0x80 }, 4);
	assert_int_equal(x86_step(&h->cpu, &h->ops), X86_STEP_OK);
	uint64_t icount = h->cpu.icount;
	assert_int_equal(x86_step(&h->cpu, &h->ops), X86_STEP_RETRY);
	assert_int_equal(h->cpu.eip, HARNESS_CODE + 2);
	assert_int_equal(h->cpu.icount, icount);
	assert_int_equal(x86_run(&h->cpu, &h->ops, 10), X86_RETRY);
	assert_int_equal(h->outs, 0);
	assert_int_equal(x86_step(&h->cpu, &h->ops), X86_STEP_OK);
	assert_int_equal(h->outs, 1);
	assert_int_equal(h->cpu.eip, HARNESS_CODE + 4);
	harness_free(h);
}

static void test_stop_request_ends_the_run(void **state)
{
	struct harness *h = step_machine();
	hk.stop_on_out = true;
	/* out 0x80, al; nop; nop */
	step_load(h, (const uint8_t[]){ 0xe6, 0x80, 0x90, 0x90 }, 4);
	assert_int_equal(x86_run(&h->cpu, &h->ops, 100), X86_STOP);
	assert_int_equal(h->cpu.eip, HARNESS_CODE + 2);
	hk.stop_on_out = false;
	assert_int_equal(x86_run(&h->cpu, &h->ops, 100), X86_HALT);
	harness_free(h);
}

static bool intr_waiting;

static bool hk_intr_pending(void *ctx)
{
	return intr_waiting;
}

/* With an interrupt waiting, the run ends right after the instruction that
 * lets it in: STI (its shadow still set), POPF, an MMIO write with IF set;
 * with none waiting, or IF set already, it goes on. */
static void test_intr_window(void **state)
{
	static const uint8_t sti[] = { 0xfb, 0x90, 0x90, 0xf4 };     /* sti; nop; nop; hlt */
	static const uint8_t popf[] = { 0x68, 0x02, 0x02, 0, 0,      /* push 0x202 */
		                        0x9d, 0x90, 0xf4 };          /* popf; nop; hlt */
	static const uint8_t mmio[] = { 0xa3, 0xb0, 0x00, 0xe0, 0xfe, /* mov [0xfee000b0], eax */
		                        0x90, 0xf4 };                 /* nop; hlt */
	struct harness *h = step_machine();
	h->ops.intr_pending = hk_intr_pending;

	intr_waiting = true;
	step_load(h, sti, sizeof(sti));
	assert_int_equal(x86_run(&h->cpu, &h->ops, 100), X86_STOP);
	assert_int_equal(h->cpu.eip, HARNESS_CODE + 1);
	assert_true(h->cpu.intr_shadow);
	assert_false(x86_can_interrupt(&h->cpu));
	assert_int_equal(x86_run(&h->cpu, &h->ops, 1), X86_OK);
	assert_true(x86_can_interrupt(&h->cpu));

	h->cpu.eflags &= ~X86_IF;
	step_load(h, popf, sizeof(popf));
	assert_int_equal(x86_run(&h->cpu, &h->ops, 100), X86_STOP);
	assert_int_equal(h->cpu.eip, HARNESS_CODE + 6);
	assert_true(x86_can_interrupt(&h->cpu));

	step_load(h, mmio, sizeof(mmio)); /* IF is set */
	assert_int_equal(x86_run(&h->cpu, &h->ops, 100), X86_STOP);
	assert_int_equal(h->cpu.eip, HARNESS_CODE + 5);

	step_load(h, sti, sizeof(sti)); /* IF set already: no window opens */
	assert_int_equal(x86_run(&h->cpu, &h->ops, 100), X86_HALT);

	intr_waiting = false;
	h->cpu.eflags &= ~X86_IF;
	h->cpu.halted = false;
	step_load(h, sti, sizeof(sti));
	assert_int_equal(x86_run(&h->cpu, &h->ops, 100), X86_HALT);
	harness_free(h);
}

/* MSRs as a CPU has them: a read-only one refuses writes, one that does not
 * exist refuses both (AMD's PMU MSRs on an Intel CPU), each with #GP(0). */
static void test_msr_faults(void **state)
{
	static const struct {
		uint32_t msr;
		uint8_t op; /* 0x30 wrmsr, 0x32 rdmsr */
	} cases[] = {
		{ 0x17, 0x30 }, { 0xc0010000u, 0x32 }, { 0xc0010004u, 0x30 }, { 0x1c, 0x30 }
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct harness *h = step_machine();
		uint8_t code[] = { 0x0f, cases[i].op };
		step_load(h, code, sizeof(code));
		h->cpu.r[X86_ECX] = cases[i].msr;
		assert_int_equal(x86_step(&h->cpu, &h->ops), X86_STEP_EXCEPTION);
		assert_int_equal(h->cpu.exc_vector, 13);
		assert_int_equal(h->cpu.exc_err, 0);
		harness_free(h);
	}
}

static void test_cpuid_and_msr_hooks(void **state)
{
	struct harness *h = step_machine();
	static const uint8_t code[] = {
		0xb8, 0x00, 0x00, 0x00, 0x40, /* mov eax, 0x40000000 */
		0xb9, 0x07, 0x00, 0x00, 0x00, /* mov ecx, 7 */
		0x0f, 0xa2,                   /* cpuid */
		0xb9, 0x1b, 0x00, 0x00, 0x00, /* mov ecx, 0x1b */
		0xb8, 0x00, 0x09, 0xe0, 0xfe, /* mov eax, 0xfee00900 */
		0x31, 0xd2,                   /* xor edx, edx */
		0x0f, 0x30,                   /* wrmsr */
		0x31, 0xc0,                   /* xor eax, eax */
		0x0f, 0x32,                   /* rdmsr */
		0x89, 0xc3,                   /* mov ebx, eax */
		0x41,                         /* inc ecx */
		0x0f, 0x32,                   /* rdmsr 0x1c: none */
	};
	step_load(h, code, sizeof(code));
	for (int i = 0; i < 3; i++)
		assert_int_equal(x86_step(&h->cpu, &h->ops), X86_STEP_OK);
	assert_int_equal(h->cpu.r[X86_EAX], 0x40000000);
	assert_int_equal(h->cpu.r[X86_EBX], 7);
	assert_int_equal(h->cpu.r[X86_EDX], 0x12345678);
	for (int i = 0; i < 8; i++)
		assert_int_equal(x86_step(&h->cpu, &h->ops), X86_STEP_OK);
	assert_int_equal(hk.msr_0x1b, 0xfee00900);
	assert_int_equal(h->cpu.r[X86_EBX], 0xfee00900);
	assert_int_equal(x86_step(&h->cpu, &h->ops), X86_STEP_EXCEPTION);
	assert_int_equal(h->cpu.exc_vector, 13);
	assert_int_equal(h->cpu.exc_err, 0);

	/* Without a hook the built-in CPU answers. */
	h->ops.cpuid = NULL;
	step_load(h, (const uint8_t[]){ 0x31, 0xc0, 0x0f, 0xa2 }, 4);
	x86_step(&h->cpu, &h->ops);
	x86_step(&h->cpu, &h->ops);
	assert_memory_equal(&h->cpu.r[X86_EBX], "Genu", 4);
	assert_memory_equal(&h->cpu.r[X86_EDX], "ineI", 4);
	assert_memory_equal(&h->cpu.r[X86_ECX], "ntel", 4);

	/* CPUID.1:EDX.APIC follows IA32_APIC_BASE.EN as the MSR hook has it. */
	static const uint8_t leaf1[] = { 0xb8, 1, 0, 0, 0, 0x0f, 0xa2 };
	hk.msr_0x1b = 0xfee00900;
	step_load(h, leaf1, sizeof(leaf1));
	x86_step(&h->cpu, &h->ops);
	x86_step(&h->cpu, &h->ops);
	assert_int_equal(h->cpu.r[X86_EAX], 0x663);
	assert_true(h->cpu.r[X86_EDX] & (1u << 9));
	hk.msr_0x1b = 0xfee00100;
	step_load(h, leaf1, sizeof(leaf1));
	x86_step(&h->cpu, &h->ops);
	x86_step(&h->cpu, &h->ops);
	assert_false(h->cpu.r[X86_EDX] & (1u << 9));
	harness_free(h);
}

static uint64_t hk_tsc(void *ctx)
{
	return 0x123456789abcull;
}

/* RDTSC and RDMSR 0x10 read the hook's clock when there is one, the
 * retired instructions from the TSC's value otherwise. */
static void test_tsc_hook(void **state)
{
	struct harness *h = step_machine();
	static const uint8_t code[] = {
		0x0f, 0x31,                   /* rdtsc */
		0x89, 0xc3,                   /* mov ebx, eax */
		0xb9, 0x10, 0x00, 0x00, 0x00, /* mov ecx, 0x10 */
		0x0f, 0x32,                   /* rdmsr */
	};
	h->cpu.tsc = 1000;
	step_load(h, code, sizeof(code));
	uint64_t before = h->cpu.icount;
	x86_step(&h->cpu, &h->ops);
	assert_int_equal(h->cpu.r[X86_EAX], 1000 + before);
	assert_int_equal(h->cpu.r[X86_EDX], 0);

	h->ops.tsc = hk_tsc;
	step_load(h, code, sizeof(code));
	for (int i = 0; i < 4; i++)
		assert_int_equal(x86_step(&h->cpu, &h->ops), X86_STEP_OK);
	assert_int_equal(h->cpu.r[X86_EBX], 0x56789abc);
	assert_int_equal(h->cpu.r[X86_EAX], 0x56789abc);
	assert_int_equal(h->cpu.r[X86_EDX], 0x1234);
	harness_free(h);
}

static void test_ctrl_and_seg_hooks(void **state)
{
	struct harness *h = step_machine();
	static const uint8_t code[] = {
		0xb8, 0x00, 0x30, 0x00, 0x00, /* mov eax, 0x3000 */
		0x0f, 0x22, 0xd8,             /* mov cr3, eax */
		0x0f, 0x23, 0xf8,             /* mov dr7, eax */
		0x0f, 0x20, 0xc0,             /* mov eax, cr0 */
		0x0f, 0x01, 0xf0,             /* lmsw ax (sets nothing new) */
		0x66, 0xb8, 0x10, 0x00,       /* mov ax, 0x10 */
		0x8e, 0xe0,                   /* mov fs, ax */
	};
	step_load(h, code, sizeof(code));
	x86_step(&h->cpu, &h->ops);
	assert_int_equal(x86_step(&h->cpu, &h->ops), X86_STEP_OK);
	assert_int_equal(hk.ctrl_calls, 1);
	assert_int_equal(hk.last_cr, 3);
	assert_int_equal(hk.last_old, 0);
	assert_int_equal(hk.last_new, 0x3000);
	x86_step(&h->cpu, &h->ops);
	assert_int_equal(hk.last_cr, X86_CTRL_DR(7));
	assert_int_equal(hk.last_new, 0x3400); /* DR7 bit 10 reads 1 (SDM 18.2.4) */
	x86_step(&h->cpu, &h->ops);
	x86_step(&h->cpu, &h->ops);
	assert_int_equal(hk.ctrl_calls, 3);
	assert_int_equal(hk.last_cr, 0);
	assert_int_equal(hk.last_old, hk.last_new);
	assert_int_equal(hk.seg_calls, 0);
	x86_step(&h->cpu, &h->ops);
	x86_step(&h->cpu, &h->ops);
	assert_int_equal(hk.seg_calls, 1);
	assert_int_equal(hk.last_sreg, X86_FS);
	assert_int_equal(hk.last_seg.sel, 0x10);
	assert_int_equal(hk.last_seg.limit, 0xffffffffu);
	/* An interrupt reloads CS. */
	step_load(h, (const uint8_t[]){ 0xcd, 0x40 }, 2);
	x86_step(&h->cpu, &h->ops);
	assert_int_equal(hk.last_sreg, X86_CS);
	assert_int_equal(hk.last_seg.sel, 0x08);
	harness_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_step_ok),
		cmocka_unit_test(test_step_unhandled_changes_nothing),
		cmocka_unit_test(test_step_exception_delivered),
		cmocka_unit_test(test_step_exception_left_pending),
		cmocka_unit_test(test_int_n_goes_through_the_hook),
		cmocka_unit_test(test_triple_fault_is_an_exception),
		cmocka_unit_test(test_retry_then_ok),
		cmocka_unit_test(test_stop_request_ends_the_run),
		cmocka_unit_test(test_cpuid_and_msr_hooks),
		cmocka_unit_test(test_msr_faults),
		cmocka_unit_test(test_intr_window),
		cmocka_unit_test(test_ctrl_and_seg_hooks),
		cmocka_unit_test(test_tsc_hook),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
