/*
 * Intel 8042 keyboard controller: port 0x60 (data) and 0x64 (status and
 * command).  Enough for a guest to find the controller, talk to it and
 * reset the machine through it; no key is ever pressed.
 */
#ifndef PLEXVM_I8042_H
#define PLEXVM_I8042_H

#include <stdint.h>

struct i8042;

/* @reset is called when the guest pulses the CPU reset line (command 0xFE,
 * or an output-port write with bit 0 clear). */
struct i8042 *i8042_create(void (*reset)(void *opaque), void *opaque);
void i8042_destroy(struct i8042 *s);

/* Port 0x60: the output buffer, and data for commands / the keyboard. */
uint64_t i8042_data_read(void *opaque, uint64_t offset, unsigned size);
void i8042_data_write(void *opaque, uint64_t offset, uint64_t value, unsigned size);
/* Port 0x64: status register on read, controller command on write. */
uint64_t i8042_cmd_read(void *opaque, uint64_t offset, unsigned size);
void i8042_cmd_write(void *opaque, uint64_t offset, uint64_t value, unsigned size);

#endif
