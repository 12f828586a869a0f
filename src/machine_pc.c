/*
 * The PC machine: which devices exist, at which ports, on which interrupt
 * lines, and where their output goes.  Devices are wired explicitly here, in
 * the order of the PC's port map, and nowhere else.
 *
 *   0x020-0x021  8259A master PIC        0x0a0-0x0a1  8259A slave PIC
 *   0x040-0x043  8254 PIT (IRQ 0)        0x061        port B (PIT ch2 gate)
 *   0x060, 0x064 i8042 (reset line)      0x070-0x071  CMOS/RTC (IRQ 8)
 *   0x0e9        debug console           0x0f4-0x0f7  debug exit
 *   0x3c0-0x3df  VGA                     0x3f8-0x3ff  COM1 16550A (IRQ 4)
 *   0x4d0-0x4d1  PIC edge/level (ELCR)   0x604-0x605  ACPI PM1a control
 *   0x600-0x603  ACPI PM1a event block   0x608-0x60b  ACPI PM timer
 *   MMIO 0xFEE00000-0xFEE00FFF  local APIC (the PIC's INTR through LINT0)
 *
 * The VGA text buffer at 0xB8000 is plain guest RAM: the vga device reads
 * it when it draws, so guest writes to the screen cost no exit.
 */
#include "machine_pc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chardev.h"
#include "dev/acpi_pm.h"
#include "dev/debug_exit.h"
#include "dev/debugcon.h"
#include "dev/i8042.h"
#include "dev/lapic.h"
#include "dev/pic8259.h"
#include "dev/pit8254.h"
#include "dev/poweroff.h"
#include "dev/rtc.h"
#include "dev/uart16550.h"
#include "dev/vga_text.h"
#include "exit_status.h"
#include "term.h"
#include "vm.h"

#define VGA_TEXT_BASE 0xb8000
#define VGA_TEXT_SIZE 0x8000
/* How often terminal input is looked at, and the live screen redrawn, while
 * the guest runs (a halted guest wakes at once on input). */
#define INPUT_POLL_NS (10 * 1000 * 1000ull)
#define SCREEN_REFRESH_NS (50 * 1000 * 1000ull)

struct machine_pc {
	struct vm *vm;
	struct pic8259 *pic;
	struct lapic *lapic;
	struct pit8254 *pit;
	struct rtc *rtc;
	struct i8042 *kbc;
	struct uart16550 *com1;
	struct debug_exit *dbg_exit;
	struct debugcon *dbgcon;
	struct poweroff *pm;
	struct acpi_pm *acpi;
	struct vga_text *vga;

	struct chardev serial_out, debugcon_out;
	struct term term;
	bool term_open;
	uint8_t input[64]; /* read from the terminal, not yet taken by COM1 */
	size_t input_len, input_pos;
	uint64_t next_input_poll, next_screen;
};

static uint64_t machine_pc_clock(void *opaque)
{
	return vm_now_ns();
}

static time_t machine_pc_wall_clock(void *opaque)
{
	return time(NULL);
}

static void machine_pc_serial_tx(void *opaque, uint8_t byte)
{
	struct machine_pc *m = opaque;
	chardev_write(&m->serial_out, &byte, 1);
}

static void machine_pc_debugcon_tx(void *opaque, uint8_t byte)
{
	struct machine_pc *m = opaque;
	chardev_write(&m->debugcon_out, &byte, 1);
}

static void machine_pc_debug_exit(void *opaque, uint32_t value)
{
	struct machine_pc *m = opaque;
	/* QEMU's isa-debug-exit: the process exit status is (value << 1) | 1,
	 * truncated to 8 bits by the host's exit(). */
	vm_stop(m->vm, (int)(((value << 1) | 1) & 0xff),
	        "the guest wrote 0x%x to the debug-exit port", value);
}

static void machine_pc_reset(void *opaque)
{
	struct machine_pc *m = opaque;
	vm_stop(m->vm, EXIT_POWEROFF, "the guest reset the machine (keyboard controller)");
}

