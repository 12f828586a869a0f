/* COM1 (a 16550A at 0x3F8) and the Bochs/QEMU debug console port 0xE9. */
#include "console.h"
#include "x86.h"

#define COM1 0x3F8
#define UART_THR 0 /* transmit holding register (DLAB=0) */
#define UART_DLL 0 /* divisor latch, low byte (DLAB=1) */
#define UART_IER 1
#define UART_DLM 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_LCR_DLAB 0x80
#define UART_LCR_8N1 0x03
#define UART_FCR_ENABLE_CLEAR 0x07 /* FIFO enable, clear RX and TX FIFOs */
#define UART_MCR_DTR_RTS 0x03
#define UART_LSR_THRE 0x20
#define DEBUGCON 0xE9

/* A missing UART reads 0xFF (THRE set) so the wait ends; the bound keeps a
 * broken model from hanging the kernel. */
#define THRE_SPINS 100000

void console_init(void)
{
	outb(COM1 + UART_IER, 0);
	outb(COM1 + UART_LCR, UART_LCR_DLAB);
	outb(COM1 + UART_DLL, 1); /* 115200 baud: 1.8432 MHz / 16 / 1 */
	outb(COM1 + UART_DLM, 0);
	outb(COM1 + UART_LCR, UART_LCR_8N1);
	outb(COM1 + UART_FCR, UART_FCR_ENABLE_CLEAR);
	outb(COM1 + UART_MCR, UART_MCR_DTR_RTS);
}

void console_putc(char c)
{
	for (int i = 0; i < THRE_SPINS; i++)
		if (inb(COM1 + UART_LSR) & UART_LSR_THRE)
			break;
	outb(COM1 + UART_THR, (uint8_t)c);
	outb(DEBUGCON, (uint8_t)c);
}

void console_write(const char *s)
{
	while (*s)
		console_putc(*s++);
}
