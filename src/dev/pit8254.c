/*
 * Intel 8254 programmable interval timer (Intel 8254 data sheet, order
 * 231164).
 *
 * A channel does not tick: it remembers the input-clock tick at which its
 * count started (start) and computes its count and OUT pin from the
 * elapsed ticks whenever they are looked at.  Gate low pauses modes 0 and
 * 4 (paused_elapsed holds the elapsed ticks at the pause) and holds modes 2
 * and 3 with OUT high until a rising gate reloads them; a rising gate
 * triggers modes 1 and 5.  Only channel 2's gate moves (port 0x61 bit 0);
 * channels 0 and 1 are gated high as on a PC.
 *
 * Channel 0's OUT is IRQ 0.  The PIC line is edge-triggered, so each rise
 * of OUT is delivered as one pulse at fire_at; periodic modes then move
 * fire_at to the next period after "now", never queueing missed periods.
 *
 * Simplifications: a new count in modes 2 and 3 takes effect at once, not
 * at the end of the current period; mode 3 with an odd count runs its two
 * half-periods as (N+1)/2 and (N-1)/2 but shows a count stepping by two
 * without the data sheet's odd/even detail.
 */
#include "pit8254.h"

#include <stdbool.h>
#include <stdlib.h>

#include "../log.h"

#define PIT_NEVER UINT64_MAX
#define PIT_CW_SC(v) ((v) >> 6)       /* select counter, 3 = read-back */
#define PIT_CW_RW(v) (((v) >> 4) & 3) /* 0 = counter latch command */
#define PIT_CW_MODE(v) (((v) >> 1) & 7)
#define PIT_CW_BCD 0x01
#define PIT_RB_NOCOUNT 0x20
#define PIT_RB_NOSTATUS 0x10
#define PIT_ST_OUT 0x80
#define PIT_ST_NULL 0x40
#define PIT_RW_LSB 1
#define PIT_RW_MSB 2
#define PIT_RW_LSB_MSB 3
/* The DRAM refresh request (port 0x61 bit 4) toggles every 15.085 us:
 * 18 ticks of the PIT clock. */
#define PIT_REFRESH_TICKS 18

struct pit_channel {
	uint8_t ctrl; /* control word bits 5-0, for read-back */
	uint8_t mode, rw;
	bool bcd;
	uint32_t reload; /* N: 1-65536 (binary), 1-10000 (BCD) */
	bool loaded;     /* a count was written since the control word */
	bool running;    /* counting (modes 1/5: triggered) */
	bool null_count;
	bool gate;
	bool paused;
	uint64_t start, paused_elapsed;
	bool write_msb_next, read_msb_next;
	uint8_t write_lsb;
	uint16_t latch;
	int latch_left; /* bytes of the latched count still to read */
	bool latch_msb_next;
	bool status_latched;
	uint8_t status;
};

struct pit8254 {
	struct irq_line irq0;
	uint64_t (*now_ns)(void *opaque);
	void *clock_opaque;
	struct pit_channel ch[3];
	uint64_t fire_at; /* channel 0's next OUT rise, in ticks */
	uint8_t port61;
};

static uint64_t pit_ticks(uint64_t ns)
{
	return (uint64_t)((unsigned __int128)ns * PIT8254_HZ / 1000000000u);
}

/* The first nanosecond at which pit_ticks() reaches @ticks. */
static uint64_t pit_ns(uint64_t ticks)
{
	unsigned __int128 ns =
	        ((unsigned __int128)ticks * 1000000000u + PIT8254_HZ - 1) / PIT8254_HZ;
	return ns > UINT64_MAX - 1 ? UINT64_MAX - 1 : (uint64_t)ns;
}

static uint64_t pit_now(const struct pit8254 *s)
{
	return pit_ticks(s->now_ns ? s->now_ns(s->clock_opaque) : 0);
}

static uint64_t pit_elapsed(const struct pit_channel *c, uint64_t t)
{
	if (c->paused)
		return c->paused_elapsed;
	return t > c->start ? t - c->start : 0;
}

/* The OUT pin (data sheet, "Operation": mode descriptions). */
static bool pit_out(const struct pit_channel *c, uint64_t t)
{
	if (!c->running)
		return c->mode != 0;
	uint64_t d = pit_elapsed(c, t), n = c->reload;
	switch (c->mode) {
	case 0:
	case 1: return d >= n;
	case 2: return c->paused || n < 2 || d % n != n - 1;
	case 3: return c->paused || d % n < (n + 1) / 2;
	default: return d != n; /* modes 4, 5: one clock low at terminal count */
	}
}

static uint16_t pit_to_bcd(uint32_t v)
{
	v %= 10000;
	return (uint16_t)((v / 1000) << 12 | (v / 100 % 10) << 8 | (v / 10 % 10) << 4 | v % 10);
}

