/* flags: what PUSHF shows and what CLI, STI, POPF and port I/O may do at
 * ring 0 and at ring 3 with IOPL 0 and IOPL 3 (SDM vol. 1, 3.4.3; vol. 2,
 * CLI, STI, POPF; vol. 1, 19.5 for I/O).  CPL > IOPL makes CLI, STI and IN
 * raise #GP(0), while POPF silently keeps IF; IOPL itself changes only at
 * CPL 0.  The PIC is masked, so IF=1 here never lets an interrupt in. */
#include "desc.h"
#include "test.h"
#include "trap.h"
#include "x86.h"

#define FLAGS_PIC1_DATA 0x21

/* What the ring-3 code saw, filled in by flags_user(). */
struct flags_seen {
	uint32_t cs;
	uint32_t pushf; /* EFLAGS on entry */
	uint32_t cli_vec, cli_err, after_cli;
	uint32_t sti_vec, sti_err, after_sti;
	uint32_t in_vec, in_err;
	uint32_t popf_from;  /* EFLAGS before the POPF test */
	uint32_t after_popf; /* after POPF of it ^ (IF | IOPL3 | CF) */
};
static struct flags_seen flags_seen;

/* Runs at ring 3 with the EFLAGS user_run was given. */
static uint32_t flags_user(uint32_t unused)
{
	struct flags_seen *s = &flags_seen;
	(void)unused;
	s->cs = read_cs();
	s->pushf = read_eflags();
	s->cli_vec = TRAP_TRY("cli");
	s->cli_err = trap_last.error;
	s->after_cli = read_eflags();
	s->sti_vec = TRAP_TRY("sti");
	s->sti_err = trap_last.error;
	s->after_sti = read_eflags();
	s->in_vec = TRAP_TRY("inb %0, %%al", : : "i"(FLAGS_PIC1_DATA) : "eax");
	s->in_err = trap_last.error;
	s->popf_from = read_eflags();
	write_eflags(s->popf_from ^ (X86_EFLAGS_IF | X86_EFLAGS_IOPL3 | X86_EFLAGS_CF));
	s->after_popf = read_eflags();
	return 0;
}

static uint32_t flags_iopl(uint32_t f)
{
	return (f & X86_EFLAGS_IOPL) >> 12;
}

static void flags_ring0(void)
{
	uint32_t f;
	cli();
	f = read_eflags();
	printf("ring 0: after CLI, PUSHF shows IF=%u IOPL=%u fixed bit 1=%u\n",
	       !!(f & X86_EFLAGS_IF), flags_iopl(f), !!(f & X86_EFLAGS_FIXED));
	test_eq(f & (X86_EFLAGS_IF | X86_EFLAGS_FIXED), X86_EFLAGS_FIXED, "ring 0 IF after CLI");
	sti();
	f = read_eflags();
	cli();
	printf("ring 0: after STI, IF=%u\n", !!(f & X86_EFLAGS_IF));
	test_check(f & X86_EFLAGS_IF, "ring 0 STI did not set IF");
	/* At CPL 0 POPF may change IOPL (SDM vol. 2, POPF). */
	write_eflags(X86_EFLAGS_FIXED | X86_EFLAGS_IOPL3);
	f = read_eflags();
	write_eflags(X86_EFLAGS_FIXED);
	printf("ring 0: POPF set IOPL=%u, then back to %u\n", flags_iopl(f),
	       flags_iopl(read_eflags()));
	test_eq(flags_iopl(f), 3, "ring 0 POPF of IOPL 3");
	test_eq(flags_iopl(read_eflags()), 0, "ring 0 POPF of IOPL 0");
}

static void flags_report(uint32_t iopl, const struct flags_seen *s)
{
	printf("ring 3, IOPL %u: PUSHF IF=%u IOPL=%u; CLI vector %d; STI vector %d; IN vector %d\n",
	       iopl, !!(s->pushf & X86_EFLAGS_IF), flags_iopl(s->pushf), (int)s->cli_vec,
	       (int)s->sti_vec, (int)s->in_vec);
	printf("ring 3, IOPL %u: POPF flipping IF, IOPL, CF gives IF=%u IOPL=%u CF=%u\n", iopl,
	       !!(s->after_popf & X86_EFLAGS_IF), flags_iopl(s->after_popf),
	       !!(s->after_popf & X86_EFLAGS_CF));
	test_eq(s->cs, SEL_UCODE, "CS at ring 3");
	test_eq(s->pushf & (X86_EFLAGS_IF | X86_EFLAGS_IOPL), X86_EFLAGS_IF | iopl << 12,
	        "ring 3 PUSHF IF and IOPL");
	test_eq(s->after_popf & X86_EFLAGS_IOPL, iopl << 12, "ring 3 POPF must keep IOPL");
	test_eq(s->after_popf & X86_EFLAGS_CF, ~s->popf_from & X86_EFLAGS_CF, "ring 3 POPF of CF");
}

/* CPL 3 > IOPL 0: CLI, STI and IN fault with #GP(0); POPF keeps IF. */
static void flags_ring3_iopl0(void)
{
	const struct flags_seen *s = &flags_seen;
	user_run(flags_user, 0, X86_EFLAGS_FIXED | X86_EFLAGS_IF);
	flags_report(0, s);
	test_eq(s->cli_vec, X86_EXC_GP, "CLI at IOPL 0");
	test_eq(s->cli_err, 0, "CLI #GP error code");
	test_check(s->after_cli & X86_EFLAGS_IF, "faulting CLI cleared IF");
	test_eq(s->sti_vec, X86_EXC_GP, "STI at IOPL 0");
	test_eq(s->sti_err, 0, "STI #GP error code");
	test_eq(s->in_vec, X86_EXC_GP, "IN at IOPL 0 without an I/O bitmap");
	test_eq(s->in_err, 0, "IN #GP error code");
	test_check(s->after_popf & X86_EFLAGS_IF, "ring 3 POPF at IOPL 0 changed IF");
}

/* CPL 3 <= IOPL 3: CLI, STI, IN work and POPF may change IF. */
static void flags_ring3_iopl3(void)
{
	const struct flags_seen *s = &flags_seen;
	user_run(flags_user, 0, X86_EFLAGS_FIXED | X86_EFLAGS_IF | X86_EFLAGS_IOPL3);
	flags_report(3, s);
	test_eq(s->cli_vec, TRAP_NONE, "CLI at IOPL 3");
	test_eq(s->after_cli & X86_EFLAGS_IF, 0, "IF after CLI at IOPL 3");
	test_eq(s->sti_vec, TRAP_NONE, "STI at IOPL 3");
	test_eq(s->after_sti & X86_EFLAGS_IF, X86_EFLAGS_IF, "IF after STI at IOPL 3");
	test_eq(s->in_vec, TRAP_NONE, "IN at IOPL 3");
	test_eq(s->after_popf & X86_EFLAGS_IF, 0, "IF after POPF at IOPL 3");
}

void test_main(void)
{
	flags_ring0();
	flags_ring3_iopl0();
	flags_ring3_iopl3();
	test_eq(read_eflags() & (X86_EFLAGS_IF | X86_EFLAGS_IOPL), 0, "ring 0 EFLAGS after ring 3");
}
