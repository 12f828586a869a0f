/* hidden: trap-type instructions in code the monitor's scanner never saw.
 *
 * The bytes sit on a page of their own after a RET, off the 16-byte grid,
 * so the only path the scanner follows there is the RET, and they are
 * reached only through a pointer: on plexvm's monitor they run natively,
 * unpatched.  INT 3 written as CD 03, INT 4 (CD 04) and INTO with OF set
 * are traps: the CPU reports the vector with EIP past the instruction, and
 * the two encodings of each differ in length, so whoever handles the trap
 * must find which it was (SDM Vol. 3 6.5, 6.12).  The guest's own handler
 * must see each vector with the return address right after the
 * instruction.  A POPF that sets AC there must not disturb anything
 * either (AC checks alignment only at CPL 3 with CR0.AM set, neither of
 * which holds here). */
#include "test.h"
#include "trap.h"
#include "x86.h"

void hidden_page(void);
extern const char hidden_int3[], hidden_int3_end[], hidden_int4[], hidden_int4_end[],
        hidden_into[], hidden_into_end[], hidden_set_ac[], hidden_clear_ac[];

__asm__(".pushsection .text.hidden, \"ax\"\n"
        ".balign 4096\n"
        "hidden_page:\n\tret\n"
        "hidden_int3:\n\t.byte 0xcd, 0x03\n"
        "hidden_int3_end:\n\tret\n"
        "hidden_int4:\n\t.byte 0xcd, 0x04\n"
        "hidden_int4_end:\n\tret\n"
        "hidden_into:\n\tinto\n"
        "hidden_into_end:\n\tret\n"
        "hidden_set_ac:\n\tpushfl\n\torl $0x40000, (%esp)\n\tpopfl\n\tret\n"
        "hidden_clear_ac:\n\tpushfl\n\tandl $~0x40000, (%esp)\n\tpopfl\n\tret\n"
        ".balign 4096, 0xcc\n"
        ".popsection\n");

struct hidden_seen {
	uint32_t vector, eip, count;
};
static volatile struct hidden_seen hidden_seen;

static void hidden_handler(struct trap_frame *f)
{
	hidden_seen.vector = f->vector;
	hidden_seen.eip = f->eip;
	hidden_seen.count++;
}

/* Calls @fn through a pointer with OF set (INTO traps only then). */
static void hidden_call_with_of(const char *fn)
{
	__asm__ volatile("mov $0x7fffffff, %%ecx\n\t"
	                 "add $1, %%ecx\n\t" /* OF = 1 */
	                 "call *%0"
	                 :
	                 : "a"(fn)
	                 : "ecx", "edx", "cc", "memory");
}

static void hidden_expect(const char *what, const char *fn, const char *end, uint32_t vector)
{
	hidden_seen.count = 0;
	hidden_seen.vector = TRAP_NONE;
	hidden_call_with_of(fn);
	printf("%s: vector %u, return address %s the instruction\n", what, hidden_seen.vector,
	       hidden_seen.eip == (uint32_t)end ? "right after" : "NOT after");
	test_eq(hidden_seen.count, 1, what);
	test_eq(hidden_seen.vector, vector, what);
	test_eq(hidden_seen.eip, (uint32_t)end, what);
}

void test_main(void)
{
	trap_set_handler(3, hidden_handler);
	trap_set_handler(4, hidden_handler);
	hidden_page(); /* the page runs (and is scanned) from its RET */
	hidden_expect("INT 3 (CD 03)", hidden_int3, hidden_int3_end, 3);
	hidden_expect("INT 4 (CD 04)", hidden_int4, hidden_int4_end, 4);
	hidden_expect("INTO with OF=1", hidden_into, hidden_into_end, 4);

	hidden_call_with_of(hidden_set_ac);
	printf("AC set by an unseen POPF; a trap after it: ");
	outb(0x80, 0); /* a trap on the monitor, a no-op elsewhere */
	hidden_call_with_of(hidden_clear_ac);
	printf("still running\n");
}
