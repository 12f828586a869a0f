/*
 * The kvm engine: one vCPU through /dev/kvm.
 *
 * Our PIC, PIT and other devices live in plexvm, not in the kernel (no
 * KVM_CREATE_IRQCHIP), so the run loop does what a PC's interrupt wiring
 * does: after every exit it brings the devices up to date (vm_poll), and if
 * the PIC has a request it injects the vector when the guest can take it, or
 * asks KVM for an exit as soon as it can (request_interrupt_window).
 *
 * A guest that never exits must still see its timer: before each KVM_RUN a
 * POSIX timer is armed for the VM's next deadline.  Its signal is blocked in
 * this thread except inside KVM_RUN (KVM_SET_SIGNAL_MASK), so it can only
 * interrupt the guest, never plexvm's own code.
 *
 * Only the API version and the capabilities used are checked: on KVM-PVM
 * hosts CPUID shows neither VMX nor SVM, and that is fine.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "../exit_status.h"
#include "../stats.h"
#include "../vm.h"
#include "engine.h"
#include "kvm_cpu.h"

#define KVM_TSS_ADDR 0xfffbd000ull
#define KVM_IDENTITY_MAP_ADDR 0xfffbc000ull
#define KVM_KICK_SIGNAL SIGRTMIN

struct kvm_engine {
	struct vm *vm;
	int kvm_fd, vm_fd, vcpu_fd;
	struct kvm_run *run;
	size_t run_size;
	timer_t timer;
	bool timer_created;
};

static void kvm_kick_handler(int sig)
{
	/* Only there to make KVM_RUN return with EINTR. */
}

static int kvm_fail(char *err, size_t errlen, int r, const char *what)
{
	snprintf(err, errlen, "%s: %s", what, strerror(-r));
	return r;
}

