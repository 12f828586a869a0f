/*
 * The x86 core as the kvm engine's emulator of last resort (kvm_fallback.h).
 *
 * Invariants:
 *  - KVM leaves RIP on the instruction it could not emulate and has done
 *    nothing of it, so running it here is the whole of it;
 *  - an event KVM has queued but not delivered (an exception, an
 *    interrupt injected with KVM_INTERRUPT, an NMI) would come before the
 *    instruction: with one queued the instruction is not run here and the
 *    guest is stopped, rather than reordering the two;
 *  - everything the core changes is written back: general registers,
 *    segments, descriptor tables, control registers, EFER (IRET and INT n
 *    change the first ones; a fault inside them sets CR2), the SYSENTER
 *    MSRs if they changed, and the interrupt shadow (POP SS, STI).
 */
#include "kvm_fallback.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "../../x86/decoder.h"
#include "../exit_status.h"
#include "../log.h"
#include "../stats.h"
#include "x86_state.h"

#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176

/* ---- one instruction ---- */

enum x86_status kvm_fallback_step(struct kvm_state *st, const struct x86_ops *ops,
                                  struct x86_cpu *c)
{
	if (!kvm_state_to_cpu(st, c))
		return X86_UNHANDLED;
	enum x86_status s = x86_run(c, ops, 1);
	if (s != X86_UNHANDLED)
		kvm_state_from_cpu(c, st);
	return s;
}

void kvm_fallback_name(const uint8_t *bytes, size_t len, bool code32, char *buf, size_t buflen)
{
	static const struct {
		uint8_t op;
		const char *name;
	} one[] = {
		{ 0xcf, "iret" }, { 0xcd, "int" },      { 0xcc, "int3" },     { 0xce, "into" },
		{ 0xca, "retf" }, { 0xcb, "retf" },     { 0x9a, "call-far" }, { 0xea, "jmp-far" },
		{ 0xf4, "hlt" },  { 0x8e, "mov-sreg" }, { 0x17, "pop-ss" },   { 0x9d, "popf" },
	};
	struct x86_decoded d;
	if (x86_decode(bytes, len, code32, &d) < 0) {
		snprintf(buf, buflen, "undecodable");
		return;
	}
	if (d.two_byte) {
		const char *n = d.opcode == 0x34 ? "sysenter" : d.opcode == 0x35 ? "sysexit" : NULL;
		if (n)
			snprintf(buf, buflen, "%s", n);
		else
			snprintf(buf, buflen, "op-0f-%02x", d.opcode);
		return;
	}
	for (size_t i = 0; i < sizeof(one) / sizeof(one[0]); i++) {
		if (one[i].op == d.opcode) {
			snprintf(buf, buflen, "%s", one[i].name);
			return;
		}
	}
	snprintf(buf, buflen, "op-%02x", d.opcode);
}

/* ---- reading and writing the vCPU ---- */

/* struct kvm_msrs ends in a flexible array: room for three entries. */
union kvm_fallback_msrs {
	struct kvm_msrs hdr;
	char room[sizeof(struct kvm_msrs) + 3 * sizeof(struct kvm_msr_entry)];
};

static void kvm_fallback_msrs_init(union kvm_fallback_msrs *m, const struct kvm_state *st)
{
	memset(m, 0, sizeof(*m));
	m->hdr.nmsrs = 3;
	m->hdr.entries[0] =
	        (struct kvm_msr_entry){ .index = MSR_IA32_SYSENTER_CS, .data = st->sysenter_cs };
	m->hdr.entries[1] =
	        (struct kvm_msr_entry){ .index = MSR_IA32_SYSENTER_ESP, .data = st->sysenter_esp };
	m->hdr.entries[2] =
	        (struct kvm_msr_entry){ .index = MSR_IA32_SYSENTER_EIP, .data = st->sysenter_eip };
}

/* Reads @st and @ev; on failure stops @vm and returns false. */
static bool kvm_fallback_read(struct vm *vm, int fd, struct kvm_state *st,
                              struct kvm_vcpu_events *ev)
{
	union kvm_fallback_msrs m;
	memset(st, 0, sizeof(*st));
	kvm_fallback_msrs_init(&m, st);
	const char *what = NULL;
	if (ioctl(fd, KVM_GET_REGS, &st->regs) < 0)
		what = "KVM_GET_REGS";
	else if (ioctl(fd, KVM_GET_SREGS, &st->sregs) < 0)
		what = "KVM_GET_SREGS";
	else if (ioctl(fd, KVM_GET_VCPU_EVENTS, ev) < 0)
		what = "KVM_GET_VCPU_EVENTS";
	else if (ioctl(fd, KVM_GET_XSAVE, &st->xsave) < 0)
		what = "KVM_GET_XSAVE";
	if (what) {
		vm_stop(vm, EXIT_HOST, "kvm: %s for an emulation failure: %s", what,
		        strerror(errno));
		return false;
	}
	/* Only SYSENTER/SYSEXIT read these, and KVM emulates both itself: a
	 * backend that will not report them (they are zero then) is no
	 * reason to stop. */
	if (ioctl(fd, KVM_GET_MSRS, &m) == 3) {
		st->sysenter_cs = m.hdr.entries[0].data;
		st->sysenter_esp = m.hdr.entries[1].data;
		st->sysenter_eip = m.hdr.entries[2].data;
	} else {
		log_warn_once("kvm: KVM_GET_MSRS cannot read the SYSENTER MSRs; "
		              "emulated instructions see them as 0");
	}
	st->intr_shadow = ev->interrupt.shadow != 0;
	return true;
}

