/*
 * Local APIC, xAPIC mode (see lapic.h; Intel SDM vol. 3, chapter 10).
 *
 * Interrupts from the APIC's own sources (timer, error, self-IPIs; the
 * thermal and PMC entries have no source here, LINT1 has no NMI to carry)
 * land in IRR as 256-bit vectors; the CPU takes the highest whose class
 * is above the processor priority (10.8.3), INTA moves it to ISR, EOI
 * clears the highest ISR bit.  The 8259 sits behind LINT0 and bypasses all
 * of that in ExtINT mode (lapic_passes_pic()).
 */
#include "lapic.h"

#include <stdlib.h>

#include "../log.h"

enum { LVT_TIMER, LVT_THERMAL, LVT_PMC, LVT_LINT0, LVT_LINT1, LVT_ERROR, LVT_COUNT };

/* Writable bits of each LVT entry (SDM figure 10-8): vector, delivery
 * mode, pin polarity, trigger mode, mask, timer mode (periodic only: no
 * TSC-deadline).  Delivery status and remote IRR read 0: delivery is
 * instant. */
static const uint32_t lvt_mask[LVT_COUNT] = {
	[LVT_TIMER] = 0x300ff, [LVT_THERMAL] = 0x107ff, [LVT_PMC] = 0x107ff,
	[LVT_LINT0] = 0x1a7ff, [LVT_LINT1] = 0x1a7ff,   [LVT_ERROR] = 0x100ff,
};

#define SVR_MASK 0x3ffu      /* vector, APIC enable, focus check disable */
#define ICR_LO_MASK 0xccfffu /* vector, mode, dest mode, level, trigger, shorthand */
#define BASE_RESERVED (0xffffffff000002ffull | LAPIC_MSR_EXTD) /* MAXPHYADDR 36 */
#define ICR_DM(v) (((v) >> 8) & 7)
#define ICR_LOGICAL 0x800u
#define ICR_LEVEL_ASSERT 0x4000u
#define ICR_TRIGGER_LEVEL 0x8000u
#define ICR_SHORTHAND(v) (((v) >> 18) & 3)

struct lapic {
	uint64_t (*now_ns)(void *opaque);
	void *clock_opaque;
	bool (*relocate)(void *opaque, uint64_t base);
	void *relocate_opaque;
	uint64_t base;
	uint32_t id, tpr, ldr, dfr, svr, icr_lo, icr_hi;
	uint32_t esr, esr_pending; /* read value; errors since the last ESR write */
	uint32_t lvt[LVT_COUNT];
	uint32_t irr[8], isr[8], tmr[8];
	uint32_t timer_icr, timer_dcr;
	uint64_t timer_start;    /* when the count was last loaded */
	uint64_t timer_deadline; /* the next expiry; UINT64_MAX: none */
};

static void bit_set(uint32_t *v, unsigned n, bool on)
{
	if (on)
		v[n >> 5] |= 1u << (n & 31);
	else
		v[n >> 5] &= ~(1u << (n & 31));
}

/* The highest set bit of a 256-bit register, or -1. */
static int highest(const uint32_t *v)
{
	for (int i = 7; i >= 0; i--)
		if (v[i])
			return i * 32 + 31 - __builtin_clz(v[i]);
	return -1;
}

static bool sw_enabled(const struct lapic *s)
{
	return (s->base & LAPIC_MSR_EN) && (s->svr & LAPIC_SVR_ENABLE);
}

/* Processor priority (SDM 10.8.3.1). */
static uint32_t lapic_ppr(const struct lapic *s)
{
	int isrv = highest(s->isr);
	uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;
	return (s->tpr & 0xf0) >= isr_class ? s->tpr : isr_class;
}

static void lapic_error(struct lapic *s, uint32_t esr_bit);

/* A fixed interrupt arrives (SDM 10.8.1): into IRR, TMR set if level. */
static void lapic_accept(struct lapic *s, unsigned vector, bool level)
{
	if (!sw_enabled(s))
		return; /* as KVM: a software-disabled APIC takes no fixed interrupt */
	if (vector < 16) {
		lapic_error(s, LAPIC_ESR_RECV_ILLEGAL);
		return;
	}
	bit_set(s->irr, vector, true);
	bit_set(s->tmr, vector, level);
}

/* Records an error (10.5.3) and signals it through the error LVT. */
static void lapic_error(struct lapic *s, uint32_t esr_bit)
{
	uint32_t lvt = s->lvt[LVT_ERROR];
	s->esr_pending |= esr_bit;
	/* an illegal error vector would loop: it is only recorded */
	if (!(lvt & LAPIC_LVT_MASKED) && (lvt & 0xff) >= 16)
		lapic_accept(s, lvt & 0xff, false);
}

