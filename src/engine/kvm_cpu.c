/*
 * Entering the guest kernel on a KVM vCPU.
 *
 * 32-bit kernels start as the multiboot specification describes the machine
 * state: protected mode, flat 4 GiB code and data segments, paging and
 * interrupts off.  The GDTR is left empty (the kernel loads its own), but TR
 * must describe a usable 32-bit TSS: VMX refuses to enter a guest without
 * one.
 *
 * 64-bit kernels start in long mode with the low 4 GiB identity-mapped by
 * 2 MiB pages whose tables live at 0x1000-0x6FFF: below every conventional
 * kernel load address (documented in docs/design.md).
 */
#include "kvm_cpu.h"

#include <errno.h>
#include <stdbool.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

#define X86_CR0_PE 0x1u
#define X86_CR0_ET 0x10u
#define X86_CR0_PG 0x80000000u
#define X86_CR4_PAE 0x20u
#define X86_EFER_LME 0x100u
#define X86_EFER_LMA 0x400u

#define PT_PML4 0x1000ull
#define PT_PDPT 0x2000ull
#define PT_PD 0x3000ull /* four page directories: 0x3000-0x6fff */
#define PTE_P 0x1ull
#define PTE_RW 0x2ull
#define PTE_PS 0x80ull

static struct kvm_segment kvm_cpu_flat(uint16_t selector, uint8_t type, bool long_mode)
{
	struct kvm_segment s = {
		.base = 0, .limit = 0xffffffff, .selector = selector, .type = type,
		.present = 1, .dpl = 0, .db = long_mode && (type & 8) ? 0 : 1, .s = 1,
		.l = long_mode && (type & 8), .g = 1,
	};
	return s;
}

static int kvm_cpu_page_tables(struct mem *m)
{
	uint64_t *pml4 = mem_ptr(m, PT_PML4, 0x1000);
	uint64_t *pdpt = mem_ptr(m, PT_PDPT, 0x1000);
	uint64_t *pd = mem_ptr(m, PT_PD, 0x4000);
	if (!pml4 || !pdpt || !pd)
		return -ENOMEM;
	memset(pml4, 0, 0x1000);
	memset(pdpt, 0, 0x1000);
	pml4[0] = PT_PDPT | PTE_P | PTE_RW;
	for (uint64_t i = 0; i < 4; i++)
		pdpt[i] = (PT_PD + i * 0x1000) | PTE_P | PTE_RW;
	for (uint64_t i = 0; i < 4 * 512; i++)
		pd[i] = (i << 21) | PTE_P | PTE_RW | PTE_PS;
	return 0;
}

int kvm_cpu_setup(int vcpu_fd, struct mem *m, const struct boot_entry *e)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	bool lm = e->mode == BOOT_LONG64;

	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	sregs.cs = kvm_cpu_flat(0x10, 0xb, lm);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = kvm_cpu_flat(0x18, 0x3, lm);
	sregs.tr = (struct kvm_segment){ .limit = 0x67, .type = 0xb, .present = 1 };
	sregs.ldt = (struct kvm_segment){ .type = 0x2, .present = 1, .unusable = 1 };
	sregs.gdt.base = sregs.idt.base = 0;
	sregs.gdt.limit = sregs.idt.limit = 0;
	sregs.cr0 = X86_CR0_PE | X86_CR0_ET;
	sregs.cr3 = sregs.cr4 = sregs.efer = 0;
	if (lm) {
		int r = kvm_cpu_page_tables(m);
		if (r < 0)
			return r;
		sregs.cr3 = PT_PML4;
		sregs.cr4 = X86_CR4_PAE;
		sregs.cr0 |= X86_CR0_PG;
		sregs.efer = X86_EFER_LME | X86_EFER_LMA;
	}
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		return -errno;

	memset(&regs, 0, sizeof(regs));
	regs.rip = e->rip;
	regs.rax = e->rax;
	regs.rbx = e->rbx;
	regs.rcx = e->rcx;
	regs.rdx = e->rdx;
	regs.rsi = e->rsi;
	regs.rdi = e->rdi;
	regs.rsp = e->rsp;
	regs.rbp = e->rbp;
	regs.rflags = 0x2; /* bit 1 is always set; interrupts off */
	if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}

static void kvm_cpu_dump_seg(FILE *out, const char *name, const struct kvm_segment *s)
{
	fprintf(out, "%s=%04x base=%08llx limit=%08x type=%x dpl=%u%s%s\n", name, s->selector,
		(unsigned long long)s->base, s->limit, s->type, s->dpl, s->present ? "" : " not-present",
		s->l ? " long" : (s->db ? " 32-bit" : " 16-bit"));
}

void kvm_cpu_dump(int vcpu_fd, FILE *out)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	if (ioctl(vcpu_fd, KVM_GET_REGS, &r) < 0 || ioctl(vcpu_fd, KVM_GET_SREGS, &s) < 0) {
		fprintf(out, "(registers unavailable: %s)\n", strerror(errno));
		return;
	}
	fprintf(out, "EAX=%08llx EBX=%08llx ECX=%08llx EDX=%08llx\n", r.rax, r.rbx, r.rcx, r.rdx);
	fprintf(out, "ESI=%08llx EDI=%08llx EBP=%08llx ESP=%08llx\n", r.rsi, r.rdi, r.rbp, r.rsp);
	fprintf(out, "EIP=%08llx EFLAGS=%08llx\n", r.rip, r.rflags);
	kvm_cpu_dump_seg(out, "CS", &s.cs);
	kvm_cpu_dump_seg(out, "SS", &s.ss);
	kvm_cpu_dump_seg(out, "DS", &s.ds);
	kvm_cpu_dump_seg(out, "ES", &s.es);
	kvm_cpu_dump_seg(out, "FS", &s.fs);
	kvm_cpu_dump_seg(out, "GS", &s.gs);
	kvm_cpu_dump_seg(out, "TR", &s.tr);
	fprintf(out, "GDT=%08llx/%04x IDT=%08llx/%04x\n", s.gdt.base, s.gdt.limit, s.idt.base, s.idt.limit);
	fprintf(out, "CR0=%08llx CR2=%08llx CR3=%08llx CR4=%08llx EFER=%08llx\n", s.cr0, s.cr2, s.cr3,
		s.cr4, s.efer);
}