/* Writes back what may have changed from @old to @st; on failure stops @vm. */
static void kvm_fallback_write(struct vm *vm, int fd, const struct kvm_state *st,
                               const struct kvm_state *old, struct kvm_vcpu_events *ev)
{
	const char *what = NULL;
	union kvm_fallback_msrs m;
	kvm_fallback_msrs_init(&m, st);
	if (ioctl(fd, KVM_SET_SREGS, &st->sregs) < 0)
		what = "KVM_SET_SREGS";
	else if (ioctl(fd, KVM_SET_REGS, &st->regs) < 0)
		what = "KVM_SET_REGS";
	else if (memcmp(&st->xsave, &old->xsave, sizeof(st->xsave)) != 0 &&
	         ioctl(fd, KVM_SET_XSAVE, &st->xsave) < 0)
		what = "KVM_SET_XSAVE";
	else if ((st->sysenter_cs != old->sysenter_cs || st->sysenter_esp != old->sysenter_esp ||
	          st->sysenter_eip != old->sysenter_eip) &&
	         ioctl(fd, KVM_SET_MSRS, &m) != 3)
		what = "KVM_SET_MSRS (SYSENTER)";
	else if (st->intr_shadow != old->intr_shadow) {
		/* The core does not tell STI's shadow from MOV SS's; the
		 * latter blocks debug traps too, which the core has none of. */
		ev->interrupt.shadow = st->intr_shadow ? KVM_X86_SHADOW_INT_MOV_SS : 0;
		ev->flags = KVM_VCPUEVENT_VALID_SHADOW;
		if (ioctl(fd, KVM_SET_VCPU_EVENTS, ev) < 0)
			what = "KVM_SET_VCPU_EVENTS";
	}
	if (what)
		vm_stop(vm, EXIT_HOST, "kvm: %s after an emulated instruction: %s", what,
		        strerror(errno));
}

size_t kvm_fallback_insn_from_run(const struct kvm_run *run, uint8_t *buf)
{
	if (run->emulation_failure.ndata < 3 ||
	    !(run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES))
		return 0;
	size_t n = run->emulation_failure.insn_size;
	if (n > X86_MAX_INSN_LEN)
		n = X86_MAX_INSN_LEN;
	memcpy(buf, run->emulation_failure.insn_bytes, n);
	return n;
}

size_t kvm_fallback_insn_from_ram(const struct mem *m, uint64_t gpa, uint8_t *buf)
{
	for (size_t n = X86_MAX_INSN_LEN; n > 0; n--) {
		const uint8_t *p = mem_ptr(m, gpa, n);
		if (p) {
			memcpy(buf, p, n);
			return n;
		}
	}
	return 0;
}

bool kvm_fallback(struct vm *vm, int vcpu_fd, const uint8_t *bytes, size_t n,
                  struct kvm_state *after)
{
	struct kvm_state old;
	struct kvm_vcpu_events ev;
	struct x86_cpu cpu;
	const struct x86_ops ops = x86_state_machine_ops(vm);
	uint8_t ram_bytes[X86_MAX_INSN_LEN];
	char name[24];

	if (!kvm_fallback_read(vm, vcpu_fd, after, &ev))
		return true;
	if (n == 0 && !(after->sregs.cr0 & X86_CR0_PG)) {
		uint32_t lin = (uint32_t)(after->sregs.cs.base + after->regs.rip);
		n = kvm_fallback_insn_from_ram(&vm->mem, lin, ram_bytes);
		bytes = ram_bytes;
	}
	kvm_fallback_name(bytes, n, after->sregs.cs.db, name, sizeof(name));
	if (ev.exception.injected || ev.exception.pending || ev.interrupt.injected ||
	    ev.nmi.injected) {
		vm_stop(vm, EXIT_CRASH,
		        "KVM cannot emulate the instruction at 0x%llx (%s) and has an event queued",
		        (unsigned long long)after->regs.rip, name);
		return true;
	}
	old = *after;
	enum x86_status s = kvm_fallback_step(after, &ops, &cpu);
	if (s == X86_UNHANDLED)
		return false;
	stats_add(vm->stats, "kvm-fallback", name, 1);
	kvm_fallback_write(vm, vcpu_fd, after, &old, &ev);
	if (s == X86_SHUTDOWN)
		vm_stop(vm, EXIT_CRASH, "triple fault (in %s, emulated by plexvm for KVM)", name);
	else if (s == X86_HALT && !(cpu.eflags & X86_IF))
		vm_stop(vm, EXIT_CRASH, "guest halted with interrupts disabled");
	else if (s == X86_HALT)
		vm_wait(vm);
	return true;
}
