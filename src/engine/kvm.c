/*
 * The kvm engine: one vCPU through /dev/kvm (Documentation/virt/kvm/api.rst).
 *
 * Our PIC, PIT and other devices live in plexvm, not in the kernel (no
 * KVM_CREATE_IRQCHIP, no KVM_CREATE_PIT2), so the run loop does what a PC's
 * interrupt wiring does: after every exit it brings the devices up to date
 * (vm_poll), and if the PIC has a request it injects the vector when the
 * guest can take it (KVM_INTERRUPT), or asks KVM to exit as soon as it can
 * (request_interrupt_window).
 *
 * A guest that never exits must still see its timer: before each KVM_RUN a
 * POSIX timer is armed for the VM's next deadline (kvm_kick.h).
 *
 * An instruction KVM's emulator cannot run (protected-mode IRET on
 * KVM-PVM) is run on plexvm's x86 core instead (kvm_fallback.h); on
 * KVM-PVM, 32-bit ring-3 code is single-stepped so that such instructions
 * reach plexvm there too (kvm_step.h).
 *
 * Only the API version and the capabilities used are checked: on KVM-PVM
 * hosts CPUID shows neither VMX nor SVM, and that is fine.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../exit_status.h"
#include "../log.h"
#include "../stats.h"
#include "../vm.h"
#include "engine.h"
#include "kvm_cpu.h"
#include "kvm_exit.h"
#include "kvm_fallback.h"
#include "kvm_irq.h"
#include "kvm_kick.h"
#include "kvm_step.h"

/* Three pages for the real-mode TSS VMX needs, and one page below them for
 * its identity page table: above the 3 GiB of RAM we can have and below
 * the BIOS area at the top of 4 GiB, where kvmtool and QEMU put them too. */
#define KVM_TSS_ADDR 0xfffbd000ull
#define KVM_IDENTITY_MAP_ADDR 0xfffbc000ull

struct kvm_engine {
	struct vm *vm;
	int kvm_fd, vm_fd, vcpu_fd;
	struct kvm_run *run;
	size_t run_size;
	bool has_immediate_exit;
	bool kick_ready;
	struct kvm_kick kick;
	struct kvm_step step;
};

static int kvm_fail(char *err, size_t errlen, int r, const char *what)
{
	snprintf(err, errlen, "%s: %s", what, strerror(-r));
	return r;
}

static int kvm_check(int kvm_fd, char *err, size_t errlen)
{
	static const struct {
		long cap;
		const char *name;
	} needed[] = {
		{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
		{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	};
	int v = ioctl(kvm_fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION) {
		snprintf(err, errlen, "/dev/kvm speaks API version %d, plexvm needs %d", v,
		         KVM_API_VERSION);
		return -ENODEV;
	}
	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
		if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, needed[i].cap) <= 0) {
			snprintf(err, errlen, "/dev/kvm lacks %s", needed[i].name);
			return -ENODEV;
		}
	}
	return 0;
}

/* Gives the guest the CPUID the host's KVM supports, less what this
 * machine lacks (kvm_cpu_fix_cpuid). */
