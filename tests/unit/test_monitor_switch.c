/* The monitor's world switch on the real host CPU: 32-bit code entered at
 * ring 3 through monitor_enter() comes back with its registers and the
 * reason it stopped, and a guest `int $0x80` never reaches the host kernel
 * (seccomp turns it into SIGSYS).  The code here is mapped executable by the
 * test itself, unscanned, as code the scanner missed would be. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../x86/fpu.h"
#include "engine/monitor/monitor_ldt.h"
#include "engine/monitor/monitor_probe.h"
#include "engine/monitor/monitor_space.h"
#include "engine/monitor/monitor_switch.h"
#include "engine/monitor/monitor_trap.h"

#define CODE 0x10000u
#define STACK 0x20000u
#define DATA 0x30000u

static struct mem mem;
static struct monitor_space space;
static struct monitor_ldt ldt;
static bool ready;

static int setup(void **state)
{
	char err[256];
	if (mem_init(&mem, 4u << 20) < 0)
		return -1;
	if (monitor_trap_init(err, sizeof(err)) < 0 ||
	    monitor_space_init(&space, &mem, NULL, err, sizeof(err)) < 0 ||
	    monitor_probe(&ldt, err, sizeof(err)) < 0) {
		/* e.g. under AddressSanitizer, whose shadow lies below 4 GiB,
		 * or on a kernel without compatibility mode */
		print_message("monitor unavailable here: %s\n", err);
		return 0;
	}
	if (monitor_seccomp_install(err, sizeof(err)) < 0)
		return -1;
	ready = true;
	return 0;
}

/* Copies @code to CODE, makes it executable as is, and enters it with flat
 * segments (DS based at @ds_base) and the registers in @r. */
static void run_code(const uint8_t *code, size_t len, uint32_t ds_base, const uint32_t r[8])
{
	if (!ready)
		skip();
	/* cmocka puts its own handlers on SIGSEGV, SIGSYS... for each test */
	assert_int_equal(monitor_trap_handlers(), 0);
	void *va = (void *)(uintptr_t)CODE;
	assert_int_equal(mprotect(va, 4096, PROT_READ | PROT_WRITE), 0);
	memcpy(va, code, len);
	assert_int_equal(mprotect(va, 4096, PROT_READ | PROT_EXEC), 0);

	struct x86_seg seg[6];
	for (int i = 0; i < 6; i++)
		seg[i] = (struct x86_seg){ 0x10, 0, 0xffffffff, 0xc093 };
	seg[X86_CS] = (struct x86_seg){ 0x08, 0, 0xffffffff, 0xc09b };
	seg[X86_DS].base = ds_base;
	uint16_t sel[6];
	assert_int_equal(monitor_ldt_sync(&ldt, seg, sel, 0), 0);

	struct monitor_frame *f = &monitor_frame;
	memcpy(f->r, r, sizeof(f->r));
	f->r[4] = STACK;
	f->eip = CODE;
	f->eflags = 0x202;
	monitor_frame_set_segs(f, sel);
	monitor_enter();
	assert_int_equal(f->entry_failed, 0);
}

static const uint32_t zero[8];

