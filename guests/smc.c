/* smc: code the kernel writes at run time, and rewrites after it has run,
 * behaves as the bytes now in memory say (SDM vol. 3, 11.6 "Self-modifying
 * code").  An interpreter must forget what it decoded there; a monitor that
 * runs guest code natively must scan it again before it runs — and a PUSHF
 * written at run time must still show the guest's own IF, not the host's.
 * Also code that writes into its own page, and an instruction that
 * straddles two pages, rewritten in the second. */
#include "console.h"
#include "test.h"
#include "x86.h"

#define SMC_ROUNDS 200

typedef uint32_t (*smc_fn)(void);

/* Two pages of writable, executable memory (paging is off). */
static uint8_t smc_buf[8192] __attribute__((aligned(4096)));

/* mov $v, %eax; ret */
static void smc_emit_const(uint8_t *p, uint32_t v)
{
	p[0] = 0xb8;
	p[1] = (uint8_t)v;
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)(v >> 16);
	p[4] = (uint8_t)(v >> 24);
	p[5] = 0xc3;
}

static uint32_t smc_call(uint8_t *p)
{
	/* the compiler must not assume it knows what is there */
	__asm__ volatile("" : : "r"(p) : "memory");
	return ((smc_fn)(uintptr_t)p)();
}

void test_main(void)
{
	uint8_t *p = smc_buf + 0x100;
	uint32_t bad = 0;
	for (uint32_t i = 0; i < SMC_ROUNDS; i++) {
		smc_emit_const(p, i * 7 + 1);
		if (smc_call(p) != i * 7 + 1)
			bad++;
	}
	printf("rewritten %d times after running: %u wrong results\n", SMC_ROUNDS, bad);
	test_eq(bad, 0, "each rewrite runs");

	/* pushf; pop %eax; ret — written while the code there already ran */
	static const uint8_t read_flags[] = { 0x9c, 0x58, 0xc3 };
	for (unsigned i = 0; i < sizeof(read_flags); i++)
		p[i] = read_flags[i];
	__asm__ volatile("cli");
	uint32_t off = smc_call(p) & X86_EFLAGS_IF;
	__asm__ volatile("sti");
	uint32_t on = smc_call(p) & X86_EFLAGS_IF;
	printf("PUSHF in written code: IF=%u after CLI, IF=%u after STI\n", off ? 1 : 0,
	       on ? 1 : 0);
	test_eq(off, 0, "written PUSHF sees CLI");
	test_eq(on, X86_EFLAGS_IF, "written PUSHF sees STI");

	/* Code that writes into its own page: mov %eax, smc_buf+0x800; ret */
	uint32_t target = (uint32_t)(uintptr_t)(smc_buf + 0x800);
	p[0] = 0xa3;
	p[1] = (uint8_t)target;
	p[2] = (uint8_t)(target >> 8);
	p[3] = (uint8_t)(target >> 16);
	p[4] = (uint8_t)(target >> 24);
	p[5] = 0xc3;
	for (uint32_t i = 0; i < 3; i++)
		__asm__ volatile("call *%1" : : "a"(0xabc0 + i), "r"(p) : "memory", "ecx", "edx");
	printf("code that writes its own page: %x\n", *(volatile uint32_t *)(smc_buf + 0x800));
	test_eq(*(volatile uint32_t *)(smc_buf + 0x800), 0xabc2, "a write into the writer's page");

	/* mov $imm32, %eax straddling the pages: opcode and one byte in the
	 * first, three bytes of the immediate and the ret in the second */
	uint8_t *q = smc_buf + 4096 - 2;
	smc_emit_const(q, 0x11223344);
	uint32_t first = smc_call(q);
	smc_buf[4096 + 1] = 0x55; /* the immediate's third byte: 0x11553344 */
	uint32_t second = smc_call(q);
	printf("straddling instruction: %08x, then %08x\n", first, second);
	test_eq(first, 0x11223344, "straddling instruction");
	test_eq(second, 0x11553344, "rewritten in its second page");
}
