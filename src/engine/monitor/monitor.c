/*
 * The monitor engine, plexvm's side.  Guest code and the monitor itself run
 * in the vCPU process (vcpu_main.c, monitor_loop.c), which holds guest RAM,
 * a small static binary and the run area — nothing of plexvm's.  plexvm
 * keeps the devices, the PIC, the loaders and every exit status, and
 * answers the vCPU process's exits like a VMM answers KVM_RUN (vcpu_run.h).
 *
 * Everything read from the run area is hostile: guest code may own the
 * vCPU process.  Each field is read once, checked, and used only as a
 * number; a bad one, an unknown exit or the process dying ends the run
 * with status 6 and the reason.  While the vCPU process runs guest code,
 * plexvm wakes at least every millisecond to bring devices up to date, and
 * kicks the process (SIGALRM) when an interrupt is pending or the run must
 * end.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../bus.h"
#include "../../exit_status.h"
#include "../../log.h"
#include "../../stats.h"
#include "../../vm.h"
#include "../engine.h"
#include "vcpu_exit.h"
#include "vcpu_futex.h"
#include "vcpu_place.h"
#include "vcpu_run.h"
#include "vcpu_spawn.h"
#include "../x86_state.h"

/* Longest plexvm sleeps while guest code runs: serial input and timers are
 * looked at this often at least. */
#define POLL_NS 1000000ull
/* How long the vCPU process has to set itself up, and to report once asked
 * to stop. */
#define READY_NS 5000000000ull
#define DONE_NS 1000000000ull

struct monitor {
	struct vm *vm;
	pid_t pid;
	uint8_t *area;
	struct vcpu_run *run;
	struct vcpu_init *init;
	struct vcpu_regs regs; /* the last ones the vCPU process reported */
	bool have_regs;
	bool reaped;
	unsigned layout; /* the bus layout last published in the run page */
	bool published;
	uint64_t host_spin; /* cycles to spin for the next exit after an answer */
};

/* ---- the vCPU process ------------------------------------------------- */

/* Reaps the process if it has ended; says why into @why. */
static bool mon_child_ended(struct monitor *p, char *why, size_t len)
{
	int st;
	if (p->reaped)
		return true;
	if (waitpid(p->pid, &st, WNOHANG) != p->pid)
		return false;
	p->reaped = true;
	if (WIFSIGNALED(st))
		snprintf(why, len, "the vCPU process was killed by signal %d (%s)%s", WTERMSIG(st),
		         strsignal(WTERMSIG(st)),
		         WTERMSIG(st) == SIGSYS ? ": a system call its filter forbids" : "");
	else
		snprintf(why, len, "the vCPU process exited with status %d", WEXITSTATUS(st));
	return true;
}

static void mon_child_kill(struct monitor *p)
{
	if (p->pid > 0 && !p->reaped) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, NULL, 0);
		p->reaped = true;
	}
}

/* Waits for an exit for up to @ns, spinning first for @spin cycles; false
 * on a timeout or if the process ended (then the VM is stopped with the
 * reason). */
static bool mon_wait_exit(struct monitor *p, uint64_t spin, uint64_t ns)
{
	if (vcpu_turn_wait(p->run, VCPU_TURN_HOST, spin, ns))
		return true;
	char why[160];
	if (mon_child_ended(p, why, sizeof(why))) {
		vm_stop(p->vm, EXIT_CRASH, "%s", why);
		return false;
	}
	return false;
}

/* Tells the vCPU process which ranges devices claim, when that changed
 * since it was last told (the local APIC's page moves). */
_Static_assert(VCPU_RANGES >= BUS_MAX_RANGES, "every bus range fits the run page");

static void mon_publish_ranges(struct monitor *p)
{
	const struct bus *b = &p->vm->bus;
	struct vcpu_run *run = p->run;
	if (p->published && p->layout == b->layout)
		return; /* (a guest that scribbles over them only misleads itself) */
	p->layout = b->layout;
	p->published = true;
	for (int i = 0; i < b->npio && i < VCPU_RANGES; i++)
		run->pio[i] = (struct vcpu_range){ b->pio[i].base, b->pio[i].len };
	for (int i = 0; i < b->nmmio && i < VCPU_RANGES; i++)
		run->mmio[i] = (struct vcpu_range){ b->mmio[i].base, b->mmio[i].len };
	run->npio = (uint32_t)b->npio;
	run->nmmio = (uint32_t)b->nmmio;
}

/* ---- lifecycle --------------------------------------------------------- */

static void mon_destroy(void *ctx)
{
	struct monitor *p = ctx;
	mon_child_kill(p);
	if (p->area)
		munmap(p->area, VCPU_AREA_SIZE);
	free(p);
}