static void test_registers_round_trip(void **state)
{
	static const uint8_t code[] = {
		0xb8, 0x11, 0x11, 0x11, 0x11, /* mov $0x11111111, %eax */
		0xb9, 0x22, 0x22, 0x22, 0x22, /* mov $0x22222222, %ecx */
		0xba, 0x33, 0x33, 0x33, 0x33, /* mov $0x33333333, %edx */
		0xbb, 0x44, 0x44, 0x44, 0x44, /* mov $0x44444444, %ebx */
		0xbd, 0x66, 0x66, 0x66, 0x66, /* mov $0x66666666, %ebp */
		0xbe, 0x77, 0x77, 0x77, 0x77, /* mov $0x77777777, %esi */
		0xbf, 0x88, 0x88, 0x88, 0x88, /* mov $0x88888888, %edi */
		0x83, 0xec, 0x10,             /* sub $16, %esp */
		0xf9,                         /* stc */
		0xcc,                         /* int3 */
	};
	run_code(code, sizeof(code), 0, zero);
	const struct monitor_frame *f = &monitor_frame;
	assert_int_equal(f->signo, SIGTRAP);
	assert_int_equal(monitor_exit_kind(), MONITOR_EXIT_INT3);
	assert_int_equal(f->eip, CODE + sizeof(code)); /* after the INT3 */
	assert_int_equal(f->r[0], 0x11111111);
	assert_int_equal(f->r[1], 0x22222222);
	assert_int_equal(f->r[2], 0x33333333);
	assert_int_equal(f->r[3], 0x44444444);
	assert_int_equal(f->r[4], STACK - 16);
	assert_int_equal(f->r[5], 0x66666666);
	assert_int_equal(f->r[6], 0x77777777);
	assert_int_equal(f->r[7], 0x88888888);
	assert_true(f->eflags & 1); /* CF */
}

static void test_int80_exit_never_reaches_host(void **state)
{
	static const uint8_t code[] = {
		0xb8, 0x01, 0x00, 0x00, 0x00, /* mov $1, %eax   (i386 exit) */
		0xbb, 0x2a, 0x00, 0x00, 0x00, /* mov $42, %ebx */
		0xcd, 0x80,                   /* int $0x80 */
	};
	run_code(code, sizeof(code), 0, zero);
	const struct monitor_frame *f = &monitor_frame;
	/* Still here: the host did not exit. */
	assert_int_equal(f->signo, SIGSYS);
	assert_int_equal(monitor_exit_kind(), MONITOR_EXIT_SYSCALL);
	assert_int_equal(f->syscall_nr, 1);
	assert_int_equal(f->r[3], 42);
	assert_int_equal(f->eip, CODE + sizeof(code));
}

static void test_int80_write_never_reaches_host(void **state)
{
	if (!ready)
		skip();
	int p[2];
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	memcpy((void *)(uintptr_t)DATA, "leak!", 5);
	uint8_t code[] = {
		0xb8, 0x04, 0x00, 0x00, 0x00, /* mov $4, %eax   (i386 write) */
		0xbb, 0,    0,    0,    0,    /* mov $fd, %ebx */
		0xb9, 0,    0,    0,    0,    /* mov $DATA, %ecx */
		0xba, 0x05, 0x00, 0x00, 0x00, /* mov $5, %edx */
		0xcd, 0x80,                   /* int $0x80 */
	};
	uint32_t fd = (uint32_t)p[1], data = DATA;
	memcpy(&code[6], &fd, 4);
	memcpy(&code[11], &data, 4);
	run_code(code, sizeof(code), 0, zero);
	assert_int_equal(monitor_frame.signo, SIGSYS);
	assert_int_equal(monitor_frame.syscall_nr, 4);
	char buf[8];
	assert_int_equal(read(p[0], buf, sizeof(buf)), -1); /* nothing was written */
	assert_int_equal(errno, EAGAIN);
	close(p[0]);
	close(p[1]);
}

static void test_privileged_faults(void **state)
{
	static const uint8_t cli[] = { 0xfa };
	run_code(cli, sizeof(cli), 0, zero);
	assert_int_equal(monitor_frame.signo, SIGSEGV);
	assert_int_equal(monitor_frame.trapno, 13);
	assert_int_equal(monitor_frame.eip, CODE); /* at the CLI, not past it */

	static const uint8_t mov_cr0[] = { 0x0f, 0x20, 0xc0 }; /* mov %cr0, %eax */
	run_code(mov_cr0, sizeof(mov_cr0), 0, zero);
	assert_int_equal(monitor_frame.trapno, 13);
}

