/*
 * The local APIC of the one vCPU, in xAPIC mode (Intel SDM vol. 3, chapter
 * 10 "Advanced Programmable Interrupt Controller"): the IA32_APIC_BASE MSR,
 * the 4 KiB register page at 0xFEE00000, the APIC timer, and interrupt
 * priority between the APIC's own sources and the 8259 PIC behind LINT0.
 *
 * A state machine: it knows no engine and no bus.  The machine hands it
 * MMIO accesses to its page (lapic_read/lapic_write, offsets from the base)
 * and RDMSR/WRMSR of IA32_APIC_BASE, tells it whether the PIC's INTR output
 * is up, and asks it which vector the CPU is to take next.  The timer runs
 * on @now_ns at one tick per nanosecond of bus clock (QEMU's and KVM's
 * choice) before the divider, so the device needs no timer of its own: the
 * machine calls lapic_update() when lapic_next_deadline() has passed, and
 * the current count is computed from the clock when it is read.
 *
 * Not here: x2APIC, other CPUs (an IPI to anyone but this CPU goes
 * nowhere), NMI/SMI/INIT/SIPI delivery, the TSC-deadline timer mode (CPUID
 * does not offer it).
 */
#ifndef PLEXVM_LAPIC_H
#define PLEXVM_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

#define LAPIC_DEFAULT_BASE 0xfee00000u
#define LAPIC_SIZE 0x1000u

/* IA32_APIC_BASE (MSR 0x1B) bits (SDM 10.4.4, figure 10-5). */
#define LAPIC_MSR_BSP 0x100u
#define LAPIC_MSR_EXTD 0x400u /* x2APIC: not offered, so reserved */
#define LAPIC_MSR_EN 0x800u

/* Register offsets (SDM table 10-1). */
#define LAPIC_ID 0x20
#define LAPIC_VERSION 0x30
#define LAPIC_TPR 0x80
#define LAPIC_APR 0x90
#define LAPIC_PPR 0xa0
#define LAPIC_EOI 0xb0
#define LAPIC_RRD 0xc0
#define LAPIC_LDR 0xd0
#define LAPIC_DFR 0xe0
#define LAPIC_SVR 0xf0
#define LAPIC_ISR 0x100
#define LAPIC_TMR 0x180
#define LAPIC_IRR 0x200
#define LAPIC_ESR 0x280
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_THERMAL 0x330
#define LAPIC_LVT_PMC 0x340
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_LVT_ERROR 0x370
#define LAPIC_TIMER_ICR 0x380
#define LAPIC_TIMER_CCR 0x390
#define LAPIC_TIMER_DCR 0x3e0

/* Version register: version 0x14 (an integrated xAPIC), six LVT entries
 * (max LVT index 5), as QEMU's and KVM's APICs report. */
#define LAPIC_VERSION_VALUE 0x00050014u

#define LAPIC_SVR_ENABLE 0x100u
#define LAPIC_LVT_MASKED 0x10000u
#define LAPIC_LVT_LEVEL 0x8000u
#define LAPIC_LVT_PERIODIC 0x20000u
#define LAPIC_DM_FIXED 0x000u
#define LAPIC_DM_NMI 0x400u
#define LAPIC_DM_EXTINT 0x700u

/* ESR bits (SDM 10.5.3). */
#define LAPIC_ESR_SEND_ILLEGAL 0x20u
#define LAPIC_ESR_RECV_ILLEGAL 0x40u
#define LAPIC_ESR_ILLEGAL_REG 0x80u

struct lapic;

/* A local APIC in its power-up state (SDM 10.4.7.1): enabled at
 * 0xFEE00000 as the bootstrap processor, software-disabled, every LVT
 * masked.  Returns NULL when out of memory. */
struct lapic *lapic_create(uint64_t (*now_ns)(void *opaque), void *clock_opaque);
void lapic_destroy(struct lapic *s);

/* Back to the power-up state (the APIC ID and IA32_APIC_BASE too). */
void lapic_reset(struct lapic *s);

/* The register page: @offset from the base, 4-byte accesses to the first
 * dword of a 16-byte slot.  Other sizes and offsets read 0 and ignore
 * writes; a reserved slot sets ESR's illegal-register bit.  While the APIC
 * is globally disabled its page is not there: reads all-ones, writes
 * ignored. */
uint64_t lapic_read(void *opaque, uint64_t offset, unsigned size);
void lapic_write(void *opaque, uint64_t offset, uint64_t value, unsigned size);

/* IA32_APIC_BASE.  lapic_set_base() returns false (the WRMSR raises
 * #GP(0)) for a reserved bit (0-7, 9, 10, 36-63), or for a new base
 * address that the machine's relocate callback refuses (none set: every
 * one); the BSP bit is the hardware's and ignores writes.  Clearing EN
 * disables the APIC globally and puts it back in its power-up state (at
 * the base being written); setting it again enables it, software-disabled. */
uint64_t lapic_base(const struct lapic *s);
bool lapic_set_base(struct lapic *s, uint64_t value);

/* Sets the callback that moves the register page to a new @base (the
 * machine moves its bus range); it returns false to refuse the address. */
void lapic_set_relocate(struct lapic *s, bool (*relocate)(void *opaque, uint64_t base),
                        void *opaque);

/* Does the 8259's INTR reach the CPU now?  Straight, with the APIC globally
 * disabled (SDM 10.4.3: a processor without an APIC); else through LINT0
 * when it is unmasked in ExtINT mode (virtual-wire mode, MP spec 3.6.2.2).
 * An ExtINT interrupt is not subject to the APIC's priorities: the PIC
 * supplies the vector, the APIC's IRR and ISR are not involved. */
bool lapic_passes_pic(const struct lapic *s);

/* The vector the APIC would have the CPU take now: the highest in IRR whose
 * priority class is above the processor priority, with the APIC software
 * enabled; -1 if none. */
int lapic_pending(const struct lapic *s);
/* INTA: moves lapic_pending()'s vector from IRR to ISR and returns it;
 * with none deliverable any more, the spurious vector (SDM 10.9), which
 * sets no ISR bit. */
int lapic_ack(struct lapic *s);

/* Raises the timer's interrupt if it expired since the last call, up to
 * @now_ns; periods missed are coalesced into one (the IRR is one bit). */
void lapic_update(struct lapic *s, uint64_t now_ns);
/* When the timer next expires (same clock); UINT64_MAX if not armed. */
uint64_t lapic_next_deadline(const struct lapic *s);

#endif
