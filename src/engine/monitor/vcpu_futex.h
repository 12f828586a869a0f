/*
 * Waiting for and passing the turn in a struct vcpu_run, for both sides.
 * A waiter spins a little first: a port access answered by plexvm takes a
 * few microseconds, less than two futex sleeps and wake-ups.
 */
#ifndef PLEXVM_VCPU_FUTEX_H
#define PLEXVM_VCPU_FUTEX_H

#include <linux/futex.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "vcpu_run.h"

/* How long a waiter spins before it sleeps, in TSC cycles: counted in
 * cycles, not PAUSEs, which take from a few ns to over 100 (seen here),
 * and not with clock_gettime(), which the vCPU process cannot call (no
 * vDSO).  A futex sleep and wake-up costs tens of microseconds here (the
 * sleeper's CPU idles and must be woken), a hand-over between spinning
 * sides a few hundred nanoseconds.
 *
 * The vCPU process waits for plexvm's answer to one exit: ~20 us (gVisor's
 * figure too) covers a device's work.  plexvm waits for the next exit while
 * guest code runs, which may take long: it spins ~200 us after each answer,
 * once, so that a guest doing port I/O every few microseconds (a console
 * write, a disk poll) never finds it asleep -- bench/traps measured a
 * quarter to half of a crossing's cost in those wake-ups with 20 us -- and
 * then sleeps, leaving the CPU to others while the guest computes. */
#define VCPU_SPIN_CYCLES 50000
#define VCPU_HOST_SPIN_CYCLES 500000

static inline uint32_t vcpu_turn_load(const struct vcpu_run *run)
{
	return __atomic_load_n(&run->turn, __ATOMIC_ACQUIRE);
}

/* Hands the turn over, and wakes the other side if it sleeps: a side
 * that spins sees the turn without a system call.  (Both sides' accesses
 * to @turn and @sleepers are sequentially consistent: either the waiter
 * sees the new turn and does not sleep, or the passer sees it counted.
 * The vCPU process may lie in @sleepers; plexvm never waits unbounded.) */
static inline void vcpu_turn_pass(struct vcpu_run *run, uint32_t to)
{
	__atomic_store_n(&run->turn, to, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&run->sleepers, __ATOMIC_SEQ_CST))
		syscall(SYS_futex, &run->turn, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/* Waits until the turn is @want: spins for @spin_cycles, then sleeps at
 * most @timeout_ns (0: for ever).  Returns true if it is. */
static inline bool vcpu_turn_wait(struct vcpu_run *run, uint32_t want, uint64_t spin_cycles,
                                  uint64_t timeout_ns)
{
	uint64_t start = __builtin_ia32_rdtsc();
	do {
		if (vcpu_turn_load(run) == want)
			return true;
		__builtin_ia32_pause();
	} while (__builtin_ia32_rdtsc() - start < spin_cycles);
	struct timespec ts = { (time_t)(timeout_ns / 1000000000u),
		               (long)(timeout_ns % 1000000000u) };
	__atomic_add_fetch(&run->sleepers, 1, __ATOMIC_SEQ_CST);
	uint32_t seen = __atomic_load_n(&run->turn, __ATOMIC_SEQ_CST);
	if (seen != want)
		syscall(SYS_futex, &run->turn, FUTEX_WAIT, seen, timeout_ns ? &ts : NULL, NULL, 0);
	__atomic_sub_fetch(&run->sleepers, 1, __ATOMIC_SEQ_CST);
	return vcpu_turn_load(run) == want;
}

#endif