static uint16_t pit_count(const struct pit_channel *c, uint64_t t)
{
	uint64_t n = c->reload, d = pit_elapsed(c, t), v;
	uint64_t wrap = c->bcd ? 10000 : 65536;
	if (!c->running)
		v = n;
	else if (c->mode == 2)
		v = n - d % n;
	else if (c->mode == 3)
		v = n - (2 * d) % n;
	else /* modes 0, 1, 4, 5 keep counting down through zero */
		v = (n + wrap - d % wrap) % wrap;
	return c->bcd ? pit_to_bcd((uint32_t)v) : (uint16_t)v;
}

/* When channel 0's OUT next rises. */
static void pit_schedule(struct pit8254 *s)
{
	const struct pit_channel *c = &s->ch[0];
	bool fires = c->running && !c->paused && c->mode != 1 && c->mode != 5;
	s->fire_at = fires ? c->start + c->reload : PIT_NEVER;
}

void pit8254_update(struct pit8254 *s, uint64_t now_ns)
{
	const struct pit_channel *c = &s->ch[0];
	uint64_t t = pit_ticks(now_ns);
	if (s->fire_at == PIT_NEVER || t < s->fire_at)
		return;
	irq_pulse(&s->irq0);
	if (c->mode == 2 || c->mode == 3)
		s->fire_at = c->start + ((t - c->start) / c->reload + 1) * c->reload;
	else
		s->fire_at = PIT_NEVER;
}

uint64_t pit8254_next_deadline(const struct pit8254 *s)
{
	return s->fire_at == PIT_NEVER ? UINT64_MAX : pit_ns(s->fire_at);
}

static void pit_reset_channel(struct pit_channel *c, bool gate)
{
	*c = (struct pit_channel){ .rw = PIT_RW_LSB_MSB, .reload = 65536, .gate = gate };
}

struct pit8254 *pit8254_create(struct irq_line irq0, uint64_t (*now_ns)(void *opaque),
                               void *clock_opaque)
{
	struct pit8254 *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->irq0 = irq0;
	s->now_ns = now_ns;
	s->clock_opaque = clock_opaque;
	pit_reset_channel(&s->ch[0], true);
	pit_reset_channel(&s->ch[1], true);
	pit_reset_channel(&s->ch[2], false);
	s->fire_at = PIT_NEVER;
	return s;
}

void pit8254_destroy(struct pit8254 *s)
{
	free(s);
}

static uint32_t pit_from_bcd(uint16_t v)
{
	return (v >> 12) * 1000u + (v >> 8 & 15) * 100u + (v >> 4 & 15) * 10u + (v & 15);
}

/* A new count N (the data sheet's "initial count"); 0 is the largest. */
static void pit_load(struct pit8254 *s, int idx, uint16_t v)
{
	struct pit_channel *c = &s->ch[idx];
	uint32_t n = c->bcd ? pit_from_bcd(v) : v;
	c->reload = n ? n : (c->bcd ? 10000 : 65536);
	if (c->mode == 2 || c->mode == 3)
		c->reload += c->reload == 1; /* 1 is illegal in these modes */
	c->loaded = true;
	c->null_count = false;
	if (c->mode != 1 && c->mode != 5) {
		c->running = true;
		c->start = pit_now(s);
		c->paused = !c->gate;
		c->paused_elapsed = 0;
	}
	if (idx == 0)
		pit_schedule(s);
}

static void pit_write_count(struct pit8254 *s, int idx, uint8_t v)
{
	struct pit_channel *c = &s->ch[idx];
	switch (c->rw) {
	case PIT_RW_LSB: pit_load(s, idx, v); break;
	case PIT_RW_MSB: pit_load(s, idx, (uint16_t)(v << 8)); break;
	default:
		if (!c->write_msb_next) {
			c->write_lsb = v;
			c->write_msb_next = true;
			/* Mode 0: the first byte stops the count (data sheet, mode 0). */
			if (c->mode == 0 && c->running) {
				c->running = false;
				if (idx == 0)
					pit_schedule(s);
			}
		} else {
			c->write_msb_next = false;
			pit_load(s, idx, (uint16_t)(c->write_lsb | v << 8));
		}
		break;
	}
}

static void pit_latch_count(struct pit_channel *c, uint64_t t)
{
	if (c->latch_left)
		return; /* a latch not yet read holds; later latch commands are ignored */
	c->latch = pit_count(c, t);
	c->latch_left = c->rw == PIT_RW_LSB_MSB ? 2 : 1;
	c->latch_msb_next = c->rw == PIT_RW_MSB;
}

static void pit_latch_status(struct pit_channel *c, uint64_t t)
{
	if (c->status_latched)
		return;
	c->status = (uint8_t)((pit_out(c, t) ? PIT_ST_OUT : 0) | (c->null_count ? PIT_ST_NULL : 0) |
	                      c->ctrl);
	c->status_latched = true;
}

