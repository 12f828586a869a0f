/* The ACPI tables as Linux's ACPICA reads them: RSDP found in the BIOS
 * area, every table's checksum, the pointers between them, the FADT's
 * fixed registers, and a \_S5_ whose SLP_TYP, written with SLP_EN to
 * PM1a_CNT, powers the machine off. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "acpi.h"
#include "dev/poweroff.h"
#include "mem.h"

#define BASE 0xf0000ull

static struct mem m;

static int setup(void **state)
{
	return mem_init(&m, 4ull << 20);
}

static int teardown(void **state)
{
	mem_free(&m);
	return 0;
}

static uint32_t get32(uint64_t gpa)
{
	uint32_t v;
	assert_int_equal(mem_read(&m, gpa, &v, 4), 0);
	return v;
}

static uint16_t get16(uint64_t gpa)
{
	uint16_t v;
	assert_int_equal(mem_read(&m, gpa, &v, 2), 0);
	return v;
}

/* A table with a standard header: signature, a length inside the tables'
 * area, and a zero sum; returns its length. */
static uint32_t check_table(uint64_t gpa, const char *sig)
{
	assert_true(gpa >= BASE && gpa < BASE + ACPI_TABLES_SIZE);
	assert_memory_equal(mem_ptr(&m, gpa, 4), sig, 4);
	uint32_t len = get32(gpa + 4);
	assert_true(len >= 36 && gpa + len <= BASE + ACPI_TABLES_SIZE);
	assert_int_equal(acpi_sum(mem_ptr(&m, gpa, len), len), 0);
	return len;
}

/* Linux's RSDP scan: a 16-byte aligned "RSD PTR " in 0xE0000-0xFFFFF
 * whose first 20 bytes sum to 0. */
static uint64_t scan_rsdp(void)
{
	for (uint64_t a = 0xe0000; a < 0x100000; a += 16) {
		const uint8_t *p = mem_ptr(&m, a, 20);
		if (memcmp(p, "RSD PTR ", 8) == 0 && acpi_sum(p, 20) == 0)
			return a;
	}
	return 0;
}

static uint64_t fadt_of(uint64_t rsdp)
{
	uint64_t rsdt = get32(rsdp + 16);
	uint32_t len = check_table(rsdt, "RSDT");
	assert_int_equal(len, 36 + 4); /* one entry */
	return get32(rsdt + 36);
}

static void test_tables_found_and_checksummed(void **state)
{
	uint64_t rsdp;
	memset(m.host, 0xa5, m.size); /* nothing may rely on zeroed RAM */
	assert_int_equal(acpi_tables_build(&m, BASE, &rsdp), 0);
	assert_int_equal(rsdp, BASE);
	assert_int_equal(scan_rsdp(), BASE);
	assert_int_equal(*(uint8_t *)mem_ptr(&m, rsdp + 15, 1), 0); /* revision 0 */
	uint64_t fadt = fadt_of(rsdp);
	assert_int_equal(check_table(fadt, "FACP"), 116);
	uint64_t facs = get32(fadt + 36), dsdt = get32(fadt + 40);
	assert_memory_equal(mem_ptr(&m, facs, 4), "FACS", 4);
	assert_int_equal(get32(facs + 4), 64);
	assert_int_equal(facs % 64, 0);
	check_table(dsdt, "DSDT");
}

static void test_fadt_fixed_hardware(void **state)
{
	uint64_t rsdp;
	assert_int_equal(acpi_tables_build(&m, BASE, &rsdp), 0);
	uint64_t fadt = fadt_of(rsdp);
	assert_int_equal(get16(fadt + 46), 9);     /* SCI_INT */
	assert_int_equal(get32(fadt + 48), 0);     /* SMI_CMD: always ACPI mode */
	assert_int_equal(get32(fadt + 56), 0x600); /* PM1a_EVT_BLK */
	assert_int_equal(get32(fadt + 64), 0x604); /* PM1a_CNT_BLK */
	assert_int_equal(get32(fadt + 76), 0x608); /* PM_TMR_BLK */
	assert_int_equal(get32(fadt + 60), 0);     /* no PM1b */
	assert_int_equal(get32(fadt + 80), 0);     /* no GPE0 */
	const uint8_t *len = mem_ptr(&m, fadt + 88, 4);
	assert_int_equal(len[0], 4);                                    /* PM1_EVT_LEN */
	assert_int_equal(len[1], 2);                                    /* PM1_CNT_LEN */
	assert_int_equal(len[3], 4);                                    /* PM_TMR_LEN */
	assert_int_equal(*(uint8_t *)mem_ptr(&m, fadt + 108, 1), 0x32); /* CENTURY */
	uint32_t flags = get32(fadt + 112);
	assert_true(flags & (1u << 4));  /* no fixed power button */
	assert_false(flags & (1u << 8)); /* 24-bit timer */
}

