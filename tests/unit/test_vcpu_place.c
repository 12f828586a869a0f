/*
 * Keeping plexvm and its vCPU process on separate CPUs (vcpu_place.c):
 * plexvm keeps one of the CPUs it may use, the vCPU process gets all the
 * others; with a single CPU nothing changes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/monitor/vcpu_place.h"

static pid_t idle_child(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		pause();
		_exit(0);
	}
	assert_true(pid > 0);
	return pid;
}

static void end_child(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void test_disjoint_sets_cover_all(void **state)
{
	cpu_set_t before, mine, theirs, both;
	assert_int_equal(sched_getaffinity(0, sizeof(before), &before), 0);
	if (CPU_COUNT(&before) < 2)
		skip(); /* one CPU: nothing to split */
	pid_t child = idle_child();
	char why[120];
	int n = vcpu_place(child, why, sizeof(why));
	assert_int_equal(sched_getaffinity(0, sizeof(mine), &mine), 0);
	assert_int_equal(sched_getaffinity(child, sizeof(theirs), &theirs), 0);
	end_child(child);
	sched_setaffinity(0, sizeof(before), &before);

	assert_int_equal(n, CPU_COUNT(&before));
	CPU_AND(&both, &mine, &theirs);
	assert_int_equal(CPU_COUNT(&both), 0);
	CPU_OR(&both, &mine, &theirs);
	assert_true(CPU_EQUAL(&both, &before));
	assert_int_equal(CPU_COUNT(&mine), 1); /* plexvm mostly waits */
	assert_int_equal(CPU_COUNT(&theirs), n - 1);
}

static void test_one_cpu_is_left_alone(void **state)
{
	cpu_set_t before, one, theirs;
	assert_int_equal(sched_getaffinity(0, sizeof(before), &before), 0);
	CPU_ZERO(&one);
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &before)) {
			CPU_SET(cpu, &one);
			break;
		}
	assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
	pid_t child = idle_child();
	char why[120];
	int n = vcpu_place(child, why, sizeof(why));
	int cpus = vcpu_place_cpus();
	assert_int_equal(sched_getaffinity(child, sizeof(theirs), &theirs), 0);
	end_child(child);
	sched_setaffinity(0, sizeof(before), &before);

	assert_int_equal(n, 1);
	assert_int_equal(cpus, 1);
	assert_true(CPU_EQUAL(&theirs, &one));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disjoint_sets_cover_all),
		cmocka_unit_test(test_one_cpu_is_left_alone),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