/* A local interrupt source fires through its LVT entry (10.5.1). */
static void lapic_local(struct lapic *s, int lvt_index)
{
	uint32_t lvt = s->lvt[lvt_index];
	if (lvt & LAPIC_LVT_MASKED)
		return;
	if ((lvt & 0x700) == LAPIC_DM_FIXED)
		lapic_accept(s, lvt & 0xff, false);
	else
		log_warn_once("local APIC: LVT delivery mode %u not emulated", ICR_DM(lvt));
}

/* ---- the timer (SDM 10.5.4) ---------------------------------------------- */

/* Divide configuration: bits 0, 1 and 3 give 2^(n+1), 0b111 divide by 1. */
static unsigned timer_shift(const struct lapic *s)
{
	unsigned n = (s->timer_dcr & 3) | ((s->timer_dcr & 8) >> 1);
	return (n + 1) & 7;
}

static bool timer_periodic(const struct lapic *s)
{
	return s->lvt[LVT_TIMER] & LAPIC_LVT_PERIODIC;
}

static uint32_t timer_count(const struct lapic *s, uint64_t now)
{
	if (!s->timer_icr)
		return 0;
	uint64_t ticks = (now - s->timer_start) >> timer_shift(s);
	if (timer_periodic(s))
		return s->timer_icr - (uint32_t)(ticks % s->timer_icr);
	return ticks >= s->timer_icr ? 0 : s->timer_icr - (uint32_t)ticks;
}

/* Sets the deadline after @now for the count loaded at timer_start. */
static void timer_arm(struct lapic *s, uint64_t now)
{
	uint64_t period = (uint64_t)s->timer_icr << timer_shift(s);
	s->timer_deadline = UINT64_MAX;
	if (!period)
		return;
	if (!timer_periodic(s)) {
		if (now - s->timer_start < period)
			s->timer_deadline = s->timer_start + period;
		return;
	}
	s->timer_deadline = s->timer_start + ((now - s->timer_start) / period + 1) * period;
}

void lapic_update(struct lapic *s, uint64_t now_ns)
{
	if (s->timer_deadline == UINT64_MAX || now_ns < s->timer_deadline)
		return;
	lapic_local(s, LVT_TIMER);
	if (timer_periodic(s))
		timer_arm(s, now_ns);
	else
		s->timer_deadline = UINT64_MAX;
}

uint64_t lapic_next_deadline(const struct lapic *s)
{
	return s->timer_deadline;
}

/* A new divider or mode: the count goes on from where it is. */
static void timer_rebase(struct lapic *s, uint32_t old_count, uint64_t now)
{
	if (!s->timer_icr || (!old_count && !timer_periodic(s)))
		return; /* stopped, or a one-shot that already fired */
	uint64_t done = (uint64_t)(s->timer_icr - old_count) << timer_shift(s);
	s->timer_start = now - done;
	timer_arm(s, now);
}

/* ---- registers ------------------------------------------------------------ */

static uint64_t lapic_now(const struct lapic *s)
{
	return s->now_ns(s->clock_opaque);
}

void lapic_reset(struct lapic *s)
{
	struct lapic keep = *s;
	*s = (struct lapic){ .now_ns = keep.now_ns,
		             .clock_opaque = keep.clock_opaque,
		             .relocate = keep.relocate,
		             .relocate_opaque = keep.relocate_opaque };
	s->base = LAPIC_DEFAULT_BASE | LAPIC_MSR_BSP | LAPIC_MSR_EN;
	s->dfr = 0xffffffffu;
	s->svr = 0xff;
	for (int i = 0; i < LVT_COUNT; i++)
		s->lvt[i] = LAPIC_LVT_MASKED;
	s->timer_deadline = UINT64_MAX;
}

struct lapic *lapic_create(uint64_t (*now_ns)(void *opaque), void *clock_opaque)
{
	struct lapic *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->now_ns = now_ns;
	s->clock_opaque = clock_opaque;
	lapic_reset(s);
	return s;
}

void lapic_destroy(struct lapic *s)
{
	free(s);
}

/* Is register slot @reg (offset >> 4) one of table 10-1's? */
static bool reg_exists(unsigned reg)
{
	return (reg >= 2 && reg <= 3) || (reg >= 8 && reg <= 0x28) ||
	       (reg >= 0x30 && reg <= 0x39) || reg == 0x3e;
}

