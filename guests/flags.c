/* flags: what PUSHF shows and what POPF, CLI and STI may change at each
 * privilege level (SDM vol. 2, POPF, CLI, STI; vol. 1 3.4.3; CR4.VME/PVI
 * are off, so there is no virtual-interrupt flag).
 *
 *  - ring 0: CLI/STI toggle IF; POPF may set IOPL.
 *  - ring 3, IOPL 0: CLI, STI, IN and OUT raise #GP(0); POPF changes the
 *    arithmetic flags but silently keeps IF and IOPL.
 *  - ring 3, IOPL 3: CLI/STI work and POPF may change IF, but still not
 *    IOPL (only ring 0 may). */
#include "desc.h"
#include "test.h"
#include "trap.h"
#include "x86.h"

#define FL_SHOWN (X86_EFLAGS_IF | X86_EFLAGS_IOPL | X86_EFLAGS_CF)

/* What ring-3 code saw; it writes here directly (paging is off). */
struct flags_seen {
	uint32_t initial;              /* PUSHF on entry */
	uint32_t cli_vec, sti_vec;     /* exception from CLI and STI, or TRAP_NONE */
	uint32_t after_cli, after_sti; /* PUSHF after each */
	uint32_t after_popf;           /* PUSHF after POPF of IF=0, IOPL=0/3 flipped, CF=1 */
	uint32_t in_vec, out_vec;
};
static struct flags_seen flags_seen;

static uint32_t flags_pushf(void)
{
	return read_eflags() & FL_SHOWN;
}

static uint32_t flags_user(uint32_t unused)
{
	struct flags_seen *s = &flags_seen;
	(void)unused;
	s->initial = flags_pushf();
	s->cli_vec = TRAP_TRY("cli");
	s->after_cli = flags_pushf();
	s->sti_vec = TRAP_TRY("sti");
	s->after_sti = flags_pushf();
	/* Try to clear IF, flip IOPL and set CF at once. */
	write_eflags(((s->initial ^ X86_EFLAGS_IOPL) & ~X86_EFLAGS_IF) | X86_EFLAGS_CF | X86_EFLAGS_FIXED);
	s->after_popf = flags_pushf();
	s->in_vec = TRAP_TRY("inb $0x80, %%al", : : : "eax");
	s->out_vec = TRAP_TRY("outb %%al, $0x80", : : "a"(0));
	/* Leave CF and IF as found so the next run starts the same way. */
	write_eflags(s->initial | X86_EFLAGS_FIXED);
	return 0;
}

static void flags_ring0(void)
{
	write_eflags(X86_EFLAGS_FIXED);
	printf("ring 0: PUSHF after reset 0x%x\n", flags_pushf());
	test_eq(flags_pushf(), 0, "ring 0 initial IF/IOPL/CF");
	sti();
	test_eq(flags_pushf(), X86_EFLAGS_IF, "ring 0 after STI");
	cli();
	test_eq(flags_pushf(), 0, "ring 0 after CLI");
	write_eflags(X86_EFLAGS_FIXED | X86_EFLAGS_IOPL3);
	printf("ring 0: POPF IOPL=3 gives 0x%x\n", flags_pushf());
	test_eq(flags_pushf(), X86_EFLAGS_IOPL3, "ring 0 POPF sets IOPL");
	write_eflags(X86_EFLAGS_FIXED);
	test_eq(flags_pushf(), 0, "ring 0 POPF clears IOPL");
}

static void flags_ring3(uint32_t iopl)
{
	const struct flags_seen *s = &flags_seen;
	uint32_t start = X86_EFLAGS_IF | iopl;
	int may = iopl == X86_EFLAGS_IOPL3; /* CPL <= IOPL */
	user_run(flags_user, 0, X86_EFLAGS_FIXED | start);
	printf("ring 3 IOPL %u: PUSHF 0x%x; CLI -> %s 0x%x; STI -> %s 0x%x; POPF -> 0x%x; IN %s, OUT %s\n",
	       iopl >> 12, s->initial, s->cli_vec == TRAP_NONE ? "ok" : "#GP", s->after_cli,
	       s->sti_vec == TRAP_NONE ? "ok" : "#GP", s->after_sti, s->after_popf,
	       s->in_vec == TRAP_NONE ? "ok" : "#GP", s->out_vec == TRAP_NONE ? "ok" : "#GP");
	test_eq(s->initial, start, "ring 3 PUSHF");
	test_eq(s->cli_vec, may ? TRAP_NONE : X86_EXC_GP, "ring 3 CLI");
	test_eq(s->after_cli, may ? iopl : start, "ring 3 flags after CLI");
	test_eq(s->sti_vec, may ? TRAP_NONE : X86_EXC_GP, "ring 3 STI");
	test_eq(s->after_sti, start, "ring 3 flags after STI");
	/* POPF: CF always changes, IOPL never at ring 3, IF only if CPL <= IOPL. */
	test_eq(s->after_popf, X86_EFLAGS_CF | iopl | (may ? 0 : X86_EFLAGS_IF), "ring 3 POPF");
	test_eq(s->in_vec, may ? TRAP_NONE : X86_EXC_GP, "ring 3 IN");
	test_eq(s->out_vec, may ? TRAP_NONE : X86_EXC_GP, "ring 3 OUT");
}

void test_main(void)
{
	flags_ring0();
	flags_ring3(0);
	flags_ring3(X86_EFLAGS_IOPL3);
	test_eq(read_eflags() & X86_EFLAGS_IOPL, 0, "ring 0 IOPL after the ring 3 runs");
}
