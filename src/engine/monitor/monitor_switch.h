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
	/* The guest's vector registers.  Its SSE registers and MXCSR live in
	 * the CPU only while guest code runs: monitor_exit saves them here and
	 * loads the ABI's MXCSR, monitor_enter loads them back.  Its x87
	 * registers stay in the CPU from one run to the next, since the
	 * monitor's own code runs no x87 instruction (the Makefile checks the
	 * vCPU program for it) -- unless it first calls monitor_x87_save(),
	 * which moves them here; monitor_enter then loads them back.  Saving
	 * everything with XSAVE at each trap cost 300 ns (bench/traps); these
	 * moves cost a tenth of that.  Nothing in the vCPU process uses AVX
	 * (also checked), so the upper halves are the guest's throughout. */
	uint64_t guest_xsave; /* 72: 64-byte aligned XSAVE area (the guest's) */
	uint32_t x87_in_area; /* 80: the guest's x87 registers are in the area */
	uint32_t pad1;        /* 84 */
	uint64_t pad2;        /* 88 */
	uint32_t in_guest;    /* 96: set from entry until the trap's return */
	uint32_t pad3;        /* 100 */

	/* Why the guest stopped: written by the signal handler. */
	int signo; /* 104 */
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

/* Moves the guest's x87 registers from the CPU into its XSAVE area (once
 * per exit; later calls do nothing) and leaves the CPU's x87 initialised,
 * for code that reads or writes the guest's x87 state or runs x87
 * instructions of its own. */
static inline void monitor_x87_save(void)
{
	struct monitor_frame *f = &monitor_frame;
	if (f->x87_in_area)
		return;
	/* XSAVE of the x87 component alone: RDX:EAX = 0:1. */
	__asm__ volatile("xsave64 (%0)\n\tfninit" : : "r"(f->guest_xsave), "a"(1), "d"(0) : "memory");
	f->x87_in_area = 1;
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
