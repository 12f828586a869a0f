/* syscall: system calls from ring 3 through INT 0x80, in the style of
 * plex86's nullkernel.  The kernel drops to ring 3 with IRET; user code makes
 * a thousand calls and checks every result, then tries an INT whose gate has
 * DPL 0, which must raise #GP with the IDT-flavoured error code (SDM 6.12.1.1,
 * 6.13: index << 3 | IDT bit). */
#include "desc.h"
#include "test.h"
#include "trap.h"
#include "x86.h"

#define SYS_ADD 0   /* ebx + ecx */
#define SYS_COUNT 1 /* calls so far */
#define SYS_PUTS 2  /* print the string at ebx */
#define SYSCALL_CALLS 1000
#define SYSCALL_DPL0_VECTOR 0x40

struct syscall_state {
	uint32_t calls;
	uint32_t bad_frames; /* frames not from ring 3 on the user stack */
};
static struct syscall_state syscall_st;

static void syscall_handler(struct trap_frame *f)
{
	int frame_ok = f->cs == SEL_UCODE && f->ss == SEL_UDATA && f->esp > (uint32_t)user_stack &&
	               f->esp <= (uint32_t)user_stack_top && (f->eflags & X86_EFLAGS_IF) == 0;
	syscall_st.calls++;
	if (!frame_ok)
		syscall_st.bad_frames++;
	switch (f->eax) {
	case SYS_ADD: f->eax = f->ebx + f->ecx; break;
	case SYS_COUNT: f->eax = syscall_st.calls; break;
	case SYS_PUTS:
		console_write((const char *)f->ebx);
		f->eax = 0;
		break;
	default: f->eax = (uint32_t)-1; break;
	}
}

static uint32_t syscall_invoke(uint32_t nr, uint32_t a, uint32_t b)
{
	uint32_t r;
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b) : "memory");
	return r;
}

/* Runs at ring 3.  Returns the sum of all SYS_ADD results, or 0 if any one
 * was wrong. */
static uint32_t syscall_user_adds(uint32_t n)
{
	uint32_t sum = 0;
	if ((read_cs() & 3) != 3)
		return 0;
	syscall_invoke(SYS_PUTS, (uint32_t) "ring 3: making system calls\n", 0);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t r = syscall_invoke(SYS_ADD, i, 3 * i);
		if (r != 4 * i)
			return 0;
		sum += r;
	}
	return sum;
}

/* Runs at ring 3: an INT 0x80 changes EAX only; the other registers and the
 * arithmetic flags come back as they were (IRET restores EFLAGS). */
static uint32_t syscall_user_regs(uint32_t unused)
{
	uint32_t b = 0xB0B0B0B0, c = 0xC0C0C0C0, d = 0xD0D0D0D0, si = 0x51515151, di = 0xD1D1D1D1;
	uint32_t a = SYS_COUNT;
	uint8_t cf;
	(void)unused;
	__asm__ volatile("stc\n\tint $0x80\n\tsetc %6"
	                 : "+a"(a), "+b"(b), "+c"(c), "+d"(d), "+S"(si), "+D"(di), "=m"(cf)
	                 :
	                 : "memory", "cc");
	return (b == 0xB0B0B0B0) | (c == 0xC0C0C0C0) << 1 | (d == 0xD0D0D0D0) << 2 |
	       (si == 0x51515151) << 3 | (di == 0xD1D1D1D1) << 4 | (cf == 1) << 5;
}

static uint32_t syscall_user_count(uint32_t unused)
{
	(void)unused;
	return syscall_invoke(SYS_COUNT, 0, 0);
}

static uint32_t syscall_user_dpl0(uint32_t unused)
{
	(void)unused;
	return TRAP_TRY("int $0x40");
}

static uint32_t syscall_user_unknown(uint32_t nr)
{
	return syscall_invoke(nr, 1, 2);
}

void test_main(void)
{
	uint32_t sum, want = 0, v;
	trap_set_handler(0x80, syscall_handler);
	for (uint32_t i = 0; i < SYSCALL_CALLS; i++)
		want += 4 * i;

	sum = user_run(syscall_user_adds, SYSCALL_CALLS, X86_EFLAGS_FIXED);
	printf("%u SYS_ADD calls from ring 3, sum of results %u\n", SYSCALL_CALLS, sum);
	test_eq(sum, want, "sum of SYS_ADD results");

	v = user_run(syscall_user_count, 0, X86_EFLAGS_FIXED);
	printf("SYS_COUNT says %u calls\n", v);
	test_eq(v, SYSCALL_CALLS + 2, "SYS_COUNT");
	test_eq(syscall_st.bad_frames, 0, "calls with a wrong ring-3 frame");
	test_eq(user_run(syscall_user_unknown, 999, X86_EFLAGS_FIXED), 0xFFFFFFFF, "unknown call");

	v = user_run(syscall_user_regs, 0, X86_EFLAGS_FIXED);
	printf("registers kept across INT 0x80: EBX %u ECX %u EDX %u ESI %u EDI %u CF %u\n", v & 1,
	       v >> 1 & 1, v >> 2 & 1, v >> 3 & 1, v >> 4 & 1, v >> 5 & 1);
	test_eq(v, 0x3F, "registers and CF kept across INT 0x80 (one bit each)");

	v = user_run(syscall_user_dpl0, 0, X86_EFLAGS_FIXED);
	printf("INT 0x%x (DPL 0 gate) from ring 3: vector %u, error 0x%x\n", SYSCALL_DPL0_VECTOR, v,
	       trap_last.error);
	test_eq(v, X86_EXC_GP, "vector for INT to a DPL 0 gate");
	test_eq(trap_last.error, SYSCALL_DPL0_VECTOR << 3 | 2, "#GP error code");
	test_eq(trap_last.eip, trap_last.insn, "#GP return EIP (the INT itself)");
	test_eq(trap_last.cs, SEL_UCODE, "#GP frame CS");
	test_eq(trap_last.ss, SEL_UDATA, "#GP frame SS");
	test_eq(syscall_st.calls, SYSCALL_CALLS + 4, "calls counted by the kernel");
	test_eq(read_cs(), SEL_KCODE, "CS back at ring 0");
}
