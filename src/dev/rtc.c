/*
 * MC146818A RTC / PC CMOS (Motorola MC146818A data sheet; IBM AT
 * Technical Reference for the CMOS map).
 *
 * The clock is not a counter: every read of a time register converts
 * "guest time" to the format status B asks for, where guest time is the
 * host's time plus an offset the guest sets by writing the time registers.
 * While status B.SET is 1 the clock is frozen so the guest can write the
 * fields one by one, as the data sheet describes; clearing SET restarts it
 * from the written value.  Updates are instantaneous, so A.UIP is always 0
 * (a guest waiting for UIP to fall never waits).
 */
#include "rtc.h"

#include <stdbool.h>
#include <stdlib.h>

#include "../log.h"

enum {
	RTC_SECONDS = 0x00,
	RTC_MINUTES = 0x02,
	RTC_HOURS = 0x04,
	RTC_DAY_OF_WEEK = 0x06,
	RTC_DAY_OF_MONTH = 0x07,
	RTC_MONTH = 0x08,
	RTC_YEAR = 0x09,
	RTC_REG_A = 0x0a,
	RTC_REG_B = 0x0b,
	RTC_REG_C = 0x0c,
	RTC_REG_D = 0x0d,
	CMOS_EQUIPMENT = 0x14,
	CMOS_BASE_LO = 0x15,
	CMOS_BASE_HI = 0x16,
	CMOS_EXT_LO = 0x17,
	CMOS_EXT_HI = 0x18,
	CMOS_CHECKSUM_HI = 0x2e,
	CMOS_CHECKSUM_LO = 0x2f,
	CMOS_EXT2_LO = 0x30,
	CMOS_EXT2_HI = 0x31,
	RTC_CENTURY = 0x32,
	CMOS_HIGH_LO = 0x34,
	CMOS_HIGH_HI = 0x35,
};

#define RTC_A_UIP 0x80
#define RTC_B_SET 0x80
#define RTC_B_UIE 0x10
#define RTC_B_DM 0x04 /* 1 = binary, 0 = BCD */
#define RTC_B_24H 0x02
#define RTC_D_VRT 0x80   /* battery good */
#define RTC_HOUR_PM 0x80 /* in 12-hour mode */

#define CMOS_SIZE 128

struct rtc {
	struct irq_line irq;
	time_t (*now)(void *opaque);
	void *clock_opaque;
	uint8_t index;
	uint8_t ram[CMOS_SIZE];
	int64_t offset; /* guest time - host time, seconds */
	bool frozen;    /* B.SET: the clock stands at frozen_at */
	int64_t frozen_at;
};

static uint16_t rtc_cap16(uint64_t v)
{
	return v > 0xffff ? 0xffff : (uint16_t)v;
}

static void rtc_put16(struct rtc *s, int lo, uint16_t v)
{
	s->ram[lo] = (uint8_t)v;
	s->ram[lo + 1] = (uint8_t)(v >> 8);
}

/* The memory map a PC BIOS leaves in CMOS (AT Technical Reference; also
 * what QEMU's pc_cmos_init writes): 640 KiB base memory, extended memory
 * above 1 MiB in KiB, memory above 16 MiB in 64 KiB units, then the
 * checksum over 0x10-0x2D. */
static void rtc_init_cmos(struct rtc *s, uint64_t ram_bytes)
{
	const uint64_t mib = 1024 * 1024;
	uint16_t ext = rtc_cap16(ram_bytes > mib ? (ram_bytes - mib) / 1024 : 0);
	uint16_t high = rtc_cap16(ram_bytes > 16 * mib ? (ram_bytes - 16 * mib) / 65536 : 0);
	s->ram[RTC_REG_A] = 0x26; /* 32.768 kHz time base, 1024 Hz rate */
	s->ram[RTC_REG_B] = RTC_B_24H;
	s->ram[RTC_REG_D] = RTC_D_VRT;
	s->ram[CMOS_EQUIPMENT] = 0x02; /* FPU present, EGA/VGA display */
	rtc_put16(s, CMOS_BASE_LO, 640);
	rtc_put16(s, CMOS_EXT_LO, ext);
	rtc_put16(s, CMOS_EXT2_LO, ext);
	rtc_put16(s, CMOS_HIGH_LO, high);
	uint16_t sum = 0;
	for (int i = 0x10; i <= 0x2d; i++)
		sum = (uint16_t)(sum + s->ram[i]);
	s->ram[CMOS_CHECKSUM_HI] = (uint8_t)(sum >> 8);
	s->ram[CMOS_CHECKSUM_LO] = (uint8_t)sum;
}

struct rtc *rtc_create(struct irq_line irq8, uint64_t ram_bytes, time_t (*now)(void *opaque),
                       void *clock_opaque)
{
	struct rtc *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->irq = irq8;
	s->now = now;
	s->clock_opaque = clock_opaque;
	rtc_init_cmos(s, ram_bytes);
	return s;
}

void rtc_destroy(struct rtc *s)
{
	free(s);
}

static int64_t rtc_guest_time(const struct rtc *s)
{
	if (s->frozen)
		return s->frozen_at;
	return (int64_t)(s->now ? s->now(s->clock_opaque) : 0) + s->offset;
}

static void rtc_set_guest_time(struct rtc *s, int64_t t)
{
	if (s->frozen)
		s->frozen_at = t;
	else
		s->offset = t - (int64_t)(s->now ? s->now(s->clock_opaque) : 0);
}

