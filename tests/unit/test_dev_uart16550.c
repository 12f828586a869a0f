/* 16550A UART: the register sequences Linux's 8250 driver and polled
 * consoles perform, checked as the driver checks them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dev/uart16550.h"

enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5,
       MSR = 6, SCR = 7 };

struct fixture {
	struct uart16550 *uart;
	uint8_t sent[64];
	unsigned nsent;
	int level;     /* current IRQ line level */
	unsigned sets; /* irq_set calls */
};

static void fake_tx(void *opaque, uint8_t byte)
{
	struct fixture *f = opaque;
	if (f->nsent < sizeof(f->sent))
		f->sent[f->nsent++] = byte;
}

static void fake_irq(void *opaque, int line, int level)
{
	struct fixture *f = opaque;
	assert_int_equal(line, 4);
	f->level = level;
	f->sets++;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->uart = uart16550_create((struct irq_line){ fake_irq, f, 4 }, fake_tx, f);
	assert_non_null(f->uart);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	uart16550_destroy(f->uart);
	free(f);
	return 0;
}

static uint8_t rd(struct fixture *f, unsigned reg)
{
	return (uint8_t)uart16550_read(f->uart, reg, 1);
}

static void wr(struct fixture *f, unsigned reg, uint8_t v)
{
	uart16550_write(f->uart, reg, v, 1);
}

static void reset_state(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(rd(f, IER), 0);
	assert_int_equal(rd(f, IIR), 0x01); /* no interrupt, FIFOs off */
	assert_int_equal(rd(f, LCR), 0x03);
	assert_int_equal(rd(f, LSR), 0x60); /* THRE | TEMT */
	assert_int_equal(rd(f, MSR) & 0xf0, 0xb0); /* DCD | DSR | CTS */
	assert_int_equal(f->level, 0);
}

/* serial8250 autoconfig(): IER probe, loopback MSR probe, scratch, FIFO. */
static void linux_autoconfig(void **state)
{
	struct fixture *f = *state;
	wr(f, IER, 0);
	assert_int_equal(rd(f, IER) & 0x0f, 0);
	wr(f, IER, 0x0f);
	assert_int_equal(rd(f, IER) & 0x0f, 0x0f);
	wr(f, IER, 0);

	wr(f, MCR, 0x10 | 0x0a); /* LOOP | RTS | OUT2 */
	assert_int_equal(rd(f, MSR) & 0xf0, 0x90); /* CTS | DCD */
	wr(f, MCR, 0x10 | 0x05); /* LOOP | DTR | OUT1 */
	assert_int_equal(rd(f, MSR) & 0xf0, 0x60); /* DSR | RI */
	wr(f, MCR, 0);

	wr(f, SCR, 0xa5);
	assert_int_equal(rd(f, SCR), 0xa5);
	wr(f, SCR, 0x5a);
	assert_int_equal(rd(f, SCR), 0x5a);

	wr(f, FCR, 0x01);
	assert_int_equal(rd(f, IIR) >> 6, 3); /* 16550A */
	wr(f, FCR, 0);
	assert_int_equal(rd(f, IIR) >> 6, 0);
}

static void divisor_latch(void **state)
{
	struct fixture *f = *state;
	wr(f, LCR, 0x80 | 0x03);
	wr(f, DLL, 0x01);
	wr(f, DLM, 0x00);
	assert_int_equal(rd(f, DLL), 0x01);
	assert_int_equal(rd(f, DLM), 0x00);
	wr(f, LCR, 0x03);
	assert_int_equal(rd(f, IER), 0); /* DLM did not land in IER */
	assert_int_equal(f->nsent, 0);  /* DLL did not transmit */
	wr(f, LCR, 0x80);
	assert_int_equal(rd(f, DLL), 0x01);
}

static void transmit_immediate(void **state)
{
	struct fixture *f = *state;
	const char *msg = "hi\n";
	for (const char *p = msg; *p; p++) {
		while (!(rd(f, LSR) & 0x20))
			;
		wr(f, THR, (uint8_t)*p);
		assert_int_equal(rd(f, LSR) & 0x60, 0x60);
	}
	assert_int_equal(f->nsent, 3);
	assert_memory_equal(f->sent, msg, 3);
}

static void loopback_tx_to_rx(void **state)
{
	struct fixture *f = *state;
	wr(f, MCR, 0x10);
	wr(f, THR, 0x42);
	assert_int_equal(f->nsent, 0); /* nothing reaches the host */
	assert_true(rd(f, LSR) & 0x01);
	assert_int_equal(rd(f, RBR), 0x42);
	assert_false(rd(f, LSR) & 0x01);
	assert_false(uart16550_can_receive(f->uart));
	assert_int_equal(uart16550_receive(f->uart, 'x'), -1);
}