static uint32_t reg_read(struct lapic *s, unsigned off)
{
	if (off >= LAPIC_ISR && off < LAPIC_ESR) {
		unsigned i = (off >> 4) & 7;
		return off < LAPIC_TMR ? s->isr[i] : off < LAPIC_IRR ? s->tmr[i] : s->irr[i];
	}
	if (off >= LAPIC_LVT_TIMER && off <= LAPIC_LVT_ERROR)
		return s->lvt[(off - LAPIC_LVT_TIMER) >> 4];
	switch (off) {
	case LAPIC_ID: return s->id;
	case LAPIC_VERSION: return LAPIC_VERSION_VALUE;
	case LAPIC_TPR: return s->tpr;
	case LAPIC_PPR: return lapic_ppr(s);
	case LAPIC_LDR: return s->ldr;
	case LAPIC_DFR: return s->dfr;
	case LAPIC_SVR: return s->svr;
	case LAPIC_ESR: return s->esr;
	case LAPIC_ICR_LO: return s->icr_lo;
	case LAPIC_ICR_HI: return s->icr_hi;
	case LAPIC_TIMER_ICR: return s->timer_icr;
	case LAPIC_TIMER_CCR: return timer_count(s, lapic_now(s));
	case LAPIC_TIMER_DCR: return s->timer_dcr;
	default: return 0; /* APR, EOI, RRD */
	}
}

uint64_t lapic_read(void *opaque, uint64_t offset, unsigned size)
{
	struct lapic *s = opaque;
	if (!(s->base & LAPIC_MSR_EN))
		return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
	if (size != 4 || (offset & 0xf) || offset >= LAPIC_SIZE) {
		log_warn_once("local APIC: %u-byte read at offset 0x%llx ignored", size,
		              (unsigned long long)offset);
		return 0;
	}
	if (!reg_exists((unsigned)offset >> 4)) {
		s->esr_pending |= LAPIC_ESR_ILLEGAL_REG;
		return 0;
	}
	return reg_read(s, (unsigned)offset);
}

static void lapic_eoi(struct lapic *s)
{
	int v = highest(s->isr);
	if (v >= 0)
		bit_set(s->isr, (unsigned)v, false);
	/* A level-triggered vector's EOI would go on to the IOAPIC: none. */
}

/* Does destination @dest (ICR bits 56-63) name this APIC (10.6.2)? */
static bool lapic_is_dest(const struct lapic *s, uint32_t dest, bool logical)
{
	if (!logical)
		return dest == 0xff || dest == s->id >> 24;
	uint32_t ldr = s->ldr >> 24;
	if ((s->dfr >> 28) == 0xf) /* flat model */
		return (dest & ldr) != 0;
	/* cluster model: cluster in the high nibble, members in the low one */
	return (dest >> 4 == 0xf || dest >> 4 == ldr >> 4) && (dest & ldr & 0xf);
}

/* A write to ICR low sends an IPI (10.6.1); with one CPU, only this one
 * can receive it. */
static void lapic_send_ipi(struct lapic *s)
{
	uint32_t icr = s->icr_lo, vector = icr & 0xff;
	bool self;
	switch (ICR_SHORTHAND(icr)) {
	case 0: self = lapic_is_dest(s, s->icr_hi >> 24, icr & ICR_LOGICAL); break;
	case 1:                       /* self */
	case 2: self = true; break;   /* all including self */
	default: self = false; break; /* all excluding self: nobody else */
	}
	unsigned dm = ICR_DM(icr);
	if (dm > 1) { /* SMI, NMI, INIT, start-up: no other CPU, no NMI path */
		/* An INIT level de-assert (Linux's sync_Arb_IDs) does nothing
		 * since the Pentium 4 (SDM 10.6.1): not worth a warning. */
		bool deassert = dm == 5 && (icr & ICR_TRIGGER_LEVEL) && !(icr & ICR_LEVEL_ASSERT);
		if (self && !deassert)
			log_warn_once("local APIC: IPI delivery mode %u to itself ignored", dm);
		return;
	}
	if (vector < 16) {
		lapic_error(s, LAPIC_ESR_SEND_ILLEGAL);
		return;
	}
	if (self)
		lapic_accept(s, vector, icr & ICR_TRIGGER_LEVEL);
}

/* SVR (10.9): clearing the enable bit masks every LVT entry. */
static void lapic_write_svr(struct lapic *s, uint32_t v)
{
	s->svr = v & SVR_MASK;
	if (!(s->svr & LAPIC_SVR_ENABLE))
		for (int i = 0; i < LVT_COUNT; i++)
			s->lvt[i] |= LAPIC_LVT_MASKED;
}

static void lapic_write_lvt(struct lapic *s, int i, uint32_t v, uint64_t now)
{
	uint32_t old_count = i == LVT_TIMER ? timer_count(s, now) : 0;
	v &= lvt_mask[i];
	if (!(s->svr & LAPIC_SVR_ENABLE)) /* software-disabled: stays masked */
		v |= LAPIC_LVT_MASKED;
	bool mode_change = i == LVT_TIMER && ((v ^ s->lvt[i]) & LAPIC_LVT_PERIODIC);
	s->lvt[i] = v;
	if (mode_change)
		timer_rebase(s, old_count, now);
}

