/*
 * Intel 8254 programmable interval timer at ports 0x40-0x43, and the PC's
 * port 0x61 (port B: channel 2 gate in, channel 2 output and the refresh
 * toggle out).  Channel 0 drives IRQ 0.
 *
 * Counters run from a 1.193182 MHz clock derived from @now_ns, so the
 * device needs no timer of its own: the machine calls pit8254_update() when
 * pit8254_next_deadline() has passed (or any time), and counts read by the
 * guest are computed from the clock at the moment of the read.
 */
#ifndef PLEXVM_PIT8254_H
#define PLEXVM_PIT8254_H

#include <stdint.h>

#include "../irq.h"

#define PIT8254_HZ 1193182u

struct pit8254;

/* @now_ns is a monotonic clock in nanoseconds.  No channel counts until
 * the guest programs it (there is no BIOS to leave channel 0 running). */
struct pit8254 *pit8254_create(struct irq_line irq0, uint64_t (*now_ns)(void *opaque),
                               void *clock_opaque);
void pit8254_destroy(struct pit8254 *s);

/* Offsets 0-2: counters 0-2; offset 3: control word (write only). */
uint64_t pit8254_read(void *opaque, uint64_t offset, unsigned size);
void pit8254_write(void *opaque, uint64_t offset, uint64_t value, unsigned size);

/* Port 0x61: bit 0 channel 2 gate, bit 1 speaker data (kept), bits 2-3
 * kept, bit 4 refresh toggle (read only), bit 5 channel 2 output (read
 * only). */
uint64_t pit8254_port61_read(void *opaque, uint64_t offset, unsigned size);
void pit8254_port61_write(void *opaque, uint64_t offset, uint64_t value, unsigned size);

/* Raises an IRQ 0 edge if channel 0's output rose since the last call, up
 * to @now_ns.  When several periods were missed only one edge is
 * delivered, and the next deadline is the next period after @now_ns. */
void pit8254_update(struct pit8254 *s, uint64_t now_ns);

/* The time (same clock as now_ns) of channel 0's next edge; UINT64_MAX if
 * there is none to come. */
uint64_t pit8254_next_deadline(const struct pit8254 *s);

#endif