static int kvm_check(int kvm_fd, char *err, size_t errlen)
{
	static const struct { long cap; const char *name; } needed[] = {
		{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
	};
	int v = ioctl(kvm_fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION) {
		snprintf(err, errlen, "/dev/kvm speaks API version %d, plexvm needs %d", v, KVM_API_VERSION);
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

/* Gives the guest the CPUID the host's KVM supports. */
static int kvm_set_cpuid(struct kvm_engine *k)
{
	for (int n = 64; n <= 1024; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + (size_t)n * sizeof(c->entries[0]));
		if (!c)
			return -ENOMEM;
		c->nent = (uint32_t)n;
		if (ioctl(k->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
			int e = errno;
			free(c);
			if (e == E2BIG)
				continue;
			return -e;
		}
		int r = ioctl(k->vcpu_fd, KVM_SET_CPUID2, c) < 0 ? -errno : 0;
		free(c);
		return r;
	}
	return -E2BIG;
}

static int kvm_setup_kick(struct kvm_engine *k)
{
	struct sigaction sa = { .sa_handler = kvm_kick_handler };
	sigset_t block, run_mask;
	sigemptyset(&sa.sa_mask);
	if (sigaction(KVM_KICK_SIGNAL, &sa, NULL) < 0)
		return -errno;
	sigemptyset(&block);
	sigaddset(&block, KVM_KICK_SIGNAL);
	if (sigprocmask(SIG_BLOCK, &block, &run_mask) < 0)
		return -errno;
	sigdelset(&run_mask, KVM_KICK_SIGNAL);

	/* The kernel's sigset is 8 bytes; glibc's sigset_t is larger. */
	struct kvm_signal_mask *m = calloc(1, sizeof(*m) + 8);
	if (!m)
		return -ENOMEM;
	m->len = 8;
	memcpy(m->sigset, &run_mask, 8);
	int r = ioctl(k->vcpu_fd, KVM_SET_SIGNAL_MASK, m) < 0 ? -errno : 0;
	free(m);
	if (r < 0)
		return r;

	struct sigevent sev = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = KVM_KICK_SIGNAL };
	sev._sigev_un._tid = gettid();
	if (timer_create(CLOCK_MONOTONIC, &sev, &k->timer) < 0)
		return -errno;
	k->timer_created = true;
	return 0;
}

static void kvm_destroy(void *ctx)
{
	struct kvm_engine *k = ctx;
	if (!k)
		return;
	if (k->timer_created)
		timer_delete(k->timer);
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
	/* Needed by VMX for real mode and harmless elsewhere; a backend that
	 * refuses them (KVM-PVM may) can still run protected-mode guests. */
	if (ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0)
		ioctl(k->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR);
	uint64_t idmap = KVM_IDENTITY_MAP_ADDR;
	ioctl(k->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap);

	struct kvm_userspace_memory_region region = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = vm->mem.size,
		.userspace_addr = (uint64_t)(uintptr_t)vm->mem.host,
	};
	if (ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return kvm_fail(err, errlen, -errno, "KVM_SET_USER_MEMORY_REGION");
	k->vcpu_fd = ioctl(k->vm_fd, KVM_CREATE_VCPU, 0);
	if (k->vcpu_fd < 0)
		return kvm_fail(err, errlen, -errno, "KVM_CREATE_VCPU");
	int size = ioctl(k->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < (int)sizeof(struct kvm_run))
		return kvm_fail(err, errlen, size < 0 ? -errno : -EINVAL, "KVM_GET_VCPU_MMAP_SIZE");
	k->run_size = (size_t)size;
	k->run = mmap(NULL, k->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, k->vcpu_fd, 0);
	if (k->run == MAP_FAILED) {
		k->run = NULL;
		return kvm_fail(err, errlen, -errno, "mmap of kvm_run");
	}
	int r = kvm_set_cpuid(k);
	if (r < 0)
		return kvm_fail(err, errlen, r, "KVM_SET_CPUID2");
	r = kvm_setup_kick(k);
	if (r < 0)
		return kvm_fail(err, errlen, r, "timer signal set-up");
	return 0;
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
		snprintf(err, errlen, "/dev/kvm: %s (the kvm engine needs KVM; try --engine emu)",
			 strerror(errno));
		kvm_destroy(k);
		return -ENODEV;
	}
	int r = kvm_check(k->kvm_fd, err, errlen);
	if (r == 0)
		r = kvm_create_vm(k, err, errlen);
	if (r < 0) {
		kvm_destroy(k);
		return r;
	}
	*ctx = k;
	return 0;
}

static int kvm_setup(void *ctx, const struct boot_entry *e)
{
	struct kvm_engine *k = ctx;
	return kvm_cpu_setup(k->vcpu_fd, &k->vm->mem, e);
}

static void kvm_dump_regs(void *ctx, FILE *out)
{
	struct kvm_engine *k = ctx;
	kvm_cpu_dump(k->vcpu_fd, out);
}

/* Arms the kick timer for the VM's next deadline (or disarms it). */
static void kvm_arm_timer(struct kvm_engine *k)
{
	uint64_t t = vm_next_deadline_ns(k->vm);
	struct itimerspec its = { 0 };
	if (t != UINT64_MAX) {
		if (t == 0)
			t = 1; /* 0 would disarm */
		its.it_value.tv_sec = (time_t)(t / 1000000000ull);
		its.it_value.tv_nsec = (long)(t % 1000000000ull);
	}
	timer_settime(k->timer, TIMER_ABSTIME, &its, NULL);
}

static void kvm_inject(struct kvm_engine *k)
{
	struct kvm_run *run = k->run;
	if (!vm_irq_pending(k->vm)) {
		run->request_interrupt_window = 0;
		return;
	}
	if (run->ready_for_interrupt_injection && run->if_flag) {
		struct kvm_interrupt irq = { .irq = (uint32_t)vm_irq_ack(k->vm) };
		if (ioctl(k->vcpu_fd, KVM_INTERRUPT, &irq) < 0)
			vm_stop(k->vm, EXIT_HOST, "KVM_INTERRUPT: %s", strerror(errno));
		run->request_interrupt_window = 0;
	} else {
		run->request_interrupt_window = 1;
	}
}

static void kvm_exit_io(struct kvm_engine *k)
{
	struct kvm_run *run = k->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool out = run->io.direction == KVM_EXIT_IO_OUT;
	unsigned size = run->io.size;
	for (uint32_t i = 0; i < run->io.count; i++, data += size) {
		uint32_t v = 0;
		if (out)
			memcpy(&v, data, size);
		bus_pio(&k->vm->bus, run->io.port, size, out, &v);
		if (!out)
			memcpy(data, &v, size);
	}
}

static void kvm_exit_mmio(struct kvm_engine *k)
{
	struct kvm_run *run = k->run;
	uint64_t v = 0;
	unsigned len = run->mmio.len > 8 ? 8 : run->mmio.len;
	if (run->mmio.is_write)
		memcpy(&v, run->mmio.data, len);
	bus_mmio(&k->vm->bus, run->mmio.phys_addr, len, run->mmio.is_write, &v);
	if (!run->mmio.is_write)
		memcpy(run->mmio.data, &v, len);
}

static const char *kvm_exit_name(uint32_t reason)
{
	switch (reason) {
	case KVM_EXIT_IO: return "io";
	case KVM_EXIT_MMIO: return "mmio";
	case KVM_EXIT_HLT: return "hlt";
	case KVM_EXIT_IRQ_WINDOW_OPEN: return "irq-window";
	case KVM_EXIT_INTR: return "signal";
	case KVM_EXIT_SHUTDOWN: return "shutdown";
	default: return "other";
	}
}

static void kvm_handle_exit(struct kvm_engine *k)
{
	struct kvm_run *run = k->run;
	struct vm *vm = k->vm;
	stats_add(vm->stats, "exits", kvm_exit_name(run->exit_reason), 1);
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		kvm_exit_io(k);
		break;
	case KVM_EXIT_MMIO:
		kvm_exit_mmio(k);
		break;
	case KVM_EXIT_HLT:
		if (run->if_flag)
			vm_wait(vm);
		else
			vm_stop(vm, EXIT_CRASH, "the guest halted with interrupts disabled");
		break;
	case KVM_EXIT_IRQ_WINDOW_OPEN:
	case KVM_EXIT_INTR:
		break;
	case KVM_EXIT_SHUTDOWN:
		vm_stop(vm, EXIT_CRASH, "triple fault (the CPU shut down)");
		break;
	case KVM_EXIT_FAIL_ENTRY:
		vm_stop(vm, EXIT_CRASH, "KVM could not enter the guest (hardware reason 0x%llx)",
			(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		vm_stop(vm, EXIT_CRASH, "KVM internal error %u (e.g. an instruction KVM cannot emulate)",
			run->internal.suberror);
		break;
	default:
		vm_stop(vm, EXIT_HOST, "unexpected KVM exit reason %u", run->exit_reason);
		break;
	}
}

static int kvm_run_loop(void *ctx)
{
	struct kvm_engine *k = ctx;
	struct vm *vm = k->vm;
	while (!vm->stopped) {
		vm_poll(vm);
		kvm_inject(k);
		if (vm->stopped)
			break;
		kvm_arm_timer(k);
		if (ioctl(k->vcpu_fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				stats_add(vm->stats, "exits", "signal", 1);
				continue;
			}
			return -errno;
		}
		kvm_handle_exit(k);
	}
	struct itimerspec off = { 0 };
	timer_settime(k->timer, 0, &off, NULL);
	return 0;
}

const struct engine_ops engine_kvm = {
	.name = "kvm",
	.create = kvm_create,
	.setup = kvm_setup,
	.run = kvm_run_loop,
	.dump_regs = kvm_dump_regs,
	.destroy = kvm_destroy,
};
