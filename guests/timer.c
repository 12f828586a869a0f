/* timer: the 8259A PIC initialised from scratch (ICW1-ICW4, 8259A datasheet)
 * with the master at vectors 0x20-0x27 and the slave at 0x28-0x2F, every line
 * masked but IRQ0; the 8254 PIT channel 0 in mode 2 (rate generator) at
 * 1000 Hz; then STI and HLT until TIMER_TICKS interrupts have come, each
 * acknowledged with a non-specific EOI.  Only counts are printed, never
 * times, so the output is the same on every engine. */
#include "test.h"
#include "trap.h"
#include "x86.h"

#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xA0
#define PIC2_DATA 0xA1
#define PIC_ICW1_INIT 0x10
#define PIC_ICW1_IC4 0x01 /* an ICW4 follows */
#define PIC_ICW4_8086 0x01
#define PIC_OCW2_EOI 0x20 /* non-specific EOI */
#define PIC_OCW3_READ_IRR 0x0A
#define PIC_OCW3_READ_ISR 0x0B
#define PIC_MASTER_BASE 0x20
#define PIC_SLAVE_BASE 0x28

#define PIT_CH0 0x40
#define PIT_MODE 0x43
/* Control word: channel 0, access lobyte/hibyte, mode 2, binary. */
#define PIT_CW_CH0_LOHI_MODE2 0x34
#define PIT_CW_CH0_LATCH 0x00
#define PIT_HZ 1193182u
#define TIMER_HZ 1000u
#define TIMER_DIVISOR ((PIT_HZ + TIMER_HZ / 2) / TIMER_HZ)
#define TIMER_TICKS 50u

struct timer_state {
	volatile uint32_t ticks;
	uint32_t isr_in_handler; /* master ISR bit 0 was set while handling */
	uint32_t isr_after_eoi;  /* ... and it was still set after the EOI */
	uint32_t if_in_handler;  /* IF was not cleared by the interrupt gate */
	uint32_t from_sleep;     /* interrupts taken with EIP just past the HLT */
};
static struct timer_state timer_st;

static uint8_t pic_read_isr(void)
{
	outb(PIC1_CMD, PIC_OCW3_READ_ISR);
	return inb(PIC1_CMD);
}

static void timer_irq0(struct trap_frame *f)
{
	timer_st.ticks++;
	if (pic_read_isr() & 1)
		timer_st.isr_in_handler++;
	if (read_eflags() & X86_EFLAGS_IF)
		timer_st.if_in_handler++;
	outb(PIC1_CMD, PIC_OCW2_EOI);
	if (pic_read_isr() & 1)
		timer_st.isr_after_eoi++;
	/* HLT is a one-byte instruction and the interrupt returns past it. */
	if (*(const uint8_t *)(f->eip - 1) == 0xF4)
		timer_st.from_sleep++;
}

static void timer_pic_init(void)
{
	outb(PIC1_CMD, PIC_ICW1_INIT | PIC_ICW1_IC4);
	outb(PIC2_CMD, PIC_ICW1_INIT | PIC_ICW1_IC4);
	outb(PIC1_DATA, PIC_MASTER_BASE); /* ICW2: vector base */
	outb(PIC2_DATA, PIC_SLAVE_BASE);
	outb(PIC1_DATA, 1 << 2); /* ICW3: slave on IR2 */
	outb(PIC2_DATA, 2);      /* ICW3: slave identity */
	outb(PIC1_DATA, PIC_ICW4_8086);
	outb(PIC2_DATA, PIC_ICW4_8086);
	outb(PIC1_DATA, 0xFE); /* OCW1: only IRQ0 */
	outb(PIC2_DATA, 0xFF);
	test_eq(inb(PIC1_DATA), 0xFE, "master IMR read back");
	test_eq(inb(PIC2_DATA), 0xFF, "slave IMR read back");
	outb(PIC1_CMD, PIC_OCW3_READ_IRR); /* leave reads of port 0x20 on IRR */
}

static void timer_pit_init(void)
{
	outb(PIT_MODE, PIT_CW_CH0_LOHI_MODE2);
	outb(PIT_CH0, TIMER_DIVISOR & 0xFF);
	outb(PIT_CH0, TIMER_DIVISOR >> 8);
}

/* A latched count lies within the divisor: it counts down from it. */
static void timer_check_latch(void)
{
	uint32_t c;
	outb(PIT_MODE, PIT_CW_CH0_LATCH);
	c = inb(PIT_CH0);
	c |= (uint32_t)inb(PIT_CH0) << 8;
	printf("info: latched PIT count %u\n", c);
	test_check(c <= TIMER_DIVISOR, "latched count %u above the divisor %u", c, TIMER_DIVISOR);
}

void test_main(void)
{
	trap_set_handler(PIC_MASTER_BASE, timer_irq0);
	timer_pic_init();
	timer_pit_init();
	printf("PIC remapped to 0x%x/0x%x, PIT channel 0 mode 2, divisor %u (%u Hz)\n",
	       PIC_MASTER_BASE, PIC_SLAVE_BASE, TIMER_DIVISOR, TIMER_HZ);
	timer_check_latch();
	/* IF is set only across STI; HLT and back to the CLI, so a tick can
	 * arrive nowhere else, and none after the count is reached.  A slow
	 * engine may still have the next tick pending when the handler returns
	 * (it is taken before the CLI), hence ">=" below. */
	while (timer_st.ticks < TIMER_TICKS) {
		sti_hlt();
		cli();
	}
	outb(PIC1_DATA, 0xFF);
	printf("counted %u timer ticks\n", TIMER_TICKS);
	test_check(timer_st.ticks >= TIMER_TICKS, "ticks: %u", timer_st.ticks);
	test_eq(timer_st.isr_in_handler, timer_st.ticks, "handlers that saw ISR bit 0 set");
	test_eq(timer_st.isr_after_eoi, 0, "handlers that saw ISR bit 0 still set after EOI");
	test_eq(timer_st.if_in_handler, 0, "handlers running with IF set");
	test_eq(timer_st.from_sleep, timer_st.ticks, "ticks that woke a HLT");
}
