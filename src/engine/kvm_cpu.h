/* vCPU state for the kvm engine: the entry state from the loader, and the
 * register dump for crash reports. */
#ifndef PLEXVM_KVM_CPU_H
#define PLEXVM_KVM_CPU_H

#include <linux/kvm.h>
#include <stdio.h>

#include "../loader/loader.h"
#include "../mem.h"

/* Where BOOT_LONG64 page tables go: PML4 at 0x1000, PDPT at 0x2000, four
 * page directories at 0x3000-0x6FFF mapping the low 4 GiB with 2 MiB pages.
 * Loaders refuse page 0; the multiboot loader's information lies at
 * 0x9000-0x9FFFF; an ELF64 kernel that loads something in this range is
 * refused (-ENOTSUP) rather than overwritten. */
#define KVM_CPU_PT_BASE 0x1000ull
#define KVM_CPU_PT_END 0x7000ull

/* Fills @s (as read with KVM_GET_SREGS) with the entry state of @mode:
 * flat 32-bit segments, a busy 32-bit TSS in TR, CR0.PE; for BOOT_LONG64
 * also a 64-bit CS, CR0.PG, CR4.PAE, EFER.LME|LMA and CR3 at the tables. */
void kvm_cpu_entry_sregs(struct kvm_sregs *s, enum boot_mode mode);

/* Fills @r with RIP, the general registers of @e and RFLAGS 0x2. */
void kvm_cpu_entry_regs(struct kvm_regs *r, const struct boot_entry *e);

/* Writes the identity page tables described above into guest RAM.
 * Returns 0, -ENOTSUP if the range holds loaded data (or lies outside RAM). */
int kvm_cpu_page_tables(struct mem *m);

/* Adjusts the CPUID KVM supports to this machine: plexvm's local APIC
 * (src/dev/lapic.c, its page reached through MMIO exits; no in-kernel
 * irqchip) is an xAPIC without the TSC-deadline timer, so leaf 1 must not
 * announce x2APIC or TSC-deadline.  The APIC bit stays: KVM keeps it equal
 * to its own copy of IA32_APIC_BASE.EN at run time (set: with the MSR
 * filter below the guest never writes that copy). */
void kvm_cpu_fix_cpuid(struct kvm_cpuid2 *c);

/* Makes RDMSR and WRMSR of IA32_APIC_BASE exit to userspace
 * (KVM_EXIT_X86_RDMSR/WRMSR) on VM @vm_fd, so that plexvm's APIC holds it.
 * Returns 0 or -errno (the kernel lacks KVM_CAP_X86_USER_SPACE_MSR). */
int kvm_cpu_msr_filter(int vm_fd);

/* Sets registers and segments of @vcpu_fd from @e (and the page tables for
 * BOOT_LONG64). Returns 0 or -errno, after logging why. */
int kvm_cpu_setup(int vcpu_fd, struct mem *m, const struct boot_entry *e);

/* Prints @r and @s compactly: general registers, EIP/EFLAGS, segments
 * with selector/base/limit, GDTR/IDTR, control registers and EFER. */
void kvm_cpu_print(const struct kvm_regs *r, const struct kvm_sregs *s, FILE *out);

/* Reads the registers of @vcpu_fd and prints them with kvm_cpu_print(). */
void kvm_cpu_dump(int vcpu_fd, FILE *out);

#endif
