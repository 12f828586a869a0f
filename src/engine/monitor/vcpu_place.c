/*
 * Which CPUs plexvm and its vCPU process run on; see vcpu_place.h.
 *
 * The two hand every device access back and forth over the run page, and
 * the side that waits spins a while before it sleeps (vcpu_futex.h).  On
 * two CPUs an exchange takes ~0.3 µs.  On one CPU the spinning side holds
 * the CPU the other needs, and each exchange costs the waiter's whole spin
 * (19 or 190 µs) or a time slice.  Linux's wake-up placement likes to put
 * a woken process on its waker's CPU, so left alone the pair ends up
 * sharing one now and then: in a Linux boot every exchange made while
 * they shared a CPU took over 20 µs (3539 of 96000, a quarter of a
 * second).  Hence disjoint sets of the CPUs plexvm may use.
 */
#include "vcpu_place.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

int vcpu_place_cpus(void)
{
	cpu_set_t allowed;
	if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0)
		return 1;
	return CPU_COUNT(&allowed);
}

int vcpu_place(pid_t vcpu, char *why, size_t len)
{
	cpu_set_t allowed, host, guest;
	if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0) {
		snprintf(why, len, "cannot read plexvm's CPU affinity: %s", strerror(errno));
		return -errno;
	}
	int n = CPU_COUNT(&allowed);
	if (n < 2)
		return n;
	/* plexvm stays on the CPU it runs on (it mostly waits), the vCPU
	 * process gets every other one: two plexvms started side by side
	 * then tend to sit on different CPUs, where fixed halves would put
	 * both vCPU processes on the same ones. */
	int here = sched_getcpu();
	if (here < 0 || !CPU_ISSET(here, &allowed))
		for (here = 0; !CPU_ISSET(here, &allowed); here++)
			;
	CPU_ZERO(&host);
	CPU_SET(here, &host);
	guest = allowed;
	CPU_CLR(here, &guest);
	if (sched_setaffinity(vcpu, sizeof(guest), &guest) < 0 ||
	    sched_setaffinity(0, sizeof(host), &host) < 0) {
		snprintf(why, len, "cannot keep plexvm and the vCPU process on separate CPUs: %s",
		         strerror(errno));
		return -errno;
	}
	return n;
}
