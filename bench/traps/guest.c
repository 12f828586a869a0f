/* bench/traps as a test kernel: TRAPS_N round trips of one kind of event
 * that a VMM must intercept (TRAPS_KIND: 1 a system call INT 0x80 from
 * ring 3 and IRET back, 2 an OUT to the POST debug port 0x80, 3 a CLI/STI
 * pair at ring 0, 4 a load of FS alternating between two segments with
 * different bases, as a kernel's entry and exit do; 5 an OUT to the
 * debug console 0xE9, a port a device claims — under the monitor that one
 * crosses from the vCPU process to plexvm, where 0x80, which no device
 * claims, is answered in the vCPU process; 0 nothing, the baseline).  The run script times the whole
 * run against the baseline, so each build does exactly one kind.  With
 * TRAPS_GAP, 40 NOPs separate the events: far enough apart that the
 * monitor goes back to native code between them (after a trap it keeps
 * emulating only while trapping instructions come close together). */
#ifdef TRAPS_GAP
#define GAP ".rept 40\n\tnop\n\t.endr\n\t"
#else
#define GAP ""
#endif
#include "console.h"
#include "desc.h"
#include "test.h"
#include "trap.h"
#include "x86.h"

static void null_syscall(struct trap_frame *f)
{
	f->eax = 0;
}

static uint32_t user_int80_loop(uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		__asm__ volatile(GAP "int $0x80" : : "a"(0) : "memory");
	return n;
}

void test_main(void)
{
	uint32_t n = TRAPS_N;
	switch (TRAPS_KIND) {
	case 1:
		trap_set_handler(0x80, null_syscall);
		user_run(user_int80_loop, n, X86_EFLAGS_FIXED);
		break;
	case 2:
		for (uint32_t i = 0; i < n; i++)
			__asm__ volatile(GAP "outb %%al, $0x80" : : "a"(0));
		break;
	case 3:
		for (uint32_t i = 0; i < n; i++)
			__asm__ volatile(GAP "cli\n\tsti" : : : "memory");
		break;
	case 5:
		for (uint32_t i = 0; i < n; i++)
			__asm__ volatile(GAP "outb %%al, $0xe9" : : "a"(0));
		break;
	case 4: {
		/* a per-CPU style segment: a base, a page of limit */
		desc_set_seg(DESC_FIRST_FREE, 0x1000, 0xFFF, DESC_P | DESC_S | DESC_DATA_RW,
		             DESC_DB);
		uint16_t a = DESC_FIRST_FREE << 3, b = SEL_KDATA;
		for (uint32_t i = 0; i < n; i += 2)
			__asm__ volatile(GAP "movw %w0, %%fs\n\t" GAP "movw %w1, %%fs"
			                 :
			                 : "r"(a), "r"(b)
			                 : "memory");
		break;
	}
	default: break;
	}
	printf("traps: kind %d, %u events\n", TRAPS_KIND, n);
}
