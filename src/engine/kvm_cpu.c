/*
 * Entering the guest kernel on a KVM vCPU.
 *
 * 32-bit kernels start in the machine state the multiboot specification
 * describes (section 3.2): protected mode, flat 4 GiB code and data
 * segments, paging and interrupts off.  GDTR and IDTR are left empty (the
 * kernel loads its own) but TR must describe a usable busy 32-bit TSS:
 * VM entry checks it (Intel SDM vol. 3, 26.3.1.2 "Checks on Guest Segment
 * Registers"), whatever the guest does with it later.
 *
 * 64-bit kernels start in long mode with the low 4 GiB identity-mapped (see
 * KVM_CPU_PT_BASE in kvm_cpu.h).
 */
#include "kvm_cpu.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>

#include "../../x86/x86.h"
#include "../log.h"

#define PT_PML4 KVM_CPU_PT_BASE
#define PT_PDPT (KVM_CPU_PT_BASE + 0x1000)
#define PT_PD (KVM_CPU_PT_BASE + 0x2000) /* four page directories */
#define PTE_P 0x1ull
#define PTE_RW 0x2ull
#define PTE_PS 0x80ull /* a 2 MiB page in a PDE */

/* CPUID leaf 1 (SDM vol. 2A, CPUID, tables 3-19 and 3-20). */
#define CPUID_1_ECX_X2APIC (1u << 21)
#define CPUID_1_ECX_TSC_DEADLINE (1u << 24)

#define SEG_TYPE_CODE_RX_ACCESSED 0xb
#define SEG_TYPE_DATA_RW_ACCESSED 0x3
#define SEG_TYPE_TSS32_BUSY 0xb
#define SEG_TYPE_LDT 0x2
#define SEL_CODE 0x10
#define SEL_DATA 0x18

static struct kvm_segment kvm_cpu_flat(uint16_t selector, uint8_t type, bool code64)
{
	struct kvm_segment s = {
		.base = 0,
		.limit = 0xffffffff,
		.selector = selector,
		.type = type,
		.present = 1,
		.dpl = 0,
		.s = 1,
		.g = 1,
		/* A 64-bit code segment has L=1 and must have D=0 (SDM 3.4.5). */
		.db = code64 ? 0 : 1,
		.l = code64 ? 1 : 0,
	};
	return s;
}

void kvm_cpu_entry_sregs(struct kvm_sregs *s, enum boot_mode mode)
{
	bool lm = mode == BOOT_LONG64;
	s->cs = kvm_cpu_flat(SEL_CODE, SEG_TYPE_CODE_RX_ACCESSED, lm);
	s->ds = s->es = s->fs = s->gs = s->ss =
	        kvm_cpu_flat(SEL_DATA, SEG_TYPE_DATA_RW_ACCESSED, false);
	s->tr = (struct kvm_segment){ .limit = 0x67, .type = SEG_TYPE_TSS32_BUSY, .present = 1 };
	s->ldt = (struct kvm_segment){ .type = SEG_TYPE_LDT, .unusable = 1 };
	s->gdt.base = s->idt.base = 0;
	s->gdt.limit = s->idt.limit = 0;
	s->cr0 = X86_CR0_PE | X86_CR0_ET;
	s->cr2 = s->cr3 = s->cr4 = s->efer = 0;
	if (lm) {
		s->cr3 = PT_PML4;
		s->cr4 = X86_CR4_PAE;
		s->cr0 |= X86_CR0_PG;
		s->efer = X86_EFER_LME | X86_EFER_LMA;
	}
}

void kvm_cpu_entry_regs(struct kvm_regs *r, const struct boot_entry *e)
{
	memset(r, 0, sizeof(*r));
	r->rip = e->rip;
	r->rax = e->rax;
	r->rbx = e->rbx;
	r->rcx = e->rcx;
	r->rdx = e->rdx;
	r->rsi = e->rsi;
	r->rdi = e->rdi;
	r->rsp = e->rsp;
	r->rbp = e->rbp;
	r->rflags = 0x2; /* bit 1 is always set; IF clear */
}

void kvm_cpu_fix_cpuid(struct kvm_cpuid2 *c)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		if (e->function != 1)
			continue;
		/* plexvm's APIC is an xAPIC with no TSC-deadline mode. */
		e->ecx &= ~(CPUID_1_ECX_X2APIC | CPUID_1_ECX_TSC_DEADLINE);
	}
}

int kvm_cpu_msr_filter(int vm_fd)
{
	struct kvm_enable_cap cap = { .cap = KVM_CAP_X86_USER_SPACE_MSR,
		                      .args = { KVM_MSR_EXIT_REASON_FILTER } };
	if (ioctl(vm_fd, KVM_ENABLE_CAP, &cap) < 0)
		return -errno;
	/* A clear bit denies the MSR to KVM: the access exits instead. */
	static uint8_t deny;
	struct kvm_msr_filter f = {
		.flags = KVM_MSR_FILTER_DEFAULT_ALLOW,
		.ranges = { { .flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE,
		              .nmsrs = 1,
		              .base = 0x1b, /* IA32_APIC_BASE */
		              .bitmap = &deny } },
	};
	if (ioctl(vm_fd, KVM_X86_SET_MSR_FILTER, &f) < 0)
		return -errno;
	return 0;
}

