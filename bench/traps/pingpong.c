/* The other floor of the monitor engine since guest code runs in its own
 * vCPU process: one exchange with plexvm, as a port access that crosses
 * makes it.  Two processes pass the turn of a shared struct vcpu_run back
 * and forth with plexvm's own code (src/engine/monitor/vcpu_futex.h: a short spin,
 * then futex wait/wake).  Prints nanoseconds per round trip. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/monitor/vcpu_futex.h"

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	struct vcpu_run *run =
	        mmap(NULL, sizeof(*run), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (run == MAP_FAILED)
		return 1;
	run->turn = VCPU_TURN_VCPU;
	pid_t pid = fork();
	if (pid == 0) { /* the vCPU side: post, wait for the answer */
		for (long i = 0; i < n; i++) {
			vcpu_turn_pass(run, VCPU_TURN_HOST);
			while (!vcpu_turn_wait(run, VCPU_TURN_VCPU, VCPU_SPIN_CYCLES, 0))
				;
		}
		_exit(0);
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++) { /* plexvm's side: wait, answer */
		while (!vcpu_turn_wait(run, VCPU_TURN_HOST, VCPU_HOST_SPIN_CYCLES, 1000000))
			;
		vcpu_turn_pass(run, VCPU_TURN_VCPU);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	waitpid(pid, NULL, 0);
	double ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
	printf("%.0f\n", ns / n);
	return 0;
}
