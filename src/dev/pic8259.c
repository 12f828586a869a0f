/*
 * 8259A programmable interrupt controller pair (Intel 8259A data sheet).
 *
 * Priorities are "fully nested" with rotation: priority_add names the IRQ
 * that currently has the highest priority (0 after ICW1).  A chip raises its
 * INT output when an unmasked requested IRQ has higher priority than every
 * IRQ in service (in special mask mode, masked in-service IRQs do not
 * count).  The slave's INT output is the master's IRQ 2 line.
 *
 * Edge-triggered lines latch IRR on a rising edge; level-triggered lines
 * (ICW1.LTIM or ELCR) follow the line.  An acknowledge with nothing pending
 * returns IRQ 7 of that chip without setting ISR: the spurious interrupt.
 */
#include "pic8259.h"

#include <stdlib.h>

#include "../log.h"

struct pic8259_chip {
	struct pic8259 *pair;
	uint8_t irr, isr, imr;
	uint8_t line; /* current input line levels */
	uint8_t elcr, elcr_mask;
	uint8_t base; /* ICW2 vector base */
	uint8_t priority_add;
	int init_step; /* 0 ready, 2 ICW2, 3 ICW3, 4 ICW4 expected */
	bool single, need_icw4, ltim, aeoi, rotate_aeoi, special_mask, read_isr, poll;
};

struct pic8259 {
	struct pic8259_chip chip[2];
};

/* Priority (0 highest) of the highest set bit in @mask, 8 if none. */
static int pic_priority(const struct pic8259_chip *c, uint8_t mask)
{
	for (int p = 0; p < 8; p++)
		if (mask & (1u << ((p + c->priority_add) & 7)))
			return p;
	return 8;
}

/* The IRQ this chip would raise now, or -1. */
static int pic_pending(const struct pic8259_chip *c)
{
	int p = pic_priority(c, c->irr & (uint8_t)~c->imr);
	if (p == 8)
		return -1;
	uint8_t in_service = c->special_mask ? (uint8_t)(c->isr & ~c->imr) : c->isr;
	if (p >= pic_priority(c, in_service))
		return -1;
	return (p + c->priority_add) & 7;
}

static bool pic_level_mode(const struct pic8259_chip *c, int irq)
{
	return c->ltim || (c->elcr & (1u << irq));
}

static void pic_set_line(struct pic8259_chip *c, int irq, int level)
{
	uint8_t bit = (uint8_t)(1u << irq);
	if (pic_level_mode(c, irq)) {
		if (level)
			c->irr |= bit;
		else
			c->irr &= (uint8_t)~bit;
	} else if (level && !(c->line & bit)) {
		c->irr |= bit;
	}
	c->line = level ? (uint8_t)(c->line | bit) : (uint8_t)(c->line & ~bit);
}

/* The cascade: the slave's INT output drives the master's IRQ 2. */
static void pic_update(struct pic8259 *p)
{
	struct pic8259_chip *master = &p->chip[0];
	int level = pic_pending(&p->chip[1]) >= 0;
	uint8_t bit = 1u << 2;
	if (level)
		master->irr |= bit;
	else
		master->irr &= (uint8_t)~bit;
	master->line = level ? (uint8_t)(master->line | bit) : (uint8_t)(master->line & ~bit);
}

void pic8259_set_irq(void *opaque, int line, int level)
{
	struct pic8259 *p = opaque;
	if (line < 0 || line > 15 || line == 2)
		return;
	pic_set_line(&p->chip[line >> 3], line & 7, level);
	pic_update(p);
}

bool pic8259_has_interrupt(const struct pic8259 *p)
{
	return pic_pending(&p->chip[0]) >= 0;
}

/* Acknowledge @irq on one chip: IRR (edge) cleared, ISR set unless AEOI. */
static void pic_ack_irq(struct pic8259_chip *c, int irq)
{
	uint8_t bit = (uint8_t)(1u << irq);
	if (!pic_level_mode(c, irq))
		c->irr &= (uint8_t)~bit;
	if (c->aeoi) {
		if (c->rotate_aeoi)
			c->priority_add = (uint8_t)((irq + 1) & 7);
	} else {
		c->isr |= bit;
	}
}

int pic8259_ack(struct pic8259 *p)
{
	struct pic8259_chip *m = &p->chip[0], *s = &p->chip[1];
	int irq = pic_pending(m);
	int vector;
	if (irq < 0)
		return m->base + 7;
	pic_ack_irq(m, irq);
	if (irq == 2) {
		int sirq = pic_pending(s);
		if (sirq < 0) {
			vector = s->base + 7;
		} else {
			pic_ack_irq(s, sirq);
			vector = s->base + sirq;
		}
	} else {
		vector = m->base + irq;
	}
	pic_update(p);
	return vector;
}

static void pic_eoi(struct pic8259_chip *c, int irq, bool rotate)
{
	if (irq < 0) {
		int pr = pic_priority(c, c->isr);
		if (pr == 8)
			return;
		irq = (pr + c->priority_add) & 7;
	}
	c->isr &= (uint8_t) ~(1u << irq);
	if (rotate)
		c->priority_add = (uint8_t)((irq + 1) & 7);
}

