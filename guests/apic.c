/* apic: the local APIC (Intel SDM vol. 3, chapter 10) as a PC's firmware
 * leaves it, then each of its jobs in turn: the 8259 through LINT0 in
 * virtual-wire (ExtINT) mode and blocked when LINT0 is masked; self-IPIs
 * by every destination form; priority through TPR, ISR nesting and EOI;
 * the timer one-shot and periodic; the spurious-vector register.  Every wait is "sti; hlt" for an interrupt that must
 * come, and only counts and orders are printed, never times, so the
 * output is the same on every engine and under QEMU. */
#include "test.h"
#include "trap.h"
#include "x86.h"

#define APIC_BASE 0xFEE00000u
#define MSR_APIC_BASE 0x1B
#define APIC_ID 0x20
#define APIC_VERSION 0x30
#define APIC_TPR 0x80
#define APIC_PPR 0xA0
#define APIC_EOI 0xB0
#define APIC_LDR 0xD0
#define APIC_DFR 0xE0
#define APIC_SVR 0xF0
#define APIC_ISR 0x100
#define APIC_IRR 0x200
#define APIC_ICR_LO 0x300
#define APIC_ICR_HI 0x310
#define APIC_LVT_TIMER 0x320
#define APIC_LVT_LINT0 0x350
#define APIC_LVT_LINT1 0x360
#define APIC_LVT_ERROR 0x370
#define APIC_TIMER_ICR 0x380
#define APIC_TIMER_CCR 0x390
#define APIC_TIMER_DCR 0x3E0

#define LVT_MASKED 0x10000u
#define LVT_PERIODIC 0x20000u
#define DM_EXTINT 0x700u
#define ICR_LOGICAL 0x800u
#define ICR_SELF 0x40000u
#define ICR_ALL 0x80000u
#define ICR_OTHERS 0xC0000u
#define DCR_DIV1 0xB
#define DCR_DIV16 0x3

#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xA0
#define PIC2_DATA 0xA1
#define PIC_VECTOR 0x20
#define PIT_MODE 0x43
#define PIT_CH0 0x40

#define V_ONESHOT 0x40
#define V_PERIODIC 0x41
#define V_SPURIOUS 0xFF

static inline uint32_t apic_read(uint32_t off)
{
	return *(volatile uint32_t *)(APIC_BASE + off);
}

static inline void apic_write(uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(APIC_BASE + off) = v;
}

/* Bit @vector of the 256-bit register (ISR, TMR, IRR) at @off. */
static int apic_bit(uint32_t off, unsigned vector)
{
	return (apic_read(off + (vector / 32) * 0x10) >> (vector % 32)) & 1;
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return (uint64_t)hi << 32 | lo;
}

/* What the handlers saw. */
static volatile unsigned order[16], norder;
static volatile unsigned count[256];
static volatile unsigned isr_in_handler, ppr_bad;
static volatile unsigned nested_isr_outer, nested_irr_low;

static void record(unsigned v)
{
	if (norder < 16)
		order[norder++] = v;
	count[v]++;
}

/* Every vector's handler: ISR holds its bit and PPR its class until EOI. */
static void on_fixed(struct trap_frame *f)
{
	record(f->vector);
	if (apic_bit(APIC_ISR, f->vector))
		isr_in_handler++;
	if ((apic_read(APIC_PPR) & 0xF0) != (f->vector & 0xF0))
		ppr_bad++;
	apic_write(APIC_EOI, 0);
}

static void on_pic(struct trap_frame *f)
{
	record(f->vector);
	outb(PIC1_CMD, 0x20); /* the PIC's own EOI: the APIC is not involved */
}

static void on_spurious(struct trap_frame *f)
{
	record(f->vector); /* a spurious vector needs no EOI (SDM 10.9) */
}

/* 0x83 takes a higher (0xA3) and a lower (0x73) self-IPI while in service:
 * only the higher one nests; EOI ends the highest in service first. */
static void on_nesting(struct trap_frame *f)
{
	record(f->vector);
	apic_write(APIC_ICR_LO, ICR_SELF | 0x73);
	apic_write(APIC_ICR_LO, ICR_SELF | 0xA3);
	sti_hlt();
	cli();
	nested_isr_outer = apic_bit(APIC_ISR, 0x83) && !apic_bit(APIC_ISR, 0xA3);
	nested_irr_low = apic_bit(APIC_IRR, 0x73);
	apic_write(APIC_EOI, 0);
}

static void wait_for(unsigned vector, unsigned n)
{
	while (count[vector] < n) {
		sti_hlt();
		cli();
	}
}

static void reset_log(void)
{
	norder = 0;
}

