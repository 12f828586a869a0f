/* Local APIC on a fake clock: power-up state, IA32_APIC_BASE, virtual-wire
 * mode for the PIC, IPIs to itself, priorities and EOI, errors, the timer,
 * software and global disable (Intel SDM vol. 3, chapter 10). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "dev/lapic.h"

struct fixture {
	struct lapic *apic;
	uint64_t now; /* ns */
};

static uint64_t fake_now(void *opaque)
{
	return ((struct fixture *)opaque)->now;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->now = 7000000; /* not zero: the device must not assume it starts at 0 */
	f->apic = lapic_create(fake_now, f);
	assert_non_null(f->apic);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	lapic_destroy(f->apic);
	free(f);
	return 0;
}

static uint32_t rd(struct fixture *f, unsigned off)
{
	return (uint32_t)lapic_read(f->apic, off, 4);
}

static void wr(struct fixture *f, unsigned off, uint32_t v)
{
	lapic_write(f->apic, off, v, 4);
}

static int bit(struct fixture *f, unsigned off, unsigned vector)
{
	return (rd(f, off + (vector / 32) * 0x10) >> (vector % 32)) & 1;
}

static void enable(struct fixture *f)
{
	wr(f, LAPIC_SVR, LAPIC_SVR_ENABLE | 0xff);
}

static void self_ipi(struct fixture *f, unsigned vector)
{
	wr(f, LAPIC_ICR_LO, 0x40000 | vector);
}

/* SDM 10.4.7.1: what software finds after RESET. */
static void test_power_up(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(lapic_base(f->apic), 0xfee00900u);
	assert_int_equal(rd(f, LAPIC_VERSION), 0x50014);
	assert_int_equal(rd(f, LAPIC_SVR), 0xff);
	assert_int_equal(rd(f, LAPIC_DFR), 0xffffffffu);
	for (unsigned off = LAPIC_LVT_TIMER; off <= LAPIC_LVT_ERROR; off += 0x10)
		assert_int_equal(rd(f, off), LAPIC_LVT_MASKED);
	assert_int_equal(rd(f, LAPIC_TPR), 0);
	assert_false(lapic_passes_pic(f->apic)); /* LINT0 masked: no firmware yet */
	assert_int_equal(lapic_pending(f->apic), -1);
	assert_int_equal(lapic_next_deadline(f->apic), UINT64_MAX);
}

/* The PIC reaches the CPU only through LINT0 in ExtINT mode, or with the
 * APIC globally disabled. */
static void test_virtual_wire(void **state)
{
	struct fixture *f = *state;
	enable(f);
	wr(f, LAPIC_LVT_LINT0, LAPIC_LVT_LEVEL | LAPIC_DM_EXTINT);
	assert_int_equal(rd(f, LAPIC_LVT_LINT0), 0x8700);
	assert_true(lapic_passes_pic(f->apic));
	wr(f, LAPIC_LVT_LINT0, LAPIC_LVT_MASKED | LAPIC_DM_EXTINT);
	assert_false(lapic_passes_pic(f->apic));
	wr(f, LAPIC_LVT_LINT0, LAPIC_DM_FIXED | 0x30);
	assert_false(lapic_passes_pic(f->apic));
	assert_true(lapic_set_base(f->apic, 0xfee00000u));
	assert_true(lapic_passes_pic(f->apic));
}

static void test_base_msr(void **state)
{
	struct fixture *f = *state;
	assert_false(lapic_set_base(f->apic, 0xfee00901u));     /* bits 0-7 */
	assert_false(lapic_set_base(f->apic, 0xfee00b00u));     /* bit 9 */
	assert_false(lapic_set_base(f->apic, 0xfee00d00u));     /* x2APIC */
	assert_false(lapic_set_base(f->apic, 0x10fee00900ull)); /* above MAXPHYADDR 36 */
	assert_false(lapic_set_base(f->apic, 0xfed00900u));     /* relocation refused */
	assert_int_equal(lapic_base(f->apic), 0xfee00900u);
	assert_true(lapic_set_base(f->apic, 0xfee00800u)); /* BSP is not software's */
	assert_int_equal(lapic_base(f->apic), 0xfee00900u);
	/* Globally disabled: the page is gone and the state is reset. */
	enable(f);
	wr(f, LAPIC_TPR, 0x20);
	wr(f, LAPIC_ID, 0x03000000);
	assert_true(lapic_set_base(f->apic, 0xfee00000u));
	assert_int_equal(lapic_base(f->apic), 0xfee00100u);
	assert_int_equal(rd(f, LAPIC_VERSION), 0xffffffffu);
	wr(f, LAPIC_TPR, 0x40);
	assert_true(lapic_set_base(f->apic, 0xfee00800u));
	assert_int_equal(rd(f, LAPIC_TPR), 0);
	assert_int_equal(rd(f, LAPIC_SVR), 0xff);
	assert_int_equal(rd(f, LAPIC_ID), 0x03000000);
}

