/* debug: the debug registers and single-step (SDM vol. 3, chapter 18).
 *
 * - TF single-step: a #DB trap after each instruction that began with TF
 *   set (so after the POPF that clears it, not after the one that sets
 *   it), DR6.BS set;
 * - MOV SS and POP SS hold that #DB back until the next instruction has
 *   run (SDM 6.8.3): no trap between them and it, then one;
 * - an execute breakpoint (DR0, R/W 00): a #DB fault on the instruction,
 *   DR6.B0; EFLAGS.RF set in the frame lets the instruction run once;
 * - a write breakpoint (DR1, 4 bytes): a #DB trap after each instruction
 *   writing any of its bytes, not after a read or a write next to it;
 * - a read/write breakpoint (DR2, 2 bytes): after reads and writes.
 * The #DB handler records the EIP pushed and DR6's B0-B3 and BS, then
 * clears DR6.  The instructions under test are in assembly, with labels
 * that say where each trap must land. */
#include "test.h"
#include "trap.h"
#include "x86.h"

#define DB_MAX 16
#define DR6_BS 0x4000u
#define DR6_HITS 0x400fu /* B0-B3 and BS: what the tests compare */
#define EFLAGS_RF 0x10000u

static volatile uint32_t db_eip[DB_MAX], db_dr6[DB_MAX];
static volatile unsigned db_count;
static volatile int db_set_rf;       /* the handler sets RF instead of... */
static volatile int db_clear_dr7;    /* ...clearing DR7 */

volatile uint32_t db_var_w[2] __attribute__((aligned(8)));
volatile uint16_t db_var_rw[4] __attribute__((aligned(8)));