static void check_firmware_state(void)
{
	uint32_t a, b, c, d;
	cpuid(1, &a, &b, &c, &d);
	test_check(d & (1u << 9), "CPUID.1:EDX.APIC clear");
	/* an xAPIC: no x2APIC, no TSC-deadline timer mode */
	test_eq(c & ((1u << 21) | (1u << 24)), 0, "CPUID.1:ECX x2APIC and TSC-deadline");
	uint64_t base = rdmsr(MSR_APIC_BASE);
	printf("IA32_APIC_BASE 0x%x (BSP %u, enabled %u)\n", (uint32_t)base & ~0xFFFu,
	       (uint32_t)(base >> 8) & 1, (uint32_t)(base >> 11) & 1);
	test_eq(base, 0xFEE00900u, "IA32_APIC_BASE");
	printf("version 0x%x, ID 0x%x, SVR 0x%x, LINT0 0x%x, LINT1 0x%x\n", apic_read(APIC_VERSION),
	       apic_read(APIC_ID), apic_read(APIC_SVR), apic_read(APIC_LVT_LINT0),
	       apic_read(APIC_LVT_LINT1));
	test_eq(apic_read(APIC_VERSION), 0x50014, "version register");
	test_eq(apic_read(APIC_SVR), 0x1FF, "SVR: enabled, spurious vector 0xFF");
	test_eq(apic_read(APIC_LVT_LINT0), 0x8700, "LINT0: ExtINT");
	test_eq(apic_read(APIC_LVT_TIMER), LVT_MASKED, "timer LVT masked");
	test_eq(apic_read(APIC_LVT_ERROR), LVT_MASKED, "error LVT masked");
	test_eq(apic_read(APIC_TPR), 0, "TPR");
	test_eq(apic_read(APIC_PPR), 0, "PPR");
	test_eq(apic_read(APIC_DFR), 0xFFFFFFFFu, "DFR: flat model");
}

/* The PIC, remapped to 0x20, with the PIT's channel 0 at 1 kHz on IRQ 0. */
static void pic_pit_init(void)
{
	static const uint8_t icw[] = { 0x11, PIC_VECTOR, 4, 1 }, icw2[] = { 0x11, 0x28, 2, 1 };
	outb(PIC1_CMD, icw[0]);
	outb(PIC2_CMD, icw2[0]);
	for (int i = 1; i < 4; i++) {
		outb(PIC1_DATA, icw[i]);
		outb(PIC2_DATA, icw2[i]);
	}
	outb(PIC1_DATA, 0xFF);
	outb(PIC2_DATA, 0xFF);
	outb(PIT_MODE, 0x34);
	outb(PIT_CH0, 1193 & 0xFF);
	outb(PIT_CH0, 1193 >> 8);
}

/* Virtual-wire mode: the PIC's interrupts come through LINT0 as ExtINT;
 * with LINT0 masked they wait in the PIC. */
static void test_pic_through_lint0(void)
{
	pic_pit_init();
	outb(PIC1_DATA, 0xFE);
	wait_for(PIC_VECTOR, 3);
	apic_write(APIC_LVT_LINT0, LVT_MASKED | DM_EXTINT);
	unsigned before = count[PIC_VECTOR];
	sti();
	outb(PIC1_CMD, 0x0A); /* OCW3: read IRR */
	while (!(inb(PIC1_CMD) & 1))
		;
	cli();
	test_eq(count[PIC_VECTOR], before, "PIC interrupts taken with LINT0 masked");
	apic_write(APIC_LVT_LINT0, DM_EXTINT);
	wait_for(PIC_VECTOR, before + 1);
	outb(PIC1_DATA, 0xFF);
	printf("PIC: 3 ticks through LINT0, none while masked, then one more\n");
	test_eq(apic_bit(APIC_ISR, PIC_VECTOR), 0, "ExtINT vector in the APIC's ISR");
}

static void test_self_ipi(void)
{
	static const struct {
		uint32_t hi, lo;
		int arrives;
		const char *what;
	} forms[] = {
		{ 0, ICR_SELF | 0x50, 1, "self" },
		{ 0, 0x51, 1, "physical destination 0 (this APIC)" },
		{ 0x01000000, 0x52, 0, "physical destination 1 (nobody)" },
		{ 0, ICR_ALL | 0x53, 1, "all including self" },
		{ 0, ICR_OTHERS | 0x54, 0, "all excluding self" },
		{ 0x01000000, ICR_LOGICAL | 0x55, 1, "logical 0x01, LDR 0x01" },
		{ 0x02000000, ICR_LOGICAL | 0x56, 0, "logical 0x02, LDR 0x01" },
	};
	apic_write(APIC_LDR, 0x01000000);
	test_eq(apic_read(APIC_LDR), 0x01000000, "LDR");
	for (unsigned i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		unsigned v = forms[i].lo & 0xFF;
		apic_write(APIC_ICR_HI, forms[i].hi);
		apic_write(APIC_ICR_LO, forms[i].lo);
		test_eq(apic_read(APIC_ICR_LO), forms[i].lo, "ICR low read back");
		test_eq(apic_bit(APIC_IRR, v), forms[i].arrives, forms[i].what);
		if (forms[i].arrives)
			wait_for(v, 1);
		printf("IPI %s: %s\n", forms[i].what, count[v] ? "taken" : "not sent here");
		test_eq(apic_bit(APIC_ISR, v), 0, "ISR after EOI");
	}
	apic_write(APIC_ICR_HI, 0);
}

