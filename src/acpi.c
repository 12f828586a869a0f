/*
 * ACPI tables (ACPI 6.5 chapter 5.2; field offsets as in ACPI 1.0, which
 * later revisions extend without moving).
 *
 * Layout from the base:
 *   +0x000 RSDP, 20 bytes (revision 0: RSDT only)
 *   +0x040 FACS, 64 bytes (64-byte aligned, 5.2.10)
 *   +0x080 RSDT, one entry: the FADT
 *   +0x0c0 FADT, 116 bytes (revision 1)
 *   +0x140 DSDT: \_S5_ and the keyboard controller (PNP0303)
 *
 * FADT choices, each for a reason:
 * - SMI_CMD 0: the machine is always in ACPI mode, there is no SMM to ask
 *   (5.2.9: "zero on systems that do not support System Management mode");
 *   PM1a_CNT reads back SCI_EN set.
 * - PWR_BUTTON and SLP_BUTTON flags: no fixed-feature buttons.
 * - P_LVL2_LAT > 100 and P_LVL3_LAT > 1000: no C2 or C3.
 * - CENTURY 0x32: the RTC's century byte (dev/rtc.c).
 * - no GPE blocks, no reset register (Linux's reboot then uses the 8042,
 *   which resets the machine).
 */
#include "acpi.h"

#include <string.h>

#define RSDP_OFF 0x000
#define FACS_OFF 0x040
#define RSDT_OFF 0x080
#define FADT_OFF 0x0c0
#define DSDT_OFF 0x140

#define HDR_LEN 36
#define RSDP_LEN 20
#define FACS_LEN 64
#define FADT_LEN 116

#define FADT_WBINVD (1u << 0)
#define FADT_PROC_C1 (1u << 2)
#define FADT_PWR_BUTTON (1u << 4)
#define FADT_SLP_BUTTON (1u << 5)
#define FADT_FIX_RTC (1u << 6)

/* The DSDT's AML, compiled by iasl (acpica-tools) from:
 *
 *   Name (_S5, Package (4) { 0, 0, 0, 0 })    // SLP_TYP 0 for S5
 *   Scope (\_SB) {
 *       Device (KBD) {                          // the i8042, keyboard only
 *           Name (_HID, EisaId ("PNP0303"))
 *           Name (_CRS, ResourceTemplate () {
 *               IO (Decode16, 0x0060, 0x0060, 0x01, 0x01)
 *               IO (Decode16, 0x0064, 0x0064, 0x01, 0x01)
 *               IRQNoFlags () {1}
 *           })
 *       }
 *   }
 *
 * The keyboard controller is described without a PS/2 mouse (PNP0F13):
 * Linux's i8042 driver then knows there is no AUX port and skips probing
 * for one, which on this machine (no mouse port) costs two 500 ms
 * command timeouts. */
/* clang-format off */
static const uint8_t acpi_dsdt_aml[] = {
	/* Name (_S5_, Package (4) { Zero, Zero, Zero, Zero }) */
	0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x04,
	ACPI_S5_SLP_TYP, ACPI_S5_SLP_TYP, 0x00, 0x00,
	/* Scope (\_SB_) { Device (KBD_) { ... } } */
	0x10, 0x34, '_', 'S', 'B', '_', 0x5b, 0x82, 0x2d, 'K', 'B', 'D', '_',
	/* Name (_HID, EisaId ("PNP0303")) */
	0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x03, 0x03,
	/* Name (_CRS, Buffer (0x15) { IO, IO, IRQNoFlags, EndTag }) */
	0x08, '_', 'C', 'R', 'S', 0x11, 0x18, 0x0a, 0x15,
	0x47, 0x01, 0x60, 0x00, 0x60, 0x00, 0x01, 0x01,
	0x47, 0x01, 0x64, 0x00, 0x64, 0x00, 0x01, 0x01,
	0x22, 0x02, 0x00, 0x79, 0x00,
};
/* clang-format on */
_Static_assert(ACPI_S5_SLP_TYP == 0, "the AML above encodes SLP_TYP as ZeroOp");

