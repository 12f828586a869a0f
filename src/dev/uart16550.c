/*
 * 16550A UART (National Semiconductor PC16550D data sheet).
 *
 * Interrupt sources, highest priority first (IIR values): receiver line
 * status 0x06, received data 0x04, THR empty 0x02, modem status 0x00; 0x01
 * means none.  The THR-empty interrupt is an event, not a level: it is set
 * when THR becomes empty (or ETBEI is enabled while it is empty) and cleared
 * by reading IIR when it is the reported source, or by writing THR — the
 * 8250 driver's transmit path depends on exactly this.  On a PC the IRQ line
 * is gated by MCR.OUT2.
 */
#include "uart16550.h"

#include <stdlib.h>

#include "../log.h"

enum {
	UART_RBR = 0,
	UART_THR = 0,
	UART_DLL = 0,
	UART_IER = 1,
	UART_DLM = 1,
	UART_IIR = 2,
	UART_FCR = 2,
	UART_LCR = 3,
	UART_MCR = 4,
	UART_LSR = 5,
	UART_MSR = 6,
	UART_SCR = 7,
};

#define UART_IER_ERBFI 0x01
#define UART_IER_ETBEI 0x02
#define UART_IER_ELSI 0x04
#define UART_IER_EDSSI 0x08
#define UART_IIR_NONE 0x01
#define UART_IIR_MSI 0x00
#define UART_IIR_THRI 0x02
#define UART_IIR_RDI 0x04
#define UART_IIR_RLSI 0x06
#define UART_IIR_FIFO 0xc0
#define UART_FCR_ENABLE 0x01
#define UART_FCR_CLEAR_RX 0x02
#define UART_FCR_CLEAR_TX 0x04
#define UART_LCR_DLAB 0x80
#define UART_MCR_DTR 0x01
#define UART_MCR_RTS 0x02
#define UART_MCR_OUT1 0x04
#define UART_MCR_OUT2 0x08
#define UART_MCR_LOOP 0x10
#define UART_LSR_DR 0x01
#define UART_LSR_OE 0x02
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40
#define UART_MSR_DCTS 0x01
#define UART_MSR_CTS 0x10
#define UART_MSR_DSR 0x20
#define UART_MSR_RI 0x40
#define UART_MSR_DCD 0x80

#define UART_FIFO_SIZE 16

struct uart16550 {
	struct irq_line irq;
	void (*tx)(void *opaque, uint8_t byte);
	void *tx_opaque;

	uint8_t ier, lcr, mcr, lsr, msr, scr, fcr, dll, dlm;
	bool thr_interrupt; /* the THR-empty event is pending */
	uint8_t rx[UART_FIFO_SIZE];
	unsigned rx_head, rx_count;
	int irq_level;
};

static uint8_t uart16550_iir(const struct uart16550 *s)
{
	uint8_t fifo = (s->fcr & UART_FCR_ENABLE) ? UART_IIR_FIFO : 0;
	if ((s->ier & UART_IER_ELSI) && (s->lsr & UART_LSR_OE))
		return fifo | UART_IIR_RLSI;
	/* With FIFOs on, a 16550A interrupts at the FCR trigger level or after
	 * a character timeout (IIR 0x0C); received bytes are reported at once
	 * here, which is the timeout case with no delay and equally fine for
	 * the 8250 driver, which drains the FIFO while LSR.DR is set. */
	if ((s->ier & UART_IER_ERBFI) && s->rx_count)
		return fifo | UART_IIR_RDI;
	if ((s->ier & UART_IER_ETBEI) && s->thr_interrupt)
		return fifo | UART_IIR_THRI;
	if ((s->ier & UART_IER_EDSSI) && (s->msr & 0x0f))
		return fifo | UART_IIR_MSI;
	return fifo | UART_IIR_NONE;
}

static void uart16550_update_irq(struct uart16550 *s)
{
	int level = !(uart16550_iir(s) & UART_IIR_NONE) && (s->mcr & UART_MCR_OUT2);
	if (level != s->irq_level) {
		s->irq_level = level;
		irq_set(&s->irq, level);
	}
}

/* Modem status as the cable shows it: in loopback the MCR outputs feed the
 * inputs (DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD), which the 8250 driver's
 * probe checks; otherwise a connected terminal with DCD, DSR and CTS up. */
static uint8_t uart16550_lines(const struct uart16550 *s)
{
	if (s->mcr & UART_MCR_LOOP) {
		uint8_t m = 0;
		if (s->mcr & UART_MCR_DTR)
			m |= UART_MSR_DSR;
		if (s->mcr & UART_MCR_RTS)
			m |= UART_MSR_CTS;
		if (s->mcr & UART_MCR_OUT1)
			m |= UART_MSR_RI;
		if (s->mcr & UART_MCR_OUT2)
			m |= UART_MSR_DCD;
		return m;
	}
	return UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
}

static void uart16550_set_lines(struct uart16550 *s, uint8_t lines)
{
	uint8_t changed = (uint8_t)((s->msr ^ lines) & 0xf0);
	/* Delta bits: DCTS, DDSR, TERI (RI trailing edge), DDCD. */
	uint8_t delta = (uint8_t)(changed >> 4);
	if ((changed & UART_MSR_RI) && (lines & UART_MSR_RI))
		delta &= (uint8_t)~0x04;
	s->msr = (uint8_t)(lines | (s->msr & 0x0f) | delta);
}