static int mon_create(struct vm *vm, void **ctx, char *err, size_t errlen)
{
	struct monitor *p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	p->vm = vm;
	int fd = memfd_create("plexvm-run", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, VCPU_AREA_SIZE) < 0) {
		snprintf(err, errlen, "cannot create the run area: %s", strerror(errno));
		goto fail;
	}
	p->area = mmap(NULL, VCPU_AREA_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p->area == MAP_FAILED) {
		p->area = NULL;
		snprintf(err, errlen, "cannot map the run area: %s", strerror(errno));
		goto fail;
	}
	p->run = (struct vcpu_run *)(p->area + VCPU_AREA_RUN);
	p->init = (struct vcpu_init *)(p->area + VCPU_AREA_INIT);
	p->run->magic = VCPU_RUN_MAGIC;
	p->run->version = VCPU_RUN_VERSION;
	p->run->turn = VCPU_TURN_VCPU;
	p->init->ram_size = vm->mem.size;
	p->init->parent = getpid();
	p->init->stats = vm->stats != NULL;
	/* Where the two must share a CPU, spinning for the other only keeps
	 * it from running. */
	bool apart = vcpu_place_cpus() >= 2;
	p->init->spin_cycles = apart ? VCPU_SPIN_CYCLES : 0;
	p->host_spin = apart ? VCPU_HOST_SPIN_CYCLES : 0;

	p->pid = vcpu_spawn(vm->mem.fd, fd, err, errlen);
	close(fd);
	fd = -1;
	if (p->pid < 0)
		goto fail;
	if (apart) {
		char why[120];
		if (vcpu_place(p->pid, why, sizeof(why)) < 0)
			log_warn("%s", why); /* slower, not wrong */
	}
	/* The process sets the monitor up and says whether it can run. */
	uint64_t waited = 0;
	while (!vcpu_turn_wait(p->run, VCPU_TURN_HOST, VCPU_SPIN_CYCLES, POLL_NS)) {
		char why[160];
		waited += POLL_NS;
		if (mon_child_ended(p, why, sizeof(why)) || waited >= READY_NS) {
			snprintf(err, errlen, "the vCPU process did not start: %s",
			         p->reaped ? why : "no answer");
			goto fail;
		}
	}
	if (p->run->exit_reason != VCPU_EXIT_READY) {
		snprintf(err, errlen, "the vCPU process did not start: exit %u",
		         p->run->exit_reason);
		goto fail;
	}
	if (p->run->u.ready.error != 0) {
		/* A host the monitor cannot use: reason to try the next
		 * engine, not a failure. */
		vcpu_exit_text(err, errlen, p->run->u.ready.message,
		               sizeof(p->run->u.ready.message));
		mon_destroy(p);
		return -ENODEV;
	}
	*ctx = p;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	mon_destroy(p);
	return -ENODEV;
}

static int mon_setup(void *ctx, const struct boot_entry *b)
{
	struct monitor *p = ctx;
	/* The vCPU process reads it once the run starts. */
	memset(&p->init->cpu, 0, sizeof(p->init->cpu));
	return x86_state_from_boot(&p->init->cpu, b);
}

static void mon_dump_regs(void *ctx, FILE *out)
{
	struct monitor *p = ctx;
	struct x86_cpu c;
	if (!p->have_regs) {
		x86_state_dump(&p->init->cpu, out);
		return;
	}
	/* Numbers only: whatever the vCPU process wrote, this prints it. */
	memset(&c, 0, sizeof(c));
	memcpy(c.r, p->regs.r, sizeof(c.r));
	c.eip = p->regs.eip;
	c.eflags = p->regs.eflags;
	memcpy(c.seg, p->regs.seg, sizeof(c.seg));
	c.tr.sel = p->regs.tr;
	c.ldtr.sel = p->regs.ldtr;
	c.gdtr = p->regs.gdtr;
	c.idtr = p->regs.idtr;
	c.cr0 = p->regs.cr0;
	c.cr2 = p->regs.cr2;
	c.cr3 = p->regs.cr3;
	c.cr4 = p->regs.cr4;
	c.cpl = p->regs.cpl & 3;
	x86_state_dump(&c, out);
}

static int mon_run(void *ctx)
{
	struct monitor *p = ctx;
	struct vm *vm = p->vm;
	struct vcpu_run *run = p->run;
	uint64_t done_by = 0; /* once stopped: how long VCPU_EXIT_DONE may take */
	bool answered = true; /* spin for the next exit only right after an answer or a kick */

	mon_publish_ranges(p);
	vcpu_turn_pass(run, VCPU_TURN_VCPU); /* the answer to READY: go */
	for (;;) {
		bool exited = mon_wait_exit(p, answered ? p->host_spin : 0, POLL_NS);
		answered = false;
		if (p->reaped)
			break;
		if (vm->stopped) {
			/* By the clock, not by turns: a vCPU process that keeps
			 * sending exits must not keep plexvm from ending. */
			uint64_t now = vm_now_ns();
			if (!done_by)
				done_by = now + DONE_NS;
			else if (now >= done_by)
				break; /* no report: the stop stands */
		}
		if (!exited) {
			vm_poll(vm);
			if (vm->stopped) {
				__atomic_store_n(&run->stop_request, 1, __ATOMIC_RELEASE);
				kill(p->pid, SIGALRM);
			} else if (vm_irq_pending(vm)) {
				__atomic_store_n(&run->irq_pending, 1, __ATOMIC_RELEASE);
				kill(p->pid, SIGALRM);
				/* its acknowledgement comes in microseconds: wait
				 * for it spinning, not asleep (a wake-up here costs
				 * 50-250 us) */
				answered = true;
			}
			continue;
		}
		enum vcpu_exit_result r = vcpu_exit_handle(vm, p->area, &p->regs);
		p->have_regs |= r == VCPU_EXIT_REGS || r == VCPU_EXIT_FINISHED;
		if (r == VCPU_EXIT_FINISHED || r == VCPU_EXIT_MALFORMED)
			break;
		vm_poll(vm);
		__atomic_store_n(&run->irq_pending, vm_irq_pending(vm), __ATOMIC_RELEASE);
		__atomic_store_n(&run->stop_request, vm->stopped, __ATOMIC_RELEASE);
		mon_publish_ranges(p);
		vcpu_turn_pass(run, VCPU_TURN_VCPU);
		answered = true;
	}
	mon_child_kill(p);
	return 0;
}

const struct engine_ops engine_monitor = {
	.name = "monitor",
	.create = mon_create,
	.setup = mon_setup,
	.run = mon_run,
	.dump_regs = mon_dump_regs,
	.destroy = mon_destroy,
};