static uint64_t moved_to;

static bool fake_relocate(void *opaque, uint64_t base)
{
	if (base == 0xfe000000u) /* the machine has something there */
		return false;
	moved_to = base;
	return true;
}

/* Relocation (SDM 10.4.5) goes through the machine, which may refuse. */
static void test_relocation(void **state)
{
	struct fixture *f = *state;
	lapic_set_relocate(f->apic, fake_relocate, NULL);
	enable(f);
	wr(f, LAPIC_TPR, 0x20);
	assert_false(lapic_set_base(f->apic, 0xfe000900u));
	assert_int_equal(lapic_base(f->apic), 0xfee00900u);
	assert_true(lapic_set_base(f->apic, 0xfed40900u));
	assert_int_equal(moved_to, 0xfed40000u);
	assert_int_equal(lapic_base(f->apic), 0xfed40900u);
	assert_int_equal(rd(f, LAPIC_TPR), 0x20); /* the same APIC, elsewhere */
	/* Disabling keeps the base being written; the callback stays. */
	assert_true(lapic_set_base(f->apic, 0xfed40000u));
	assert_int_equal(lapic_base(f->apic), 0xfed40100u);
	assert_true(lapic_set_base(f->apic, 0xfee00900u));
	assert_int_equal(moved_to, 0xfee00000u);
}

/* Software disable masks every LVT entry and keeps them masked. */
static void test_software_disable(void **state)
{
	struct fixture *f = *state;
	enable(f);
	wr(f, LAPIC_LVT_TIMER, 0x40);
	wr(f, LAPIC_LVT_LINT0, LAPIC_DM_EXTINT);
	wr(f, LAPIC_SVR, 0xff);
	assert_int_equal(rd(f, LAPIC_LVT_TIMER), LAPIC_LVT_MASKED | 0x40);
	assert_int_equal(rd(f, LAPIC_LVT_LINT0), LAPIC_LVT_MASKED | 0x700);
	wr(f, LAPIC_LVT_LINT0, LAPIC_DM_EXTINT);
	assert_int_equal(rd(f, LAPIC_LVT_LINT0), LAPIC_LVT_MASKED | 0x700);
	assert_false(lapic_passes_pic(f->apic));
	self_ipi(f, 0x50); /* a software-disabled APIC takes none */
	assert_int_equal(lapic_pending(f->apic), -1);
	enable(f);
	assert_int_equal(bit(f, LAPIC_IRR, 0x50), 0);
}

static void test_self_ipi_eoi(void **state)
{
	struct fixture *f = *state;
	enable(f);
	self_ipi(f, 0x50);
	assert_int_equal(rd(f, LAPIC_ICR_LO), 0x40050);
	assert_int_equal(bit(f, LAPIC_IRR, 0x50), 1);
	assert_int_equal(lapic_pending(f->apic), 0x50);
	assert_int_equal(lapic_ack(f->apic), 0x50);
	assert_int_equal(bit(f, LAPIC_IRR, 0x50), 0);
	assert_int_equal(bit(f, LAPIC_ISR, 0x50), 1);
	assert_int_equal(rd(f, LAPIC_PPR), 0x50);
	assert_int_equal(lapic_pending(f->apic), -1);
	wr(f, LAPIC_EOI, 0);
	assert_int_equal(bit(f, LAPIC_ISR, 0x50), 0);
	assert_int_equal(rd(f, LAPIC_PPR), 0);
	/* All-excluding-self reaches nobody; physical ID 1 is not us. */
	wr(f, LAPIC_ICR_LO, 0xc0000 | 0x51);
	wr(f, LAPIC_ICR_HI, 0x01000000);
	wr(f, LAPIC_ICR_LO, 0x52);
	assert_int_equal(lapic_pending(f->apic), -1);
	wr(f, LAPIC_ICR_HI, 0xff000000); /* broadcast */
	wr(f, LAPIC_ICR_LO, 0x53);
	assert_int_equal(lapic_pending(f->apic), 0x53);
}

