/*
 * plexvm's x86 core: an i686-class CPU (integer instructions, protected mode
 * with segmentation, privilege levels, call and task gates, SYSENTER/SYSEXIT,
 * 2-level paging with PSE and PAE paging with NX) that touches the outside
 * world only through struct x86_ops.
 *
 * Freestanding: no libc.  The same source builds into the emu engine, the
 * unit tests and the fuzzer.  Not yet here: x87/SSE (CPUID reports no FPU),
 * far JMP/CALL to a TSS, virtual-8086 mode.
 */
#ifndef PLEXVM_X86_H
#define PLEXVM_X86_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum x86_sreg { X86_ES, X86_CS, X86_SS, X86_DS, X86_FS, X86_GS };
enum x86_reg { X86_EAX, X86_ECX, X86_EDX, X86_EBX, X86_ESP, X86_EBP, X86_ESI, X86_EDI };

/* A segment register with its descriptor cache. @attr holds descriptor
 * bits 40-55 shifted down: type (0-3), S (4), DPL (5-6), P (7), AVL (12),
 * L (13), D/B (14), G (15). */
struct x86_seg {
	uint16_t sel;
	uint32_t base, limit; /* limit in bytes (granularity applied) */
	uint16_t attr;
};

#define X86_SEG_P 0x80
#define X86_SEG_S 0x10
#define X86_SEG_DB 0x4000
#define X86_SEG_DPL(a) (((a) >> 5) & 3)

struct x86_dtr {
	uint32_t base;
	uint16_t limit;
};

#define X86_TLB_SIZE 256

struct x86_icache;
struct x86_icache_page;
struct x86_uop;

struct x86_tlb_entry {
	uint32_t tag;   /* linear page number + 1; 0 = empty */
	uint32_t frame; /* physical page address */
	uint8_t *host;  /* the page in host memory, or NULL (not RAM: MMIO) */
	uint8_t user, writable, dirty;
	uint8_t nx; /* PAE with EFER.NXE: no instruction fetches */
	/* Decoded instructions cached for this frame, or NULL: writes through
	 * an entry with code set take the slow path, which invalidates them. */
	struct x86_icache_page *code;
};

struct x86_cpu {
	uint32_t r[8];
	uint32_t eip, eflags;
	struct x86_seg seg[6], ldtr, tr;
	struct x86_dtr gdtr, idtr;
	uint32_t cr0, cr2, cr3, cr4;
	uint32_t dr[8];
	uint64_t tsc, efer;
	uint32_t sysenter_cs, sysenter_esp, sysenter_eip;
	int cpl;
	bool halted;
	bool intr_shadow;     /* after STI / MOV SS: no interrupt before the next instruction */
	uint64_t icount;      /* instructions retired */

	/* Exception bookkeeping (internal). */
	uint32_t insn_eip;    /* EIP of the instruction being executed */
	int exc_vector;       /* the exception being raised */
	uint32_t exc_err;
	bool triple_fault;
	struct x86_tlb_entry tlb[X86_TLB_SIZE];
	/* Code window: EIPs [fetch_start, fetch_end) are at fetch_host in host
	 * memory.  Emptied whenever CS, the CPL or a translation changes. */
	uint32_t fetch_start, fetch_end;
	const uint8_t *fetch_host;
	/* Decoded-instruction cache (NULL: off) and its window: the uops of
	 * EIPs [uop_start, uop_start + uop_len) are at uop_base[eip - uop_start],
	 * their bytes at uop_host.  Emptied with the code window. */
	struct x86_icache *icache;
	uint32_t uop_start, uop_len;
	struct x86_uop *uop_base;
	const uint8_t *uop_host;
	void *jmp[5];         /* __builtin_setjmp buffer for exceptions */
};

