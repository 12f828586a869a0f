/*
 * Signal plumbing for the monitor engine; see monitor_trap.h.
 *
 * Every signal the monitor takes goes to monitor_signal_entry (assembly,
 * restores the host's FS/GS) and then monitor_signal() below, which runs on
 * an alternate stack above 4 GiB.  If the signal interrupted guest code
 * (its CS is an LDT selector), the handler copies the guest registers into
 * monitor_frame and rewrites the return context so that the kernel's
 * sigreturn lands in monitor_exit on plexvm's stack.  Nothing else happens in
 * signal context: the monitor loop does the work.
 */
#include "monitor_trap.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <ucontext.h>
#include <unistd.h>

#include <asm/prctl.h>

#include "monitor_space.h"
#include "monitor_switch.h"

struct monitor_frame monitor_frame;

void monitor_signal(int sig, siginfo_t *si, void *ucv) __attribute__((visibility("hidden")));

static const int trap_signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE, SIGSYS, SIGALRM };

/* Set by a tick that found plexvm's own code running; see
 * monitor_signals_tick(). */
static volatile sig_atomic_t tick_in_host;

#define ALT_STACK_SIZE (256 * 1024)
#define HWCAP2_FSGSBASE (1 << 1)
#define HOST_CS 0x33 /* __USER_CS: 64-bit user code */
#define HOST_SS 0x2b /* __USER_DS */

static void redirect_to_exit(greg_t *g)
{
	g[REG_RIP] = (greg_t)(uintptr_t)monitor_exit;
	g[REG_RSP] = (greg_t)monitor_frame.host_rsp;
	/* CS, GS, FS, SS packed as glibc lays out REG_CSGSFS; the kernel
	 * restores CS and SS from it. */
	g[REG_CSGSFS] = HOST_CS | ((greg_t)HOST_SS << 48);
	g[REG_EFL] = 0x202; /* the ABI wants DF clear; AC must be clear */
}

static void save_guest(int sig, const siginfo_t *si, const greg_t *g)
{
	struct monitor_frame *f = &monitor_frame;
	f->r[0] = (uint32_t)g[REG_RAX];
	f->r[1] = (uint32_t)g[REG_RCX];
	f->r[2] = (uint32_t)g[REG_RDX];
	f->r[3] = (uint32_t)g[REG_RBX];
	f->r[4] = (uint32_t)g[REG_RSP];
	f->r[5] = (uint32_t)g[REG_RBP];
	f->r[6] = (uint32_t)g[REG_RSI];
	f->r[7] = (uint32_t)g[REG_RDI];
	f->eip = (uint32_t)g[REG_RIP];
	f->eflags = (uint32_t)g[REG_EFL];
	f->signo = sig;
	f->si_code = si->si_code;
	f->trapno = (int)g[REG_TRAPNO];
	f->err = (int)g[REG_ERR];
	f->fault_addr = (uint32_t)(uintptr_t)si->si_addr;
	/* Seccomp skipped the call but left -ENOSYS in EAX; the number the
	 * guest had there is the call number. */
	f->syscall_nr = sig == SIGSYS ? si->si_syscall : 0;
}

void monitor_signal(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	greg_t *g = uc->uc_mcontext.gregs;
	uint16_t cs = (uint16_t)g[REG_CSGSFS];
	uintptr_t rip = (uintptr_t)g[REG_RIP];

	/* Guest code: plexvm's own runs in 64-bit mode above 4 GiB.  (Guest
	 * code that got into 64-bit mode through a far jump the scanner
	 * missed is still below 4 GiB; the monitor stops it.) */
	if (cs != HOST_CS || rip < MONITOR_SPACE_END) {
		save_guest(sig, si, g);
		monitor_frame.trap_cs = cs;
		monitor_frame.entry_failed = 0;
		redirect_to_exit(g);
		return;
	}
	if (rip >= (uintptr_t)monitor_enter_segs && rip < (uintptr_t)monitor_enter_end) {
		if (rip == (uintptr_t)monitor_enter_iret && sig != SIGALRM) {
			/* The CPU refused the entry state (a descriptor the
			 * mirror got wrong): report instead of dying. */
			save_guest(sig, si, g); /* for the cause; the registers are plexvm's */
			monitor_frame.entry_failed = 1;
			redirect_to_exit(g);
			return;
		}
		/* This handler put the host's FS back: redo the loads. */
		g[REG_RIP] = (greg_t)(uintptr_t)monitor_enter_segs;
		return;
	}
	if (sig == SIGALRM) {
		/* A tick while plexvm's own code ran (the core, a device):
		 * no guest to stop, but the loop owes SIGTERM its moment. */
		tick_in_host = 1;
		return;
	}
	/* A fault in plexvm's own code: a bug.  Say so, then let the signal
	 * kill the process as it would have, with a core dump. */
	static const char msg[] = "plexvm: internal error: a fault in plexvm's own code "
	                          "(not the guest's); please report it\n";
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
		/* nothing more to do */
	}
	signal(sig, SIG_DFL);
}

