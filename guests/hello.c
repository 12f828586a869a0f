/* hello: the smallest test kernel.  It greets, names the CPU it sees (on
 * info: lines, since that differs between engines) and passes.
 *
 * Built with -DPLEXVM_DEMO it is plexvm's built-in demo guest instead: a
 * longer greeting, no RESULT line, and a power-off through the ACPI PM1a
 * control port rather than the debug-exit port. */
#include "test.h"
#include "x86.h"

/* PM1a_CNT: SLP_TYP 5 with SLP_EN, the soft-off QEMU's PIIX4 and plexvm's
 * poweroff device expect (ACPI spec 4.8.3.2.1). */
#define HELLO_PM1A_CNT 0x604
#define HELLO_SLP_EN_S5 0x2000

static void hello_cpu(void)
{
	uint32_t a, b, c, d, max;
	char vendor[13];
	cpuid(0, &max, &b, &c, &d);
	/* The vendor string is EBX, EDX, ECX in that order (SDM vol. 2, CPUID). */
	for (int i = 0; i < 4; i++) {
		vendor[i] = (char)(b >> (8 * i));
		vendor[4 + i] = (char)(d >> (8 * i));
		vendor[8 + i] = (char)(c >> (8 * i));
	}
	vendor[12] = 0;
	printf("info: CPU vendor \"%s\", max basic leaf %u\n", vendor, max);
	if (max < 1)
		return;
	cpuid(1, &a, &b, &c, &d);
	uint32_t family = (a >> 8) & 0xF, model = (a >> 4) & 0xF;
	if (family == 0xF)
		family += (a >> 20) & 0xFF;
	if (family == 0x6 || family >= 0xF)
		model |= ((a >> 16) & 0xF) << 4;
	printf("info: family %u, model %u, stepping %u\n", family, model, a & 0xF);
}

#ifdef PLEXVM_DEMO
void test_main(void)
{
	printf("\nHello from plexvm!\n\n");
	printf("This is plexvm's built-in demo guest: a tiny 32-bit kernel that\n"
	       "plexvm loaded straight into guest memory and started without a BIOS.\n");
	hello_cpu();
	printf("\nTo run your own kernel (multiboot, ELF or flat binary):\n"
	       "    plexvm KERNEL\n"
	       "See plexvm --help for engines, memory, serial and VGA options.\n"
	       "Powering off. Goodbye!\n");
	outw(HELLO_PM1A_CNT, HELLO_SLP_EN_S5);
	for (;;) {
		cli();
		hlt();
	}
}
#else
void test_main(void)
{
	printf("Hello from a plexvm test kernel!\n");
	printf("This guest runs at ring 0 in 32-bit protected mode, paging off.\n");
	hello_cpu();
	test_check(read_cs() == 0x08, "CS is 0x%x, want 0x08", read_cs());
}
#endif