static int kvm_set_cpuid(struct kvm_engine *k)
{
	/* KVM_GET_SUPPORTED_CPUID fails with E2BIG while nent is too small,
	 * and each call costs ~0.3 ms on KVM-PVM: start at KVM's own limit
	 * (KVM_MAX_CPUID_ENTRIES, 256) so that one call does. */
	for (uint32_t n = 256; n <= 1024; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (!c)
			return -ENOMEM;
		c->nent = n;
		if (ioctl(k->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
			int e = errno;
			free(c);
			if (e == E2BIG)
				continue;
			return -e;
		}
		kvm_cpu_fix_cpuid(c);
		int r = ioctl(k->vcpu_fd, KVM_SET_CPUID2, c) < 0 ? -errno : 0;
		free(c);
		return r;
	}
	return -E2BIG;
}

/* The kick signal is unblocked only inside KVM_RUN. The kernel's sigset_t
 * on x86-64 is 8 bytes, glibc's is 128: pass the kernel's size. */
static int kvm_set_signal_mask(struct kvm_engine *k)
{
	const size_t ksize = 8;
	struct kvm_signal_mask *m = calloc(1, sizeof(*m) + ksize);
	if (!m)
		return -ENOMEM;
	m->len = ksize;
	memcpy(m->sigset, &k->kick.run_mask, ksize);
	int r = ioctl(k->vcpu_fd, KVM_SET_SIGNAL_MASK, m) < 0 ? -errno : 0;
	free(m);
	return r;
}

static void kvm_destroy(void *ctx)
{
	struct kvm_engine *k = ctx;
	if (!k)
		return;
	if (k->kick_ready)
		kvm_kick_destroy(&k->kick);
	if (k->run)
		munmap(k->run, k->run_size);
	if (k->vcpu_fd >= 0)
		close(k->vcpu_fd);
	if (k->vm_fd >= 0)
		close(k->vm_fd);
	if (k->kvm_fd >= 0)
		close(k->kvm_fd);
	free(k);
}

static int kvm_create_vm(struct kvm_engine *k, char *err, size_t errlen)
{
	struct vm *vm = k->vm;
	k->vm_fd = ioctl(k->kvm_fd, KVM_CREATE_VM, 0);
	if (k->vm_fd < 0)
		return kvm_fail(err, errlen, -errno, "KVM_CREATE_VM");
	/* VMX needs these to run real-mode code; elsewhere they are harmless.
	 * Our guests start in protected mode, so a backend that refuses them
	 * (KVM-PVM may) can still run them: failures are ignored. Both must
	 * come before KVM_CREATE_VCPU. */
	if (ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0)
		(void)ioctl(k->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR);
	if (ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0) {
		uint64_t idmap = KVM_IDENTITY_MAP_ADDR;
		(void)ioctl(k->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap);
	}
	/* Without this KVM reports an instruction its emulator lacks only at
	 * CPL 0 and injects #UD at CPL 3 (x86.c, handle_emulation_failure);
	 * with it every such instruction reaches kvm_fallback.h. Older
	 * kernels lack it: ring-3 code then sees their #UD. */
	if (ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_EXIT_ON_EMULATION_FAILURE) > 0) {
		struct kvm_enable_cap cap = { .cap = KVM_CAP_EXIT_ON_EMULATION_FAILURE,
			                      .args = { 1 } };
		(void)ioctl(k->vm_fd, KVM_ENABLE_CAP, &cap);
	}
	/* IA32_APIC_BASE belongs to plexvm's local APIC: with a filter
	 * denying it to KVM, RDMSR/WRMSR of it exit to kvm_exit.c.  Older
	 * kernels lack the capability: KVM then keeps the MSR itself. */
	if (ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_X86_USER_SPACE_MSR) > 0)
		(void)kvm_cpu_msr_filter(k->vm_fd);
	/* All RAM in one slot at guest physical 0. The VGA window stays RAM:
	 * the vga device reads the text buffer at 0xB8000 from it. */
	struct kvm_userspace_memory_region region = {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = vm->mem.size,
		.userspace_addr = (uint64_t)(uintptr_t)vm->mem.host,
	};
	if (ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return kvm_fail(err, errlen, -errno, "KVM_SET_USER_MEMORY_REGION");
	k->vcpu_fd = ioctl(k->vm_fd, KVM_CREATE_VCPU, 0);
	if (k->vcpu_fd < 0)
		return kvm_fail(err, errlen, -errno, "KVM_CREATE_VCPU");
	return 0;
}

static int kvm_create_vcpu(struct kvm_engine *k, char *err, size_t errlen)
{
	int size = ioctl(k->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < (int)sizeof(struct kvm_run))
		return kvm_fail(err, errlen, size < 0 ? -errno : -EINVAL, "KVM_GET_VCPU_MMAP_SIZE");
	k->run_size = (size_t)size;
	k->run = mmap(NULL, k->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, k->vcpu_fd, 0);
	if (k->run == MAP_FAILED) {
		k->run = NULL;
		return kvm_fail(err, errlen, -errno, "mmap of the vCPU's kvm_run area");
	}
	int r = kvm_set_cpuid(k);
	if (r < 0)
		return kvm_fail(err, errlen, r, "KVM_SET_CPUID2");
	k->kick_ready = true;
	r = kvm_kick_init(&k->kick);
	if (r < 0)
		return kvm_fail(err, errlen, r, "timer signal for KVM_RUN");
	r = kvm_set_signal_mask(k);
	if (r < 0)
		return kvm_fail(err, errlen, r, "KVM_SET_SIGNAL_MASK");
	k->has_immediate_exit = ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IMMEDIATE_EXIT) > 0;
	int sync = ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS);
	kvm_step_init(&k->step, k->run,
	              kvm_step_host_is_pvm() && sync > 0 && (sync & KVM_SYNC_X86_SREGS));
	return 0;
}

/* --engine auto moves on silently when an engine reports -ENODEV: when
 * /dev/kvm exists but fails, say why on one line. */
static void kvm_create_warn_auto(struct vm *vm, const char *why)
{
	if (vm->cfg && vm->cfg->engine == ENGINE_AUTO)
		log_warn("kvm engine unavailable (%s); trying the next engine", why);
}

