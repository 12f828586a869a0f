/*
 * Mnemonics for --stats; see monitor_insn.h.  Only the instructions that
 * reach the monitor often are named: the privileged ones, those the scanner
 * patches, I/O, and memory accesses that are not to RAM.
 */
#include "monitor_insn.h"

#include "../../../x86/decoder.h"

struct insn_name {
	bool two_byte;
	uint8_t opcode;
	int8_t reg; /* ModRM reg field, or -1 for any */
	const char *name;
};

static const struct insn_name names[] = {
	{ false, 0x06, -1, "push-sreg" },   { false, 0x07, -1, "pop-sreg" },
	{ false, 0x0e, -1, "push-sreg" },   { false, 0x16, -1, "push-sreg" },
	{ false, 0x17, -1, "pop-sreg" },    { false, 0x1e, -1, "push-sreg" },
	{ false, 0x1f, -1, "pop-sreg" },    { false, 0x6c, -1, "ins" },
	{ false, 0x6d, -1, "ins" },         { false, 0x6e, -1, "outs" },
	{ false, 0x6f, -1, "outs" },        { false, 0x88, -1, "mov" },
	{ false, 0x89, -1, "mov" },         { false, 0x8a, -1, "mov" },
	{ false, 0x8b, -1, "mov" },         { false, 0x8c, -1, "mov-from-sreg" },
	{ false, 0x8e, -1, "mov-to-sreg" }, { false, 0x9a, -1, "lcall" },
	{ false, 0x9c, -1, "pushf" },       { false, 0x9d, -1, "popf" },
	{ false, 0xa4, -1, "movs" },        { false, 0xa5, -1, "movs" },
	{ false, 0xaa, -1, "stos" },        { false, 0xab, -1, "stos" },
	{ false, 0xc4, -1, "les" },         { false, 0xc5, -1, "lds" },
	{ false, 0xc6, -1, "mov" },         { false, 0xc7, -1, "mov" },
	{ false, 0xca, -1, "lret" },        { false, 0xcb, -1, "lret" },
	{ false, 0xcc, -1, "int3" },        { false, 0xcd, -1, "int" },
	{ false, 0xce, -1, "into" },        { false, 0xcf, -1, "iret" },
	{ false, 0xe4, -1, "in" },          { false, 0xe5, -1, "in" },
	{ false, 0xe6, -1, "out" },         { false, 0xe7, -1, "out" },
	{ false, 0xea, -1, "ljmp" },        { false, 0xec, -1, "in" },
	{ false, 0xed, -1, "in" },          { false, 0xee, -1, "out" },
	{ false, 0xef, -1, "out" },         { false, 0xf1, -1, "int1" },
	{ false, 0xf4, -1, "hlt" },         { false, 0xfa, -1, "cli" },
	{ false, 0xfb, -1, "sti" },         { false, 0xff, 3, "lcall" },
	{ false, 0x9b, -1, "fwait" },       { false, 0xd8, -1, "x87" },
	{ false, 0xd9, -1, "x87" },         { false, 0xda, -1, "x87" },
	{ false, 0xdb, -1, "x87" },         { false, 0xdc, -1, "x87" },
	{ false, 0xdd, -1, "x87" },         { false, 0xde, -1, "x87" },
	{ false, 0xdf, -1, "x87" },
	{ false, 0xff, 5, "ljmp" },         { true, 0x00, 0, "sldt" },
	{ true, 0x00, 1, "str" },           { true, 0x00, 2, "lldt" },
	{ true, 0x00, 3, "ltr" },           { true, 0x00, 4, "verr" },
	{ true, 0x00, 5, "verw" },          { true, 0x01, 0, "sgdt" },
	{ true, 0x01, 1, "sidt" },          { true, 0x01, 2, "lgdt" },
	{ true, 0x01, 3, "lidt" },          { true, 0x01, 4, "smsw" },
	{ true, 0x01, 6, "lmsw" },          { true, 0x01, 7, "invlpg" },
	{ true, 0x02, -1, "lar" },          { true, 0x03, -1, "lsl" },
	{ true, 0x06, -1, "clts" },         { true, 0x08, -1, "invd" },
	{ true, 0x09, -1, "wbinvd" },       { true, 0x20, -1, "mov-from-cr" },
	{ true, 0x21, -1, "mov-from-dr" },  { true, 0x22, -1, "mov-to-cr" },
	{ true, 0x23, -1, "mov-to-dr" },    { true, 0x30, -1, "wrmsr" },
	{ true, 0x31, -1, "rdtsc" },        { true, 0x32, -1, "rdmsr" },
	{ true, 0x34, -1, "sysenter" },     { true, 0x35, -1, "sysexit" },
	{ true, 0xa0, -1, "push-sreg" },    { true, 0xa1, -1, "pop-sreg" },
	{ true, 0xa2, -1, "cpuid" },        { true, 0xa8, -1, "push-sreg" },
	{ true, 0xa9, -1, "pop-sreg" },     { true, 0xb2, -1, "lss" },
	{ true, 0xb4, -1, "lfs" },          { true, 0xb5, -1, "lgs" },
};

