/* timer: the PIT raising IRQ0 through the 8259A.  The kernel remaps the PIC
 * to vectors 0x20-0x2F (ICW1-ICW4, 8259A data sheet), masks all but IRQ0,
 * runs PIT channel 0 in mode 2 at about 1000 Hz (8254 data sheet), then
 * sleeps in HLT until it has counted TIMER_TICKS interrupts, acknowledging
 * each with a non-specific EOI.  Only counts are printed: how long the
 * wait took depends on the engine. */
#include "desc.h"
#include "test.h"
#include "trap.h"
#include "x86.h"

#define PIC1_CMD  0x20
#define PIC1_DATA 0x21
#define PIC2_CMD  0xA0
#define PIC2_DATA 0xA1
#define PIC_ICW1_INIT_ICW4 0x11 /* edge triggered, cascade, ICW4 follows */
#define PIC_ICW4_8086 0x01
#define PIC_OCW2_EOI 0x20       /* non-specific EOI */
#define PIC_OCW3_READ_ISR 0x0B
#define PIC_VECTOR_BASE 0x20

#define PIT_CH0 0x40
#define PIT_CMD 0x43
#define PIT_CMD_CH0_LOHI_MODE2 0x34
#define PIT_CMD_CH0_LATCH 0x00
#define PIT_HZ 1193182u
#define TIMER_HZ 1000u
#define TIMER_DIVISOR ((PIT_HZ + TIMER_HZ / 2) / TIMER_HZ)
#define TIMER_TICKS 50u

struct timer_state {
	volatile uint32_t ticks;
	uint32_t bad_isr;   /* IRQ0 not in service on entry, or still after EOI */
	uint32_t bad_frame; /* not from ring 0, or IF still set in the handler */
};
static struct timer_state timer_st;

static uint8_t timer_pic_isr(void)
{
	outb(PIC1_CMD, PIC_OCW3_READ_ISR);
	return inb(PIC1_CMD);
}

static void timer_irq0(struct trap_frame *f)
{
	if (!(timer_pic_isr() & 1))
		timer_st.bad_isr++;
	if (f->cs != SEL_KCODE || (read_eflags() & X86_EFLAGS_IF))
		timer_st.bad_frame++;
	timer_st.ticks++;
	outb(PIC1_CMD, PIC_OCW2_EOI);
	if (timer_pic_isr() & 1)
		timer_st.bad_isr++;
}

static void timer_pic_init(void)
{
	outb(PIC1_CMD, PIC_ICW1_INIT_ICW4);
	outb(PIC2_CMD, PIC_ICW1_INIT_ICW4);
	outb(PIC1_DATA, PIC_VECTOR_BASE);     /* ICW2: IRQ0-7 -> 0x20-0x27 */
	outb(PIC2_DATA, PIC_VECTOR_BASE + 8); /* IRQ8-15 -> 0x28-0x2F */
	outb(PIC1_DATA, 1 << 2);              /* ICW3: slave on IR2 */
	outb(PIC2_DATA, 2);                   /* ICW3: slave identity 2 */
	outb(PIC1_DATA, PIC_ICW4_8086);
	outb(PIC2_DATA, PIC_ICW4_8086);
	outb(PIC1_DATA, 0xFE); /* OCW1: IRQ0 only */
	outb(PIC2_DATA, 0xFF);
}

static void timer_pit_init(void)
{
	outb(PIT_CMD, PIT_CMD_CH0_LOHI_MODE2);
	outb(PIT_CH0, TIMER_DIVISOR & 0xFF);
	outb(PIT_CH0, TIMER_DIVISOR >> 8);
}

static uint32_t timer_pit_read(void)
{
	uint32_t lo, hi;
	outb(PIT_CMD, PIT_CMD_CH0_LATCH);
	lo = inb(PIT_CH0);
	hi = inb(PIT_CH0);
	return hi << 8 | lo;
}

void test_main(void)
{
	uint32_t count;
	trap_set_handler(PIC_VECTOR_BASE, timer_irq0);
	timer_pic_init();
	test_eq(inb(PIC1_DATA), 0xFE, "PIC1 mask read back");
	timer_pit_init();
	printf("PIC remapped to 0x%x, PIT channel 0 mode 2, divisor %u\n", PIC_VECTOR_BASE, TIMER_DIVISOR);
	count = timer_pit_read();
	test_check(count <= TIMER_DIVISOR, "PIT count 0x%x above the divisor", count);
	while (timer_st.ticks < TIMER_TICKS) {
		sti_hlt();
		cli();
	}
	outb(PIC1_DATA, 0xFF);
	printf("counted %u timer interrupts\n", TIMER_TICKS);
	test_eq(timer_st.bad_isr, 0, "IRQ0 in-service bit wrong in the handler");
	test_eq(timer_st.bad_frame, 0, "IRQ0 frames not from ring 0 with IF clear");
}