static void machine_pc_poweroff(void *opaque)
{
	struct machine_pc *m = opaque;
	vm_stop(m->vm, EXIT_POWEROFF, "the guest powered off");
}

/* The guest relocates its APIC (IA32_APIC_BASE): anywhere that is neither
 * RAM (the engines reach RAM without asking the bus, the monitor natively)
 * nor another device's range. */
static bool machine_pc_lapic_moved(void *opaque, uint64_t base)
{
	struct machine_pc *m = opaque;
	for (uint64_t a = base; a < base + LAPIC_SIZE; a += 0x1000)
		if (mem_ptr(&m->vm->mem, a, 1))
			return false;
	return bus_move_mmio(&m->vm->bus, m->lapic, base) == 0;
}

static int machine_pc_open_outputs(struct machine_pc *m, char *err, size_t errlen)
{
	const struct config *cfg = m->vm->cfg;
	int r = chardev_open(&m->serial_out, &cfg->serial);
	if (r < 0) {
		snprintf(err, errlen, "--serial %s: %s", cfg->serial.path ? cfg->serial.path : "",
		         strerror(-r));
		return -1;
	}
	r = chardev_open(&m->debugcon_out, &cfg->debugcon);
	if (r < 0) {
		snprintf(err, errlen, "--debugcon %s: %s",
		         cfg->debugcon.path ? cfg->debugcon.path : "", strerror(-r));
		return -1;
	}
	return 0;
}

static bool machine_pc_create_devices(struct machine_pc *m)
{
	struct vm *vm = m->vm;
	m->pic = pic8259_create();
	if (!m->pic)
		return false;
	struct irq_line irq0 = { pic8259_set_irq, m->pic, 0 };
	struct irq_line irq4 = { pic8259_set_irq, m->pic, 4 };
	struct irq_line irq8 = { pic8259_set_irq, m->pic, 8 };

	m->lapic = lapic_create(machine_pc_clock, m);
	if (!m->lapic)
		return false;
	vm->lapic = m->lapic; /* IA32_APIC_BASE: vm_rdmsr() */
	lapic_set_relocate(m->lapic, machine_pc_lapic_moved, m);
	/* The APIC as the firmware of a PC leaves it (SeaBIOS, measured
	 * under QEMU): software-enabled with spurious vector 0xFF, LINT0 in
	 * ExtINT (virtual-wire) mode so that the PIC reaches the CPU, LINT1
	 * NMI; both level-triggered. */
	lapic_write(m->lapic, LAPIC_SVR, LAPIC_SVR_ENABLE | 0xff, 4);
	lapic_write(m->lapic, LAPIC_LVT_LINT0, LAPIC_LVT_LEVEL | LAPIC_DM_EXTINT, 4);
	lapic_write(m->lapic, LAPIC_LVT_LINT1, LAPIC_LVT_LEVEL | LAPIC_DM_NMI, 4);
	m->pit = pit8254_create(irq0, machine_pc_clock, m);
	m->rtc = rtc_create(irq8, vm->mem.size, machine_pc_wall_clock, m);
	m->kbc = i8042_create(machine_pc_reset, m);
	m->com1 = uart16550_create(irq4, machine_pc_serial_tx, m);
	m->dbg_exit = debug_exit_create(machine_pc_debug_exit, m);
	m->dbgcon = debugcon_create(machine_pc_debugcon_tx, m);
	m->pm = poweroff_create(machine_pc_poweroff, m);
	m->acpi = acpi_pm_create(machine_pc_clock, m);
	const uint8_t *vram = mem_ptr(&vm->mem, VGA_TEXT_BASE, VGA_TEXT_SIZE);
	m->vga = vram ? vga_text_create(vram) : NULL;
	return m->pit && m->rtc && m->kbc && m->com1 && m->dbg_exit && m->dbgcon && m->pm &&
	       m->acpi && m->vga;
}

/* Claims every port; a clash here is a bug in this table, not a guest
 * problem. */
