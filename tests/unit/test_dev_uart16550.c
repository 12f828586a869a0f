/*
 * 16550A UART: register behaviour as Linux's 8250 driver probes and uses
 * it (drivers/tty/serial/8250/8250_port.c: autoconfig, the loopback test,
 * FIFO detection through IIR bits 7-6, the THRE interrupt).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dev/uart16550.h"

enum {
	RBR = 0,
	THR = 0,
	DLL = 0,
	IER = 1,
	DLM = 1,
	IIR = 2,
	FCR = 2,
	LCR = 3,
	MCR = 4,
	LSR = 5,
	MSR = 6,
	SCR = 7
};

struct fixture {
	struct uart16550 *uart;
	int irq_level, irq_edges;
	uint8_t tx[64];
	size_t ntx;
};

static void fake_irq(void *opaque, int line, int level)
{
	struct fixture *f = opaque;
	if (level && !f->irq_level)
		f->irq_edges++;
	f->irq_level = level;
}

static void fake_tx(void *opaque, uint8_t byte)
{
	struct fixture *f = opaque;
	if (f->ntx < sizeof(f->tx))
		f->tx[f->ntx++] = byte;
}

static int setup(void **state)
{
	static struct fixture f;
	memset(&f, 0, sizeof(f));
	struct irq_line irq = { fake_irq, &f, 4 };
	f.uart = uart16550_create(irq, fake_tx, &f);
	assert_non_null(f.uart);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	uart16550_destroy(f->uart);
	return 0;
}

static uint8_t in(struct fixture *f, unsigned reg)
{
	return (uint8_t)uart16550_read(f->uart, reg, 1);
}

static void out(struct fixture *f, unsigned reg, uint8_t v)
{
	uart16550_write(f->uart, reg, v, 1);
}

static void test_reset_state(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(in(f, LSR), 0x60); /* THRE | TEMT */
	assert_int_equal(in(f, IIR), 0x01); /* no interrupt, FIFOs off */
	assert_int_equal(in(f, IER), 0x00);
	assert_int_equal(in(f, MSR) & 0xf0, 0xb0); /* DCD, DSR, CTS */
	assert_int_equal(f->irq_level, 0);
}

/* autoconfig(): scratch register, IER bits 3-0 writable, upper bits zero. */
static void test_linux_probe_scratch_and_ier(void **state)
{
	struct fixture *f = *state;
	out(f, SCR, 0xa5);
	assert_int_equal(in(f, SCR), 0xa5);
	out(f, SCR, 0x5a);
	assert_int_equal(in(f, SCR), 0x5a);
	out(f, IER, 0x00);
	assert_int_equal(in(f, IER) & 0x0f, 0x00);
	out(f, IER, 0xff);
	assert_int_equal(in(f, IER), 0x0f);
}

/* autoconfig()'s loopback check: MCR = LOOP | OUT2 | RTS must show
 * DCD | CTS (0x90) in the top MSR bits. */
static void test_linux_probe_loopback_msr(void **state)
{
	struct fixture *f = *state;
	out(f, MCR, 0x10 | 0x0a);
	assert_int_equal(in(f, MSR) & 0xf0, 0x90);
	out(f, MCR, 0x10 | 0x0f);
	assert_int_equal(in(f, MSR) & 0xf0, 0xf0);
	out(f, MCR, 0x10);
	assert_int_equal(in(f, MSR) & 0xf0, 0x00);
}

/* FIFO detection: IIR bits 7-6 = 11 with FCR.0 set means a 16550A; no
 * 64-byte FIFO bit (IIR bit 5) so it is not taken for a 16750. */
static void test_fifo_detection(void **state)
{
	struct fixture *f = *state;
	out(f, FCR, 0x01);
	assert_int_equal(in(f, IIR) >> 6, 3);
	out(f, FCR, 0x01 | 0x20);
	assert_int_equal(in(f, IIR) >> 5, 6);
	out(f, LCR, 0x80);
	out(f, FCR, 0x01 | 0x20);
	out(f, LCR, 0x03);
	assert_int_equal(in(f, IIR) >> 5, 6);
	out(f, FCR, 0x00);
	assert_int_equal(in(f, IIR) >> 6, 0);
}