static void test_logical_destination(void **state)
{
	struct fixture *f = *state;
	enable(f);
	wr(f, LAPIC_LDR, 0x24000000);
	wr(f, LAPIC_ICR_HI, 0x04000000);
	wr(f, LAPIC_ICR_LO, 0x800 | 0x60); /* flat: bit 2 is ours */
	wr(f, LAPIC_ICR_HI, 0x08000000);
	wr(f, LAPIC_ICR_LO, 0x800 | 0x61); /* bit 3 is not */
	assert_int_equal(bit(f, LAPIC_IRR, 0x60), 1);
	assert_int_equal(bit(f, LAPIC_IRR, 0x61), 0);
	wr(f, LAPIC_DFR, 0x0fffffff); /* cluster model: cluster 2, member bit 2 */
	assert_int_equal(rd(f, LAPIC_DFR), 0x0fffffff);
	wr(f, LAPIC_ICR_HI, 0x24000000);
	wr(f, LAPIC_ICR_LO, 0x800 | 0x62);
	wr(f, LAPIC_ICR_HI, 0x34000000);
	wr(f, LAPIC_ICR_LO, 0x800 | 0x63);
	assert_int_equal(bit(f, LAPIC_IRR, 0x62), 1);
	assert_int_equal(bit(f, LAPIC_IRR, 0x63), 0);
}

/* SDM 10.8.3: TPR and the highest in-service class hold back lower ones;
 * EOI ends the highest in service. */
static void test_priority(void **state)
{
	struct fixture *f = *state;
	enable(f);
	wr(f, LAPIC_TPR, 0x70);
	self_ipi(f, 0x60);
	self_ipi(f, 0x7f);
	assert_int_equal(lapic_pending(f->apic), -1);
	self_ipi(f, 0x90);
	assert_int_equal(lapic_ack(f->apic), 0x90);
	assert_int_equal(rd(f, LAPIC_PPR), 0x90);
	self_ipi(f, 0x85);
	assert_int_equal(lapic_pending(f->apic), -1); /* class 8 below 9 in service */
	self_ipi(f, 0xa0);
	assert_int_equal(lapic_ack(f->apic), 0xa0); /* nests */
	wr(f, LAPIC_EOI, 0);
	assert_int_equal(bit(f, LAPIC_ISR, 0xa0), 0);
	assert_int_equal(bit(f, LAPIC_ISR, 0x90), 1);
	wr(f, LAPIC_EOI, 0);
	assert_int_equal(rd(f, LAPIC_PPR), 0x70);
	assert_int_equal(lapic_ack(f->apic), 0x85);
	wr(f, LAPIC_EOI, 0);
	wr(f, LAPIC_TPR, 0);
	assert_int_equal(lapic_ack(f->apic), 0x7f);
	wr(f, LAPIC_EOI, 0);
	assert_int_equal(lapic_ack(f->apic), 0x60);
	wr(f, LAPIC_EOI, 0);
	/* Nothing deliverable at INTA: the spurious vector, no ISR bit. */
	assert_int_equal(lapic_ack(f->apic), 0xff);
	assert_int_equal(rd(f, LAPIC_ISR + 0x70), 0);
}

/* Errors wait in ESR until the next ESR write latches them (10.5.3). */
static void test_errors(void **state)
{
	struct fixture *f = *state;
	enable(f);
	wr(f, LAPIC_LVT_ERROR, 0xfe);
	self_ipi(f, 0x05);
	assert_int_equal(rd(f, LAPIC_ESR), 0);
	(void)lapic_read(f->apic, 0x40, 4); /* a reserved register */
	wr(f, LAPIC_ESR, 0);
	assert_int_equal(rd(f, LAPIC_ESR), LAPIC_ESR_SEND_ILLEGAL | LAPIC_ESR_ILLEGAL_REG);
	assert_int_equal(lapic_pending(f->apic), 0xfe); /* through the error LVT */
	wr(f, LAPIC_ESR, 0);
	assert_int_equal(rd(f, LAPIC_ESR), 0);
	/* Odd sizes and offsets are ignored, not errors. */
	lapic_write(f->apic, LAPIC_TPR, 0x30, 1);
	lapic_write(f->apic, LAPIC_TPR + 4, 0x30, 4);
	assert_int_equal(rd(f, LAPIC_TPR), 0);
	assert_int_equal(lapic_read(f->apic, LAPIC_VERSION, 2), 0);
	/* Read-only registers ignore writes. */
	wr(f, LAPIC_VERSION, 0);
	wr(f, LAPIC_PPR, 0x50);
	assert_int_equal(rd(f, LAPIC_VERSION), 0x50014);
	assert_int_equal(rd(f, LAPIC_PPR), 0);
}