static void reg_write(struct lapic *s, unsigned off, uint32_t v)
{
	uint64_t now;
	if (off >= LAPIC_LVT_TIMER && off <= LAPIC_LVT_ERROR) {
		lapic_write_lvt(s, (int)(off - LAPIC_LVT_TIMER) >> 4, v, lapic_now(s));
		return;
	}
	switch (off) {
	case LAPIC_ID: s->id = v & 0xff000000u; break;
	case LAPIC_TPR: s->tpr = v & 0xff; break;
	case LAPIC_EOI: lapic_eoi(s); break;
	case LAPIC_LDR: s->ldr = v & 0xff000000u; break;
	case LAPIC_DFR: s->dfr = v | 0x0fffffffu; break;
	case LAPIC_SVR: lapic_write_svr(s, v); break;
	case LAPIC_ESR: /* latch the errors since the last write (10.5.3) */
		s->esr = s->esr_pending;
		s->esr_pending = 0;
		break;
	case LAPIC_ICR_LO:
		s->icr_lo = v & ICR_LO_MASK;
		lapic_send_ipi(s);
		break;
	case LAPIC_ICR_HI: s->icr_hi = v & 0xff000000u; break;
	case LAPIC_TIMER_ICR: /* a new count starts the timer; 0 stops it */
		now = lapic_now(s);
		s->timer_icr = v;
		s->timer_start = now;
		timer_arm(s, now);
		break;
	case LAPIC_TIMER_DCR: {
		now = lapic_now(s);
		uint32_t count = timer_count(s, now);
		s->timer_dcr = v & 0xb;
		timer_rebase(s, count, now);
		break;
	}
	default: break; /* read-only registers ignore writes */
	}
}

void lapic_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct lapic *s = opaque;
	if (!(s->base & LAPIC_MSR_EN))
		return;
	if (size != 4 || (offset & 0xf) || offset >= LAPIC_SIZE) {
		log_warn_once("local APIC: %u-byte write at offset 0x%llx ignored", size,
		              (unsigned long long)offset);
		return;
	}
	if (!reg_exists((unsigned)offset >> 4)) {
		s->esr_pending |= LAPIC_ESR_ILLEGAL_REG;
		return;
	}
	reg_write(s, (unsigned)offset, (uint32_t)value);
}

/* ---- IA32_APIC_BASE and the CPU's side ------------------------------------ */

uint64_t lapic_base(const struct lapic *s)
{
	return s->base;
}

bool lapic_set_base(struct lapic *s, uint64_t value)
{
	if (value & BASE_RESERVED)
		return false;
	uint64_t base = value & ~0xfffull;
	if (base != (s->base & ~0xfffull)) {
		/* Relocation (SDM 10.4.5): the machine must find room there. */
		if (!s->relocate || !s->relocate(s->relocate_opaque, base)) {
			log_warn_once("local APIC: relocation to 0x%llx refused (#GP)",
			              (unsigned long long)base);
			return false;
		}
	}
	bool was = s->base & LAPIC_MSR_EN, en = value & LAPIC_MSR_EN;
	if (was && !en) {
		/* Globally disabled: as after power-up until enabled again
		 * (SDM 10.4.3), keeping the ID. */
		uint32_t id = s->id;
		lapic_reset(s);
		s->id = id;
	}
	s->base = (s->base & LAPIC_MSR_BSP) | (value & ~(uint64_t)LAPIC_MSR_BSP);
	return true;
}

void lapic_set_relocate(struct lapic *s, bool (*relocate)(void *opaque, uint64_t base),
                        void *opaque)
{
	s->relocate = relocate;
	s->relocate_opaque = opaque;
}

bool lapic_passes_pic(const struct lapic *s)
{
	uint32_t lint0 = s->lvt[LVT_LINT0];
	if (!(s->base & LAPIC_MSR_EN))
		return true;
	return sw_enabled(s) && !(lint0 & LAPIC_LVT_MASKED) && (lint0 & 0x700) == LAPIC_DM_EXTINT;
}

int lapic_pending(const struct lapic *s)
{
	if (!sw_enabled(s))
		return -1;
	int v = highest(s->irr);
	if (v < 0 || ((uint32_t)v & 0xf0) <= (lapic_ppr(s) & 0xf0))
		return -1;
	return v;
}

int lapic_ack(struct lapic *s)
{
	int v = lapic_pending(s);
	if (v < 0)
		return (int)(s->svr & 0xff);
	bit_set(s->irr, (unsigned)v, false);
	bit_set(s->isr, (unsigned)v, true);
	return v;
}