int kvm_cpu_page_tables(struct mem *m)
{
	uint64_t len = KVM_CPU_PT_END - KVM_CPU_PT_BASE;
	uint8_t *area = mem_ptr(m, KVM_CPU_PT_BASE, len);
	if (!area)
		return -ENOTSUP;
	/* RAM starts zeroed and only the loader has written it so far. */
	for (uint64_t i = 0; i < len; i++)
		if (area[i])
			return -ENOTSUP;
	uint64_t *pml4 = (uint64_t *)area;
	uint64_t *pdpt = (uint64_t *)(area + (PT_PDPT - PT_PML4));
	uint64_t *pd = (uint64_t *)(area + (PT_PD - PT_PML4));
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

	if (e->mode != BOOT_PM32_FLAT && e->mode != BOOT_LONG64)
		return -EINVAL;
	if (e->mode == BOOT_LONG64 && kvm_cpu_page_tables(m) < 0) {
		log_error("kvm: the 64-bit kernel uses 0x%llx-0x%llx, where its page tables go",
		          KVM_CPU_PT_BASE, KVM_CPU_PT_END - 1);
		return -ENOTSUP;
	}
	/* Start from KVM's own values so fields we do not set stay sane. */
	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0) {
		log_error("kvm: KVM_GET_SREGS: %s", strerror(errno));
		return -errno;
	}
	kvm_cpu_entry_sregs(&sregs, e->mode);
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0) {
		int r = -errno;
		log_error("kvm: KVM_SET_SREGS (%s entry state): %s",
		          e->mode == BOOT_LONG64 ? "long mode" : "32-bit protected mode",
		          strerror(-r));
		return r;
	}
	kvm_cpu_entry_regs(&regs, e);
	if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0) {
		int r = -errno;
		log_error("kvm: KVM_SET_REGS: %s", strerror(-r));
		return r;
	}
	return 0;
}

static void kvm_cpu_dump_seg(FILE *out, const char *name, const struct kvm_segment *s)
{
	fprintf(out, "%-2s=%04x base=%08llx limit=%08x type=%x dpl=%u%s%s\n", name, s->selector,
	        (unsigned long long)s->base, s->limit, s->type, s->dpl,
	        s->unusable ? " unusable" : (s->present ? "" : " not-present"),
	        s->l ? " 64-bit" : (s->db ? " 32-bit" : " 16-bit"));
}

void kvm_cpu_print(const struct kvm_regs *r, const struct kvm_sregs *s, FILE *out)
{
	fprintf(out, "EAX=%08llx EBX=%08llx ECX=%08llx EDX=%08llx\n", r->rax, r->rbx, r->rcx,
	        r->rdx);
	fprintf(out, "ESI=%08llx EDI=%08llx EBP=%08llx ESP=%08llx\n", r->rsi, r->rdi, r->rbp,
	        r->rsp);
	if (s->cs.l)
		fprintf(out,
		        "R8=%llx R9=%llx R10=%llx R11=%llx R12=%llx R13=%llx R14=%llx R15=%llx\n",
		        r->r8, r->r9, r->r10, r->r11, r->r12, r->r13, r->r14, r->r15);
	fprintf(out, "EIP=%08llx EFLAGS=%08llx\n", r->rip, r->rflags);
	kvm_cpu_dump_seg(out, "CS", &s->cs);
	kvm_cpu_dump_seg(out, "SS", &s->ss);
	kvm_cpu_dump_seg(out, "DS", &s->ds);
	kvm_cpu_dump_seg(out, "ES", &s->es);
	kvm_cpu_dump_seg(out, "FS", &s->fs);
	kvm_cpu_dump_seg(out, "GS", &s->gs);
	kvm_cpu_dump_seg(out, "TR", &s->tr);
	kvm_cpu_dump_seg(out, "LDT", &s->ldt);
	fprintf(out, "GDT=%08llx/%04x IDT=%08llx/%04x\n", s->gdt.base, s->gdt.limit, s->idt.base,
	        s->idt.limit);
	fprintf(out, "CR0=%08llx CR2=%08llx CR3=%08llx CR4=%08llx EFER=%08llx\n", s->cr0, s->cr2,
	        s->cr3, s->cr4, s->efer);
}

void kvm_cpu_dump(int vcpu_fd, FILE *out)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	if (ioctl(vcpu_fd, KVM_GET_REGS, &r) < 0 || ioctl(vcpu_fd, KVM_GET_SREGS, &s) < 0) {
		fprintf(out, "(registers unavailable: %s)\n", strerror(errno));
		return;
	}
	kvm_cpu_print(&r, &s, out);
}