static void test_fetch_from_unscanned_page(void **state)
{
	static const uint8_t jmp[] = { 0xe9, 0xfb, 0x0f, 0x00, 0x00 }; /* jmp CODE+0x1000 */
	run_code(jmp, sizeof(jmp), 0, zero);
	assert_int_equal(monitor_frame.signo, SIGSEGV);
	assert_int_equal(monitor_frame.trapno, 14);
	assert_true(monitor_frame.err & 0x10); /* an instruction fetch */
	assert_int_equal(monitor_frame.fault_addr, CODE + 0x1000);
	assert_int_equal(monitor_frame.eip, CODE + 0x1000);
}

/* Guest code that reaches 64-bit mode (a far jump to the host's own code
 * segment the scanner did not see) still cannot make a host system call,
 * and its trap still comes back to the monitor, marked by its CS. */
static void test_escape_to_64bit_is_caught(void **state)
{
	uint8_t code[] = {
		0xea, 0,    0,    0,    0,    0x33, 0x00, /* ljmp $0x33, $CODE+7 */
		0xb8, 0x3c, 0x00, 0x00, 0x00,             /* mov $60, %eax   (x86-64 exit) */
		0x0f, 0x05,                               /* syscall */
	};
	uint32_t target = CODE + 7;
	memcpy(&code[1], &target, 4);
	run_code(code, sizeof(code), 0, zero);
	assert_int_equal(monitor_frame.signo, SIGSYS);
	assert_int_equal(monitor_frame.trap_cs, 0x33);
	assert_int_equal(monitor_frame.syscall_nr, 60);
}

/* Far-jumps to 64-bit code at CODE+7 that runs @tail (at most 48 bytes). */
static void run_code64(const uint8_t *tail, size_t len)
{
	uint8_t code[64] = { 0xea, 0, 0, 0, 0, 0x33, 0x00 }; /* ljmp $0x33, $CODE+7 */
	uint32_t target = CODE + 7;
	memcpy(&code[1], &target, 4);
	assert_true(len <= sizeof(code) - 7);
	memcpy(&code[7], tail, len);
	run_code(code, 7 + len, 0, zero);
}

/* In 64-bit mode, guest code finds nothing of plexvm's in R8-R15 or in the
 * upper halves of the others (plexvm's heap and stack pointers were
 * there). */
static void test_no_host_values_in_64bit_registers(void **state)
{
	static const uint8_t tail[] = {
		0x4c, 0x89, 0xc0, /* mov %r8, %rax */
		0x4c, 0x09, 0xc8, /* or %r9, %rax */
		0x4c, 0x09, 0xd0, /* or %r10, %rax */
		0x4c, 0x09, 0xd8, /* or %r11, %rax */
		0x4c, 0x09, 0xe0, /* or %r12, %rax */
		0x4c, 0x09, 0xe8, /* or %r13, %rax */
		0x4c, 0x09, 0xf0, /* or %r14, %rax */
		0x4c, 0x09, 0xf8, /* or %r15, %rax */
		0x48, 0x09, 0xf0, /* or %rsi, %rax */
		0x48, 0x09, 0xf8, /* or %rdi, %rax */
		0x48, 0x89, 0xc1, /* mov %rax, %rcx */
		0x48, 0xc1, 0xe9, 0x20, /* shr $32, %rcx */
		0xcc,             /* int3 */
	};
	run_code64(tail, sizeof(tail));
	assert_int_equal(monitor_frame.signo, SIGTRAP);
	assert_int_equal(monitor_frame.trap_cs, 0x33);
	assert_int_equal(monitor_frame.r[0], 0); /* low halves of R8-R15 */
	assert_int_equal(monitor_frame.r[1], 0); /* high halves of all */
}

/* A jump to an unmapped address above 4 GiB is the guest's fault, reported
 * as such, not a crash of plexvm. */