static uint8_t rtc_encode(const struct rtc *s, int v)
{
	if (s->ram[RTC_REG_B] & RTC_B_DM)
		return (uint8_t)v;
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

static int rtc_decode(const struct rtc *s, uint8_t v)
{
	if (s->ram[RTC_REG_B] & RTC_B_DM)
		return v;
	return (v >> 4) * 10 + (v & 0x0f);
}

static uint8_t rtc_encode_hour(const struct rtc *s, int hour)
{
	if (s->ram[RTC_REG_B] & RTC_B_24H)
		return rtc_encode(s, hour);
	int h12 = hour % 12 ? hour % 12 : 12;
	return (uint8_t)(rtc_encode(s, h12) | (hour >= 12 ? RTC_HOUR_PM : 0));
}

static int rtc_decode_hour(const struct rtc *s, uint8_t v)
{
	if (s->ram[RTC_REG_B] & RTC_B_24H)
		return rtc_decode(s, v);
	int h = rtc_decode(s, v & (uint8_t)~RTC_HOUR_PM) % 12;
	return (v & RTC_HOUR_PM) ? h + 12 : h;
}

/* The value of time register @reg now, or -1 if @reg is not one. */
static int rtc_read_time(const struct rtc *s, uint8_t reg)
{
	time_t t = (time_t)rtc_guest_time(s);
	struct tm tm;
	if (!gmtime_r(&t, &tm))
		return -1;
	int year = tm.tm_year + 1900;
	switch (reg) {
	case RTC_SECONDS: return rtc_encode(s, tm.tm_sec);
	case RTC_MINUTES: return rtc_encode(s, tm.tm_min);
	case RTC_HOURS: return rtc_encode_hour(s, tm.tm_hour);
	case RTC_DAY_OF_WEEK: return rtc_encode(s, tm.tm_wday + 1); /* Sunday = 1 */
	case RTC_DAY_OF_MONTH: return rtc_encode(s, tm.tm_mday);
	case RTC_MONTH: return rtc_encode(s, tm.tm_mon + 1);
	case RTC_YEAR: return rtc_encode(s, year % 100);
	case RTC_CENTURY: return rtc_encode(s, year / 100);
	}
	return -1;
}

/* Sets one field of the guest's clock; false if @reg is not a time
 * register.  The day of the week follows from the date and is not stored. */
static bool rtc_write_time(struct rtc *s, uint8_t reg, uint8_t v)
{
	time_t t = (time_t)rtc_guest_time(s);
	struct tm tm;
	if (!gmtime_r(&t, &tm))
		return false;
	int year = tm.tm_year + 1900;
	switch (reg) {
	case RTC_SECONDS: tm.tm_sec = rtc_decode(s, v); break;
	case RTC_MINUTES: tm.tm_min = rtc_decode(s, v); break;
	case RTC_HOURS: tm.tm_hour = rtc_decode_hour(s, v); break;
	case RTC_DAY_OF_WEEK: return true;
	case RTC_DAY_OF_MONTH: tm.tm_mday = rtc_decode(s, v); break;
	case RTC_MONTH: tm.tm_mon = rtc_decode(s, v) - 1; break;
	case RTC_YEAR: tm.tm_year = year / 100 * 100 + rtc_decode(s, v) % 100 - 1900; break;
	case RTC_CENTURY: tm.tm_year = rtc_decode(s, v) * 100 + year % 100 - 1900; break;
	default: return false;
	}
	rtc_set_guest_time(s, (int64_t)timegm(&tm));
	return true;
}

static void rtc_write_reg_b(struct rtc *s, uint8_t v)
{
	bool set = v & RTC_B_SET;
	if (set && !s->frozen) {
		s->frozen_at = rtc_guest_time(s);
		s->frozen = true;
	} else if (!set && s->frozen) {
		s->frozen = false;
		rtc_set_guest_time(s, s->frozen_at);
	}
	/* SET clears UIE (MC146818A data sheet, register B bit 7). */
	s->ram[RTC_REG_B] = set ? (uint8_t)(v & ~RTC_B_UIE) : v;
}

static uint8_t rtc_read_data(struct rtc *s)
{
	switch (s->index) {
	case RTC_REG_A: return s->ram[RTC_REG_A] & (uint8_t)~RTC_A_UIP;
	case RTC_REG_C: return 0; /* no interrupt flag is ever set */
	case RTC_REG_D: return RTC_D_VRT;
	}
	int v = rtc_read_time(s, s->index);
	return v >= 0 ? (uint8_t)v : s->ram[s->index];
}

static void rtc_write_data(struct rtc *s, uint8_t v)
{
	switch (s->index) {
	case RTC_REG_A: s->ram[RTC_REG_A] = v & (uint8_t)~RTC_A_UIP; return;
	case RTC_REG_B: rtc_write_reg_b(s, v); return;
	case RTC_REG_C:
	case RTC_REG_D: return; /* read-only */
	}
	if (!rtc_write_time(s, s->index, v))
		s->ram[s->index] = v;
}

uint64_t rtc_read(void *opaque, uint64_t offset, unsigned size)
{
	struct rtc *s = opaque;
	if (size != 1 || offset != 1) {
		/* The index port is write-only on a PC. */
		if (size != 1)
			log_warn_once("RTC: %u-byte read ignored", size);
		return ~0ull;
	}
	return rtc_read_data(s);
}

void rtc_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct rtc *s = opaque;
	if (size != 1) {
		log_warn_once("RTC: %u-byte write ignored", size);
		return;
	}
	/* Bit 7 of the index is the PC's NMI mask, not part of the index. */
	if (offset == 0)
		s->index = (uint8_t)value & 0x7f;
	else
		rtc_write_data(s, (uint8_t)value);
}
