/*
 * MC146818 real-time clock and CMOS RAM at ports 0x70 (index) and 0x71
 * (data), showing the host's UTC time.
 */
#ifndef PLEXVM_RTC_H
#define PLEXVM_RTC_H

#include <stdint.h>
#include <time.h>

#include "../irq.h"

struct rtc;

/* @ram_bytes fills the memory-size bytes the way a PC BIOS does; @now gives
 * the host time.  @irq8 is kept for a future periodic/alarm interrupt: this
 * model raises no interrupt yet (status C stays 0). */
struct rtc *rtc_create(struct irq_line irq8, uint64_t ram_bytes, time_t (*now)(void *opaque),
                       void *clock_opaque);
void rtc_destroy(struct rtc *s);

/* Offset 0 = index (bit 7, the NMI mask, is ignored), offset 1 = data. */
uint64_t rtc_read(void *opaque, uint64_t offset, unsigned size);
void rtc_write(void *opaque, uint64_t offset, uint64_t value, unsigned size);

#endif