static int machine_pc_claim_ports(struct machine_pc *m)
{
	struct bus *b = &m->vm->bus;
	int r = 0;
	r |= bus_add_pio(b, 0x20, 2, pic8259_read, pic8259_write, pic8259_chip(m->pic, 0),
	                 "pic-master");
	r |= bus_add_pio(b, 0xa0, 2, pic8259_read, pic8259_write, pic8259_chip(m->pic, 1),
	                 "pic-slave");
	r |= bus_add_pio(b, 0x4d0, 2, pic8259_elcr_read, pic8259_elcr_write, m->pic, "pic-elcr");
	r |= bus_add_pio(b, 0x40, 4, pit8254_read, pit8254_write, m->pit, "pit");
	r |= bus_add_pio(b, 0x61, 1, pit8254_port61_read, pit8254_port61_write, m->pit, "port-b");
	r |= bus_add_pio(b, 0x60, 1, i8042_data_read, i8042_data_write, m->kbc, "i8042-data");
	r |= bus_add_pio(b, 0x64, 1, i8042_cmd_read, i8042_cmd_write, m->kbc, "i8042-cmd");
	r |= bus_add_pio(b, 0x70, 2, rtc_read, rtc_write, m->rtc, "rtc");
	r |= bus_add_pio(b, 0xe9, 1, debugcon_read, debugcon_write, m->dbgcon, "debugcon");
	r |= bus_add_pio(b, 0xf4, 4, debug_exit_read, debug_exit_write, m->dbg_exit, "debug-exit");
	r |= bus_add_pio(b, 0x3c0, 0x20, vga_text_read, vga_text_write, m->vga, "vga");
	r |= bus_add_pio(b, 0x3f8, 8, uart16550_read, uart16550_write, m->com1, "com1");
	r |= bus_add_pio(b, 0x600, 4, acpi_pm_evt_read, acpi_pm_evt_write, m->acpi, "acpi-pm1-evt");
	r |= bus_add_pio(b, 0x604, 2, poweroff_read, poweroff_write, m->pm, "acpi-pm");
	r |= bus_add_pio(b, 0x608, 4, acpi_pm_tmr_read, acpi_pm_tmr_write, m->acpi, "acpi-pm-tmr");
	r |= bus_add_mmio(&m->vm->bus, LAPIC_DEFAULT_BASE, LAPIC_SIZE, lapic_read, lapic_write,
	                  m->lapic, "lapic");
	return r;
}

struct machine_pc *machine_pc_create(struct vm *vm, char *err, size_t errlen)
{
	struct machine_pc *m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	m->vm = vm;
	m->serial_out.fd = m->debugcon_out.fd = -1;
	if (machine_pc_open_outputs(m, err, errlen) < 0)
		goto fail;
	if (!machine_pc_create_devices(m)) {
		snprintf(err, errlen, "cannot create the PC's devices: out of memory");
		goto fail;
	}
	if (machine_pc_claim_ports(m) != 0) {
		snprintf(err, errlen, "internal error: PC port map clash");
		goto fail;
	}
	/* Terminal input goes to COM1 only when COM1 is on the terminal. */
	if (vm->cfg->serial.kind == CHARDEV_STDIO) {
		term_open(&m->term);
		m->term_open = true;
	} else {
		m->term.fd = -1;
	}
	return m;
fail:
	machine_pc_destroy(m);
	return NULL;
}

void machine_pc_destroy(struct machine_pc *m)
{
	if (!m)
		return;
	if (m->term_open)
		term_close(&m->term);
	if (m->vga)
		vga_text_destroy(m->vga);
	if (m->acpi)
		acpi_pm_destroy(m->acpi);
	if (m->pm)
		poweroff_destroy(m->pm);
	if (m->dbgcon)
		debugcon_destroy(m->dbgcon);
	if (m->dbg_exit)
		debug_exit_destroy(m->dbg_exit);
	if (m->com1)
		uart16550_destroy(m->com1);
	if (m->kbc)
		i8042_destroy(m->kbc);
	if (m->rtc)
		rtc_destroy(m->rtc);
	if (m->pit)
		pit8254_destroy(m->pit);
	if (m->pic)
		pic8259_destroy(m->pic);
	if (m->lapic)
		lapic_destroy(m->lapic);
	chardev_close(&m->serial_out);
	chardev_close(&m->debugcon_out);
	free(m);
}

