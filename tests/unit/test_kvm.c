/*
 * The kvm engine without /dev/kvm: create() must fail clearly, and every
 * KVM_RUN exit must be handled right on a kvm_run area filled by hand.
 *
 * The engine reaches the VM only through vm.h; fake_vm.h provides those
 * functions (recording what the engine asked for), so the test links
 * neither vm.c nor the PC.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/engine.h"
#include "engine/kvm_exit.h"
#include "engine/kvm_irq.h"
#include "exit_status.h"
#include "stats.h"
#include "vm.h"

#include "fake_vm.h"

/* ---- a port device recording every access ---- */

#define LOG_MAX 16

struct rec_dev {
	int n;
	uint64_t offset[LOG_MAX], value[LOG_MAX];
	unsigned size[LOG_MAX];
	bool write[LOG_MAX];
	uint64_t next_read;
};

static void rec_log(struct rec_dev *d, uint64_t offset, uint64_t value, unsigned size, bool w)
{
	if (d->n < LOG_MAX) {
		d->offset[d->n] = offset;
		d->value[d->n] = value;
		d->size[d->n] = size;
		d->write[d->n] = w;
	}
	d->n++;
}

static uint64_t rec_read(void *opaque, uint64_t offset, unsigned size)
{
	struct rec_dev *d = opaque;
	uint64_t v = d->next_read++;
	rec_log(d, offset, v, size, false);
	return v;
}

static void rec_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	rec_log(opaque, offset, value, size, true);
}

/* A VM with the recorder at ports 0x3f8-0x3ff and MMIO 0xfec00000, and a
 * kvm_run area as large as a real one (header + data page). */
struct fixture {
	struct vm vm;
	struct rec_dev pio, mmio;
	struct kvm_run *run;
	size_t run_size;
};

static int fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->run_size = 2 * 4096;
	f->run = calloc(1, f->run_size);
	assert_non_null(f->run);
	f->vm.stats = stats_new();
	assert_int_equal(bus_add_pio(&f->vm.bus, 0x3f8, 8, rec_read, rec_write, &f->pio, "rec"), 0);
	assert_int_equal(
	        bus_add_mmio(&f->vm.bus, 0xfec00000, 0x1000, rec_read, rec_write, &f->mmio, "rec"),
	        0);
	fake_vm_reset();
	*state = f;
	return 0;
}

static int fixture_teardown(void **state)
{
	struct fixture *f = *state;
	stats_free(f->vm.stats);
	free(f->run);
	free(f);
	return 0;
}

static void set_io(struct kvm_run *run, uint8_t dir, uint16_t port, uint8_t size, uint32_t count)
{
	run->exit_reason = KVM_EXIT_IO;
	run->io.direction = dir;
	run->io.port = port;
	run->io.size = size;
	run->io.count = count;
	run->io.data_offset = 4096;
}

/* ---- tests ---- */

static void test_create_without_dev_kvm(void **state)
{
	if (access("/dev/kvm", F_OK) == 0) {
		print_message("/dev/kvm exists on this host; nothing to check\n");
		skip();
	}
	struct vm vm = { 0 };
	void *ctx = (void *)0x1;
	char err[256] = "";
	int r = engine_kvm.create(&vm, &ctx, err, sizeof(err));
	assert_int_equal(r, -ENODEV);
	assert_ptr_equal(ctx, (void *)0x1); /* untouched on failure */
	assert_string_equal(err, "/dev/kvm: No such file or directory "
	                         "(the kvm engine needs KVM; try --engine emu)");
}

static void test_out_byte(void **state)
{
	struct fixture *f = *state;
	set_io(f->run, KVM_EXIT_IO_OUT, 0x3f8, 1, 1);
	((uint8_t *)f->run)[4096] = 'A';
	kvm_exit_handle(&f->vm, f->run, f->run_size);
	assert_false(f->vm.stopped);
	assert_int_equal(f->pio.n, 1);
	assert_true(f->pio.write[0]);
	assert_int_equal(f->pio.offset[0], 0);
	assert_int_equal(f->pio.value[0], 'A');
	assert_int_equal(f->pio.size[0], 1);
	assert_int_equal(stats_get(f->vm.stats, "exits", "io"), 1);
}