static void test_divisor_latch(void **state)
{
	struct fixture *f = *state;
	out(f, LCR, 0x83);
	out(f, DLL, 0x01);
	out(f, DLM, 0x00);
	assert_int_equal(in(f, DLL), 0x01);
	assert_int_equal(in(f, DLM), 0x00);
	assert_int_equal(f->ntx, 0); /* DLL writes are not data */
	out(f, LCR, 0x03);
	assert_int_equal(in(f, LCR), 0x03);
	out(f, IER, 0x05);
	out(f, LCR, 0x83);
	assert_int_equal(in(f, DLM), 0x00); /* IER and DLM are distinct */
	out(f, LCR, 0x03);
	assert_int_equal(in(f, IER), 0x05);
}

static void test_transmit_is_immediate(void **state)
{
	struct fixture *f = *state;
	out(f, THR, 'h');
	out(f, THR, 'i');
	assert_int_equal(f->ntx, 2);
	assert_memory_equal(f->tx, "hi", 2);
	assert_int_equal(in(f, LSR) & 0x60, 0x60);
}

static void test_loopback_echoes_to_receiver(void **state)
{
	struct fixture *f = *state;
	out(f, MCR, 0x10);
	out(f, THR, 0x42);
	assert_int_equal(f->ntx, 0);
	assert_int_equal(in(f, LSR) & 0x01, 0x01);
	assert_int_equal(in(f, RBR), 0x42);
	assert_int_equal(in(f, LSR) & 0x01, 0x00);
	assert_false(uart16550_can_receive(f->uart)); /* host input waits */
}

static void test_receive_fifo_and_overrun(void **state)
{
	struct fixture *f = *state;
	/* Without FIFOs the receiver holds one byte. */
	assert_int_equal(uart16550_receive(f->uart, 'a'), 0);
	assert_false(uart16550_can_receive(f->uart));
	assert_int_equal(uart16550_receive(f->uart, 'b'), -1);
	assert_int_equal(in(f, RBR), 'a');
	/* With FIFOs, 16 bytes in order. */
	out(f, FCR, 0x07);
	for (int i = 0; i < 16; i++)
		assert_int_equal(uart16550_receive(f->uart, (uint8_t)('A' + i)), 0);
	assert_int_equal(uart16550_receive(f->uart, 'Z'), -1);
	for (int i = 0; i < 16; i++)
		assert_int_equal(in(f, RBR), 'A' + i);
	assert_int_equal(in(f, LSR) & 0x01, 0);
	/* Loopback into a full FIFO overruns; OE clears when LSR is read. */
	out(f, MCR, 0x10);
	for (int i = 0; i < 17; i++)
		out(f, THR, (uint8_t)i);
	assert_int_equal(in(f, LSR) & 0x03, 0x03);
	assert_int_equal(in(f, LSR) & 0x02, 0x00);
	/* FCR bit 1 empties the receive FIFO. */
	out(f, FCR, 0x03);
	assert_int_equal(in(f, LSR) & 0x01, 0x00);
}

static void test_rx_interrupt_gated_by_out2(void **state)
{
	struct fixture *f = *state;
	out(f, FCR, 0x01);
	out(f, IER, 0x01);
	uart16550_receive(f->uart, 'x');
	assert_int_equal(in(f, IIR), 0xc4);
	assert_int_equal(f->irq_level, 0); /* OUT2 low: line not driven */
	out(f, MCR, 0x08);
	assert_int_equal(f->irq_level, 1);
	assert_int_equal(in(f, RBR), 'x');
	assert_int_equal(in(f, IIR), 0xc1);
	assert_int_equal(f->irq_level, 0);
}