/* The PIC, when its INTR gets through the APIC (ExtINT, or the APIC
 * globally disabled), goes first: an ExtINT interrupt ignores the APIC's
 * priorities, as in QEMU. */
static bool machine_pc_pic_pending(struct machine_pc *m)
{
	return lapic_passes_pic(m->lapic) && pic8259_has_interrupt(m->pic);
}

bool machine_pc_irq_pending(struct machine_pc *m)
{
	return machine_pc_pic_pending(m) || lapic_pending(m->lapic) >= 0;
}

int machine_pc_irq_ack(struct machine_pc *m)
{
	if (machine_pc_pic_pending(m))
		return pic8259_ack(m->pic);
	return lapic_ack(m->lapic);
}

/* Moves terminal input into COM1's receive FIFO; bytes COM1 has no room for
 * wait in m->input, so nothing typed is lost. */
static void machine_pc_feed_input(struct machine_pc *m)
{
	if (m->input_pos == m->input_len) {
		m->input_pos = 0;
		m->input_len = term_read(&m->term, m->input, sizeof(m->input));
		if (m->term.quit)
			vm_stop(m->vm, EXIT_POWEROFF, "quit from the terminal (Ctrl-A x)");
	}
	while (m->input_pos < m->input_len && uart16550_can_receive(m->com1))
		uart16550_receive(m->com1, m->input[m->input_pos++]);
}

void machine_pc_poll(struct machine_pc *m, uint64_t now_ns)
{
	pit8254_update(m->pit, now_ns);
	lapic_update(m->lapic, now_ns);
	chardev_flush_due(&m->serial_out, now_ns);
	chardev_flush_due(&m->debugcon_out, now_ns);
	if (now_ns >= m->next_input_poll) {
		m->next_input_poll = now_ns + INPUT_POLL_NS;
		machine_pc_feed_input(m);
	}
	if (m->vm->cfg->vga == VGA_LIVE && now_ns >= m->next_screen) {
		m->next_screen = now_ns + SCREEN_REFRESH_NS;
		vga_text_render_ansi(m->vga, stdout);
		fflush(stdout);
	}
}

uint64_t machine_pc_next_deadline(struct machine_pc *m)
{
	uint64_t t = pit8254_next_deadline(m->pit);
	if (lapic_next_deadline(m->lapic) < t)
		t = lapic_next_deadline(m->lapic);
	if ((m->term.fd >= 0 || m->input_pos < m->input_len) && m->next_input_poll < t)
		t = m->next_input_poll;
	if (m->vm->cfg->vga == VGA_LIVE && m->next_screen < t)
		t = m->next_screen;
	if (chardev_deadline(&m->serial_out) < t)
		t = chardev_deadline(&m->serial_out);
	if (chardev_deadline(&m->debugcon_out) < t)
		t = chardev_deadline(&m->debugcon_out);
	return t;
}

int machine_pc_input_fd(struct machine_pc *m)
{
	/* While bytes are still waiting for COM1, stdin is not what we wait
	 * for: the guest must first drain the FIFO. */
	return m->input_pos < m->input_len ? -1 : m->term.fd;
}

void machine_pc_flush_output(struct machine_pc *m)
{
	chardev_flush(&m->serial_out);
	chardev_flush(&m->debugcon_out);
}

void machine_pc_finish(struct machine_pc *m)
{
	machine_pc_flush_output(m);
	if (m->term_open) {
		term_close(&m->term);
		m->term_open = false;
	}
	if (m->vm->cfg->vga == VGA_LIVE) {
		vga_text_render_ansi(m->vga, stdout);
		fputs("\n", stdout);
	} else if (m->vm->cfg->vga == VGA_DUMP) {
		vga_text_dump(m->vga, stdout);
	}
	fflush(stdout);
}
