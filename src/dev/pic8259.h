/*
 * The PC's two 8259A interrupt controllers: the master at 0x20-0x21 (IRQ
 * 0-7) and the slave at 0xA0-0xA1 (IRQ 8-15) cascaded on the master's IRQ 2,
 * plus the edge/level control registers at 0x4D0-0x4D1.
 */
#ifndef PLEXVM_PIC8259_H
#define PLEXVM_PIC8259_H

#include <stdbool.h>
#include <stdint.h>

struct pic8259;

struct pic8259 *pic8259_create(void);
void pic8259_destroy(struct pic8259 *p);

/* The opaque for pic8259_read/write: 0 master, 1 slave. */
void *pic8259_chip(struct pic8259 *p, int which);
uint64_t pic8259_read(void *chip, uint64_t offset, unsigned size);
void pic8259_write(void *chip, uint64_t offset, uint64_t value, unsigned size);

/* ELCR, opaque = struct pic8259 *. */
uint64_t pic8259_elcr_read(void *pic, uint64_t offset, unsigned size);
void pic8259_elcr_write(void *pic, uint64_t offset, uint64_t value, unsigned size);

/* The irq_line callback: @line 0-15, opaque = struct pic8259 *. */
void pic8259_set_irq(void *pic, int line, int level);

/* INTR: the master asks the CPU for an interrupt. */
bool pic8259_has_interrupt(const struct pic8259 *p);
/* INTA: the vector to deliver; a spurious IRQ 7 / 15 when nothing is left. */
int pic8259_ack(struct pic8259 *p);

#endif
