/* exceptions: each exception the kernel can provoke on purpose, first at
 * ring 0 and then from ring 3, checking the vector, the error code, the
 * return address (the faulting instruction for faults, the next one for the
 * traps #BP and #OF, SDM 6.5) and, from ring 3, the SS:ESP the CPU pushed
 * (SDM 6.12.1). */
#include "desc.h"
#include "test.h"
#include "trap.h"
#include "x86.h"

/* GDT slots: a not-present DPL 3 data segment (for DS loads at either
 * ring) and not-present stack segments for ring 0 and ring 3. */
#define EXC_NP_DATA 6
#define EXC_NP_SS0 7
#define EXC_NP_SS3 8
#define EXC_UNMAPPED 0x40000123u /* nothing is mapped at 1 GiB */
#define EXC_PDE_P 0x001u
#define EXC_PDE_RW 0x002u
#define EXC_PDE_US 0x004u
#define EXC_PDE_PS 0x080u

static uint32_t exc_pd[1024] __attribute__((aligned(4096)));

struct exc_case {
	const char *name;
	uint32_t (*run)(uint32_t cpl);
	uint32_t vector;
	uint32_t error0, error3; /* the error code at ring 0 and ring 3 */
	int trap;                /* EIP points past the instruction */
};

static uint32_t exc_de(uint32_t cpl)
{
	(void)cpl;
	return TRAP_TRY("divl %%ecx", : : "a"(1), "d"(0), "c"(0));
}

static uint32_t exc_ud(uint32_t cpl)
{
	(void)cpl;
	return TRAP_TRY("ud2");
}

/* A selector past the GDT limit: #GP with the selector as error code. */
static uint32_t exc_gp(uint32_t cpl)
{
	return TRAP_TRY("movw %w0, %%fs", : : "r"(DESC_GDT_ENTRIES << 3 | cpl));
}

static uint32_t exc_np(uint32_t cpl)
{
	return TRAP_TRY("movw %w0, %%fs", : : "r"(EXC_NP_DATA << 3 | cpl));
}

/* MOV SS with a not-present descriptor raises #SS, not #NP (MOV, vol. 2). */
static uint32_t exc_ss(uint32_t cpl)
{
	uint32_t sel = (cpl ? EXC_NP_SS3 : EXC_NP_SS0) << 3 | cpl;
	return TRAP_TRY("movw %w0, %%ss", : : "r"(sel));
}

static uint32_t exc_bp(uint32_t cpl)
{
	(void)cpl;
	return TRAP_TRY("int3");
}

static uint32_t exc_of(uint32_t cpl)
{
	(void)cpl;
	return TRAP_TRY("addl $1, %%eax\n\tinto", : : "a"(0x7FFFFFFF));
}

static uint32_t exc_br(uint32_t cpl)
{
	static const int32_t bounds[2] = { 0, 10 };
	(void)cpl;
	return TRAP_TRY("bound %0, %1", : : "r"(20), "m"(bounds));
}

static uint32_t exc_pf_read(uint32_t cpl)
{
	(void)cpl;
	return TRAP_TRY("movl (%0), %%eax", : : "r"(EXC_UNMAPPED) : "eax");
}

static uint32_t exc_pf_write(uint32_t cpl)
{
	(void)cpl;
	return TRAP_TRY("movl %%eax, (%0)", : : "r"(EXC_UNMAPPED), "a"(0) : "memory");
}

static uint32_t exc_priv(uint32_t cpl)
{
	(void)cpl;
	return TRAP_TRY("hlt");
}

