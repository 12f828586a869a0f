/*
 * RAM the core may read but must not write directly (x86_ops.ram_readonly:
 * a monitor's write-protected pages): code runs from it and data is read
 * from it without a single mmio_read, every write to it reaches
 * mmio_write, and a write over decoded code there still makes the core run
 * the new bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "test_x86_harness.h"

#define RO_PAGE 0x3000u /* the protected page */

static unsigned mmio_reads, mmio_writes;

static bool protected(uint64_t gpa, size_t len)
{
	return gpa < RO_PAGE + 0x1000 && gpa + len > RO_PAGE;
}

static uint8_t *ro_ram(void *ctx, uint64_t gpa, size_t len)
{
	return protected(gpa, len) ? NULL : harness_ram(ctx, gpa, len);
}

static const uint8_t *ro_ram_readonly(void *ctx, uint64_t gpa)
{
	return protected(gpa, 1) ? harness_ram(ctx, gpa, 0x1000) : NULL;
}

static uint64_t ro_mmio_read(void *ctx, uint64_t gpa, unsigned size)
{
	struct harness *h = ctx;
	uint64_t v = 0;
	mmio_reads++;
	if (protected(gpa, size))
		memcpy(&v, h->ram + gpa, size);
	return v;
}

/* The monitor's way: the write lands in RAM, and it was seen. */
static void ro_mmio_write(void *ctx, uint64_t gpa, uint64_t value, unsigned size)
{
	struct harness *h = ctx;
	mmio_writes++;
	if (protected(gpa, size))
		memcpy(h->ram + gpa, &value, size);
}

static struct harness *ro_machine(void)
{
	struct harness *h = harness_new();
	h->ops.ram = ro_ram;
	h->ops.ram_readonly = ro_ram_readonly;
	h->ops.mmio_read = ro_mmio_read;
	h->ops.mmio_write = ro_mmio_write;
	mmio_reads = mmio_writes = 0;
	return h;
}

static void test_reads_and_fetches_go_direct(void **state)
{
	static const uint8_t code[] = {
		0xa1, 0x00, 0x38, 0x00, 0x00,       /* 3000: mov eax, [3800] */
		0x8b, 0x1d, 0x04, 0x38, 0x00, 0x00, /* 3005: mov ebx, [3804] */
		0xf4,                               /* 300b: hlt */
	};
	struct harness *h = ro_machine();
	memcpy(h->ram + RO_PAGE, code, sizeof(code));
	memcpy(h->ram + 0x3800, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
	h->cpu.eip = RO_PAGE;
	assert_int_equal(harness_run(h, 10), X86_HALT);
	assert_int_equal(h->cpu.r[X86_EAX], 0x44332211);
	assert_int_equal(h->cpu.r[X86_EBX], 0x88776655);
	assert_int_equal(mmio_reads, 0);
	assert_int_equal(mmio_writes, 0);
	harness_free(h);
}

static void test_writes_reach_mmio_write(void **state)
{
	static const uint8_t code[] = {
		0xb8, 0x78, 0x56, 0x34, 0x12,       /* mov eax, 0x12345678 */
		0xa3, 0x00, 0x38, 0x00, 0x00,       /* mov [3800], eax */
		0x66, 0xa3, 0x10, 0x38, 0x00, 0x00, /* mov [3810], ax */
		0xff, 0x05, 0x00, 0x38, 0x00, 0x00, /* inc dword [3800] */
		0xa3, 0xfe, 0x3f, 0x00, 0x00,       /* mov [3ffe], eax: two bytes each side */
	};
	struct harness *h = ro_machine();
	harness_load(h, code, sizeof(code));
	assert_int_equal(harness_run(h, 10), X86_HALT);
	uint32_t v;
	memcpy(&v, h->ram + 0x3800, 4);
	assert_int_equal(v, 0x12345679);
	assert_int_equal(h->ram[0x3810], 0x78);
	assert_int_equal(h->ram[0x3ffe], 0x78);
	assert_int_equal(h->ram[0x4001], 0x12); /* the unprotected side */
	/* 4 + 2 bytes of the straddling store went by mmio_write, one each */
	assert_int_equal(mmio_writes, 3 + 2);
	harness_free(h);
}

/* The code is decoded into the cache from the read-only view; a write
 * through mmio_write over it must still be seen by the next pass. */
static void test_self_modifying_code_on_a_readonly_page(void **state)
{
	static const uint8_t code[] = {
		0xb8, 0x01, 0x00, 0x00, 0x00,             /* 3000: mov eax, 1 */
		0x83, 0xfb, 0x01,                         /* 3005: cmp ebx, 1 */
		0x74, 0x0d,                               /* 3008: je 3017 */
		0x43,                                     /* 300a: inc ebx */
		0xc6, 0x05, 0x01, 0x30, 0x00, 0x00, 0x02, /* 300b: mov byte [3001], 2 */
		0xe9, 0xe9, 0xff, 0xff, 0xff,             /* 3012: jmp 3000 */
		0xf4,                                     /* 3017: hlt */
	};
	struct harness *h = ro_machine();
	memcpy(h->ram + RO_PAGE, code, sizeof(code));
	h->cpu.eip = RO_PAGE;
	assert_int_equal(harness_run(h, 100), X86_HALT);
	assert_int_equal(h->cpu.r[X86_EAX], 2);
	assert_int_equal(mmio_writes, 1);
	harness_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reads_and_fetches_go_direct),
		cmocka_unit_test(test_writes_reach_mmio_write),
		cmocka_unit_test(test_self_modifying_code_on_a_readonly_page),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
