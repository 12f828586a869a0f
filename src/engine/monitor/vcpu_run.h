/*
 * The run area: the only memory plexvm shares with the monitor's vCPU
 * process (besides guest RAM), in the shape of KVM's struct kvm_run.
 *
 * The vCPU process runs guest code and the monitor (monitor_loop.c); it
 * holds nothing of plexvm's and may be the guest's entirely (a far jump the
 * scanner missed gives guest code 64-bit mode there).  So for plexvm every
 * byte here is hostile input: it reads each field it needs once, checks
 * it, and never follows a pointer from it.  For the vCPU process plexvm is
 * trusted.
 *
 * One exchange at a time, like KVM_RUN: the vCPU process fills in an exit
 * and sets @turn to VCPU_TURN_HOST; plexvm handles it, writes the answer
 * and sets @turn back to VCPU_TURN_VCPU.  Both wait on @turn with a futex
 * (not FUTEX_PRIVATE: the word is in a shared memfd).  Between exits plexvm
 * may set @irq_pending or @stop_request and kick the process with SIGALRM,
 * which makes guest code trap back into the monitor's loop.
 *
 * Versioned: a vCPU process built from other sources refuses to run.
 */
#ifndef PLEXVM_VCPU_RUN_H
#define PLEXVM_VCPU_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "../../../x86/x86.h"

#define VCPU_RUN_MAGIC 0x52435650u /* "PVCR" */
#define VCPU_RUN_VERSION 3

/* The vCPU process's descriptors: the only ones it has. */
#define VCPU_FD_RAM 3
#define VCPU_FD_RUN 4

enum vcpu_turn {
	VCPU_TURN_VCPU = 0, /* the vCPU process runs */
	VCPU_TURN_HOST = 1, /* an exit waits for plexvm */
};

/* Exit reasons; where KVM has the same one, its number. */
enum vcpu_exit {
	VCPU_EXIT_IO = 2,     /* port I/O: io */
	VCPU_EXIT_HLT = 5,    /* HLT with IF set: answer when an interrupt is pending */
	VCPU_EXIT_MMIO = 6,   /* an access that is not RAM: mmio */
	VCPU_EXIT_RDMSR = 29, /* an MSR the machine holds: msr */
	VCPU_EXIT_WRMSR = 30,
	VCPU_EXIT_IRQ_ACK = 64, /* acknowledge the PIC's interrupt: answer irq_vector */
	VCPU_EXIT_STOP = 65,    /* the guest must stop: stop */
	VCPU_EXIT_READY = 66,   /* set up and locked down (or not: setup_error) */
	VCPU_EXIT_DONE = 67,    /* the loop ended: regs and the stats area are final */
};

/* A port or MMIO range a device claims. */
struct vcpu_range {
	uint64_t base, len;
};
#define VCPU_RANGES 32 /* the bus's BUS_MAX_RANGES */

/* The registers a crash report shows. */
struct vcpu_regs {
	uint32_t r[8], eip, eflags;
	struct x86_seg seg[6];
	uint16_t tr, ldtr;
	struct x86_dtr gdtr, idtr;
	uint32_t cr0, cr2, cr3, cr4;
	int32_t cpl;
};

/* One --stats counter of the vCPU process, NUL-terminated strings. */
struct vcpu_stat {
	char group[32];
	char key[48];
	uint64_t value;
};

/* What one exchange touches -- the turn, the exit reason, a port
 * access's fields, the answer flags -- shares the first 64-byte line, so
 * that a hand-over moves one cache line each way between the two CPUs
 * (bench/traps: a crossing port write 400 ns with them spread over three
 * lines). */
struct vcpu_run {
	uint32_t magic, version; /* plexvm's, checked by the vCPU process */
	uint32_t turn;           /* enum vcpu_turn: the futex word */
	uint32_t exit_reason;    /* enum vcpu_exit */
	uint32_t sleepers;       /* sides asleep on @turn, or about to be */
	uint32_t pad0;

	/* plexvm -> vCPU process */
	uint32_t irq_pending;  /* the PIC has an interrupt for the CPU */
	uint32_t stop_request; /* end the loop and report (VCPU_EXIT_DONE) */
	int32_t irq_vector;    /* VCPU_EXIT_IRQ_ACK's answer, -1: none any more */

	/* vCPU process -> plexvm, by exit */
	union {
		struct {
			uint8_t direction; /* 0 in, 1 out */
			uint8_t size;      /* 1, 2 or 4 */
			uint16_t port;
			uint32_t data; /* out: the value; in: plexvm's answer */
		} io;
		struct {
			uint64_t phys_addr;
			uint64_t data; /* write: the value; read: plexvm's answer */
			uint32_t len;  /* 1, 2, 4 or 8 */
			uint32_t is_write;
		} mmio;
		struct {
			uint32_t index;
			uint32_t error; /* plexvm's answer: 1 if the MSR refused (#GP) */
			uint64_t data;  /* WRMSR: the value; RDMSR: plexvm's answer */
		} msr;
		struct {
			int32_t status; /* EXIT_CRASH or EXIT_HOST */
			char reason[160];
		} stop;
		struct {
			int32_t error; /* 0, or -errno: the monitor cannot run here */
			char message[160];
		} ready;
		struct {
			uint32_t nstats; /* entries in the stats area */
		} done;
	} u;

	/* The ranges devices claim, as of plexvm's last answer.  An access
	 * whose address lies outside them is answered in the vCPU process
	 * as the bus would (reads all-ones, writes dropped, counted), with
	 * no exit: a guest polling an absent device or scanning memory
	 * costs no round trip per access. */
	uint32_t npio, nmmio;
	struct vcpu_range pio[VCPU_RANGES], mmio[VCPU_RANGES];

	struct vcpu_regs regs; /* with VCPU_EXIT_STOP and VCPU_EXIT_DONE */
};

/* The shared memfd: the run page, the boot state, the stats area. */
#define VCPU_AREA_RUN 0
#define VCPU_AREA_INIT 4096         /* struct vcpu_init */
#define VCPU_AREA_STATS (64 * 1024) /* struct vcpu_stat[] */
#define VCPU_AREA_SIZE (128 * 1024)
#define VCPU_STATS_MAX ((VCPU_AREA_SIZE - VCPU_AREA_STATS) / sizeof(struct vcpu_stat))

/* Written by plexvm before the vCPU process starts; read once by it. */
struct vcpu_init {
	uint64_t ram_size;
	int32_t parent;     /* plexvm's pid: the process dies with it */
	uint32_t stats;     /* count --stats */
	/* how long to spin for plexvm's answer before sleeping: 0 where the
	 * two share one CPU (vcpu_place.h) */
	uint32_t spin_cycles;
	struct x86_cpu cpu; /* the loader's entry state */
};

_Static_assert(sizeof(struct vcpu_run) <= VCPU_AREA_INIT, "run page");
_Static_assert(offsetof(struct vcpu_run, u.mmio) + sizeof(((struct vcpu_run *)0)->u.mmio) <= 64,
               "one exchange, one cache line");
_Static_assert(VCPU_AREA_INIT + sizeof(struct vcpu_init) <= VCPU_AREA_STATS, "init area");

#endif
