/*
 * ACPI PM1a event block and PM timer (ACPI 6.5 4.8.3.1 and 4.8.3.3).
 *
 * The timer is a free-running 24-bit counter at 3.579545 MHz computed
 * from the clock when read, so it needs no timer of its own.  TMR_STS
 * (PM1_STS bit 0) is set each time the counter's bit 23 changes, so it is
 * computed too: it is set if a bit-23 change happened after the last time
 * the guest cleared it.
 *
 * No event ever raises the SCI: the machine has no power or sleep button
 * (the FADT says so), wakes from no sleep state, and the only event with
 * a status bit here, the timer carry, is not wired to IRQ 9.  Linux uses
 * the timer as a clocksource and to calibrate the TSC, never TMR_EN.
 */
#include "acpi_pm.h"

#include <stdbool.h>
#include <stdlib.h>

#include "../log.h"

#define PM1_TMR_STS 0x0001
#define PM1_EN_BITS 0x0521 /* RTC_EN, SLPBTN_EN, PWRBTN_EN, GBL_EN, TMR_EN */
#define PM_TMR_CARRY (1ull << 23)

struct acpi_pm {
	uint64_t (*now_ns)(void *opaque);
	void *clock_opaque;
	uint16_t en;
	uint64_t tmr_cleared; /* timer ticks when TMR_STS was last cleared */
};

static uint64_t acpi_pm_ticks(const struct acpi_pm *s)
{
	uint64_t ns = s->now_ns ? s->now_ns(s->clock_opaque) : 0;
	return (uint64_t)((unsigned __int128)ns * ACPI_PM_TIMER_HZ / 1000000000u);
}

struct acpi_pm *acpi_pm_create(uint64_t (*now_ns)(void *opaque), void *clock_opaque)
{
	struct acpi_pm *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->now_ns = now_ns;
	s->clock_opaque = clock_opaque;
	s->tmr_cleared = acpi_pm_ticks(s);
	return s;
}

void acpi_pm_destroy(struct acpi_pm *s)
{
	free(s);
}

static uint16_t acpi_pm_sts(const struct acpi_pm *s)
{
	bool carry = acpi_pm_ticks(s) / PM_TMR_CARRY != s->tmr_cleared / PM_TMR_CARRY;
	return carry ? PM1_TMR_STS : 0; /* no other event exists */
}

static bool acpi_pm_access_ok(uint64_t offset, unsigned size, const char *what)
{
	if ((size == 1 || size == 2 || size == 4) && offset + size <= 4)
		return true;
	log_warn_once("ACPI %s: %u-byte access at offset %llu ignored", what, size,
	              (unsigned long long)offset);
	return false;
}

uint64_t acpi_pm_evt_read(void *opaque, uint64_t offset, unsigned size)
{
	struct acpi_pm *s = opaque;
	if (!acpi_pm_access_ok(offset, size, "PM1a_EVT_BLK"))
		return ~0ull;
	uint32_t block = acpi_pm_sts(s) | (uint32_t)s->en << 16;
	return (block >> (8 * offset)) & (size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1);
}

void acpi_pm_evt_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct acpi_pm *s = opaque;
	if (!acpi_pm_access_ok(offset, size, "PM1a_EVT_BLK"))
		return;
	for (unsigned i = 0; i < size; i++) {
		uint8_t byte = (uint8_t)(value >> (8 * i));
		unsigned at = (unsigned)offset + i;
		if (at >= 2) {
			unsigned sh = 8 * (at - 2);
			s->en = (uint16_t)((s->en & ~(0xffu << sh)) | (byte << sh));
			s->en &= PM1_EN_BITS;
		} else if (at == 0 && (byte & PM1_TMR_STS)) {
			s->tmr_cleared = acpi_pm_ticks(s); /* write 1 to clear */
		}
	}
}

uint64_t acpi_pm_tmr_read(void *opaque, uint64_t offset, unsigned size)
{
	struct acpi_pm *s = opaque;
	if (!acpi_pm_access_ok(offset, size, "PM_TMR_BLK"))
		return ~0ull;
	uint32_t v = (uint32_t)(acpi_pm_ticks(s) & 0xffffff);
	return (v >> (8 * offset)) & (size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1);
}

void acpi_pm_tmr_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	log_warn_once("ACPI PM_TMR_BLK is read-only: write ignored");
}
