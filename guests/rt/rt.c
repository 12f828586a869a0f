/* From the multiboot entry to test_main() and the result. */
#include "console.h"
#include "desc.h"
#include "test.h"
#include "x86.h"

void rt_main(uint32_t magic, uint32_t info);

/* 8259A data ports: OCW1 there masks every line, so that whatever a BIOS
 * programmed before us raises nothing until a kernel asks for it. */
#define PIC1_DATA 0x21
#define PIC2_DATA 0xA1

void rt_main(uint32_t magic, uint32_t info)
{
	(void)magic;
	(void)info;
	desc_init();
	outb(PIC1_DATA, 0xFF);
	outb(PIC2_DATA, 0xFF);
	console_init();
	test_main();
	test_end();
}
