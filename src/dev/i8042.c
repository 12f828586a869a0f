/*
 * 8042 keyboard controller with a keyboard that is plugged in but never
 * typed on.
 *
 * The guest writes controller commands to 0x64; some of them take a data
 * byte written next to 0x60 (pending_cmd remembers which), and those that
 * answer queue their reply in the output buffer, read from 0x60 while the
 * status register shows OBF.  A byte written to 0x60 with no command
 * pending goes to the keyboard, which acknowledges it (0xFA) as a PS/2
 * keyboard does.  There is no IRQ 1: replies are polled, which is how
 * firmware and Linux's i8042 probe read them.
 */
#include "i8042.h"

#include <stdbool.h>
#include <stdlib.h>

#include "../log.h"

/* Status register bits. */
#define I8042_STR_OBF 0x01
#define I8042_STR_SYS 0x04
#define I8042_STR_CMD 0x08     /* last write went to 0x64 */
#define I8042_STR_KEYLOCK 0x10 /* 1 = keyboard not inhibited */

/* Command byte (CTR) bits. */
#define I8042_CTR_KBDINT 0x01
#define I8042_CTR_SYS 0x04
#define I8042_CTR_KBDDIS 0x10
#define I8042_CTR_AUXDIS 0x20
#define I8042_CTR_XLATE 0x40

/* Output port bits. */
#define I8042_OUT_RESET 0x01 /* low = CPU held in reset */
#define I8042_OUT_A20 0x02

/* PS/2 keyboard replies. */
#define KBD_ACK 0xfa
#define KBD_BAT_OK 0xaa

#define I8042_QUEUE 16

struct i8042 {
	void (*reset)(void *opaque);
	void *opaque;
	uint8_t ctr, outport, status_cmd;
	uint8_t pending_cmd; /* controller command awaiting its data byte */
	uint8_t pending_kbd; /* keyboard command awaiting its parameter */
	uint8_t queue[I8042_QUEUE];
	unsigned head, count;
	uint8_t last; /* read again when the buffer is empty, as on hardware */
};

static void i8042_push(struct i8042 *s, uint8_t byte)
{
	if (s->count == I8042_QUEUE)
		return;
	s->queue[(s->head + s->count) % I8042_QUEUE] = byte;
	s->count++;
}

struct i8042 *i8042_create(void (*reset)(void *opaque), void *opaque)
{
	struct i8042 *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->reset = reset;
	s->opaque = opaque;
	/* As the BIOS leaves it: keyboard interrupt on, POST passed,
	 * scancode translation on; A20 enabled and the CPU out of reset. */
	s->ctr = I8042_CTR_KBDINT | I8042_CTR_SYS | I8042_CTR_XLATE;
	s->outport = I8042_OUT_RESET | I8042_OUT_A20;
	return s;
}

void i8042_destroy(struct i8042 *s)
{
	free(s);
}

uint64_t i8042_cmd_read(void *opaque, uint64_t offset, unsigned size)
{
	struct i8042 *s = opaque;
	uint8_t v = I8042_STR_KEYLOCK | s->status_cmd;
	if (s->ctr & I8042_CTR_SYS)
		v |= I8042_STR_SYS;
	if (s->count)
		v |= I8042_STR_OBF;
	return v;
}

uint64_t i8042_data_read(void *opaque, uint64_t offset, unsigned size)
{
	struct i8042 *s = opaque;
	if (s->count) {
		s->last = s->queue[s->head];
		s->head = (s->head + 1) % I8042_QUEUE;
		s->count--;
	}
	return s->last;
}

static void i8042_write_outport(struct i8042 *s, uint8_t v)
{
	s->outport = v;
	if (!(v & I8042_OUT_RESET) && s->reset)
		s->reset(s->opaque);
}

/* A PS/2 keyboard command (IBM PS/2 Technical Reference, keyboard
 * commands): everything is acknowledged; reset also reports a passed
 * basic assurance test and identify the MF2 keyboard ID. */
static void i8042_keyboard_write(struct i8042 *s, uint8_t v)
{
	if (s->pending_kbd) {
		s->pending_kbd = 0; /* parameter of 0xED, 0xF0 or 0xF3 */
		i8042_push(s, KBD_ACK);
		return;
	}
	switch (v) {
	case 0xee: /* echo */ i8042_push(s, 0xee); return;
	case 0xed:
	case 0xf0:
	case 0xf3: s->pending_kbd = v; break;
	case 0xf2: /* identify */
		i8042_push(s, KBD_ACK);
		i8042_push(s, 0xab);
		i8042_push(s, 0x83);
		return;
	case 0xff:
		i8042_push(s, KBD_ACK);
		i8042_push(s, KBD_BAT_OK);
		return;
	}
	i8042_push(s, KBD_ACK);
}

void i8042_data_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct i8042 *s = opaque;
	uint8_t v = (uint8_t)value;
	uint8_t cmd = s->pending_cmd;
	s->pending_cmd = 0;
	s->status_cmd = 0;
	switch (cmd) {
	case 0x60: s->ctr = v; break;
	case 0xd1: i8042_write_outport(s, v); break;
	case 0xd2: i8042_push(s, v); break; /* as if the keyboard sent it */
	case 0xd3:
	case 0xd4: break; /* no mouse is attached */
	default: i8042_keyboard_write(s, v); break;
	}
}

void i8042_cmd_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct i8042 *s = opaque;
	uint8_t v = (uint8_t)value;
	s->status_cmd = I8042_STR_CMD;
	s->pending_cmd = 0;
	switch (v) {
	case 0x20: i8042_push(s, s->ctr); break;
	case 0x60:
	case 0xd1:
	case 0xd2:
	case 0xd3:
	case 0xd4: s->pending_cmd = v; break;
	case 0xa7: s->ctr |= I8042_CTR_AUXDIS; break;
	case 0xa8: s->ctr &= (uint8_t)~I8042_CTR_AUXDIS; break;
	case 0xaa: /* self-test passed; it also sets the system flag */
		s->ctr |= I8042_CTR_SYS;
		i8042_push(s, 0x55);
		break;
	case 0xa9: break; /* no auxiliary (mouse) port: no answer, as on an AT 8042 */
	case 0xab: i8042_push(s, 0x00); break; /* keyboard clock/data lines fine */
	case 0xad: s->ctr |= I8042_CTR_KBDDIS; break;
	case 0xae: s->ctr &= (uint8_t)~I8042_CTR_KBDDIS; break;
	case 0xd0: i8042_push(s, s->outport); break;
	default:
		if (v >= 0xf0) {
			/* Pulse output port bits 0-3 low for those bits that are
			 * 0 in the command: bit 0 is the CPU reset line. */
			if (!(v & 0x01) && s->reset)
				s->reset(s->opaque);
			break;
		}
		log_warn_once("i8042: command 0x%02x ignored", v);
		break;
	}
}
