/* The vCPU process's seccomp filter (vcpu_lockdown.c): each call a guest in
 * 64-bit mode could make from the runner's code either works or kills the
 * process, never reaches the host.  Each case forks a child that installs
 * the filter and makes one call; the child must exit 0 (allowed) or be
 * killed by SIGSYS (forbidden). */
#include <asm/ldt.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/monitor/vcpu_lockdown.h"
#include "engine/monitor/vcpu_run.h"

static uint32_t word, other_word;
#define CODE_FD 7

enum outcome { ALLOWED, KILLED };

/* Forks, installs the filter in the child, runs @call there. */
static enum outcome try_call(long (*call)(void))
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (syscall(SYS_prctl, 38 /* PR_SET_NO_NEW_PRIVS */, 1, 0, 0, 0) < 0 ||
		    vcpu_lockdown_filter(&word, CODE_FD) < 0)
			syscall(SYS_exit_group, 99);
		call();
		syscall(SYS_exit_group, 0);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (WIFSIGNALED(st)) {
		assert_int_equal(WTERMSIG(st), SIGSYS);
		return KILLED;
	}
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	return ALLOWED;
}

static long futex_wake_turn(void)
{
	return syscall(SYS_futex, &word, FUTEX_WAKE, 1, NULL, NULL, 0);
}
static long futex_wake_other(void)
{
	return syscall(SYS_futex, &other_word, FUTEX_WAKE, 1, NULL, NULL, 0);
}
static long futex_wake_private(void)
{
	return syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
static long futex_requeue(void)
{
	return syscall(SYS_futex, &word, FUTEX_REQUEUE, 1, 1, &other_word, 0);
}
static long call_getpid(void)
{
	return syscall(SYS_getpid);
}
static long call_getppid(void)
{
	return syscall(SYS_getppid);
}
static long call_write(void)
{
	return syscall(SYS_write, 2, "leak\n", 5);
}
static long call_openat(void)
{
	return syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY);
}
static long call_execve(void)
{
	char *argv[] = { "/bin/true", NULL };
	return syscall(SYS_execve, "/bin/true", argv, NULL);
}
static long call_kill_parent(void)
{
	return syscall(SYS_kill, 1, 0);
}
static long call_fork(void)
{
	return syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
}
static long call_x32_getpid(void)
{
	return syscall(SYS_getpid | 0x40000000);
}
static long call_ptrace(void)
{
	return syscall(SYS_ptrace, 0, 0, 0, 0);
}
static long call_socket(void)
{
	return syscall(SYS_socket, 2, 1, 0);
}
static long mmap_anon(void)
{
	return syscall(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
	               0);
}
static long mmap_ram(void)
{
	return syscall(SYS_mmap, 0, 4096, PROT_READ, MAP_SHARED, VCPU_FD_RAM, 0);
}
static long mmap_other_fd(void)
{
	return syscall(SYS_mmap, 0, 4096, PROT_READ, MAP_SHARED, 9, 0);
}
static long ldt_write(void)
{
	struct user_desc d = {
		.entry_number = 0, .limit = 0xfffff, .seg_32bit = 1, .limit_in_pages = 1
	};
	return syscall(SYS_modify_ldt, 0x11, &d, sizeof(d));
}
static long ldt_read(void)
{
	static char buf[64];
	return syscall(SYS_modify_ldt, 0, buf, sizeof(buf));
}
static long sigprocmask_all(void)
{
	uint64_t set = ~0ull;
	return syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, NULL, 8);
}

static void test_runner_calls_allowed(void **state)
{
	assert_int_equal(try_call(futex_wake_turn), ALLOWED);
	assert_int_equal(try_call(mmap_anon), ALLOWED);
	assert_int_equal(try_call(mmap_ram), ALLOWED);
	assert_int_equal(try_call(ldt_write), ALLOWED);
	assert_int_equal(try_call(sigprocmask_all), ALLOWED);
}

static void test_futex_only_on_the_turn(void **state)
{
	assert_int_equal(try_call(futex_wake_other), KILLED);
	assert_int_equal(try_call(futex_wake_private), KILLED);
	assert_int_equal(try_call(futex_requeue), KILLED);
}

static void test_host_calls_kill(void **state)
{
	assert_int_equal(try_call(call_getpid), KILLED);
	assert_int_equal(try_call(call_getppid), KILLED);
	assert_int_equal(try_call(call_write), KILLED);
	assert_int_equal(try_call(call_openat), KILLED);
	assert_int_equal(try_call(call_execve), KILLED);
	assert_int_equal(try_call(call_kill_parent), KILLED);
	assert_int_equal(try_call(call_fork), KILLED);
	assert_int_equal(try_call(call_x32_getpid), KILLED);
	assert_int_equal(try_call(call_ptrace), KILLED);
	assert_int_equal(try_call(call_socket), KILLED);
}

static void test_mmap_and_ldt_arguments(void **state)
{
	assert_int_equal(try_call(mmap_other_fd), KILLED);
	assert_int_equal(try_call(ldt_read), KILLED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runner_calls_allowed),
		cmocka_unit_test(test_futex_only_on_the_turn),
		cmocka_unit_test(test_host_calls_kill),
		cmocka_unit_test(test_mmap_and_ldt_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