/* REP OUTSW: one exit, three words back to back in the data area. */
static void test_rep_outsw(void **state)
{
	struct fixture *f = *state;
	const uint16_t words[3] = { 0x1234, 0xabcd, 0x0042 };
	set_io(f->run, KVM_EXIT_IO_OUT, 0x3fa, 2, 3);
	memcpy((uint8_t *)f->run + 4096, words, sizeof(words));
	kvm_exit_handle(&f->vm, f->run, f->run_size);
	assert_int_equal(f->pio.n, 3);
	for (int i = 0; i < 3; i++) {
		assert_true(f->pio.write[i]);
		assert_int_equal(f->pio.offset[i], 2);
		assert_int_equal(f->pio.size[i], 2);
		assert_int_equal(f->pio.value[i], words[i]);
	}
}

/* REP INSD: the values read land in the data area for KVM to copy. */
static void test_rep_insd(void **state)
{
	struct fixture *f = *state;
	uint32_t got[2];
	f->pio.next_read = 0x11223344;
	set_io(f->run, KVM_EXIT_IO_IN, 0x3fc, 4, 2);
	kvm_exit_handle(&f->vm, f->run, f->run_size);
	memcpy(got, (uint8_t *)f->run + 4096, sizeof(got));
	assert_int_equal(f->pio.n, 2);
	assert_false(f->pio.write[0]);
	assert_int_equal(got[0], 0x11223344);
	assert_int_equal(got[1], 0x11223345);
}

static void test_in_unclaimed_all_ones(void **state)
{
	struct fixture *f = *state;
	set_io(f->run, KVM_EXIT_IO_IN, 0x80, 2, 1);
	kvm_exit_handle(&f->vm, f->run, f->run_size);
	assert_false(f->vm.stopped);
	assert_int_equal(((uint8_t *)f->run)[4096], 0xff);
	assert_int_equal(((uint8_t *)f->run)[4097], 0xff);
	assert_int_equal(((uint8_t *)f->run)[4098], 0);
}

/* Data that would lie outside the kvm_run mapping is never touched. */
static void test_io_outside_run_area(void **state)
{
	struct fixture *f = *state;
	set_io(f->run, KVM_EXIT_IO_OUT, 0x3f8, 4, 2000);
	kvm_exit_handle(&f->vm, f->run, f->run_size);
	assert_int_equal(f->pio.n, 0);
	assert_true(f->vm.stopped);
	assert_int_equal(f->vm.exit_status, EXIT_HOST);
}

static void test_mmio_write_then_read(void **state)
{
	struct fixture *f = *state;
	struct kvm_run *run = f->run;
	run->exit_reason = KVM_EXIT_MMIO;
	run->mmio.phys_addr = 0xfec00010;
	run->mmio.len = 4;
	run->mmio.is_write = 1;
	memcpy(run->mmio.data, "\x78\x56\x34\x12", 4);
	kvm_exit_handle(&f->vm, run, f->run_size);
	assert_int_equal(f->mmio.n, 1);
	assert_true(f->mmio.write[0]);
	assert_int_equal(f->mmio.offset[0], 0x10);
	assert_int_equal(f->mmio.value[0], 0x12345678);

	f->mmio.next_read = 0x0102030405060708ull;
	run->mmio.is_write = 0;
	run->mmio.len = 8;
	memset(run->mmio.data, 0, 8);
	kvm_exit_handle(&f->vm, run, f->run_size);
	uint64_t v;
	memcpy(&v, run->mmio.data, 8);
	assert_int_equal(v, 0x0102030405060708ull);
	assert_int_equal(stats_get(f->vm.stats, "exits", "mmio"), 2);
}

