/*
 * 16550A UART, as Linux's 8250 driver and simple polled consoles use it.
 * Transmit is immediate: a byte written to THR goes to tx() at once.
 */
#ifndef PLEXVM_UART16550_H
#define PLEXVM_UART16550_H

#include <stdbool.h>
#include <stdint.h>

#include "../irq.h"

struct uart16550;

struct uart16550 *uart16550_create(struct irq_line irq, void (*tx)(void *opaque, uint8_t byte),
                                   void *tx_opaque);
void uart16550_destroy(struct uart16550 *s);
void uart16550_reset(struct uart16550 *s);

/* Registers at offsets 0-7 (bus callbacks). */
uint64_t uart16550_read(void *opaque, uint64_t offset, unsigned size);
void uart16550_write(void *opaque, uint64_t offset, uint64_t value, unsigned size);

/* Host input: 0, or -1 when the receive FIFO is full. */
int uart16550_receive(struct uart16550 *s, uint8_t byte);
bool uart16550_can_receive(const struct uart16550 *s);

#endif