uint8_t acpi_sum(const uint8_t *p, uint64_t len)
{
	uint8_t s = 0;
	while (len--)
		s = (uint8_t)(s + *p++);
	return s;
}

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* The common header (5.2.6); the checksum is set by acpi_seal(). */
static void acpi_header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	put32(t + 4, len);
	t[8] = rev;
	memcpy(t + 10, "PLEXVM", 6);
	memcpy(t + 16, "PLEXVM  ", 8);
	memcpy(t + 16 + 4, sig, 4); /* OEM table ID: "PLEXFACP" etc. */
	put32(t + 24, 1);
	memcpy(t + 28, "PLXV", 4);
	put32(t + 32, 1);
}

static void acpi_seal(uint8_t *t, uint64_t len, int csum_off)
{
	t[csum_off] = 0;
	t[csum_off] = (uint8_t)-acpi_sum(t, len);
}

static void acpi_fadt(uint8_t *t, uint32_t facs, uint32_t dsdt)
{
	acpi_header(t, "FACP", FADT_LEN, 1);
	put32(t + 36, facs);
	put32(t + 40, dsdt);
	t[44] = 1; /* INT_MODEL (ACPI 1.0): APIC; ignored by later revisions */
	put16(t + 46, ACPI_SCI_IRQ);
	put32(t + 56, ACPI_PM1A_EVT_BLK);
	put32(t + 64, ACPI_PM1A_CNT_BLK);
	put32(t + 76, ACPI_PM_TMR_BLK);
	t[88] = 4;           /* PM1_EVT_LEN */
	t[89] = 2;           /* PM1_CNT_LEN */
	t[91] = 4;           /* PM_TMR_LEN */
	put16(t + 96, 101);  /* P_LVL2_LAT: no C2 */
	put16(t + 98, 1001); /* P_LVL3_LAT: no C3 */
	t[108] = 0x32;       /* CENTURY */
	put32(t + 112,
	      FADT_WBINVD | FADT_PROC_C1 | FADT_PWR_BUTTON | FADT_SLP_BUTTON | FADT_FIX_RTC);
	acpi_seal(t, FADT_LEN, 9);
}

int acpi_tables_build(struct mem *m, gpa_t base, gpa_t *rsdp)
{
	uint8_t *t = mem_ptr(m, base, ACPI_TABLES_SIZE);
	if (!t || (base & 15) || base + ACPI_TABLES_SIZE > (1ull << 32))
		return -1;
	const uint32_t b = (uint32_t)base;
	const uint32_t dsdt_len = HDR_LEN + sizeof(acpi_dsdt_aml);
	memset(t, 0, ACPI_TABLES_SIZE);

	memcpy(t + RSDP_OFF, "RSD PTR ", 8);
	memcpy(t + RSDP_OFF + 9, "PLEXVM", 6);
	put32(t + RSDP_OFF + 16, b + RSDT_OFF);
	acpi_seal(t + RSDP_OFF, RSDP_LEN, 8);

	memcpy(t + FACS_OFF, "FACS", 4);
	put32(t + FACS_OFF + 4, FACS_LEN);

	acpi_header(t + RSDT_OFF, "RSDT", HDR_LEN + 4, 1);
	put32(t + RSDT_OFF + HDR_LEN, b + FADT_OFF);
	acpi_seal(t + RSDT_OFF, HDR_LEN + 4, 9);

	acpi_fadt(t + FADT_OFF, b + FACS_OFF, b + DSDT_OFF);

	acpi_header(t + DSDT_OFF, "DSDT", dsdt_len, 1);
	memcpy(t + DSDT_OFF + HDR_LEN, acpi_dsdt_aml, sizeof(acpi_dsdt_aml));
	acpi_seal(t + DSDT_OFF, dsdt_len, 9);

	*rsdp = base;
	return 0;
}
