/*
 * The LOCK prefix is only legal on the read-modify-write instructions the
 * SDM lists (vol. 2, LOCK) and only with a memory destination; anywhere
 * else it raises #UD.  The core is single-threaded, so a legal LOCK needs
 * no further work.
 */
#include "cpu.h"
#include "exec.h"

/* ModRM /reg values allowed with LOCK for the group opcodes (bit n: /n). */
static unsigned x86_lock_groups(uint8_t op, uint8_t op2)
{
	if (op == 0x0f) {
		switch (op2) {
		case 0xab:
		case 0xb3:
		case 0xbb: /* BTS, BTR, BTC */
		case 0xb0:
		case 0xb1: /* CMPXCHG */
		case 0xc0:
		case 0xc1: /* XADD */ return 0xff;
		case 0xba: return 0xe0; /* BTS/BTR/BTC imm8: /5 /6 /7 */
		case 0xc7: return 0x02; /* CMPXCHG8B: /1 */
		default: return 0;
		}
	}
	if (op < 0x40)
		return (op & 7) < 2 && op != 0x38 && op != 0x39 ? 0xff : 0; /* ALU rm,reg but CMP */
	switch (op) {
	case 0x80:
	case 0x81:
	case 0x82:
	case 0x83: return 0x7f; /* ALU imm but CMP (/7) */
	case 0x86:
	case 0x87: return 0xff; /* XCHG */
	case 0xf6:
	case 0xf7: return 0x0c; /* NOT /2, NEG /3 */
	case 0xfe:
	case 0xff: return 0x03; /* INC /0, DEC /1 */
	default: return 0;
	}
}

void x86_lock_check(struct x86_insn *x, uint8_t op)
{
	struct x86_cpu *c = x->c;
	uint32_t eip = c->eip;
	uint8_t op2 = op == 0x0f ? x86_fetch8(x) : 0;
	unsigned allowed = x86_lock_groups(op, op2);
	uint8_t modrm = allowed ? x86_fetch8(x) : 0;
	c->eip = eip; /* only a look ahead: the handler decodes again */
	if (!allowed || (modrm >> 6) == 3 || !(allowed & (1u << ((modrm >> 3) & 7))))
		x86_raise(x, X86_EXC_UD, X86_NO_ERR);
}
