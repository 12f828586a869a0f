/*
 * The kvm engine's timer kick: a POSIX timer that interrupts KVM_RUN when
 * the VM's next deadline comes, so a guest that never exits still gets its
 * timer interrupts on time.
 *
 * Its signal is blocked in the vCPU thread except inside KVM_RUN (the mask
 * given with KVM_SET_SIGNAL_MASK): it can only cut guest execution short,
 * never interrupt plexvm's own system calls.  Because it is blocked again
 * when KVM_RUN returns, a signal that fired stays pending until
 * kvm_kick_consume() takes it; otherwise every later KVM_RUN would return
 * -EINTR at once.
 */
#ifndef PLEXVM_KVM_KICK_H
#define PLEXVM_KVM_KICK_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* With no deadline, KVM_RUN still returns this often so that vm_poll()
 * reads terminal input. */
#define KVM_KICK_IDLE_NS 10000000ull

struct kvm_kick {
	int signo;
	timer_t timer;
	bool timer_created;
	bool mask_saved;
	sigset_t saved_mask; /* the thread's mask before kvm_kick_init() */
	sigset_t run_mask;   /* the mask to use inside KVM_RUN */
	uint64_t armed_ns;   /* absolute expiry armed; 0 if none or fired */
};

/* Installs a no-op handler for the kick signal (SIGRTMIN), blocks it in the
 * calling thread and creates a CLOCK_MONOTONIC timer that signals this
 * thread. Returns 0 or -errno; on failure kvm_kick_destroy() still undoes
 * what was done. */
int kvm_kick_init(struct kvm_kick *k);

/* Makes the timer expire at @deadline_ns (CLOCK_MONOTONIC), or at
 * @now_ns + KVM_KICK_IDLE_NS if @deadline_ns is UINT64_MAX. Does nothing
 * when that expiry is already armed. Returns 0 or -errno. */
int kvm_kick_arm(struct kvm_kick *k, uint64_t deadline_ns, uint64_t now_ns);

/* Takes a pending kick signal, if any, and forgets the armed expiry.
 * Returns true if one was pending. */
bool kvm_kick_consume(struct kvm_kick *k);

/* Disarms and deletes the timer, drops a pending kick and restores the
 * thread's signal mask. */
void kvm_kick_destroy(struct kvm_kick *k);

#endif
