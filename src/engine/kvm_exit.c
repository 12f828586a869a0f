/*
 * KVM_RUN exits (Documentation/virt/kvm/api.rst, "The kvm_run structure").
 *
 * For KVM_EXIT_IO and KVM_EXIT_MMIO the instruction completes when KVM_RUN
 * is next entered: data for IN and MMIO reads is written back into the
 * kvm_run area here and picked up by the kernel then.
 */
#include "kvm_exit.h"

#include <string.h>

#include "../exit_status.h"
#include "../stats.h"

const char *kvm_exit_name(unsigned reason)
{
	switch (reason) {
	case KVM_EXIT_IO: return "io";
	case KVM_EXIT_MMIO: return "mmio";
	case KVM_EXIT_HLT: return "hlt";
	case KVM_EXIT_IRQ_WINDOW_OPEN: return "irq-window";
	case KVM_EXIT_INTR: return "signal";
	case KVM_EXIT_SHUTDOWN: return "shutdown";
	case KVM_EXIT_FAIL_ENTRY: return "fail-entry";
	case KVM_EXIT_INTERNAL_ERROR: return "internal-error";
	case KVM_EXIT_X86_RDMSR: return "rdmsr";
	case KVM_EXIT_X86_WRMSR: return "wrmsr";
	default: return "other";
	}
}

/* One exit covers @count repetitions of IN/OUT (REP INS/OUTS): their data
 * lies back to back at data_offset inside the kvm_run mapping. */
static void kvm_exit_io(struct vm *vm, struct kvm_run *run, size_t run_size)
{
	unsigned size = run->io.size;
	uint64_t bytes = (uint64_t)size * run->io.count;
	bool out = run->io.direction == KVM_EXIT_IO_OUT;

	if ((size != 1 && size != 2 && size != 4) || run->io.data_offset > run_size ||
	    bytes > run_size - run->io.data_offset) {
		vm_stop(vm, EXIT_HOST,
		        "KVM reported port I/O at 0x%x of %u x %u bytes outside kvm_run",
		        run->io.port, run->io.count, size);
		return;
	}
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	for (uint32_t i = 0; i < run->io.count; i++, data += size) {
		uint32_t v = 0;
		if (out)
			memcpy(&v, data, size);
		bus_pio(&vm->bus, run->io.port, size, out, &v);
		if (!out)
			memcpy(data, &v, size);
	}
}

static void kvm_exit_mmio(struct vm *vm, struct kvm_run *run)
{
	uint64_t v = 0;
	unsigned len = run->mmio.len;
	if (len == 0 || len > sizeof(run->mmio.data)) {
		vm_stop(vm, EXIT_HOST, "KVM reported an MMIO access of %u bytes at 0x%llx", len,
		        (unsigned long long)run->mmio.phys_addr);
		return;
	}
	if (run->mmio.is_write)
		memcpy(&v, run->mmio.data, len);
	bus_mmio(&vm->bus, run->mmio.phys_addr, len, run->mmio.is_write, &v);
	if (!run->mmio.is_write)
		memcpy(run->mmio.data, &v, len);
}

static const char *kvm_exit_internal_name(uint32_t suberror)
{
	switch (suberror) {
	case KVM_INTERNAL_ERROR_EMULATION: return "an instruction KVM cannot emulate";
	case KVM_INTERNAL_ERROR_SIMUL_EX: return "an exception while delivering an exception";
	case KVM_INTERNAL_ERROR_DELIVERY_EV: return "an exit while delivering an event";
	default: return "see the host kernel log";
	}
}

static void kvm_exit_internal(struct vm *vm, struct kvm_run *run)
{
	uint32_t sub = run->internal.suberror;
	if (run->internal.ndata == 0) {
		vm_stop(vm, EXIT_CRASH, "KVM internal error %u (%s)", sub,
		        kvm_exit_internal_name(sub));
		return;
	}
	vm_stop(vm, EXIT_CRASH, "KVM internal error %u (%s), data 0x%llx 0x%llx", sub,
	        kvm_exit_internal_name(sub), (unsigned long long)run->internal.data[0],
	        run->internal.ndata > 1 ? (unsigned long long)run->internal.data[1] : 0ull);
}

/* Intel SDM vol. 3, appendix C: basic exit reason 33 is "VM-entry failure
 * due to invalid guest state", the usual one for bad segment set-up. */
static void kvm_exit_fail_entry(struct vm *vm, struct kvm_run *run)
{
	unsigned long long why = run->fail_entry.hardware_entry_failure_reason;
	vm_stop(vm, EXIT_CRASH,
	        "KVM could not enter the guest (hardware entry failure reason 0x%llx%s)", why,
	        (why & 0xffff) == 33 ? ": invalid guest state" : "");
}

/* An MSR the filter gives to plexvm (kvm_cpu_msr_filter()): error 1 makes
 * KVM inject #GP(0), as the CPU would for a refused access. */
static void kvm_exit_msr(struct vm *vm, struct kvm_run *run)
{
	uint64_t v = 0;
	bool ok;
	if (run->exit_reason == KVM_EXIT_X86_RDMSR) {
		ok = vm_rdmsr(vm, run->msr.index, &v);
		run->msr.data = v;
	} else {
		ok = vm_wrmsr(vm, run->msr.index, run->msr.data);
	}
	run->msr.error = ok ? 0 : 1;
}

void kvm_exit_handle(struct vm *vm, struct kvm_run *run, size_t run_size)
{
	stats_add(vm->stats, "exits", kvm_exit_name(run->exit_reason), 1);
	switch (run->exit_reason) {
	case KVM_EXIT_IO: kvm_exit_io(vm, run, run_size); break;
	case KVM_EXIT_MMIO: kvm_exit_mmio(vm, run); break;
	case KVM_EXIT_HLT:
		/* if_flag is RFLAGS.IF at the exit (valid without an in-kernel
		 * APIC). With IF clear only an NMI could wake the CPU, and no
		 * device here raises one. */
		if (run->if_flag)
			vm_wait(vm);
		else
			vm_stop(vm, EXIT_CRASH, "guest halted with interrupts disabled");
		break;
	case KVM_EXIT_IRQ_WINDOW_OPEN: /* the run loop injects next */
	case KVM_EXIT_INTR: break;
	case KVM_EXIT_SHUTDOWN: vm_stop(vm, EXIT_CRASH, "triple fault (shutdown)"); break;
	case KVM_EXIT_FAIL_ENTRY: kvm_exit_fail_entry(vm, run); break;
	case KVM_EXIT_INTERNAL_ERROR: kvm_exit_internal(vm, run); break;
	case KVM_EXIT_X86_RDMSR:
	case KVM_EXIT_X86_WRMSR: kvm_exit_msr(vm, run); break;
	default: vm_stop(vm, EXIT_HOST, "unexpected KVM exit reason %u", run->exit_reason); break;
	}
}