static void test_64bit_jump_high_is_guest_fault(void **state)
{
	static const uint8_t tail[] = {
		0x48, 0xb8, 0, 0, 0, 0, 0, 0x7e, 0, 0, /* movabs $0x7e0000000000, %rax */
		0xff, 0xe0,                            /* jmp *%rax */
	};
	run_code64(tail, sizeof(tail));
	assert_int_equal(monitor_frame.signo, SIGSEGV);
	assert_int_equal(monitor_frame.trap_cs, 0x33);
}

/* The guest's vector registers are its own across traps, whatever plexvm
 * does with them in between, and start with no value of plexvm's. */
static void test_vector_registers_are_the_guests(void **state)
{
	static const uint8_t load[] = {
		0x66, 0x0f, 0x6e, 0xc0, /* movd %eax, %xmm0 */
		0xcc,                   /* int3 */
	};
	static const uint8_t store[] = {
		0x66, 0x0f, 0x7e, 0xc1, /* movd %xmm0, %ecx */
		0x66, 0x0f, 0x7e, 0xca, /* movd %xmm1, %edx */
		0xcc,                   /* int3 */
	};
	uint32_t r[8] = { 0x5eed1234 };
	run_code(load, sizeof(load), 0, r);
	assert_int_equal(monitor_frame.signo, SIGTRAP);
	__asm__ volatile("pcmpeqd %%xmm0, %%xmm0\n\tpcmpeqd %%xmm1, %%xmm1" ::: "xmm0", "xmm1");
	run_code(store, sizeof(store), 0, zero);
	assert_int_equal(monitor_frame.r[1], 0x5eed1234);
	assert_int_equal(monitor_frame.r[2], 0); /* never written by the guest */
}

/* The guest's x87 state, out of the CPU into its XSAVE area. */
static void guest_fpu(struct x86_fpu *f)
{
	monitor_x87_save();
	fpu_from_fxsave(f, (const uint8_t *)(uintptr_t)monitor_frame.guest_xsave);
}

/* An unmasked x87 exception in guest code comes back as the guest's #MF
 * (SIGFPE, trapno 16) at the waiting instruction, still pending in the
 * guest's state and in no way in plexvm's; the next entry finds it again
 * until the guest clears it. */
static void test_x87_exception_is_the_guests(void **state)
{
	static const uint8_t divide[] = {
		0xdb, 0xe3,                         /* fninit */
		0xd9, 0x2d, 0x00, 0x00, 0x03, 0x00, /* fldcw DATA: ZE unmasked */
		0xd9, 0xe8, 0xd9, 0xee,             /* fld1; fldz */
		0xde, 0xf9,                         /* fdivp: 1/0, pending */
		0x9b,                               /* fwait: #MF */
		0xcc,
	};
	static const uint8_t wait[] = { 0x9b, 0xcc }, clear[] = { 0xdb, 0xe2, 0x9b, 0xcc };
	if (!ready)
		skip();
	memcpy((void *)(uintptr_t)DATA, &(uint16_t){ 0x037b }, 2);
	run_code(divide, sizeof(divide), 0, zero);
	assert_int_equal(monitor_frame.signo, SIGFPE);
	assert_int_equal(monitor_frame.trapno, X86_EXC_MF);
	assert_int_equal(monitor_exit_kind(), MONITOR_EXIT_FAULT);
	assert_int_equal(monitor_frame.eip, CODE + 14);
	struct x86_fpu f;
	guest_fpu(&f);
	assert_int_equal(f.sw & (FPU_SW_ES | FPU_SW_FLAGS), FPU_SW_ES | 0x04);
	assert_int_equal(FPU_SW_TOP(f.sw), 6);
	assert_int_equal(f.fip, CODE + 12); /* the FDIVP */
	assert_int_equal(f.fop, 0x6f9);
	/* plexvm's own x87 is clean: nothing pending, nothing stacked */
	uint16_t sw = 0xffff;
	__asm__ volatile("fnstsw %0\n\tfwait" : "=m"(sw));
	assert_int_equal(sw, 0);
	run_code(wait, sizeof(wait), 0, zero);
	assert_int_equal(monitor_frame.signo, SIGFPE);
	assert_int_equal(monitor_frame.eip, CODE);
	run_code(clear, sizeof(clear), 0, zero);
	assert_int_equal(monitor_frame.signo, SIGTRAP);
}