/* The 8250 transmit path: enabling ETBEI with THR empty raises the THRE
 * interrupt; reading IIR while it is the source clears it; writing THR
 * raises it again once the byte has gone. */
static void test_thre_interrupt(void **state)
{
	struct fixture *f = *state;
	out(f, MCR, 0x08);
	out(f, IER, 0x02);
	assert_int_equal(f->irq_level, 1);
	assert_int_equal(in(f, IIR), 0x02);
	assert_int_equal(f->irq_level, 0);
	assert_int_equal(in(f, IIR), 0x01);
	out(f, THR, 'a');
	assert_int_equal(f->irq_level, 1);
	assert_int_equal(f->ntx, 1);
	/* Disabling ETBEI drops the request. */
	out(f, IER, 0x00);
	assert_int_equal(f->irq_level, 0);
	assert_int_equal(in(f, IIR), 0x01);
}

static void test_interrupt_priorities(void **state)
{
	struct fixture *f = *state;
	out(f, MCR, 0x08 | 0x10); /* loopback, OUT2 */
	out(f, IER, 0x0f);
	/* Modem status (lowest): the MCR write changed DCD in loopback. */
	assert_int_equal(in(f, IIR), 0x02); /* THRE outranks it */
	assert_int_equal(in(f, IIR), 0x00); /* then modem status */
	in(f, MSR);
	assert_int_equal(in(f, IIR), 0x01);
	/* Received data outranks THRE. */
	out(f, THR, 'q');
	assert_int_equal(in(f, IIR), 0x04);
	in(f, RBR);
	assert_int_equal(in(f, IIR), 0x02);
	/* Line status (overrun) outranks received data. */
	out(f, THR, 1);
	out(f, THR, 2);
	assert_int_equal(in(f, IIR), 0x06);
	in(f, LSR);
	assert_int_equal(in(f, IIR), 0x04);
}

static void test_modem_status_deltas(void **state)
{
	struct fixture *f = *state;
	out(f, MCR, 0x10);
	in(f, MSR);
	out(f, MCR, 0x11); /* DTR -> DSR rises */
	assert_int_equal(in(f, MSR), 0x20 | 0x02);
	assert_int_equal(in(f, MSR), 0x20); /* deltas clear on read */
	out(f, MCR, 0x14);                  /* OUT1 -> RI rises, DSR falls */
	assert_int_equal(in(f, MSR), 0x40 | 0x02);
	out(f, MCR, 0x10); /* RI trailing edge */
	assert_int_equal(in(f, MSR) & 0x0f, 0x04);
}

static void test_odd_access_is_harmless(void **state)
{
	struct fixture *f = *state;
	out(f, SCR, 0x33);
	uart16550_write(f->uart, SCR, 0x1234, 2);
	assert_int_equal(uart16550_read(f->uart, SCR, 2), ~0ull);
	assert_int_equal(in(f, SCR), 0x33);
	assert_int_equal(uart16550_read(f->uart, 9, 1), 0xff);
	uart16550_write(f->uart, 9, 0, 1);
}

static void test_reset_clears_state(void **state)
{
	struct fixture *f = *state;
	out(f, MCR, 0x08);
	out(f, IER, 0x02);
	assert_int_equal(f->irq_level, 1);
	uart16550_reset(f->uart);
	assert_int_equal(f->irq_level, 0);
	assert_int_equal(in(f, IER), 0);
	assert_int_equal(in(f, LSR), 0x60);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reset_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linux_probe_scratch_and_ier, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linux_probe_loopback_msr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo_detection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_divisor_latch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transmit_is_immediate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loopback_echoes_to_receiver, setup, teardown),
		cmocka_unit_test_setup_teardown(test_receive_fifo_and_overrun, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_interrupt_gated_by_out2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thre_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interrupt_priorities, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modem_status_deltas, setup, teardown),
		cmocka_unit_test_setup_teardown(test_odd_access_is_harmless, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_clears_state, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
