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
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <asm/prctl.h>

#include "monitor_space.h"
#include "monitor_switch.h"

struct monitor_frame monitor_frame;

void monitor_signal(int sig, siginfo_t *si, void *ucv) __attribute__((visibility("hidden")));

static const int trap_signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE, SIGSYS, SIGALRM };


#define ALT_STACK_SIZE (256 * 1024)
#define HWCAP2_FSGSBASE (1 << 1)
#define HOST_CS 0x33 /* __USER_CS: 64-bit user code */
#define HOST_SS 0x2b /* __USER_DS */
#define CPUID_1_ECX_OSXSAVE (1u << 27)
#define FXSAVE_MXCSR 24           /* offset in the legacy area */
#define MXCSR_DEFAULT 0x1f80      /* all exceptions masked, round to nearest */

_Static_assert(offsetof(struct monitor_frame, host_fsbase) == 64, "monitor_switch.S F_HOST_FSBASE");
_Static_assert(offsetof(struct monitor_frame, guest_xsave) == 72, "monitor_switch.S F_GUEST_XSAVE");
_Static_assert(offsetof(struct monitor_frame, x87_in_area) == 80, "monitor_switch.S F_X87_IN_AREA");
_Static_assert(offsetof(struct monitor_frame, in_guest) == 96, "monitor_switch.S F_IN_GUEST");

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
	bool entering = cs == HOST_CS && rip >= (uintptr_t)monitor_enter_segs &&
	                rip < (uintptr_t)monitor_enter_end;

	if (monitor_frame.in_guest && !entering) {
		/* The guest's trap, wherever it happened: in its own code,
		 * or — after a far jump the scanner missed — in 64-bit code
		 * anywhere, plexvm's included.  The monitor loop sees a CS
		 * that is not the guest's and stops the guest. */
		save_guest(sig, si, g);
		monitor_frame.trap_cs = cs;
		monitor_frame.entry_failed = 0;
		monitor_frame.in_guest = 0;
		redirect_to_exit(g);
		return;
	}
	if (entering) {
		if (rip == (uintptr_t)monitor_enter_iret && sig != SIGALRM) {
			/* The CPU refused the entry state (a descriptor the
			 * mirror got wrong): report instead of dying. */
			save_guest(sig, si, g); /* for the cause; the registers are plexvm's */
			monitor_frame.entry_failed = 1;
			monitor_frame.in_guest = 0;
			redirect_to_exit(g);
			return;
		}
		/* This handler put the host's FS back: redo the loads. */
		g[REG_RIP] = (greg_t)(uintptr_t)monitor_enter_segs;
		return;
	}
	if (sig == SIGALRM)
		return; /* plexvm's kick while the runner's own code ran: the
		         * loop looks at the run page before entering again */
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

/* The guest's XSAVE area (monitor_switch.h says what it holds when).
 * monitor_switch.S moves the SSE registers itself and XSAVEs only the x87
 * component, so the legacy region and the header are all it needs. */
#define XSAVE_AREA_SIZE 4096

static int xsave_init(char *err, size_t errlen)
{
	unsigned a, b, c, d;
	__asm__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
	if (!(c & CPUID_1_ECX_OSXSAVE)) {
		snprintf(err, errlen, "the host kernel does not enable XSAVE");
		return -ENODEV;
	}
	static uint8_t *area; /* one vCPU, one area for the process */
	if (!area) {
		area = mmap(NULL, XSAVE_AREA_SIZE, PROT_READ | PROT_WRITE,
		            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (area == MAP_FAILED) {
			area = NULL;
			snprintf(err, errlen, "cannot allocate the XSAVE area: %s", strerror(errno));
			return -errno;
		}
	}
	/* An all-zero header (XSTATE_BV 0) means the x87's init state; the
	 * XMM registers start at zero, MXCSR at its reset value. */
	memset(area, 0, XSAVE_AREA_SIZE);
	memcpy(area + FXSAVE_MXCSR, &(uint32_t){ MXCSR_DEFAULT }, 4);
	monitor_frame.guest_xsave = (uint64_t)(uintptr_t)area;
	monitor_frame.x87_in_area = 1;
	return 0;
}

int monitor_trap_init(char *err, size_t errlen)
{
	if (!(getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE)) {
		snprintf(err, errlen, "the host kernel does not allow FSGSBASE instructions");
		return -ENODEV;
	}
	int r = xsave_init(err, errlen);
	if (r < 0)
		return r;
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

static void others_mask(sigset_t *set)
{
	sigfillset(set);
	for (size_t i = 0; i < sizeof(trap_signals) / sizeof(trap_signals[0]); i++)
		sigdelset(set, trap_signals[i]);
}

void monitor_signals_block(void)
{
	sigset_t set;
	others_mask(&set);
	sigprocmask(SIG_BLOCK, &set, NULL);
}
