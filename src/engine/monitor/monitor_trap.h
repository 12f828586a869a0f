/*
 * How guest traps reach the monitor: signal handlers on an alternate stack
 * (SIGALRM is plexvm's kick: an interrupt is pending, or the run must end),
 * and a seccomp filter that stops guest code from making host system calls
 * (vcpu_lockdown.c has the vCPU process's; monitor_seccomp_install() the
 * trap rules alone, for tests that run guest code in their own process).
 */
#ifndef PLEXVM_MONITOR_TRAP_H
#define PLEXVM_MONITOR_TRAP_H

#include <stddef.h>

/* Why monitor_enter() returned, from the saved signal (see monitor_frame). */
enum monitor_exit_kind {
	MONITOR_EXIT_FAULT,   /* #GP, #PF, #NP, #SS, #UD, #DE, ...: emulate or handle */
	MONITOR_EXIT_INT3,    /* an INT3: a scanner patch, or the guest's own */
	MONITOR_EXIT_SYSCALL, /* a host system call attempt (int $0x80, sysenter) */
	MONITOR_EXIT_TICK,    /* plexvm's kick (SIGALRM) */
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

/* Blocks signals other than the monitor's own: their handlers would find
 * the guest's FS, and in the vCPU process nothing else may stop it. */
void monitor_signals_block(void);

enum monitor_exit_kind monitor_exit_kind(void);

#endif