/* TPR holds back every class at or below its own (SDM 10.8.3.1). */
static void test_priority(void)
{
	reset_log();
	apic_write(APIC_TPR, 0x70);
	apic_write(APIC_ICR_LO, ICR_SELF | 0x60);
	apic_write(APIC_ICR_LO, ICR_SELF | 0x90);
	test_eq(apic_read(APIC_PPR), 0x70, "PPR with TPR 0x70");
	wait_for(0x90, 1);
	test_eq(apic_bit(APIC_IRR, 0x60), 1, "0x60 held back by TPR 0x70");
	test_eq(count[0x60], 0, "0x60 taken under TPR 0x70");
	apic_write(APIC_TPR, 0);
	wait_for(0x60, 1);
	/* Three at once: the highest first. */
	apic_write(APIC_ICR_LO, ICR_SELF | 0x62);
	apic_write(APIC_ICR_LO, ICR_SELF | 0x92);
	apic_write(APIC_ICR_LO, ICR_SELF | 0x72);
	wait_for(0x62, 1);
	wait_for(0x72, 1);
	wait_for(0x92, 1);
	/* One in service holds back the lower, lets the higher nest. */
	apic_write(APIC_ICR_LO, ICR_SELF | 0x83);
	wait_for(0x73, 1);
	printf("order:");
	for (unsigned i = 0; i < norder; i++)
		printf(" 0x%x", order[i]);
	printf("\n");
	test_eq(nested_isr_outer, 1, "0x83 still in service after 0xA3's EOI");
	test_eq(nested_irr_low, 1, "0x73 waiting while 0x83 is in service");
	test_eq(isr_in_handler, 11, "handlers that saw their ISR bit");
	test_eq(ppr_bad, 0, "handlers that saw PPR of another class");
}

static void test_timer(void)
{
	apic_write(APIC_TIMER_DCR, DCR_DIV16);
	test_eq(apic_read(APIC_TIMER_DCR), DCR_DIV16, "divide configuration");
	apic_write(APIC_LVT_TIMER, V_ONESHOT);
	apic_write(APIC_TIMER_ICR, 1000000);
	uint32_t c1 = apic_read(APIC_TIMER_CCR), c2 = apic_read(APIC_TIMER_CCR);
	printf("info: one-shot current count %u then %u\n", c1, c2);
	test_check(c1 <= 1000000 && c2 <= c1, "current count %u then %u", c1, c2);
	wait_for(V_ONESHOT, 1);
	test_eq(apic_read(APIC_TIMER_CCR), 0, "current count after a one-shot");
	apic_write(APIC_LVT_TIMER, LVT_PERIODIC | V_PERIODIC);
	apic_write(APIC_TIMER_DCR, DCR_DIV1);
	apic_write(APIC_TIMER_ICR, 1000000); /* 1 ms at 1 GHz */
	wait_for(V_PERIODIC, 5);
	apic_write(APIC_TIMER_ICR, 0);
	test_eq(apic_read(APIC_TIMER_CCR), 0, "current count once stopped");
	apic_write(APIC_LVT_TIMER, LVT_MASKED);
	printf("timer: one-shot fired %u time(s), periodic %s 5 times\n", count[V_ONESHOT],
	       count[V_PERIODIC] >= 5 ? "at least" : "fewer than");
	test_eq(count[V_ONESHOT], 1, "one-shot interrupts");
}

/* The spurious-vector register holds any vector (bits 0-3 too, since the
 * Pentium 4); nothing here makes the APIC deliver one.  (Software disable
 * is not tested here: QEMU does not mask the LVT entries then, as SDM
 * 10.4.7.2 says the CPU does and plexvm and KVM do.) */
static void test_spurious(void)
{
	apic_write(APIC_SVR, 0x1EF);
	test_eq(apic_read(APIC_SVR), 0x1EF, "spurious vector 0xEF");
	apic_write(APIC_SVR, 0x1FF);
	test_eq(apic_read(APIC_SVR), 0x1FF, "spurious vector 0xFF");
	test_eq(count[0xEF] + count[V_SPURIOUS], 0, "spurious interrupts");
	printf("spurious vector register read back; no spurious interrupt\n");
}

void test_main(void)
{
	trap_set_handler(PIC_VECTOR, on_pic);
	for (unsigned v = 0x40; v < 0xA4; v++)
		if (v != 0x80 && v != 0x81) /* the runtime's system call and ring-3 exit */
			trap_set_handler(v, on_fixed);
	trap_set_handler(0x83, on_nesting);
	trap_set_handler(0xEF, on_spurious);
	trap_set_handler(V_SPURIOUS, on_spurious);
	check_firmware_state();
	test_pic_through_lint0();
	test_self_ipi();
	test_priority();
	test_timer();
	test_spurious();
}