static void test_hlt_with_interrupts_waits(void **state)
{
	struct fixture *f = *state;
	f->run->exit_reason = KVM_EXIT_HLT;
	f->run->if_flag = 1;
	kvm_exit_handle(&f->vm, f->run, f->run_size);
	assert_int_equal(fake_waits, 1);
	assert_false(f->vm.stopped);
	assert_int_equal(stats_get(f->vm.stats, "exits", "hlt"), 1);
}

static void test_hlt_without_interrupts_stops(void **state)
{
	struct fixture *f = *state;
	f->run->exit_reason = KVM_EXIT_HLT;
	f->run->if_flag = 0;
	kvm_exit_handle(&f->vm, f->run, f->run_size);
	assert_int_equal(fake_waits, 0);
	assert_true(f->vm.stopped);
	assert_int_equal(f->vm.exit_status, EXIT_CRASH);
	assert_string_equal(f->vm.stop_reason, "guest halted with interrupts disabled");
}

static void test_shutdown_is_crash(void **state)
{
	struct fixture *f = *state;
	f->run->exit_reason = KVM_EXIT_SHUTDOWN;
	kvm_exit_handle(&f->vm, f->run, f->run_size);
	assert_int_equal(f->vm.exit_status, EXIT_CRASH);
	assert_string_equal(f->vm.stop_reason, "triple fault (shutdown)");
}

static void test_fail_entry_names_reason(void **state)
{
	struct fixture *f = *state;
	f->run->exit_reason = KVM_EXIT_FAIL_ENTRY;
	f->run->fail_entry.hardware_entry_failure_reason = 0x80000021;
	kvm_exit_handle(&f->vm, f->run, f->run_size);
	assert_int_equal(f->vm.exit_status, EXIT_CRASH);
	assert_non_null(strstr(f->vm.stop_reason, "0x80000021: invalid guest state"));
}

static void test_internal_error_names_suberror(void **state)
{
	struct fixture *f = *state;
	f->run->exit_reason = KVM_EXIT_INTERNAL_ERROR;
	f->run->internal.suberror = KVM_INTERNAL_ERROR_EMULATION;
	f->run->internal.ndata = 0;
	kvm_exit_handle(&f->vm, f->run, f->run_size);
	assert_int_equal(f->vm.exit_status, EXIT_CRASH);
	assert_string_equal(f->vm.stop_reason,
	                    "KVM internal error 1 (an instruction KVM cannot emulate)");
}

static uint64_t zero_clock(void *opaque)
{
	return 0;
}

/* IA32_APIC_BASE, filtered away from KVM, is plexvm's APIC's: a read gets
 * its value, a write it refuses (a relocation with no machine to move the
 * page) comes back as error 1, which KVM turns into #GP. */
static void test_apic_base_msr_exits(void **state)
{
	struct fixture *f = *state;
	f->vm.lapic = lapic_create(zero_clock, NULL);
	assert_non_null(f->vm.lapic);
	f->run->exit_reason = KVM_EXIT_X86_RDMSR;
	f->run->msr.index = 0x1b;
	kvm_exit_handle(&f->vm, f->run, f->run_size);
	assert_int_equal(f->run->msr.error, 0);
	assert_int_equal(f->run->msr.data, 0xfee00900u);
	f->run->exit_reason = KVM_EXIT_X86_WRMSR;
	f->run->msr.data = 0xfed00900u;
	kvm_exit_handle(&f->vm, f->run, f->run_size);
	assert_int_equal(f->run->msr.error, 1);
	f->run->msr.data = 0xfee00100u; /* global disable */
	kvm_exit_handle(&f->vm, f->run, f->run_size);
	assert_int_equal(f->run->msr.error, 0);
	assert_int_equal(lapic_base(f->vm.lapic), 0xfee00100u);
	assert_int_equal(stats_get(f->vm.stats, "exits", "wrmsr"), 2);
	assert_false(f->vm.stopped);
	lapic_destroy(f->vm.lapic);
}