static void pic_write_command(struct pic8259_chip *c, uint8_t v)
{
	if (v & 0x10) { /* ICW1 */
		c->imr = c->isr = c->irr = 0;
		c->priority_add = 0;
		c->special_mask = c->read_isr = c->poll = c->aeoi = c->rotate_aeoi = false;
		c->single = v & 0x02;
		c->need_icw4 = v & 0x01;
		c->ltim = v & 0x08;
		c->init_step = 2;
		/* Edge detection restarts: an edge line already high must fall
		 * and rise again, while a level line still high stays requested. */
		for (int irq = 0; irq < 8; irq++)
			if (pic_level_mode(c, irq) && (c->line & (1u << irq)))
				c->irr |= (uint8_t)(1u << irq);
		return;
	}
	if (v & 0x08) { /* OCW3 */
		if (v & 0x04)
			c->poll = true;
		if (v & 0x02)
			c->read_isr = v & 0x01;
		if (v & 0x40)
			c->special_mask = v & 0x20;
		return;
	}
	switch (v >> 5) { /* OCW2 */
	case 0: c->rotate_aeoi = false; break;
	case 4: c->rotate_aeoi = true; break;
	case 1: pic_eoi(c, -1, false); break;
	case 5: pic_eoi(c, -1, true); break;
	case 3: pic_eoi(c, v & 7, false); break;
	case 7: pic_eoi(c, v & 7, true); break;
	case 6: c->priority_add = (uint8_t)((v + 1) & 7); break;
	default: break; /* 2: no operation */
	}
}

static void pic_write_data(struct pic8259_chip *c, uint8_t v)
{
	switch (c->init_step) {
	case 2:
		c->base = v & 0xf8;
		c->init_step = c->single ? (c->need_icw4 ? 4 : 0) : 3;
		break;
	case 3:
		c->init_step = c->need_icw4 ? 4 : 0; /* cascade wiring is fixed on a PC */
		break;
	case 4:
		c->aeoi = v & 0x02;
		if (!(v & 0x01))
			log_warn_once(
			        "8259A: ICW4 without 8086 mode is not supported; assuming it");
		c->init_step = 0;
		break;
	default:
		c->imr = v; /* OCW1 */
		break;
	}
}

void pic8259_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct pic8259_chip *c = opaque;
	if (size != 1 || offset > 1) {
		log_warn_once("8259A: %u-byte write at offset %llu ignored", size,
		              (unsigned long long)offset);
		return;
	}
	if (offset == 0)
		pic_write_command(c, (uint8_t)value);
	else
		pic_write_data(c, (uint8_t)value);
	pic_update(c->pair);
}

/* OCW3 poll: acknowledge the highest request, report it as 0x80 | IRQ. */
static uint8_t pic_poll(struct pic8259_chip *c)
{
	int irq = pic_pending(c);
	c->poll = false;
	if (irq < 0)
		return 0;
	pic_ack_irq(c, irq);
	return (uint8_t)(0x80 | irq);
}

uint64_t pic8259_read(void *opaque, uint64_t offset, unsigned size)
{
	struct pic8259_chip *c = opaque;
	uint8_t v;
	if (size != 1 || offset > 1) {
		log_warn_once("8259A: %u-byte read at offset %llu ignored", size,
		              (unsigned long long)offset);
		return ~0ull;
	}
	if (c->poll)
		v = pic_poll(c);
	else if (offset == 0)
		v = c->read_isr ? c->isr : c->irr;
	else
		v = c->imr;
	pic_update(c->pair);
	return v;
}

/* ELCR: one bit per IRQ, 1 = level-triggered (PIIX4 data sheet, 4.1.11);
 * a 16-bit access at 0x4D0 covers both registers. */
uint64_t pic8259_elcr_read(void *opaque, uint64_t offset, unsigned size)
{
	struct pic8259 *p = opaque;
	uint64_t v = 0;
	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)(offset + i < 2 ? p->chip[offset + i].elcr : 0xff) << (8 * i);
	return v;
}

void pic8259_elcr_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct pic8259 *p = opaque;
	for (unsigned i = 0; i < size && offset + i < 2; i++) {
		struct pic8259_chip *c = &p->chip[offset + i];
		c->elcr = (uint8_t)(value >> (8 * i)) & c->elcr_mask;
		/* A line just made level-triggered is requested while high. */
		c->irr = (uint8_t)((c->irr & ~c->elcr) | (c->line & c->elcr));
	}
	pic_update(p);
}

void *pic8259_chip(struct pic8259 *p, int which)
{
	return &p->chip[which ? 1 : 0];
}

struct pic8259 *pic8259_create(void)
{
	struct pic8259 *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	for (int i = 0; i < 2; i++)
		p->chip[i].pair = p;
	/* IRQ 0, 1, 2 (master) and 8, 13 (slave) are always edge-triggered. */
	p->chip[0].elcr_mask = 0xf8;
	p->chip[1].elcr_mask = 0xde;
	return p;
}

void pic8259_destroy(struct pic8259 *p)
{
	free(p);
}
