/*
 * The monitor's world switch: the only code that runs with the guest's
 * segment registers loaded.
 *
 * monitor_enter() loads the guest's registers from monitor_frame and enters
 * guest code at host ring 3 in compatibility mode with IRETQ.  Guest code runs
 * until it traps; the trap arrives as a host signal whose handler
 * (monitor_trap.c) saves the guest registers into monitor_frame, then points
 * the signal's return context at monitor_exit, on plexvm's own stack.  So
 * monitor_enter() returns as if guest code had been a function call — the
 * shape of KVM_RUN.
 *
 * There is one frame because there is one vCPU, and a global because the
 * signal handler cannot reach thread-local storage (FS holds the guest's
 * selector when a guest trap arrives).
 */
#ifndef PLEXVM_MONITOR_SWITCH_H
#define PLEXVM_MONITOR_SWITCH_H

#include <stdint.h>

/* The layout is shared with monitor_switch.S: keep the offsets in step. */
struct monitor_frame {
	uint32_t r[8];        /*  0: EAX ECX EDX EBX ESP EBP ESI EDI (x86_reg order) */
	uint32_t eip;         /* 32 */
	uint32_t eflags;      /* 36: as loaded into the host CPU */
	uint16_t cs, ss;      /* 40, 42: host selectors (LDT, RPL 3) */
	uint16_t ds, es;      /* 44, 46 */
	uint16_t fs, gs;      /* 48, 50 */
	uint32_t pad;         /* 52 */
	uint64_t host_rsp;    /* 56: plexvm's stack while the guest runs */
	uint64_t host_fsbase; /* 64: glibc's TLS pointer, restored on every signal */
	/* The guest's x87/SSE/AVX registers live in the CPU only while guest
	 * code runs: monitor_exit saves them here with XSAVE and loads the
	 * init state, monitor_enter loads them back.  So the guest never sees
	 * a value of plexvm's, and plexvm's code never changes the guest's. */
	uint64_t guest_xsave; /* 72: 64-byte aligned XSAVE area (the guest's) */
	uint64_t init_xsave;  /* 80: an XSAVE area in the init state */
	uint64_t xsave_mask;  /* 88: the components saved (XCR0 less AMX) */
	uint32_t in_guest;    /* 96: set from entry until the trap's return */
	uint32_t pad2;        /* 100 */

	/* Why the guest stopped: written by the signal handler. */
	int signo; /* 72 */
	int si_code;
	int trapno, err;     /* the CPU's vector and error code */
	uint32_t fault_addr; /* faulting address (SIGSEGV, SIGBUS) */
	int syscall_nr;      /* SIGSYS: the guest's EAX, which the kernel clobbered */
	int entry_failed;    /* IRETQ itself faulted: the host refused the entry state */
	uint16_t trap_cs;    /* CS at the trap: the guest's mirror, unless it escaped */
};

extern struct monitor_frame monitor_frame __attribute__((visibility("hidden")));

/* Sets the frame's segment registers from @sel, in enum x86_sreg order
 * (ES CS SS DS FS GS). */
static inline void monitor_frame_set_segs(struct monitor_frame *f, const uint16_t sel[6])
{
	f->es = sel[0];
	f->cs = sel[1];
	f->ss = sel[2];
	f->ds = sel[3];
	f->fs = sel[4];
	f->gs = sel[5];
}

/* Runs guest code from monitor_frame until it traps. */
void monitor_enter(void) __attribute__((visibility("hidden")));

/* Labels inside monitor_enter, for the signal handler: from _segs to _end
 * the segment registers are the guest's but CS is still plexvm's; _iret is
 * the instruction that enters guest code and faults if the entry state is
 * one the host CPU refuses. */
extern const char monitor_enter_segs[], monitor_enter_iret[],
        monitor_enter_end[] __attribute__((visibility("hidden")));

/* Where a guest trap's signal returns to (never called directly). */
void monitor_exit(void) __attribute__((visibility("hidden")));

/* The signal handler's first instructions: restores the host's FS and GS
 * before any C code runs, then calls monitor_signal(). */
void monitor_signal_entry(int sig, void *info, void *uc) __attribute__((visibility("hidden")));

#endif
