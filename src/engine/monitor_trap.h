/*
 * How guest traps reach the monitor: signal handlers on an alternate stack,
 * a 1 kHz interval timer so that guest code never keeps the CPU from the
 * monitor for long, and a seccomp filter that stops guest code from making
 * host system calls.
 */
#ifndef PLEXVM_MONITOR_TRAP_H
#define PLEXVM_MONITOR_TRAP_H

#include <stddef.h>

/* Why monitor_enter() returned, from the saved signal (see monitor_frame). */
enum monitor_exit_kind {
	MONITOR_EXIT_FAULT,   /* #GP, #PF, #NP, #SS, #UD, #DE, ...: emulate or handle */
	MONITOR_EXIT_INT3,    /* an INT3: a scanner patch, or the guest's own */
	MONITOR_EXIT_SYSCALL, /* a host system call attempt (int $0x80, sysenter) */
	MONITOR_EXIT_TICK,    /* the interval timer */
};

/* Installs the handlers and the alternate stack; records the host's FS base.
 * Returns 0 or -errno with @err filled. */
int monitor_trap_init(char *err, size_t errlen);

/* (Re)installs just the handlers, for a caller that knows someone else
 * replaced them (a test framework). Returns 0 or -errno. */
int monitor_trap_handlers(void);

/* Installs the seccomp filter: from now on, any system call from an
 * instruction below 4 GiB, or with the i386 ABI, raises SIGSYS. Irrevocable. */
int monitor_seccomp_install(char *err, size_t errlen);

/* Starts/stops the 1 kHz timer (SIGALRM). */
int monitor_timer_start(void);
void monitor_timer_stop(void);

/* Lets signals other than the monitor's own be delivered (they are blocked
 * while guest code may run: their handlers would find the guest's FS). */
void monitor_signals_allow(void);
void monitor_signals_block(void);
/* Allows and blocks them again if a tick came while plexvm's own code ran
 * since the last call: a guest that runs in the core (real mode) or traps
 * all the time gives few ticks in guest code, which open that window too,
 * and SIGTERM must not wait for one. */
void monitor_signals_tick(void);

enum monitor_exit_kind monitor_exit_kind(void);

#endif
