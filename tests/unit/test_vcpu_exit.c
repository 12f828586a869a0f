/*
 * plexvm's side of the vCPU process's run page (vcpu_exit.c), with the run
 * area filled by hand as a hostile guest could fill it: every well-formed
 * exit reaches the devices, every malformed one stops the VM with status 6
 * and a message, and random pages never crash plexvm.
 *
 * The handler reaches the VM only through vm.h; fake_vm.h provides those
 * functions, so the test links neither vm.c nor the PC.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dev/lapic.h"
#include "engine/monitor/vcpu_exit.h"
#include "engine/monitor/vcpu_run.h"
#include "exit_status.h"
#include "stats.h"
#include "vm.h"

#include "fake_vm.h"

struct rec {
	int n;
	uint64_t last_offset, last_value;
	unsigned last_size;
	bool last_write;
};

static uint64_t rec_read(void *opaque, uint64_t offset, unsigned size)
{
	struct rec *r = opaque;
	r->n++;
	r->last_offset = offset;
	r->last_size = size;
	r->last_write = false;
	return 0x1122334455667788ull;
}

static void rec_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct rec *r = opaque;
	r->n++;
	r->last_offset = offset;
	r->last_value = value;
	r->last_size = size;
	r->last_write = true;
}

struct fixture {
	struct vm vm;
	struct rec pio, mmio;
	uint8_t *area;
	struct vcpu_run *run;
	struct vcpu_regs regs;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->area = calloc(1, VCPU_AREA_SIZE);
	assert_non_null(f->area);
	f->run = (struct vcpu_run *)f->area;
	f->vm.stats = stats_new();
	assert_int_equal(bus_add_pio(&f->vm.bus, 0x3f8, 8, rec_read, rec_write, &f->pio, "rec"), 0);
	assert_int_equal(
	        bus_add_mmio(&f->vm.bus, 0xfec00000, 0x1000, rec_read, rec_write, &f->mmio, "rec"),
	        0);
	fake_vm_reset();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	stats_free(f->vm.stats);
	free(f->area);
	free(f);
	return 0;
}

static enum vcpu_exit_result handle(struct fixture *f, uint32_t reason)
{
	f->run->exit_reason = reason;
	return vcpu_exit_handle(&f->vm, f->area, &f->regs);
}

static void assert_malformed(struct fixture *f, enum vcpu_exit_result r)
{
	assert_int_equal(r, VCPU_EXIT_MALFORMED);
	assert_true(f->vm.stopped);
	assert_int_equal(f->vm.exit_status, EXIT_CRASH);
	assert_non_null(strstr(f->vm.stop_reason, "malformed"));
}

static void test_port_io(void **state)
{
	struct fixture *f = *state;
	f->run->u.io.direction = 1;
	f->run->u.io.size = 1;
	f->run->u.io.port = 0x3f9;
	f->run->u.io.data = 0x41;
	assert_int_equal(handle(f, VCPU_EXIT_IO), VCPU_EXIT_ANSWERED);
	assert_true(f->pio.last_write);
	assert_int_equal(f->pio.last_offset, 1);
	assert_int_equal(f->pio.last_value, 0x41);

	f->run->u.io.direction = 0;
	f->run->u.io.size = 2;
	assert_int_equal(handle(f, VCPU_EXIT_IO), VCPU_EXIT_ANSWERED);
	assert_false(f->pio.last_write);
	assert_int_equal(f->run->u.io.data, 0x7788); /* the device's value, cut to the size */
	assert_false(f->vm.stopped);
}

static void test_port_io_bad_size(void **state)
{
	struct fixture *f = *state;
	f->run->u.io.direction = 0;
	f->run->u.io.size = 3;
	assert_malformed(f, handle(f, VCPU_EXIT_IO));
	assert_int_equal(f->pio.n, 0);
}

static void test_port_io_bad_direction(void **state)
{
	struct fixture *f = *state;
	f->run->u.io.direction = 7;
	f->run->u.io.size = 1;
	assert_malformed(f, handle(f, VCPU_EXIT_IO));
}

static void test_mmio(void **state)
{
	struct fixture *f = *state;
	f->run->u.mmio.phys_addr = 0xfec00010;
	f->run->u.mmio.len = 8;
	f->run->u.mmio.is_write = 0;
	assert_int_equal(handle(f, VCPU_EXIT_MMIO), VCPU_EXIT_ANSWERED);
	assert_int_equal(f->mmio.last_offset, 0x10);
	assert_int_equal(f->run->u.mmio.data, 0x1122334455667788ull);
	/* an address nobody claims reads all-ones, as on a PC */
	f->run->u.mmio.phys_addr = 0xffffffffffff0000ull;
	f->run->u.mmio.len = 4;
	assert_int_equal(handle(f, VCPU_EXIT_MMIO), VCPU_EXIT_ANSWERED);
	assert_int_equal(f->run->u.mmio.data, 0xffffffffull);
}

static void test_mmio_bad_fields(void **state)
{
	struct fixture *f = *state;
	f->run->u.mmio.phys_addr = 0xfec00000;
	f->run->u.mmio.len = 5;
	assert_malformed(f, handle(f, VCPU_EXIT_MMIO));
	f->vm.stopped = false;
	f->run->u.mmio.len = 4;
	f->run->u.mmio.is_write = 2;
	assert_malformed(f, handle(f, VCPU_EXIT_MMIO));
	assert_int_equal(f->mmio.n, 0);
}

