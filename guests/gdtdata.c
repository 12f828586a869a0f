/* gdtdata: a GDT that shares its page with busy data, as a kernel
 * decompressor's does.  The kernel copies its GDT to the start of a
 * page-aligned buffer, loads it, then writes the rest of that page 20000
 * times while loading data segments from the moved GDT, rewrites one
 * descriptor under a loaded segment, and checks what each load gives
 * (SDM vol. 3, 3.4.3: a loaded segment keeps its cached descriptor).  On
 * plexvm's monitor the page is write-protected at first (each write a
 * trap), and after a few dozen writes to the data the monitor stops
 * guarding it (tests/system/run checks that with --stats). */
#include "desc.h"
#include "test.h"
#include "x86.h"

#define GDTDATA_PAGE 4096
#define GDTDATA_ROUNDS 20000

static uint8_t gdtdata_page[GDTDATA_PAGE] __attribute__((aligned(GDTDATA_PAGE)));

static uint32_t gdtdata_read_fs(uint32_t off)
{
	uint32_t v;
	__asm__ volatile("movl %%fs:(%1), %0" : "=r"(v) : "r"(off));
	return v;
}

void test_main(void)
{
	uint64_t *gdt = (uint64_t *)gdtdata_page;
	volatile uint32_t *data = (volatile uint32_t *)(gdtdata_page + 512);
	struct x86_dtr old, now;
	sgdt(&old);
	for (unsigned i = 0; i < DESC_GDT_ENTRIES; i++)
		gdt[i] = desc_gdt[i];
	/* a data segment based at the page's data */
	unsigned idx = DESC_FIRST_FREE;
	uint32_t base = (uint32_t)data;
	gdt[idx] = (uint64_t)0xfff | (uint64_t)(base & 0xffffff) << 16 | (uint64_t)0x92 << 40 |
	           (uint64_t)0x4 << 52 | (uint64_t)(base >> 24) << 56;
	now.base = (uint32_t)gdt;
	now.limit = DESC_GDT_ENTRIES * 8 - 1;
	lgdt(&now);

	uint32_t sum = 0;
	for (uint32_t i = 0; i < GDTDATA_ROUNDS; i++) {
		data[i % 64] = i;
		__asm__ volatile("movw %w0, %%fs" : : "r"(idx << 3));
		sum += gdtdata_read_fs((i % 64) * 4);
	}
	printf("%u writes beside the GDT, %u read back through FS\n", GDTDATA_ROUNDS, sum);
	test_eq(sum, (uint32_t)((uint64_t)GDTDATA_ROUNDS * (GDTDATA_ROUNDS - 1) / 2), "sum");

	/* rewrite the descriptor under the loaded FS: FS keeps the old base */
	__asm__ volatile("movw %w0, %%fs" : : "r"(idx << 3));
	data[0] = 0x11111111;
	data[16] = 0x22222222;
	gdt[idx] += (uint64_t)64 << 16; /* base + 64 */
	test_eq(gdtdata_read_fs(0), 0x11111111, "FS after its descriptor changed");
	__asm__ volatile("movw %w0, %%fs" : : "r"(idx << 3));
	test_eq(gdtdata_read_fs(0), 0x22222222, "FS reloaded");
	printf("a rewritten descriptor: old base until FS is reloaded, then the new one\n");

	__asm__ volatile("movw %w0, %%fs" : : "r"(SEL_KDATA));
	lgdt(&old);
}
