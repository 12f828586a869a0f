/*
 * Debug registers and single-step (SDM vol. 3, chapter 18).
 *
 * DR0-DR3 hold linear addresses; DR7 enables each (L/G bits) for
 * instruction execution (R/W 00), data writes (01) or data reads and
 * writes (11), over 1, 2, 4 or 8 bytes (LEN); DR6 says which condition
 * raised #DB (B0-B3, BS for single-step).  I/O breakpoints (R/W 10, with
 * CR4.DE), general detect (DR7.GD) and the TSS T bit are not implemented.
 *
 * While TF or a DR7 enable is set, x86_run() runs its debug loop (run.c)
 * instead of the fast one: one instruction at a time, an execute
 * breakpoint checked before it (a fault, suppressed for one instruction by
 * EFLAGS.RF), and after it a trap for single-step (if TF was set when it
 * began) and for data breakpoints its accesses hit.  Data accesses are
 * seen in the slow path; a page holding a data breakpoint is never kept in
 * the TLB, so the inlined fast path cannot miss one.  After MOV SS or POP
 * SS the trap is held back until the next instruction has run (SDM 6.8.3).
 */
#include "cpu.h"

#define DR7_ENABLED(dr7, i) ((dr7) & (3u << (2 * (i))))
#define DR7_RW(dr7, i) (((dr7) >> (16 + 4 * (i))) & 3u)
#define DR7_RW_EXEC 0u
#define DR7_RW_WRITE 1u
#define DR7_RW_ACCESS 3u

bool x86_debug_armed(const struct x86_cpu *c)
{
	return (c->eflags & X86_TF) || (c->dr[7] & 0xffu) || c->db_held;
}

/* Bytes covered by breakpoint @i: LEN 00, 01, 11, 10 are 1, 2, 4, 8. */
static uint32_t x86_debug_len(uint32_t dr7, int i)
{
	static const uint8_t len[4] = { 1, 2, 8, 4 };
	return len[(dr7 >> (18 + 4 * i)) & 3u];
}

static bool x86_debug_is_data(uint32_t dr7, int i)
{
	uint32_t rw = DR7_RW(dr7, i);
	return DR7_ENABLED(dr7, i) && (rw == DR7_RW_WRITE || rw == DR7_RW_ACCESS);
}

void x86_debug_sync(struct x86_cpu *c)
{
	bool data = false;
	for (int i = 0; i < 4; i++)
		data |= x86_debug_is_data(c->dr[7], i);
	if (data || c->db_data)
		x86_tlb_flush(c); /* pages with breakpoints must leave the TLB */
	c->db_data = data;
}

void x86_debug_write_dr(struct x86_insn *x, int n, uint32_t v)
{
	struct x86_cpu *c = x->c;
	uint32_t old = c->dr[n];
	if (n == 6)
		v |= X86_DR6_FIXED;
	else if (n == 7)
		v |= X86_DR7_FIXED;
	c->dr[n] = v;
	x86_debug_sync(c);
	x86_debug_note(c);
	x86_ctrl_written(x, X86_CTRL_DR(n), old);
}

void x86_debug_before(struct x86_insn *x)
{
	struct x86_cpu *c = x->c;
	if (c->eflags & X86_RF) {
		c->eflags &= ~X86_RF; /* this instruction may run once unchecked */
		return;
	}
	uint32_t dr7 = c->dr[7], lin = c->seg[X86_CS].base + c->eip, hits = 0;
	for (int i = 0; i < 4; i++)
		if (DR7_ENABLED(dr7, i) && DR7_RW(dr7, i) == DR7_RW_EXEC && c->dr[i] == lin)
			hits |= 1u << i;
	if (hits) {
		c->dr[6] |= hits;
		x86_raise(x, X86_EXC_DB, X86_NO_ERR);
	}
}

void x86_debug_after(struct x86_insn *x, uint32_t tf)
{
	struct x86_cpu *c = x->c;
	uint32_t pending = c->db_hits | (tf ? X86_DR6_BS : 0);
	if (c->db_shadow) {
		c->db_held |= pending;
		return;
	}
	pending |= c->db_held;
	c->db_held = 0;
	if (!pending)
		return;
	c->dr[6] |= pending;
	/* A trap: x86_run() delivers it with EIP after the instruction, and
	 * counts an instruction for it, which this one was already. */
	c->insn_eip = c->eip;
	c->icount--;
	x86_raise(x, X86_EXC_DB, X86_NO_ERR);
}

void x86_debug_access(struct x86_cpu *c, uint32_t lin, unsigned size, bool write)
{
	uint32_t dr7 = c->dr[7];
	for (int i = 0; i < 4; i++) {
		if (!x86_debug_is_data(dr7, i) || (!write && DR7_RW(dr7, i) == DR7_RW_WRITE))
			continue;
		uint32_t len = x86_debug_len(dr7, i), start = c->dr[i] & ~(len - 1);
		/* [lin, lin + size) and [start, start + len) overlap */
		if (lin - start < len || start - lin < size)
			c->db_hits |= 1u << i;
	}
}

bool x86_debug_page(const struct x86_cpu *c, uint32_t lin)
{
	uint32_t dr7 = c->dr[7];
	for (int i = 0; i < 4; i++)
		if (x86_debug_is_data(dr7, i) && (c->dr[i] >> 12) == (lin >> 12))
			return true;
	return false;
}