static void test_window_and_signal_do_nothing(void **state)
{
	struct fixture *f = *state;
	f->run->exit_reason = KVM_EXIT_IRQ_WINDOW_OPEN;
	kvm_exit_handle(&f->vm, f->run, f->run_size);
	f->run->exit_reason = KVM_EXIT_INTR;
	kvm_exit_handle(&f->vm, f->run, f->run_size);
	assert_false(f->vm.stopped);
	assert_int_equal(fake_waits, 0);
	assert_int_equal(stats_get(f->vm.stats, "exits", "irq-window"), 1);
	assert_int_equal(stats_get(f->vm.stats, "exits", "signal"), 1);
}

static void test_unknown_exit_is_host_error(void **state)
{
	struct fixture *f = *state;
	f->run->exit_reason = 0x7777;
	kvm_exit_handle(&f->vm, f->run, f->run_size);
	assert_int_equal(f->vm.exit_status, EXIT_HOST);
	assert_string_equal(f->vm.stop_reason, "unexpected KVM exit reason 30583");
}

/* ---- interrupt injection decisions ---- */

static void test_irq_none_pending(void **state)
{
	struct fixture *f = *state;
	f->run->request_interrupt_window = 1;
	f->run->ready_for_interrupt_injection = 1;
	f->run->if_flag = 1;
	assert_int_equal(kvm_irq_update(&f->vm, f->run), -1);
	assert_int_equal(f->run->request_interrupt_window, 0);
}

static void test_irq_injected_when_ready(void **state)
{
	struct fixture *f = *state;
	fake_pending = 1;
	f->run->ready_for_interrupt_injection = 1;
	f->run->if_flag = 1;
	assert_int_equal(kvm_irq_update(&f->vm, f->run), 0x20);
	assert_int_equal(fake_pending, 0); /* acknowledged in the PIC */
	assert_int_equal(f->run->request_interrupt_window, 0);
}

/* IF clear (CLI): the vector stays in the PIC and KVM is asked to exit
 * once the guest sets IF. */
static void test_irq_waits_for_if(void **state)
{
	struct fixture *f = *state;
	fake_pending = 1;
	f->run->ready_for_interrupt_injection = 1;
	f->run->if_flag = 0;
	assert_int_equal(kvm_irq_update(&f->vm, f->run), -1);
	assert_int_equal(fake_pending, 1);
	assert_int_equal(f->run->request_interrupt_window, 1);
}

/* An STI shadow or an injection still queued in KVM. */
static void test_irq_waits_for_window(void **state)
{
	struct fixture *f = *state;
	fake_pending = 1;
	f->run->ready_for_interrupt_injection = 0;
	f->run->if_flag = 1;
	assert_int_equal(kvm_irq_update(&f->vm, f->run), -1);
	assert_int_equal(fake_pending, 1);
	assert_int_equal(f->run->request_interrupt_window, 1);
}

/* Two requests: inject one, and ask for a window for the other. */
static void test_irq_second_request_opens_window(void **state)
{
	struct fixture *f = *state;
	fake_pending = 2;
	f->run->ready_for_interrupt_injection = 1;
	f->run->if_flag = 1;
	assert_int_equal(kvm_irq_update(&f->vm, f->run), 0x20);
	assert_int_equal(f->run->request_interrupt_window, 1);
	assert_int_equal(kvm_irq_update(&f->vm, f->run), 0x21);
	assert_int_equal(f->run->request_interrupt_window, 0);
}

#define T(name) cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_without_dev_kvm),
		T(test_out_byte),
		T(test_rep_outsw),
		T(test_rep_insd),
		T(test_in_unclaimed_all_ones),
		T(test_io_outside_run_area),
		T(test_mmio_write_then_read),
		T(test_hlt_with_interrupts_waits),
		T(test_hlt_without_interrupts_stops),
		T(test_shutdown_is_crash),
		T(test_fail_entry_names_reason),
		T(test_internal_error_names_suberror),
		T(test_apic_base_msr_exits),
		T(test_window_and_signal_do_nothing),
		T(test_unknown_exit_is_host_error),
		T(test_irq_none_pending),
		T(test_irq_injected_when_ready),
		T(test_irq_waits_for_if),
		T(test_irq_waits_for_window),
		T(test_irq_second_request_opens_window),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