static const struct exc_case exc_cases[] = {
	{ "#DE div by zero", exc_de, X86_EXC_DE, 0, 0, 0 },
	{ "#UD ud2", exc_ud, X86_EXC_UD, 0, 0, 0 },
	{ "#GP selector past GDT limit", exc_gp, X86_EXC_GP, DESC_GDT_ENTRIES << 3,
	  DESC_GDT_ENTRIES << 3, 0 },
	{ "#NP not-present data segment", exc_np, X86_EXC_NP, EXC_NP_DATA << 3, EXC_NP_DATA << 3,
	  0 },
	{ "#SS not-present stack segment", exc_ss, X86_EXC_SS, EXC_NP_SS0 << 3, EXC_NP_SS3 << 3,
	  0 },
	{ "#BP int3", exc_bp, X86_EXC_BP, 0, 0, 1 },
	{ "#OF into", exc_of, X86_EXC_OF, 0, 0, 1 },
	{ "#BR bound", exc_br, X86_EXC_BR, 0, 0, 0 },
	/* #PF error code: bit 1 write, bit 2 user (SDM 4.7). */
	{ "#PF read not-present", exc_pf_read, X86_EXC_PF, 0x0, 0x4, 0 },
	{ "#PF write not-present", exc_pf_write, X86_EXC_PF, 0x2, 0x6, 0 },
};

static void exc_check(const struct exc_case *c, uint32_t cpl, uint32_t v)
{
	uint32_t error = cpl ? c->error3 : c->error0;
	int at_next = trap_last.eip == trap_last.next, at_insn = trap_last.eip == trap_last.insn;
	printf("ring %u %s: vector %u error 0x%x eip %s\n", cpl, c->name, v, trap_last.error,
	       at_insn   ? "at the instruction"
	       : at_next ? "after the instruction"
	                 : "elsewhere");
	test_check(v == c->vector, "ring %u %s: vector %u", cpl, c->name, v);
	test_check(trap_last.error == error, "ring %u %s: error 0x%x", cpl, c->name,
	           trap_last.error);
	if (c->trap)
		test_check(at_next, "ring %u %s: EIP not after the instruction", cpl, c->name);
	else
		test_check(at_insn, "ring %u %s: EIP not at the instruction", cpl, c->name);
	if (c->vector == X86_EXC_PF)
		test_eq(read_cr2(), EXC_UNMAPPED, "CR2");
	if (!cpl)
		return;
	test_eq(trap_last.cs, SEL_UCODE, "ring 3 frame CS");
	test_eq(trap_last.ss, SEL_UDATA, "ring 3 frame SS");
	test_check(trap_last.esp > (uint32_t)user_stack && trap_last.esp < (uint32_t)user_stack_top,
	           "ring 3 frame ESP 0x%x outside the user stack", trap_last.esp);
}

/* Identity-maps the first 16 MiB with 4 MiB user pages; 1 GiB stays unmapped. */
static void exc_paging_on(void)
{
	for (uint32_t i = 0; i < 4; i++)
		exc_pd[i] = i << 22 | EXC_PDE_P | EXC_PDE_RW | EXC_PDE_US | EXC_PDE_PS;
	write_cr4(read_cr4() | X86_CR4_PSE);
	write_cr3((uint32_t)exc_pd);
	write_cr0(read_cr0() | X86_CR0_PG);
}

void test_main(void)
{
	unsigned n = sizeof(exc_cases) / sizeof(exc_cases[0]);
	desc_set_seg(EXC_NP_DATA, 0, 0xFFFFF, DESC_DPL(3) | DESC_S | DESC_DATA_RW,
	             DESC_G | DESC_DB);
	desc_set_seg(EXC_NP_SS0, 0, 0xFFFFF, DESC_S | DESC_DATA_RW, DESC_G | DESC_DB);
	desc_set_seg(EXC_NP_SS3, 0, 0xFFFFF, DESC_DPL(3) | DESC_S | DESC_DATA_RW, DESC_G | DESC_DB);
	exc_paging_on();
	for (unsigned i = 0; i < n; i++)
		exc_check(&exc_cases[i], 0, exc_cases[i].run(0));
	for (unsigned i = 0; i < n; i++)
		exc_check(&exc_cases[i], 3, user_run(exc_cases[i].run, 3, X86_EFLAGS_FIXED));
	/* HLT at ring 3 is privileged: #GP(0) (SDM vol. 2, HLT). */
	static const struct exc_case priv = { "#GP hlt", exc_priv, X86_EXC_GP, 0, 0, 0 };
	exc_check(&priv, 3, user_run(exc_priv, 3, X86_EFLAGS_FIXED));
	test_eq(read_ss(), SEL_KDATA, "SS after the #SS tests");
}