static void test_unknown_exit(void **state)
{
	struct fixture *f = *state;
	assert_malformed(f, handle(f, 0xdeadbeef));
	f->vm.stopped = false;
	assert_malformed(f, handle(f, VCPU_EXIT_READY)); /* only once, at the start */
}

static void test_irq_ack_and_hlt(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(handle(f, VCPU_EXIT_IRQ_ACK), VCPU_EXIT_ANSWERED);
	assert_int_equal(f->run->irq_vector, -1); /* nothing pending: no vector */
	fake_pending = 1;
	assert_int_equal(handle(f, VCPU_EXIT_IRQ_ACK), VCPU_EXIT_ANSWERED);
	assert_int_equal(f->run->irq_vector, 0x20);
	assert_int_equal(handle(f, VCPU_EXIT_HLT), VCPU_EXIT_ANSWERED);
	assert_int_equal(fake_waits, 1);
}

static uint64_t zero_clock(void *opaque)
{
	return 0;
}

/* IA32_APIC_BASE reaches the local APIC; any other MSR, or none behind
 * the machine, is refused (the guest gets #GP). */
static void test_msr(void **state)
{
	struct fixture *f = *state;
	f->run->u.msr.index = 0x1b;
	f->run->u.msr.data = 0x1234;
	assert_int_equal(handle(f, VCPU_EXIT_RDMSR), VCPU_EXIT_ANSWERED);
	assert_int_equal(f->run->u.msr.error, 1); /* no APIC in this VM */
	assert_int_equal(f->run->u.msr.data, 0);

	f->vm.lapic = lapic_create(zero_clock, NULL);
	assert_non_null(f->vm.lapic);
	assert_int_equal(handle(f, VCPU_EXIT_RDMSR), VCPU_EXIT_ANSWERED);
	assert_int_equal(f->run->u.msr.error, 0);
	assert_int_equal(f->run->u.msr.data & ~0xfffull, 0xfee00000);
	f->run->u.msr.index = 0xc0010000; /* AMD's PMU: not on this CPU */
	assert_int_equal(handle(f, VCPU_EXIT_WRMSR), VCPU_EXIT_ANSWERED);
	assert_int_equal(f->run->u.msr.error, 1);
	assert_false(f->vm.stopped);
	lapic_destroy(f->vm.lapic);
	f->vm.lapic = NULL;
}

/* A stop may only say "crashed" or "host error": a forged "powered off"
 * (status 0) or a guest-style status is garbage. */
static void test_stop_status(void **state)
{
	struct fixture *f = *state;
	f->run->u.stop.status = EXIT_POWEROFF;
	assert_malformed(f, handle(f, VCPU_EXIT_STOP));

	f->vm.stopped = false;
	f->run->u.stop.status = EXIT_CRASH;
	memset(f->run->u.stop.reason, 'A', sizeof(f->run->u.stop.reason)); /* no NUL */
	f->run->u.stop.reason[3] = '\033';
	f->run->regs.eip = 0x1234;
	assert_int_equal(handle(f, VCPU_EXIT_STOP), VCPU_EXIT_REGS);
	assert_int_equal(f->vm.exit_status, EXIT_CRASH);
	assert_true(strlen(f->vm.stop_reason) < sizeof(f->vm.stop_reason));
	assert_int_equal(f->vm.stop_reason[3], '?');
	assert_int_equal(f->regs.eip, 0x1234);
}

static void test_done_stats(void **state)
{
	struct fixture *f = *state;
	struct vcpu_stat *s = (struct vcpu_stat *)(f->area + VCPU_AREA_STATS);
	strcpy(s[0].group, "exits");
	strcpy(s[0].key, "int3");
	s[0].value = 7;
	memset(s[1].group, 'g', sizeof(s[1].group)); /* unterminated */
	memset(s[1].key, 'k', sizeof(s[1].key));
	s[1].value = 1;
	f->run->u.done.nstats = 0xffffffffu; /* past the area: only what fits */
	assert_int_equal(handle(f, VCPU_EXIT_DONE), VCPU_EXIT_FINISHED);
	assert_int_equal(stats_get(f->vm.stats, "exits", "int3"), 7);
}

/* Pages of random bytes: whatever the exit says, plexvm answers, refuses
 * or finishes, and never reads outside the area (ASan checks). */
static void test_random_pages(void **state)
{
	struct fixture *f = *state;
	uint32_t seed = 12345;
	for (int round = 0; round < 3000; round++) {
		for (size_t i = 0; i < 4096; i++) {
			seed = seed * 1103515245u + 12345u;
			f->area[i] = (uint8_t)(seed >> 16);
		}
		if (round % 2)
			f->run->exit_reason =
			        (seed >> 8) % 8 == 0 ? VCPU_EXIT_DONE : (seed >> 12) % 8;
		f->vm.stopped = false;
		enum vcpu_exit_result r = vcpu_exit_handle(&f->vm, f->area, &f->regs);
		assert_true(r <= VCPU_EXIT_MALFORMED);
		if (r == VCPU_EXIT_MALFORMED)
			assert_int_equal(f->vm.exit_status, EXIT_CRASH);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_port_io, setup, teardown),
		cmocka_unit_test_setup_teardown(test_port_io_bad_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_port_io_bad_direction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mmio, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mmio_bad_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_exit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_irq_ack_and_hlt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_msr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_done_stats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_pages, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
