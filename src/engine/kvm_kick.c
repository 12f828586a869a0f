/*
 * Timer kick for KVM_RUN (see kvm_kick.h): the pattern QEMU and kvmtool use,
 * a signal unblocked only inside KVM_RUN so that it races with nothing.
 */
#include "kvm_kick.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static void kvm_kick_handler(int sig)
{
	/* Only there so that the signal interrupts KVM_RUN (-EINTR) instead
	 * of being ignored or killing plexvm. */
}

int kvm_kick_init(struct kvm_kick *k)
{
	memset(k, 0, sizeof(*k));
	k->signo = SIGRTMIN;

	/* No SA_RESTART: KVM_RUN must return -EINTR, not be restarted. */
	struct sigaction sa = { .sa_handler = kvm_kick_handler };
	sigemptyset(&sa.sa_mask);
	if (sigaction(k->signo, &sa, NULL) < 0)
		return -errno;

	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, k->signo);
	int r = pthread_sigmask(SIG_BLOCK, &block, &k->saved_mask);
	if (r)
		return -r;
	k->mask_saved = true;
	k->run_mask = k->saved_mask;
	sigdelset(&k->run_mask, k->signo);

	struct sigevent sev = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = k->signo };
	sev._sigev_un._tid = gettid();
	if (timer_create(CLOCK_MONOTONIC, &sev, &k->timer) < 0)
		return -errno;
	k->timer_created = true;
	return 0;
}

int kvm_kick_arm(struct kvm_kick *k, uint64_t deadline_ns, uint64_t now_ns)
{
	if (deadline_ns == UINT64_MAX) {
		/* Keep an idle expiry that is still ahead rather than pushing
		 * it back on every exit. */
		if (k->armed_ns > now_ns)
			return 0;
		deadline_ns = now_ns + KVM_KICK_IDLE_NS;
	}
	if (deadline_ns == 0)
		deadline_ns = 1; /* an it_value of 0 would disarm the timer */
	if (deadline_ns == k->armed_ns)
		return 0;
	struct itimerspec its = {
		.it_value = { .tv_sec = (time_t)(deadline_ns / 1000000000ull),
		              .tv_nsec = (long)(deadline_ns % 1000000000ull) },
	};
	/* An absolute expiry already in the past fires at once. */
	if (timer_settime(k->timer, TIMER_ABSTIME, &its, NULL) < 0)
		return -errno;
	k->armed_ns = deadline_ns;
	return 0;
}

bool kvm_kick_consume(struct kvm_kick *k)
{
	static const struct timespec zero = { 0, 0 };
	sigset_t set;
	bool got = false;
	sigemptyset(&set);
	sigaddset(&set, k->signo);
	/* A POSIX timer queues at most one signal (later expiries count as
	 * overruns), so this loop runs at most twice in practice. */
	for (int i = 0; i < 8 && sigtimedwait(&set, NULL, &zero) == k->signo; i++)
		got = true;
	if (got)
		k->armed_ns = 0;
	return got;
}

void kvm_kick_destroy(struct kvm_kick *k)
{
	if (k->timer_created) {
		timer_delete(k->timer);
		k->timer_created = false;
	}
	if (k->mask_saved) {
		kvm_kick_consume(k);
		pthread_sigmask(SIG_SETMASK, &k->saved_mask, NULL);
		k->mask_saved = false;
	}
}