static int kvm_create(struct vm *vm, void **ctx, char *err, size_t errlen)
{
	struct kvm_engine *k = calloc(1, sizeof(*k));
	if (!k)
		return kvm_fail(err, errlen, -ENOMEM, "kvm engine");
	k->vm = vm;
	k->vm_fd = k->vcpu_fd = -1;
	k->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (k->kvm_fd < 0) {
		int e = errno;
		snprintf(err, errlen, "/dev/kvm: %s (the kvm engine needs KVM; try --engine emu)",
		         strerror(e));
		kvm_destroy(k);
		/* No KVM at all is the usual case and auto says nothing; a
		 * /dev/kvm we may not open is worth a word. */
		if (e != ENOENT && e != ENODEV && e != ENXIO)
			kvm_create_warn_auto(vm, err);
		return -ENODEV;
	}
	int r = kvm_check(k->kvm_fd, err, errlen);
	if (r == 0)
		r = kvm_create_vm(k, err, errlen);
	if (r == 0)
		r = kvm_create_vcpu(k, err, errlen);
	if (r < 0) {
		kvm_destroy(k);
		/* Whatever failed (KVM_CREATE_VM busy or out of memory, a
		 * refused CPUID, no timer signal), this host cannot give us a
		 * vCPU now: -ENODEV lets --engine auto go on to the next engine.
		 * Asked for by name, the caller reports err. */
		kvm_create_warn_auto(vm, err);
		return -ENODEV;
	}
	*ctx = k;
	return 0;
}

static int kvm_setup(void *ctx, const struct boot_entry *e)
{
	struct kvm_engine *k = ctx;
	return kvm_cpu_setup(k->vcpu_fd, &k->vm->mem, e);
}

/* After an I/O or MMIO exit the instruction is only finished by the next
 * KVM_RUN (api.rst, KVM_EXIT_IO note): enter once with immediate_exit so
 * the dumped RIP is past it, without running any further guest code. */
static void kvm_complete_io(struct kvm_engine *k)
{
	uint32_t reason = k->run->exit_reason;
	if (!k->has_immediate_exit || (reason != KVM_EXIT_IO && reason != KVM_EXIT_MMIO))
		return;
	k->run->immediate_exit = 1;
	(void)ioctl(k->vcpu_fd, KVM_RUN, 0);
	k->run->immediate_exit = 0;
	kvm_kick_consume(&k->kick);
}

static void kvm_dump_regs(void *ctx, FILE *out)
{
	struct kvm_engine *k = ctx;
	kvm_complete_io(k);
	kvm_cpu_dump(k->vcpu_fd, out);
}

static void kvm_inject(struct kvm_engine *k)
{
	int vector = kvm_irq_update(k->vm, k->run);
	if (vector < 0)
		return;
	struct kvm_interrupt irq = { .irq = (uint32_t)vector };
	if (ioctl(k->vcpu_fd, KVM_INTERRUPT, &irq) < 0)
		vm_stop(k->vm, EXIT_HOST, "KVM_INTERRUPT vector 0x%x: %s", irq.irq,
		        strerror(errno));
}

/* KVM stopped at an instruction its emulator lacks (kvm_fallback.h).
 * Returns true if plexvm ran it; false leaves the exit to kvm_exit_handle,
 * which reports KVM's error. */
static bool kvm_emulation_failure(struct kvm_engine *k)
{
	struct kvm_run *run = k->run;
	if (run->exit_reason != KVM_EXIT_INTERNAL_ERROR ||
	    run->internal.suberror != KVM_INTERNAL_ERROR_EMULATION)
		return false;
	stats_add(k->vm->stats, "exits", "emulation-failure", 1);
	uint8_t bytes[16];
	struct kvm_state after;
	size_t n = kvm_fallback_insn_from_run(run, bytes);
	if (!kvm_fallback(k->vm, k->vcpu_fd, bytes, n, &after))
		return false;
	kvm_step_follow(&k->step, k->vm, k->vcpu_fd, &after.sregs);
	return true;
}

static int kvm_run_loop(void *ctx)
{
	struct kvm_engine *k = ctx;
	struct vm *vm = k->vm;
	int r = 0;
	while (!vm->stopped) {
		vm_poll(vm);
		kvm_inject(k);
		if (vm->stopped)
			break;
		r = kvm_kick_arm(&k->kick, vm_next_deadline_ns(vm), vm_now_ns());
		if (r < 0) {
			vm_stop(vm, EXIT_HOST, "kvm: arming the timer: %s", strerror(-r));
			break;
		}
		if (ioctl(k->vcpu_fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				stats_add(vm->stats, "exits", "signal", 1);
				kvm_kick_consume(&k->kick);
				kvm_step_follow(&k->step, k->vm, k->vcpu_fd, &k->run->s.regs.sregs);
				continue;
			}
			r = -errno;
			vm_stop(vm, EXIT_HOST, "KVM_RUN: %s", strerror(-r));
			break;
		}
		if (k->run->exit_reason == KVM_EXIT_DEBUG && k->step.on) {
			stats_add(vm->stats, "exits", "ring3-step", 1);
			kvm_step_exit(&k->step, vm, k->vcpu_fd, k->run);
			continue;
		}
		if (kvm_emulation_failure(k))
			continue;
		kvm_exit_handle(vm, k->run, k->run_size);
		kvm_step_follow(&k->step, k->vm, k->vcpu_fd, &k->run->s.regs.sregs);
	}
	return r;
}

const struct engine_ops engine_kvm = {
	.name = "kvm",
	.create = kvm_create,
	.setup = kvm_setup,
	.run = kvm_run_loop,
	.dump_regs = kvm_dump_regs,
	.destroy = kvm_destroy,
};
