#define _GNU_SOURCE
/* The physical floor of a trap-and-emulate VMM built on signals: one
 * SIGSEGV round trip on this host (CLI at ring 3 raises #GP, as a guest's
 * privileged instructions do under the monitor; the handler steps over it).
 * Prints nanoseconds per round trip. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <ucontext.h>

static void skip_cli(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	uc->uc_mcontext.gregs[REG_RIP] += 1;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	struct sigaction sa = { .sa_sigaction = skip_cli, .sa_flags = SA_SIGINFO };
	sigaction(SIGSEGV, &sa, NULL);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++)
		__asm__ volatile("cli");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
	printf("%.0f\n", ns / n);
	return 0;
}