/* Finds Name(_S5_, Package(){...}) in the DSDT's AML and returns the
 * first element, SLP_TYPa (ZeroOp, OneOp or BytePrefix n). */
static int s5_slp_typ(uint64_t dsdt)
{
	uint32_t len = get32(dsdt + 4);
	const uint8_t *aml = mem_ptr(&m, dsdt + 36, len - 36);
	for (uint32_t i = 0; i + 9 <= len - 36; i++) {
		if (aml[i] != 0x08 || memcmp(aml + i + 1, "_S5_", 4) != 0 || aml[i + 5] != 0x12)
			continue;
		assert_true(aml[i + 7] >= 2); /* SLP_TYPa and SLP_TYPb at least */
		const uint8_t *el = aml + i + 8;
		if (el[0] == 0x00 || el[0] == 0x01)
			return el[0];
		assert_int_equal(el[0], 0x0a);
		return el[1];
	}
	fail_msg("no _S5_ in the DSDT");
	return -1;
}

static void count_off(void *opaque)
{
	(*(int *)opaque)++;
}

static void test_s5_powers_off_through_pm1a_cnt(void **state)
{
	uint64_t rsdp;
	assert_int_equal(acpi_tables_build(&m, BASE, &rsdp), 0);
	uint64_t fadt = fadt_of(rsdp);
	int typ = s5_slp_typ(get32(fadt + 40));
	uint32_t port = get32(fadt + 64);
	assert_int_equal(port, 0x604); /* the port poweroff.c is wired to */
	int offs = 0;
	struct poweroff *pm = poweroff_create(count_off, &offs);
	assert_non_null(pm);
	assert_int_equal(poweroff_read(pm, 0, 2) & 1, 1); /* SCI_EN: in ACPI mode */
	/* ACPICA's acpi_hw_legacy_sleep: SLP_TYP first, then with SLP_EN. */
	poweroff_write(pm, 0, (uint32_t)typ << 10, 2);
	assert_int_equal(offs, 0);
	poweroff_write(pm, 0, (uint32_t)typ << 10 | 0x2000, 2);
	assert_int_equal(offs, 1);
	poweroff_destroy(pm);
}

/* The keyboard controller is in the DSDT as PNP0303 (EisaId 0x0303D041)
 * with ports 0x60 and 0x64 and IRQ 1, and there is no PS/2 mouse
 * (PNP0F13, 0x130FD041): Linux's i8042 driver then skips the AUX probe. */
static void test_dsdt_keyboard_without_mouse(void **state)
{
	static const uint8_t kbd_hid[] = { 0x0c, 0x41, 0xd0, 0x03, 0x03 };
	static const uint8_t mouse_hid[] = { 0x0c, 0x41, 0xd0, 0x0f, 0x13 };
	static const uint8_t io60[] = { 0x47, 0x01, 0x60, 0x00, 0x60, 0x00, 0x01, 0x01 };
	static const uint8_t io64[] = { 0x47, 0x01, 0x64, 0x00, 0x64, 0x00, 0x01, 0x01 };
	static const uint8_t irq1[] = { 0x22, 0x02, 0x00 };
	uint64_t rsdp;
	assert_int_equal(acpi_tables_build(&m, BASE, &rsdp), 0);
	uint64_t dsdt = get32(fadt_of(rsdp) + 40);
	uint32_t len = get32(dsdt + 4);
	const uint8_t *aml = mem_ptr(&m, dsdt, len);
	assert_non_null(memmem(aml, len, "KBD_", 4));
	assert_non_null(memmem(aml, len, kbd_hid, sizeof(kbd_hid)));
	assert_non_null(memmem(aml, len, io60, sizeof(io60)));
	assert_non_null(memmem(aml, len, io64, sizeof(io64)));
	assert_non_null(memmem(aml, len, irq1, sizeof(irq1)));
	assert_null(memmem(aml, len, mouse_hid, sizeof(mouse_hid)));
}

static void test_bad_base_refused(void **state)
{
	uint64_t rsdp = 0x1234;
	assert_int_equal(acpi_tables_build(&m, BASE + 8, &rsdp), -1);       /* not 16-aligned */
	assert_int_equal(acpi_tables_build(&m, m.size - 0x100, &rsdp), -1); /* past RAM */
	assert_int_equal(rsdp, 0x1234);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tables_found_and_checksummed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fadt_fixed_hardware, setup, teardown),
		cmocka_unit_test_setup_teardown(test_s5_powers_off_through_pm1a_cnt, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_dsdt_keyboard_without_mouse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_base_refused, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