/* The guest's x87 stack stays as it left it while plexvm uses the host's
 * x87 in between, having saved the guest's first (as the core does). */
static void test_x87_registers_are_the_guests(void **state)
{
	/* fninit; fldpi; fld1 */
	static const uint8_t push[] = { 0xdb, 0xe3, 0xd9, 0xeb, 0xd9, 0xe8, 0xcc };
	static const uint8_t pop[] = {
		0xdd, 0x1d, 0x00, 0x00, 0x03, 0x00, /* fstpl DATA */
		0xdd, 0x1d, 0x08, 0x00, 0x03, 0x00, /* fstpl DATA + 8 */
		0xcc,
	};
	if (!ready)
		skip();
	run_code(push, sizeof(push), 0, zero);
	assert_int_equal(monitor_frame.signo, SIGTRAP);
	double two = 2.0, x;
	monitor_x87_save();
	__asm__ volatile("fninit\n\tfldl %1\n\tfsqrt\n\tfstpl %0" : "=m"(x) : "m"(two));
	run_code(pop, sizeof(pop), 0, zero);
	double got[2];
	memcpy(got, (void *)(uintptr_t)DATA, sizeof(got));
	assert_true(got[0] == 1.0);
	assert_true(got[1] > 3.14159 && got[1] < 3.1416);
	struct x86_fpu f;
	guest_fpu(&f);
	assert_int_equal(f.tw, 0xffff); /* popped: empty */
}

/* POPF setting AC in code the scanner did not see: the next trap's handler
 * must not die of an alignment check. */
static void test_guest_ac_flag_survives_trap(void **state)
{
	static const uint8_t code[] = {
		0x9c,                                     /* pushf */
		0x81, 0x0c, 0x24, 0x00, 0x00, 0x04, 0x00, /* orl $0x40000, (%esp) */
		0x9d,                                     /* popf */
		0xcc,                                     /* int3 */
	};
	run_code(code, sizeof(code), 0, zero);
	assert_int_equal(monitor_frame.signo, SIGTRAP);
	assert_true(monitor_frame.eflags & 0x40000);
}

static void test_segment_base_is_mirrored(void **state)
{
	static const uint8_t code[] = { 0xa1, 0x08, 0, 0, 0, 0xcc }; /* mov 8, %eax; int3 */
	if (!ready)
		skip();
	uint32_t magic = 0xfeedf00d;
	memcpy((void *)(uintptr_t)(DATA + 8), &magic, 4);
	run_code(code, sizeof(code), DATA, zero);
	assert_int_equal(monitor_frame.signo, SIGTRAP);
	assert_int_equal(monitor_frame.r[0], magic);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registers_round_trip),
		cmocka_unit_test(test_int80_exit_never_reaches_host),
		cmocka_unit_test(test_int80_write_never_reaches_host),
		cmocka_unit_test(test_privileged_faults),
		cmocka_unit_test(test_fetch_from_unscanned_page),
		cmocka_unit_test(test_segment_base_is_mirrored),
		cmocka_unit_test(test_escape_to_64bit_is_caught),
		cmocka_unit_test(test_no_host_values_in_64bit_registers),
		cmocka_unit_test(test_64bit_jump_high_is_guest_fault),
		cmocka_unit_test(test_vector_registers_are_the_guests),
		cmocka_unit_test(test_guest_ac_flag_survives_trap),
		cmocka_unit_test(test_x87_exception_is_the_guests),
		cmocka_unit_test(test_x87_registers_are_the_guests),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
