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

/* Spins before sleeping, in TSC cycles (~20 us, gVisor's figure too): a
 * round trip takes ~2 us when both sides are on a CPU, a futex sleep and
 * wake-up tens.  Counted in cycles, not
 * PAUSEs, which take from a few ns to over 100 (seen here), and not with
 * clock_gettime(), which the vCPU process cannot call (no vDSO). */
#define VCPU_SPIN_CYCLES 50000

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

/* Waits until the turn is @want, at most @timeout_ns (0: for ever).
 * Returns true if it is. */
static inline bool vcpu_turn_wait(struct vcpu_run *run, uint32_t want, uint64_t timeout_ns)
{
	uint64_t start = __builtin_ia32_rdtsc();
	do {
		if (vcpu_turn_load(run) == want)
			return true;
		__builtin_ia32_pause();
	} while (__builtin_ia32_rdtsc() - start < VCPU_SPIN_CYCLES);
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