/* The table by opcode and ModRM reg, built on first use: the monitor asks
 * for every instruction it emulates and looks ahead at. */
static struct {
	const struct insn_name *name;
	bool traps;
} by_opcode[2][256][8];

/* Named for --stats only: they trap only when they touch non-RAM. */
static bool traps_by_name(const char *name)
{
	static const char *const not_traps[] = { "mov", "movs", "stos", "rdtsc" };
	for (size_t i = 0; i < sizeof(not_traps) / sizeof(not_traps[0]); i++)
		if (__builtin_strcmp(name, not_traps[i]) == 0)
			return false;
	return true;
}

static void index_names(void)
{
	/* rows for one reg win over "any reg" rows: they go in second */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			const struct insn_name *n = &names[i];
			if ((pass == 0) != (n->reg < 0))
				continue;
			for (int r = 0; r < 8; r++)
				if (n->reg < 0 || n->reg == r) {
					by_opcode[n->two_byte][n->opcode][r].name = n;
					by_opcode[n->two_byte][n->opcode][r].traps =
					        traps_by_name(n->name);
				}
		}
}

/* The row for @d, or NULL; @traps says whether it traps. */
static const struct insn_name *find(const struct x86_decoded *d, bool *traps)
{
	static bool indexed;
	if (!indexed) {
		index_names();
		indexed = true;
	}
	unsigned reg = d->has_modrm ? d->reg : 0;
	const struct insn_name *n = by_opcode[d->two_byte][d->opcode][reg].name;
	/* a row for one reg only matches instructions that have a ModRM */
	if (!n || (n->reg >= 0 && !d->has_modrm))
		return NULL;
	if (traps)
		*traps = by_opcode[d->two_byte][d->opcode][reg].traps;
	return n;
}

/* Jcc, LOOPx, JCXZ: control stays in the function. */
static bool is_cond_branch(const struct x86_decoded *d)
{
	if (d->two_byte)
		return d->opcode >= 0x80 && d->opcode <= 0x8f; /* Jcc rel16/32 */
	return (d->opcode >= 0x70 && d->opcode <= 0x7f) || (d->opcode >= 0xe0 && d->opcode <= 0xe3);
}

/* CALL, RET, indirect JMP: control leaves for code no scan may have seen
 * (a return address, a pointer's target). */
static bool is_call_ret(const struct x86_decoded *d)
{
	if (d->two_byte)
		return false;
	switch (d->opcode) {
	case 0xe8:
	case 0xc2:
	case 0xc3: return true;
	case 0xff: return d->reg >= 2 && d->reg <= 5;
	default: return false;
	}
}

enum monitor_insn_kind monitor_insn_kind(const uint8_t *bytes, size_t len, bool code32,
                                         unsigned *ilen, int32_t *rel, bool *uses_fpu)
{
	struct x86_decoded d;
	int n = x86_decode(bytes, len, code32, &d);
	if (n < 0)
		return MONITOR_INSN_INVALID;
	*ilen = (unsigned)n;
	/* x87 (D8-DF) and WAIT; the monitor's guests have no FXSR, MMX or SSE
	 * (the decoder rejects those encodings) */
	if (uses_fpu)
		*uses_fpu = !d.two_byte && (d.opcode == 0x9b || (d.opcode >= 0xd8 && d.opcode <= 0xdf));
	bool traps = false;
	if (find(&d, &traps) && traps)
		return MONITOR_INSN_TRAPS;
	/* the decoder leaves immediates zero-extended */
	int32_t disp = d.imm_size == 1   ? (int8_t)d.imm
	               : d.imm_size == 2 ? (int16_t)d.imm
	                                 : (int32_t)d.imm;
	if (!d.two_byte && (d.opcode == 0xeb || d.opcode == 0xe9)) {
		*rel = disp;
		return MONITOR_INSN_JUMP;
	}
	if (is_call_ret(&d))
		return MONITOR_INSN_CALL_RET;
	if (is_cond_branch(&d)) {
		*rel = disp;
		return MONITOR_INSN_BRANCH;
	}
	return MONITOR_INSN_PLAIN;
}

const char *monitor_insn_name(const uint8_t *bytes, size_t len, bool code32)
{
	struct x86_decoded d;
	if (x86_decode(bytes, len, code32, &d) < 0)
		return "invalid";
	const struct insn_name *n = find(&d, NULL);
	return n ? n->name : "other";
}
