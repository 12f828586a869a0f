/*
 * ACPI PM1a control register at port 0x604, where QEMU's PC machine puts
 * it: writing SLP_EN powers the machine off.
 */
#ifndef PLEXVM_POWEROFF_H
#define PLEXVM_POWEROFF_H

#include <stdint.h>

struct poweroff;

/* @off is called when the guest writes PM1_CNT with SLP_EN set. */
struct poweroff *poweroff_create(void (*off)(void *opaque), void *opaque);
void poweroff_destroy(struct poweroff *s);

/* Reads show SCI_EN set (always in ACPI mode, as the FADT says) and
 * SLP_TYP 0. */
uint64_t poweroff_read(void *opaque, uint64_t offset, unsigned size);
void poweroff_write(void *opaque, uint64_t offset, uint64_t value, unsigned size);

#endif
