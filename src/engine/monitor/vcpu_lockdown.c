/*
 * The vCPU process's lockdown; see vcpu_lockdown.h.
 *
 * The seccomp filter, in classic BPF (libseccomp cannot test the
 * instruction pointer):
 *   - a call with the i386 ABI (int $0x80, SYSENTER, compat SYSCALL) is the
 *     guest's: SIGSYS, which the monitor emulates as the guest's own
 *     instruction;
 *   - a call from below 4 GiB is guest code's (the runner lives above):
 *     SIGSYS, and the monitor sees a host code segment and stops the guest;
 *   - from anywhere else, only what the runner needs, each harmless to a
 *     guest that calls it itself: futex WAIT/WAKE on the run page's turn
 *     (it can only wake plexvm, which checks the turn), rt_sigreturn,
 *     rt_sigprocmask, rt_sigaction, exit, exit_group (its own signals and
 *     end), modify_ldt writes (func 1 or 0x11: DPL-3 segments, no more than the GDT's 0x23
 *     and 0x33 give), mmap of guest RAM, of the scanned copies or
 *     anonymous memory, mprotect, munmap, mremap, madvise and brk (its own
 *     memory; it has no other file to map);
 *   - anything else, x32 calls included: the process is killed, and
 *     plexvm reports the guest as crashed.
 */
#include "vcpu_lockdown.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <grp.h>
#include <unistd.h>

#include "vcpu_run.h"

#define X32_SYSCALL_BIT 0x40000000u
#define NOBODY 65534
#define MODIFY_LDT_WRITE 1
#define MODIFY_LDT_WRITE_NEW 0x11
#define USER_DESC_SIZE 16

/* plexvm run as root (a CI job, a test) would leave the vCPU process
 * owning root's files and processes: it becomes nobody first. */
static int drop_root(void)
{
	if (geteuid() != 0)
		return 0;
	if (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
	    setresuid(NOBODY, NOBODY, NOBODY) < 0)
		return -errno;
	return 0;
}

int vcpu_lockdown_early(int parent, char *err, size_t errlen)
{
	setsid();
	int r = drop_root();
	if (r < 0) {
		snprintf(err, errlen, "cannot drop root in the vCPU process: %s", strerror(-r));
		return r;
	}
	/* Best effort: a host without unprivileged user namespaces still
	 * has the filter and the holdings as the boundary.  No network
	 * namespace: making one costs 0.5-1 ms of start-up here (the rest
	 * together 0.1 ms), and the process has no socket and can make
	 * none. */
	unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP);
	/* After unshare(), which clears it (a change of credentials). */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent) {
		snprintf(err, errlen, "plexvm went away before the vCPU process started");
		return -ESRCH;
	}
	return 0;
}

/* The kernel's [vdso] and [vvar*] mappings: a guest in 64-bit mode would
 * find system call instructions there. */
static void unmap_vdso(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		return;
	char line[256];
	unsigned long ranges[8][2];
	int n = 0;
	while (n < 8 && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		if ((strstr(line, "[vdso]") || strstr(line, "[vvar")) &&
		    sscanf(line, "%lx-%lx", &lo, &hi) == 2) {
			ranges[n][0] = lo;
			ranges[n][1] = hi;
			n++;
		}
	}
	fclose(f);
	for (int i = 0; i < n; i++)
		munmap((void *)ranges[i][0], ranges[i][1] - ranges[i][0]);
}

static int set_limits(void)
{
	static const int zero[] = { RLIMIT_NOFILE, RLIMIT_NPROC, RLIMIT_CORE, RLIMIT_FSIZE };
	for (size_t i = 0; i < sizeof(zero) / sizeof(zero[0]); i++) {
		struct rlimit rl = { 0, 0 };
		if (setrlimit(zero[i], &rl) < 0)
			return -errno;
	}
	return 0;
}

#define LD_ARG_LO(n) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[n]))
#define LD_ARG_HI(n) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[n]) + 4)
#define ALLOW BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)
#define KILL BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS)
#define TRAP BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP)
/* if (A == v) skip @t instructions else skip @f */
#define IF_EQ(v, t, f) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (v), (t), (f))

int vcpu_lockdown_filter(const uint32_t *futex_word, int code_fd)
{
	uint64_t fw = (uint64_t)(uintptr_t)futex_word;
	struct sock_filter prog[] = {
		/* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		IF_EQ(AUDIT_ARCH_X86_64, 1, 0),
		TRAP,
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		         offsetof(struct seccomp_data, instruction_pointer) + 4),
		IF_EQ(0, 0, 1),
		TRAP,
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1),
		KILL,
		/* calls allowed with any arguments */
		IF_EQ(SYS_rt_sigreturn, 9, 0),
		IF_EQ(SYS_rt_sigprocmask, 8, 0),
		IF_EQ(SYS_rt_sigaction, 7, 0),
		IF_EQ(SYS_exit, 6, 0),
		IF_EQ(SYS_exit_group, 5, 0),
		IF_EQ(SYS_mprotect, 4, 0),
		IF_EQ(SYS_munmap, 3, 0),
		IF_EQ(SYS_mremap, 2, 0),
		IF_EQ(SYS_madvise, 1, 0),
		IF_EQ(SYS_brk, 0, 1),
		ALLOW,
		/* futex(turn, WAIT or WAKE, ...) */
		IF_EQ(SYS_futex, 0, 10),
		LD_ARG_LO(0),
		IF_EQ((uint32_t)fw, 0, 7),
		LD_ARG_HI(0),
		IF_EQ((uint32_t)(fw >> 32), 0, 5),
		LD_ARG_LO(1),
		IF_EQ(FUTEX_WAIT, 2, 0),
		IF_EQ(FUTEX_WAKE, 1, 0),
		KILL,
		ALLOW,
		KILL,
		/* modify_ldt(1 or 0x11, ptr, 16) */
		IF_EQ(SYS_modify_ldt, 0, 7),
		LD_ARG_LO(0),
		IF_EQ(MODIFY_LDT_WRITE, 1, 0),
		IF_EQ(MODIFY_LDT_WRITE_NEW, 0, 3),
		LD_ARG_LO(2),
		IF_EQ(USER_DESC_SIZE, 0, 1),
		ALLOW,
		KILL,
		/* mmap(..., fd) with fd guest RAM, the copies or none */
		IF_EQ(SYS_mmap, 0, 6),
		LD_ARG_LO(4),
		IF_EQ(VCPU_FD_RAM, 3, 0),
		IF_EQ((uint32_t)code_fd, 2, 0),
		IF_EQ(0xffffffffu, 1, 0),
		KILL,
		ALLOW,
		KILL,
	};
	struct sock_fprog fprog = { .len = sizeof(prog) / sizeof(prog[0]), .filter = prog };
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) < 0)
		return -errno;
	return 0;
}

int vcpu_lockdown(const uint32_t *futex_word, int code_fd, char *err, size_t errlen)
{
	unmap_vdso();
	int r = set_limits();
	if (r < 0) {
		snprintf(err, errlen, "cannot set the vCPU process's limits: %s", strerror(-r));
		return r;
	}
	if (prctl(PR_SET_DUMPABLE, 0) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot make the vCPU process undumpable: %s", strerror(-r));
		return r;
	}
	r = vcpu_lockdown_filter(futex_word, code_fd);
	if (r < 0)
		snprintf(err, errlen, "cannot install the vCPU process's seccomp filter: %s",
		         strerror(-r));
	return r;
}