struct x86_ops {
	void *ctx;
	/* Host pointer to guest RAM [gpa, gpa+len), or NULL if not RAM. */
	uint8_t *(*ram)(void *ctx, uint64_t gpa, size_t len);
	/* Non-RAM physical accesses (MMIO or nothing: all-ones). */
	uint64_t (*mmio_read)(void *ctx, uint64_t gpa, unsigned size);
	void (*mmio_write)(void *ctx, uint64_t gpa, uint64_t value, unsigned size);
	uint32_t (*pio_in)(void *ctx, uint16_t port, unsigned size);
	void (*pio_out)(void *ctx, uint16_t port, uint32_t value, unsigned size);
};

enum x86_status {
	X86_OK = 0,        /* the budget ran out */
	X86_IO,            /* an I/O instruction completed: devices may need a look */
	X86_HALT,          /* HLT executed */
	X86_SHUTDOWN,      /* triple fault */
	X86_UNHANDLED,     /* an instruction the core does not implement */
	X86_STOP,          /* x86_request_stop() was called from an op */
};

/* EFLAGS bits (SDM vol. 1, 3.4.3). */
#define X86_CF 0x1u
#define X86_PF 0x4u
#define X86_AF 0x10u
#define X86_ZF 0x40u
#define X86_SF 0x80u
#define X86_TF 0x100u
#define X86_IF 0x200u
#define X86_DF 0x400u
#define X86_OF 0x800u
#define X86_IOPL 0x3000u
#define X86_NT 0x4000u
#define X86_RF 0x10000u
#define X86_VM 0x20000u
#define X86_AC 0x40000u
#define X86_ID 0x200000u

#define X86_CR0_PE 0x1u
#define X86_CR0_MP 0x2u
#define X86_CR0_EM 0x4u
#define X86_CR0_TS 0x8u
#define X86_CR0_ET 0x10u
#define X86_CR0_NE 0x20u
#define X86_CR0_WP 0x10000u
#define X86_CR0_PG 0x80000000u
#define X86_CR4_PSE 0x10u
#define X86_CR4_PAE 0x20u

/* Puts the CPU in 32-bit protected mode with flat 4 GiB segments, paging
 * and interrupts off (the multiboot entry state). */
void x86_reset_flat32(struct x86_cpu *c);

/* Runs up to @budget instructions; stops early on HLT, I/O (so the caller
 * can poll devices), shutdown, or an unimplemented instruction. */
enum x86_status x86_run(struct x86_cpu *c, const struct x86_ops *ops, uint64_t budget);

/* True if an external interrupt can be delivered now (IF set, no shadow). */
bool x86_can_interrupt(const struct x86_cpu *c);
/* Delivers external interrupt @vector through the IDT. Returns X86_OK or
 * X86_SHUTDOWN. */
enum x86_status x86_interrupt(struct x86_cpu *c, const struct x86_ops *ops, uint8_t vector);

/* Flushes the software TLB (CR3 write, INVLPG, CR0/CR4 change). */
void x86_tlb_flush(struct x86_cpu *c);

/*
 * The decoded-instruction cache: per guest physical page, the decoded form
 * of every instruction executed there, so the run loop does not decode an
 * instruction twice.  Keyed by physical address, it survives CR3 and other
 * translation changes.  Stores by the core itself invalidate what they
 * overwrite (self-modifying code works).  Any other writer of guest RAM that
 * may hit code (DMA, a monitor letting the guest run natively, a test
 * patching RAM) must call x86_invalidate_code() or x86_icache_flush()
 * before the core runs again, or run the core without a cache.  So must
 * whoever copies a saved struct x86_cpu back over a live one (its TLB's
 * marks of cached pages would be stale).
 */

/* Bytes of memory for a cache of @pages guest pages (128 KiB each). */
size_t x86_icache_size(unsigned pages);
/* Gives @c the cache memory @mem of @size bytes (8-byte aligned, any
 * content; the core owns it until detached), or with @mem NULL turns the
 * cache off.  x86_reset_flat32() turns it off too: attach after a reset. */
void x86_icache_attach(struct x86_cpu *c, void *mem, size_t size);
/* Forgets every decoded instruction. */
void x86_icache_flush(struct x86_cpu *c);
/* Forgets the decoded instructions that use bytes [gpa, gpa + len). */
void x86_invalidate_code(struct x86_cpu *c, uint64_t gpa, uint64_t len);

#endif
