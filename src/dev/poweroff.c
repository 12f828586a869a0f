/*
 * PM1a_CNT (ACPI 6.x, 4.8.3.2.1): bit 13 SLP_EN starts the sleep state
 * named by SLP_TYP (bits 10-12).  The only sleep state plexvm offers is
 * "off", so any SLP_EN write ends the VM, whatever SLP_TYP says; that is
 * what Linux's acpi_power_off and the usual "outw(0x2000, 0x604)" expect.
 */
#include "poweroff.h"

#include <stdlib.h>

#include "../log.h"

#define PM1_CNT_SLP_EN 0x2000
#define PM1_CNT_SCI_EN 0x0001

struct poweroff {
	void (*off)(void *opaque);
	void *opaque;
};

struct poweroff *poweroff_create(void (*off)(void *opaque), void *opaque)
{
	struct poweroff *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->off = off;
	s->opaque = opaque;
	return s;
}

void poweroff_destroy(struct poweroff *s)
{
	free(s);
}

uint64_t poweroff_read(void *opaque, uint64_t offset, unsigned size)
{
	/* SCI_EN: the machine is always in ACPI mode (the FADT's SMI_CMD is
	 * 0, acpi.c), and the ACPI spec has SCI_EN read 1 then. */
	return offset == 0 ? PM1_CNT_SCI_EN : 0;
}

void poweroff_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct poweroff *s = opaque;
	/* PM1_CNT is a 16-bit register (ACPI 4.8.3.2); a byte write to its
	 * high half at 0x605 carries SLP_EN in bit 5. */
	if (offset == 1 && size == 1)
		value <<= 8;
	else if (offset != 0 || size < 2) {
		log_warn_once("PM1a_CNT: %u-byte write at offset %llu ignored", size,
		              (unsigned long long)offset);
		return;
	}
	if ((value & PM1_CNT_SLP_EN) && s->off)
		s->off(s->opaque);
}