/* Read-back command (data sheet, "Read-Back Command"): bits 3-1 select
 * counters 2-0; COUNT# and STATUS# are active low. */
static void pit_read_back(struct pit8254 *s, uint8_t v)
{
	uint64_t t = pit_now(s);
	for (int i = 0; i < 3; i++) {
		if (!(v & (2 << i)))
			continue;
		if (!(v & PIT_RB_NOSTATUS))
			pit_latch_status(&s->ch[i], t);
		if (!(v & PIT_RB_NOCOUNT))
			pit_latch_count(&s->ch[i], t);
	}
}

static void pit_write_control(struct pit8254 *s, uint8_t v)
{
	if (PIT_CW_SC(v) == 3) {
		pit_read_back(s, v);
		return;
	}
	int idx = PIT_CW_SC(v);
	struct pit_channel *c = &s->ch[idx];
	if (PIT_CW_RW(v) == 0) {
		pit_latch_count(c, pit_now(s));
		return;
	}
	c->ctrl = v & 0x3f;
	c->rw = PIT_CW_RW(v);
	c->mode = PIT_CW_MODE(v) > 5 ? PIT_CW_MODE(v) - 4 : PIT_CW_MODE(v); /* 6, 7 = 2, 3 */
	c->bcd = v & PIT_CW_BCD;
	/* "All control logic is immediately reset": no count until a new one
	 * is written, OUT at its initial level. */
	c->loaded = c->running = c->paused = false;
	c->null_count = true;
	c->write_msb_next = c->read_msb_next = c->latch_msb_next = false;
	c->latch_left = 0;
	c->status_latched = false;
	if (idx == 0)
		pit_schedule(s);
}

static uint8_t pit_read_counter(struct pit8254 *s, struct pit_channel *c)
{
	if (c->status_latched) {
		c->status_latched = false;
		return c->status;
	}
	if (c->latch_left) {
		uint8_t b = (uint8_t)(c->latch_msb_next ? c->latch >> 8 : c->latch);
		c->latch_left--;
		c->latch_msb_next = !c->latch_msb_next;
		return b;
	}
	uint16_t count = pit_count(c, pit_now(s));
	bool msb = c->rw == PIT_RW_MSB;
	if (c->rw == PIT_RW_LSB_MSB) {
		msb = c->read_msb_next;
		c->read_msb_next = !c->read_msb_next;
	}
	return (uint8_t)(msb ? count >> 8 : count);
}

uint64_t pit8254_read(void *opaque, uint64_t offset, unsigned size)
{
	struct pit8254 *s = opaque;
	if (size != 1 || offset > 2) {
		log_warn_once(
		        "8254: %u-byte read at offset %llu ignored (control word is write-only)",
		        size, (unsigned long long)offset);
		return ~0ull;
	}
	return pit_read_counter(s, &s->ch[offset]);
}

void pit8254_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct pit8254 *s = opaque;
	if (size != 1 || offset > 3) {
		log_warn_once("8254: %u-byte write at offset %llu ignored", size,
		              (unsigned long long)offset);
		return;
	}
	if (offset == 3)
		pit_write_control(s, (uint8_t)value);
	else
		pit_write_count(s, (int)offset, (uint8_t)value);
}

/* Gate edges (data sheet, "Gate" table): low pauses modes 0/4 and holds
 * 2/3; rising reloads 2/3 and triggers 1/5. */
static void pit_set_gate(struct pit_channel *c, bool gate, uint64_t t)
{
	if (gate == c->gate)
		return;
	c->gate = gate;
	if (!gate) {
		if (c->running && c->mode != 1 && c->mode != 5) {
			c->paused_elapsed = pit_elapsed(c, t);
			c->paused = true;
		}
		return;
	}
	if (c->mode == 1 || c->mode == 5) {
		if (c->loaded) {
			c->running = true;
			c->start = t;
		}
	} else if (c->running) {
		c->start = (c->mode == 2 || c->mode == 3) ? t : t - c->paused_elapsed;
	}
	c->paused = false;
}

uint64_t pit8254_port61_read(void *opaque, uint64_t offset, unsigned size)
{
	struct pit8254 *s = opaque;
	uint64_t t = pit_now(s);
	uint8_t v = s->port61 & 0x0f;
	if ((t / PIT_REFRESH_TICKS) & 1)
		v |= 0x10;
	if (pit_out(&s->ch[2], t))
		v |= 0x20;
	return v;
}

void pit8254_port61_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct pit8254 *s = opaque;
	s->port61 = (uint8_t)value & 0x0f;
	pit_set_gate(&s->ch[2], value & 1, pit_now(s));
}