void uart16550_reset(struct uart16550 *s)
{
	s->ier = s->mcr = s->scr = s->fcr = s->dlm = 0;
	s->lcr = 0x03;
	s->dll = 0x0c; /* 9600 baud */
	s->lsr = UART_LSR_THRE | UART_LSR_TEMT;
	s->msr = uart16550_lines(s);
	s->thr_interrupt = false;
	s->rx_head = s->rx_count = 0;
	uart16550_update_irq(s);
}

struct uart16550 *uart16550_create(struct irq_line irq, void (*tx)(void *opaque, uint8_t byte),
                                   void *tx_opaque)
{
	struct uart16550 *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->irq = irq;
	s->tx = tx;
	s->tx_opaque = tx_opaque;
	uart16550_reset(s);
	return s;
}

void uart16550_destroy(struct uart16550 *s)
{
	free(s);
}

static unsigned uart16550_rx_capacity(const struct uart16550 *s)
{
	return (s->fcr & UART_FCR_ENABLE) ? UART_FIFO_SIZE : 1;
}

static void uart16550_push_rx(struct uart16550 *s, uint8_t byte)
{
	if (s->rx_count >= uart16550_rx_capacity(s)) {
		s->lsr |= UART_LSR_OE;
		return;
	}
	s->rx[(s->rx_head + s->rx_count) % UART_FIFO_SIZE] = byte;
	s->rx_count++;
	s->lsr |= UART_LSR_DR;
}

bool uart16550_can_receive(const struct uart16550 *s)
{
	/* In loopback the line is disconnected from the host. */
	return !(s->mcr & UART_MCR_LOOP) && s->rx_count < uart16550_rx_capacity(s);
}

int uart16550_receive(struct uart16550 *s, uint8_t byte)
{
	if (!uart16550_can_receive(s))
		return -1;
	uart16550_push_rx(s, byte);
	uart16550_update_irq(s);
	return 0;
}

static uint8_t uart16550_pop_rx(struct uart16550 *s)
{
	if (!s->rx_count)
		return 0;
	uint8_t b = s->rx[s->rx_head];
	s->rx_head = (s->rx_head + 1) % UART_FIFO_SIZE;
	if (--s->rx_count == 0)
		s->lsr &= (uint8_t)~UART_LSR_DR;
	return b;
}

static void uart16550_transmit(struct uart16550 *s, uint8_t byte)
{
	if (s->mcr & UART_MCR_LOOP)
		uart16550_push_rx(s, byte);
	else if (s->tx)
		s->tx(s->tx_opaque, byte);
	/* The byte left at once: THR and the shift register are empty again,
	 * which raises a fresh THR-empty event. */
	s->lsr |= UART_LSR_THRE | UART_LSR_TEMT;
	s->thr_interrupt = true;
}

uint64_t uart16550_read(void *opaque, uint64_t offset, unsigned size)
{
	struct uart16550 *s = opaque;
	uint8_t v = 0xff;
	if (size != 1) {
		log_warn_once("16550A: %u-byte read at offset %llu ignored", size,
		              (unsigned long long)offset);
		return ~0ull;
	}
	switch (offset) {
	case UART_RBR: v = (s->lcr & UART_LCR_DLAB) ? s->dll : uart16550_pop_rx(s); break;
	case UART_IER: v = (s->lcr & UART_LCR_DLAB) ? s->dlm : s->ier; break;
	case UART_IIR:
		v = uart16550_iir(s);
		if ((v & 0x0f) == UART_IIR_THRI)
			s->thr_interrupt = false;
		break;
	case UART_LCR: v = s->lcr; break;
	case UART_MCR: v = s->mcr; break;
	case UART_LSR:
		v = s->lsr;
		s->lsr &= (uint8_t)~UART_LSR_OE; /* error bits clear on read */
		break;
	case UART_MSR:
		v = s->msr;
		s->msr &= 0xf0; /* delta bits clear on read */
		break;
	case UART_SCR: v = s->scr; break;
	}
	uart16550_update_irq(s);
	return v;
}

void uart16550_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct uart16550 *s = opaque;
	uint8_t v = (uint8_t)value;
	if (size != 1) {
		log_warn_once("16550A: %u-byte write at offset %llu ignored", size,
		              (unsigned long long)offset);
		return;
	}
	switch (offset) {
	case UART_THR:
		if (s->lcr & UART_LCR_DLAB)
			s->dll = v;
		else
			uart16550_transmit(s, v);
		break;
	case UART_IER:
		if (s->lcr & UART_LCR_DLAB) {
			s->dlm = v;
		} else {
			/* Enabling ETBEI while THR is empty raises the event. */
			if (!(s->ier & UART_IER_ETBEI) && (v & UART_IER_ETBEI) &&
			    (s->lsr & UART_LSR_THRE))
				s->thr_interrupt = true;
			s->ier = v & 0x0f;
		}
		break;
	case UART_FCR:
		if ((v ^ s->fcr) & UART_FCR_ENABLE || (v & UART_FCR_CLEAR_RX)) {
			s->rx_head = s->rx_count = 0;
			s->lsr &= (uint8_t)~UART_LSR_DR;
		}
		s->fcr = v & 0xc9; /* enable, DMA mode, trigger level */
		break;
	case UART_LCR: s->lcr = v; break;
	case UART_MCR:
		s->mcr = v & 0x1f;
		uart16550_set_lines(s, uart16550_lines(s));
		break;
	case UART_LSR: break; /* factory test register: writes ignored */
	case UART_MSR: break;
	case UART_SCR: s->scr = v; break;
	}
	uart16550_update_irq(s);
}