static void test_timer_one_shot(void **state)
{
	struct fixture *f = *state;
	enable(f);
	wr(f, LAPIC_TIMER_DCR, 0x3); /* divide by 16 */
	wr(f, LAPIC_LVT_TIMER, 0x40);
	wr(f, LAPIC_TIMER_ICR, 1000);
	uint64_t start = f->now;
	assert_int_equal(lapic_next_deadline(f->apic), start + 16000);
	f->now += 160; /* 10 ticks */
	assert_int_equal(rd(f, LAPIC_TIMER_CCR), 990);
	lapic_update(f->apic, f->now);
	assert_int_equal(lapic_pending(f->apic), -1);
	f->now = start + 16000;
	lapic_update(f->apic, f->now);
	assert_int_equal(lapic_pending(f->apic), 0x40);
	assert_int_equal(rd(f, LAPIC_TIMER_CCR), 0);
	assert_int_equal(lapic_next_deadline(f->apic), UINT64_MAX);
	assert_int_equal(lapic_ack(f->apic), 0x40);
	wr(f, LAPIC_EOI, 0);
	f->now += 1000000;
	lapic_update(f->apic, f->now);
	assert_int_equal(lapic_pending(f->apic), -1); /* once only */
	/* Masked, it counts but delivers nothing. */
	wr(f, LAPIC_LVT_TIMER, LAPIC_LVT_MASKED | 0x40);
	wr(f, LAPIC_TIMER_ICR, 10);
	f->now += 1000;
	lapic_update(f->apic, f->now);
	assert_int_equal(lapic_pending(f->apic), -1);
	assert_int_equal(rd(f, LAPIC_TIMER_CCR), 0);
}

static void test_timer_periodic(void **state)
{
	struct fixture *f = *state;
	enable(f);
	wr(f, LAPIC_TIMER_DCR, 0xb); /* divide by 1 */
	wr(f, LAPIC_LVT_TIMER, LAPIC_LVT_PERIODIC | 0x41);
	wr(f, LAPIC_TIMER_ICR, 1000);
	uint64_t start = f->now;
	f->now = start + 1000;
	lapic_update(f->apic, f->now);
	assert_int_equal(lapic_ack(f->apic), 0x41);
	wr(f, LAPIC_EOI, 0);
	assert_int_equal(lapic_next_deadline(f->apic), start + 2000);
	assert_int_equal(rd(f, LAPIC_TIMER_CCR), 1000);
	/* Periods missed are one interrupt; the next deadline is ahead. */
	f->now = start + 5500;
	assert_int_equal(rd(f, LAPIC_TIMER_CCR), 500);
	lapic_update(f->apic, f->now);
	assert_int_equal(lapic_ack(f->apic), 0x41);
	assert_int_equal(lapic_pending(f->apic), -1);
	wr(f, LAPIC_EOI, 0);
	assert_int_equal(lapic_next_deadline(f->apic), start + 6000);
	/* A new divider goes on from the current count: 500 left, by 2. */
	wr(f, LAPIC_TIMER_DCR, 0x0);
	assert_int_equal(rd(f, LAPIC_TIMER_CCR), 500);
	assert_int_equal(lapic_next_deadline(f->apic), start + 6500);
	/* Writing 0 stops it. */
	wr(f, LAPIC_TIMER_ICR, 0);
	assert_int_equal(rd(f, LAPIC_TIMER_CCR), 0);
	assert_int_equal(lapic_next_deadline(f->apic), UINT64_MAX);
	/* TSC-deadline mode is not offered: bit 18 does not stick. */
	wr(f, LAPIC_LVT_TIMER, 0x40000 | 0x41);
	assert_int_equal(rd(f, LAPIC_LVT_TIMER), 0x41);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_power_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_virtual_wire, setup, teardown),
		cmocka_unit_test_setup_teardown(test_base_msr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relocation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_software_disable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_self_ipi_eoi, setup, teardown),
		cmocka_unit_test_setup_teardown(test_logical_destination, setup, teardown),
		cmocka_unit_test_setup_teardown(test_priority, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timer_one_shot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timer_periodic, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
