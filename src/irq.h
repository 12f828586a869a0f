/*
 * Interrupt lines.  A device raises or lowers its line through irq_set();
 * it never knows which controller (or engine) is on the other end.
 */
#ifndef PLEXVM_IRQ_H
#define PLEXVM_IRQ_H

struct irq_line {
	void (*set)(void *opaque, int line, int level);
	void *opaque;
	int line;
};

static inline void irq_set(const struct irq_line *irq, int level)
{
	if (irq && irq->set)
		irq->set(irq->opaque, irq->line, level);
}

/* An edge on an edge-triggered line: raise, then lower. */
static inline void irq_pulse(const struct irq_line *irq)
{
	irq_set(irq, 1);
	irq_set(irq, 0);
}

#endif
