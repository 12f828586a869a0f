/*
 * The timer kick that bounds KVM_RUN, checked without /dev/kvm: the signal
 * must reach this thread when the deadline comes, stay blocked outside
 * KVM_RUN, be drained by kvm_kick_consume(), and leave the thread's mask as
 * it found it.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "engine/kvm_kick.h"

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool blocked(int signo)
{
	sigset_t cur;
	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	return sigismember(&cur, signo);
}

static bool pending(int signo)
{
	sigset_t p;
	sigpending(&p);
	return sigismember(&p, signo);
}

/* Waits up to @ms for the kick signal; returns the nanoseconds it took or
 * UINT64_MAX. */
static uint64_t wait_kick(struct kvm_kick *k, unsigned ms)
{
	uint64_t t0 = now_ns();
	for (;;) {
		if (pending(k->signo)) {
			uint64_t dt = now_ns() - t0;
			assert_true(kvm_kick_consume(k));
			return dt;
		}
		if (now_ns() - t0 > ms * 1000000ull)
			return UINT64_MAX;
		struct timespec nap = { 0, 100000 };
		nanosleep(&nap, NULL);
	}
}

static void test_blocked_outside_run(void **state)
{
	struct kvm_kick k;
	int signo = SIGRTMIN;
	assert_false(blocked(signo));
	assert_int_equal(kvm_kick_init(&k), 0);
	assert_int_equal(k.signo, signo);
	assert_true(blocked(signo));
	assert_false(sigismember(&k.run_mask, signo)); /* open inside KVM_RUN */
	kvm_kick_destroy(&k);
	assert_false(blocked(signo));
}

static void test_fires_at_deadline(void **state)
{
	struct kvm_kick k;
	assert_int_equal(kvm_kick_init(&k), 0);
	uint64_t t = now_ns();
	assert_int_equal(kvm_kick_arm(&k, t + 20000000, t), 0); /* 20 ms */
	assert_false(pending(k.signo));
	uint64_t dt = wait_kick(&k, 1000);
	assert_true(dt != UINT64_MAX);
	assert_true(dt >= 15000000); /* not long before the deadline */
	/* Drained: a later KVM_RUN would not return -EINTR at once. */
	assert_false(pending(k.signo));
	assert_false(kvm_kick_consume(&k));
	kvm_kick_destroy(&k);
}

/* Inside KVM_RUN the kernel swaps in run_mask as ppoll() does: the signal
 * then interrupts the wait (-EINTR, no SA_RESTART) and the handler runs. */
static void test_interrupts_wait_with_run_mask(void **state)
{
	struct kvm_kick k;
	assert_int_equal(kvm_kick_init(&k), 0);
	uint64_t t = now_ns();
	assert_int_equal(kvm_kick_arm(&k, t + 10000000, t), 0);
	struct timespec two_s = { 2, 0 };
	int r = ppoll(NULL, 0, &two_s, &k.run_mask);
	assert_int_equal(r, -1);
	assert_int_equal(errno, EINTR);
	assert_true(now_ns() - t < 1000000000ull);
	assert_false(pending(k.signo)); /* delivered to the no-op handler */
	kvm_kick_destroy(&k);
}

/* A deadline already past fires at once (the VM is late for a tick). */
static void test_past_deadline_fires_now(void **state)
{
	struct kvm_kick k;
	assert_int_equal(kvm_kick_init(&k), 0);
	uint64_t t = now_ns();
	assert_int_equal(kvm_kick_arm(&k, t - 1000000, t), 0);
	assert_true(wait_kick(&k, 100) != UINT64_MAX);
	kvm_kick_destroy(&k);
}

/* With no deadline KVM_RUN still returns every ~10 ms for input. */
static void test_idle_fallback(void **state)
{
	struct kvm_kick k;
	assert_int_equal(kvm_kick_init(&k), 0);
	uint64_t t = now_ns();
	assert_int_equal(kvm_kick_arm(&k, UINT64_MAX, t), 0);
	assert_int_equal(k.armed_ns, t + KVM_KICK_IDLE_NS);
	/* Re-arming while idle keeps the earlier expiry. */
	assert_int_equal(kvm_kick_arm(&k, UINT64_MAX, t + 1000000), 0);
	assert_int_equal(k.armed_ns, t + KVM_KICK_IDLE_NS);
	uint64_t dt = wait_kick(&k, 1000);
	assert_true(dt != UINT64_MAX);
	assert_true(dt < 500000000ull);
	kvm_kick_destroy(&k);
}

/* A later deadline replaces an earlier one that has not fired. */
static void test_rearm_moves_deadline(void **state)
{
	struct kvm_kick k;
	assert_int_equal(kvm_kick_init(&k), 0);
	uint64_t t = now_ns();
	assert_int_equal(kvm_kick_arm(&k, t + 5000000, t), 0);
	assert_int_equal(kvm_kick_arm(&k, t + 60000000, t), 0);
	uint64_t dt = wait_kick(&k, 1000);
	assert_true(dt != UINT64_MAX);
	assert_true(dt >= 50000000);
	kvm_kick_destroy(&k);
}

/* destroy() drops a signal that fired after the run loop ended. */
static void test_destroy_drops_pending(void **state)
{
	struct kvm_kick k;
	assert_int_equal(kvm_kick_init(&k), 0);
	uint64_t t = now_ns();
	assert_int_equal(kvm_kick_arm(&k, t, t), 0);
	for (int i = 0; i < 1000 && !pending(k.signo); i++) {
		struct timespec nap = { 0, 100000 };
		nanosleep(&nap, NULL);
	}
	assert_true(pending(k.signo));
	kvm_kick_destroy(&k); /* would run the handler if it unblocked first */
	assert_false(pending(k.signo));
	assert_false(blocked(k.signo));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blocked_outside_run),
		cmocka_unit_test(test_fires_at_deadline),
		cmocka_unit_test(test_interrupts_wait_with_run_mask),
		cmocka_unit_test(test_past_deadline_fires_now),
		cmocka_unit_test(test_idle_fallback),
		cmocka_unit_test(test_rearm_moves_deadline),
		cmocka_unit_test(test_destroy_drops_pending),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