#define DR_ACCESSORS(n)                                                                            \
	static inline uint32_t read_dr##n(void)                                                    \
	{                                                                                          \
		uint32_t v;                                                                        \
		__asm__ volatile("mov %%dr" #n ", %0" : "=r"(v));                                  \
		return v;                                                                          \
	}                                                                                          \
	static inline void write_dr##n(uint32_t v)                                                 \
	{                                                                                          \
		__asm__ volatile("mov %0, %%dr" #n : : "r"(v));                                    \
	}
DR_ACCESSORS(0)
DR_ACCESSORS(1)
DR_ACCESSORS(2)
DR_ACCESSORS(6)
DR_ACCESSORS(7)

/* The code under test (called from C; each returns with TF clear).  After
 * TF is set, a label marks where each single-step trap must land. */
void db_step(void), db_movss(void), db_popss(void), db_exec(void), db_write(void),
        db_rw(void);
extern const char db_step_1[], db_step_2[], db_step_3[], db_step_4[], db_step_5[];
extern const char db_movss_1[], db_movss_2[], db_movss_3[], db_movss_4[], db_movss_5[];
extern const char db_popss_1[], db_popss_2[], db_popss_3[], db_popss_4[], db_popss_5[];
extern const char db_exec_here[], db_write_2[], db_write_3[], db_rw_3[], db_rw_4[];
__asm__(".text\n"
        /* TF on; NOP; MOV; TF off: a trap after each, the POPF too */
        "db_step: pushfl\n orl $0x100, (%esp)\n popfl\n"
        "nop\n"
        "db_step_1: movl $5, %eax\n"
        "db_step_2: pushfl\n"
        "db_step_3: andl $~0x100, (%esp)\n"
        "db_step_4: popfl\n"
        "db_step_5: ret\n"
        /* MOV SS: no trap before the NOP after it has run */
        "db_movss: pushfl\n orl $0x100, (%esp)\n popfl\n"
        "movw %ss, %ax\n"
        "db_movss_1: movw %ax, %ss\n"
        "nop\n"
        "db_movss_2: pushfl\n"
        "db_movss_3: andl $~0x100, (%esp)\n"
        "db_movss_4: popfl\n"
        "db_movss_5: ret\n"
        /* POP SS likewise */
        "db_popss: pushfl\n orl $0x100, (%esp)\n popfl\n"
        "pushl %ss\n"
        "db_popss_1: popl %ss\n"
        "nop\n"
        "db_popss_2: pushfl\n"
        "db_popss_3: andl $~0x100, (%esp)\n"
        "db_popss_4: popfl\n"
        "db_popss_5: ret\n"
        /* an execute breakpoint on db_exec_here */
        "db_exec: nop\n"
        "db_exec_here: nop\n ret\n"
        /* a 4-byte write breakpoint on db_var_w[0] */
        "db_write: movl db_var_w, %eax\n"
        "movl $7, db_var_w\n"
        "db_write_2: movb $1, db_var_w+3\n"
        "db_write_3: movl $9, db_var_w+4\n"
        "ret\n"
        /* a 2-byte read/write breakpoint on db_var_rw[0] */
        "db_rw: movw db_var_rw+2, %ax\n"
        "movb db_var_rw+1, %al\n"
        "db_rw_3: incl db_var_rw\n"
        "db_rw_4: ret\n");

static void db_handler(struct trap_frame *f)
{
	unsigned n = db_count;
	if (n < DB_MAX) {
		db_eip[n] = f->eip;
		db_dr6[n] = read_dr6() & DR6_HITS;
	}
	db_count = n + 1;
	write_dr6(0);
	if (db_set_rf)
		f->eflags |= EFLAGS_RF;
	if (db_clear_dr7)
		write_dr7(0);
}

static void db_reset(int set_rf, int clear_dr7)
{
	db_count = 0;
	db_set_rf = set_rf;
	db_clear_dr7 = clear_dr7;
}

/* Checks that the traps were exactly at @want (n of them), each with DR6
 * hits @dr6. */
static void db_expect(const char *what, const char *const *want, unsigned n, uint32_t dr6)
{
	unsigned got = db_count;
	printf("%s: %u #DB\n", what, got);
	test_check(got == n, "%s: %u #DB, want %u", what, got, n);
	for (unsigned i = 0; i < n && i < got && i < DB_MAX; i++) {
		test_check(db_eip[i] == (uint32_t)want[i], "%s: #DB %u at 0x%x, want 0x%x", what, i,
		           db_eip[i], (uint32_t)want[i]);
		test_check(db_dr6[i] == dr6, "%s: #DB %u DR6 0x%x, want 0x%x", what, i, db_dr6[i],
		           dr6);
	}
}

static void db_test_single_step(void)
{
	static const char *const step[] = { db_step_1, db_step_2, db_step_3, db_step_4, db_step_5 };
	static const char *const movss[] = { db_movss_1, db_movss_2, db_movss_3, db_movss_4,
		                             db_movss_5 };
	static const char *const popss[] = { db_popss_1, db_popss_2, db_popss_3, db_popss_4,
		                             db_popss_5 };
	db_reset(0, 0);
	db_step();
	db_expect("single-step", step, 5, DR6_BS);
	db_reset(0, 0);
	db_movss();
	db_expect("single-step over MOV SS", movss, 5, DR6_BS);
	db_reset(0, 0);
	db_popss();
	db_expect("single-step over POP SS", popss, 5, DR6_BS);
}

static void db_test_exec(void)
{
	static const char *const here[] = { db_exec_here, db_exec_here };
	write_dr0((uint32_t)db_exec_here);
	write_dr7(0x1); /* L0, R/W0 00 (execute), LEN0 00 */
	test_eq(read_dr7(), 0x401, "DR7 reads back with bit 10 set");
	db_reset(1, 0);
	db_exec(); /* the #DB returns with RF set: the NOP runs, no second #DB */
	db_clear_dr7 = 1;
	db_set_rf = 0;
	db_exec(); /* #DB again; this time the handler clears DR7 */
	db_expect("execute breakpoint", here, 2, 0x1);
	db_exec();
	test_eq(db_count, 2, "no #DB once DR7 is clear");
}

static void db_test_data(void)
{
	static const char *const w[] = { db_write_2, db_write_3 };
	static const char *const rw[] = { db_rw_3, db_rw_4 };
	write_dr1((uint32_t)&db_var_w[0]);
	write_dr7(0x4 | 1u << 20 | 3u << 22); /* L1, R/W1 01 (write), LEN1 11 (4) */
	db_reset(0, 0);
	db_write();
	write_dr7(0);
	db_expect("write breakpoint", w, 2, 0x2);
	test_eq(db_var_w[0], 0x01000007, "the watched word, written");
	write_dr2((uint32_t)&db_var_rw[0]);
	write_dr7(0x10 | 3u << 24 | 1u << 26); /* L2, R/W2 11 (access), LEN2 01 (2) */
	db_reset(0, 0);
	db_rw();
	write_dr7(0);
	db_expect("read/write breakpoint", rw, 2, 0x4);
	test_eq(db_var_rw[0], 1, "the watched halfword, incremented");
}

void test_main(void)
{
	trap_set_handler(1, db_handler);
	write_dr6(0);
	db_test_single_step();
	db_test_exec();
	db_test_data();
	write_dr7(0);
}