enum monitor_exit_kind monitor_exit_kind(void)
{
	const struct monitor_frame *f = &monitor_frame;
	switch (f->signo) {
	case SIGALRM: return MONITOR_EXIT_TICK;
	case SIGSYS: return MONITOR_EXIT_SYSCALL;
	case SIGTRAP: return f->trapno == 3 ? MONITOR_EXIT_INT3 : MONITOR_EXIT_FAULT;
	default: return MONITOR_EXIT_FAULT;
	}
}

int monitor_trap_handlers(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = (void (*)(int, siginfo_t *, void *))monitor_signal_entry;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigfillset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(trap_signals) / sizeof(trap_signals[0]); i++)
		if (sigaction(trap_signals[i], &sa, NULL) < 0)
			return -errno;
	return 0;
}

int monitor_trap_init(char *err, size_t errlen)
{
	if (!(getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE)) {
		snprintf(err, errlen, "the host kernel does not allow FSGSBASE instructions");
		return -ENODEV;
	}
	unsigned long fsbase;
	if (syscall(SYS_arch_prctl, ARCH_GET_FS, &fsbase) < 0)
		goto fail;
	monitor_frame.host_fsbase = fsbase;

	/* mmap with no hint places the stack high, out of the guest's 4 GiB. */
	void *stack = mmap(NULL, ALT_STACK_SIZE, PROT_READ | PROT_WRITE,
	                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (stack == MAP_FAILED)
		goto fail;
	stack_t ss = { .ss_sp = stack, .ss_size = ALT_STACK_SIZE };
	if (sigaltstack(&ss, NULL) < 0)
		goto fail;

	if (monitor_trap_handlers() < 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "cannot set up signal handling: %s", strerror(errno));
	return -errno;
}

/*
 * The filter, in classic BPF because libseccomp cannot test the
 * instruction pointer: a call made from below 4 GiB is guest code's by
 * construction (plexvm lives above), whatever ABI it used; a call with any
 * ABI but x86-64's is never plexvm's.  Both become SIGSYS.
 */
int monitor_seccomp_install(char *err, size_t errlen)
{
	struct sock_filter prog[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		         offsetof(struct seccomp_data, instruction_pointer) + 4),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog fprog = { .len = sizeof(prog) / sizeof(prog[0]), .filter = prog };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) < 0) {
		snprintf(err, errlen, "cannot install the seccomp filter: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

int monitor_timer_start(void)
{
	struct itimerval it = { { 0, 1000 }, { 0, 1000 } };
	return setitimer(ITIMER_REAL, &it, NULL) < 0 ? -errno : 0;
}

void monitor_timer_stop(void)
{
	struct itimerval it = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &it, NULL);
}

static void others_mask(sigset_t *set)
{
	sigfillset(set);
	for (size_t i = 0; i < sizeof(trap_signals) / sizeof(trap_signals[0]); i++)
		sigdelset(set, trap_signals[i]);
}

void monitor_signals_allow(void)
{
	sigset_t set;
	others_mask(&set);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
}

void monitor_signals_block(void)
{
	sigset_t set;
	others_mask(&set);
	sigprocmask(SIG_BLOCK, &set, NULL);
}

void monitor_signals_tick(void)
{
	if (!tick_in_host)
		return;
	tick_in_host = 0;
	monitor_signals_allow();
	monitor_signals_block();
}
