/*
 * The ACPI fixed power-management registers beside PM1a_CNT (poweroff.c):
 * the PM1a event block (PM1_STS, PM1_EN) at 0x600 and the PM timer at
 * 0x608, where QEMU's PIIX4 has them and plexvm's FADT (acpi.c) says.
 */
#ifndef PLEXVM_ACPI_PM_H
#define PLEXVM_ACPI_PM_H

#include <stdint.h>

#define ACPI_PM_TIMER_HZ 3579545u

struct acpi_pm;

/* @now_ns is a monotonic clock in nanoseconds; the timer counts from it. */
struct acpi_pm *acpi_pm_create(uint64_t (*now_ns)(void *opaque), void *clock_opaque);
void acpi_pm_destroy(struct acpi_pm *s);

/* PM1a_EVT_BLK, 4 bytes: PM1_STS at offset 0 (write 1 to clear), PM1_EN
 * at offset 2.  Any access size within the block. */
uint64_t acpi_pm_evt_read(void *opaque, uint64_t offset, unsigned size);
void acpi_pm_evt_write(void *opaque, uint64_t offset, uint64_t value, unsigned size);

/* PM_TMR_BLK, 4 bytes, read only: the 24-bit timer (FADT TMR_VAL_EXT
 * clear), bits 24-31 read 0. */
uint64_t acpi_pm_tmr_read(void *opaque, uint64_t offset, unsigned size);
void acpi_pm_tmr_write(void *opaque, uint64_t offset, uint64_t value, unsigned size);

#endif
