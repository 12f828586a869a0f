/*
 * The ACPI tables plexvm gives a guest that wants them (Linux), describing
 * the PC machine of machine_pc.c: no firmware, so the tables only say
 * where the fixed power-management registers are and how to power off.
 *
 * RSDP (revision 0) -> RSDT -> FADT (revision 1, as QEMU's PC) -> FACS,
 * DSDT.  The DSDT holds \_S5_, so that the guest's poweroff writes
 * SLP_TYP 0 | SLP_EN (0x2000) to PM1a_CNT at 0x604, and the keyboard
 * controller, so that Linux knows it has no mouse port.
 */
#ifndef PLEXVM_ACPI_H
#define PLEXVM_ACPI_H

#include <stdint.h>

#include "mem.h"

/* The machine's fixed ACPI hardware: QEMU's PIIX4 PM block at 0x600. */
#define ACPI_PM1A_EVT_BLK 0x600 /* PM1 status and enable, 2 bytes each */
#define ACPI_PM1A_CNT_BLK 0x604 /* PM1 control (dev/poweroff.c) */
#define ACPI_PM_TMR_BLK 0x608   /* 24-bit PM timer at 3.579545 MHz */
#define ACPI_SCI_IRQ 9
#define ACPI_S5_SLP_TYP 0

/* Bytes the tables take from their base (16-byte aligned). */
#define ACPI_TABLES_SIZE 0x200

/* Writes the tables to guest RAM at @base (16-byte aligned, wholly in
 * RAM, below 4 GiB); the RSDP is at @base, returned in *rsdp.  Returns 0,
 * or -1 if the range is not RAM. */
int acpi_tables_build(struct mem *m, gpa_t base, gpa_t *rsdp);

/* The 8-bit sum of @len bytes; a table is valid when its sum is 0. */
uint8_t acpi_sum(const uint8_t *p, uint64_t len);

#endif