static void receive_fifo_and_overrun(void **state)
{
	struct fixture *f = *state;
	/* Without FIFOs the holding register keeps one byte. */
	assert_int_equal(uart16550_receive(f->uart, 'a'), 0);
	assert_false(uart16550_can_receive(f->uart));
	assert_int_equal(uart16550_receive(f->uart, 'b'), -1);
	assert_int_equal(rd(f, RBR), 'a');

	wr(f, FCR, 0x07); /* enable and clear both FIFOs */
	for (int i = 0; i < 16; i++)
		assert_int_equal(uart16550_receive(f->uart, (uint8_t)('A' + i)), 0);
	assert_int_equal(uart16550_receive(f->uart, '!'), -1);
	for (int i = 0; i < 16; i++) {
		assert_true(rd(f, LSR) & 0x01);
		assert_int_equal(rd(f, RBR), 'A' + i);
	}
	assert_int_equal(rd(f, LSR) & 0x01, 0);

	uart16550_receive(f->uart, 'z');
	wr(f, FCR, 0x03); /* clear RX */
	assert_int_equal(rd(f, LSR) & 0x01, 0);
}

static void overrun_sets_oe_in_loopback(void **state)
{
	struct fixture *f = *state;
	wr(f, MCR, 0x10);
	wr(f, THR, 1);
	wr(f, THR, 2); /* one-byte holding register already full */
	assert_int_equal(rd(f, LSR) & 0x03, 0x03);
	assert_int_equal(rd(f, LSR) & 0x02, 0); /* OE clears on read */
	assert_int_equal(rd(f, RBR), 1);
}

static void rx_interrupt_gated_by_out2(void **state)
{
	struct fixture *f = *state;
	wr(f, IER, 0x01);
	uart16550_receive(f->uart, 'k');
	assert_int_equal(rd(f, IIR), 0x04);
	assert_int_equal(f->level, 0); /* OUT2 low: the PC wiring keeps IRQ 4 quiet */
	wr(f, MCR, 0x08);
	assert_int_equal(f->level, 1);
	assert_int_equal(rd(f, RBR), 'k');
	assert_int_equal(f->level, 0);
	assert_int_equal(rd(f, IIR), 0x01);
}

/* The 8250 driver's transmit path: enable ETBEI, get an interrupt at once,
 * the IIR read that reports THRI acknowledges it. */
static void thre_interrupt(void **state)
{
	struct fixture *f = *state;
	wr(f, MCR, 0x08);
	wr(f, IER, 0x02);
	assert_int_equal(f->level, 1);
	assert_int_equal(rd(f, IIR), 0x02);
	assert_int_equal(f->level, 0);
	assert_int_equal(rd(f, IIR), 0x01);

	wr(f, THR, 'x'); /* the byte leaves, THR empties: a new event */
	assert_int_equal(f->level, 1);
	assert_int_equal(rd(f, IIR), 0x02);
	assert_int_equal(f->level, 0);

	wr(f, IER, 0);
	wr(f, IER, 0x02);
	assert_int_equal(f->level, 1);
	wr(f, IER, 0);
	assert_int_equal(f->level, 0);
}

static void interrupt_priority(void **state)
{
	struct fixture *f = *state;
	wr(f, MCR, 0x08 | 0x10);
	wr(f, IER, 0x0f);
	wr(f, THR, 1);
	wr(f, THR, 2); /* overrun */
	assert_int_equal(rd(f, IIR), 0x06); /* line status first */
	rd(f, LSR);
	assert_int_equal(rd(f, IIR), 0x04); /* then received data */
	rd(f, RBR);
	assert_int_equal(rd(f, IIR), 0x02); /* then THR empty, which the read clears */
	/* Modem status last: the MCR writes above changed the looped lines. */
	assert_int_equal(rd(f, IIR), 0x00);
	rd(f, MSR);
	assert_int_equal(rd(f, IIR), 0x01);
	assert_int_equal(f->level, 0);
}

static void odd_sizes_ignored(void **state)
{
	struct fixture *f = *state;
	uart16550_write(f->uart, SCR, 0x1234, 2);
	assert_int_equal(rd(f, SCR), 0);
	assert_int_equal(uart16550_read(f->uart, LSR, 4), UINT64_MAX);
	uart16550_write(f->uart, THR, 'q', 2);
	assert_int_equal(f->nsent, 0);
}

static void reset_clears(void **state)
{
	struct fixture *f = *state;
	wr(f, MCR, 0x08);
	wr(f, IER, 0x02);
	assert_int_equal(f->level, 1);
	uart16550_receive(f->uart, 'x');
	uart16550_reset(f->uart);
	assert_int_equal(f->level, 0);
	assert_int_equal(rd(f, LSR), 0x60);
	assert_int_equal(rd(f, IER), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(reset_state, setup, teardown),
		cmocka_unit_test_setup_teardown(linux_autoconfig, setup, teardown),
		cmocka_unit_test_setup_teardown(divisor_latch, setup, teardown),
		cmocka_unit_test_setup_teardown(transmit_immediate, setup, teardown),
		cmocka_unit_test_setup_teardown(loopback_tx_to_rx, setup, teardown),
		cmocka_unit_test_setup_teardown(receive_fifo_and_overrun, setup, teardown),
		cmocka_unit_test_setup_teardown(overrun_sets_oe_in_loopback, setup, teardown),
		cmocka_unit_test_setup_teardown(rx_interrupt_gated_by_out2, setup, teardown),
		cmocka_unit_test_setup_teardown(thre_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(interrupt_priority, setup, teardown),
		cmocka_unit_test_setup_teardown(odd_sizes_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(reset_clears, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
