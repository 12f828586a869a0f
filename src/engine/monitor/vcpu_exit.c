/*
 * plexvm's answers to the vCPU process's exits; see vcpu_exit.h.
 */
#include "vcpu_exit.h"

#include <stdio.h>
#include <string.h>

#include "../../bus.h"
#include "../../exit_status.h"
#include "../../stats.h"
#include "../../vm.h"
#include "../x86_state.h"

void vcpu_exit_text(char *dst, size_t len, const volatile char *src, size_t srclen)
{
	size_t i = 0;
	for (; i + 1 < len && i < srclen; i++) {
		char ch = src[i];
		if (ch == 0)
			break;
		dst[i] = ch >= 0x20 && ch < 0x7f ? ch : '?';
	}
	dst[i] = 0;
}

static bool exit_io(struct vm *vm, struct vcpu_run *run)
{
	uint8_t dir = run->u.io.direction, size = run->u.io.size;
	uint16_t port = run->u.io.port;
	uint32_t data = run->u.io.data;
	if (dir > 1 || (size != 1 && size != 2 && size != 4))
		return false;
	if (dir)
		x86_state_pio_out(vm, port, data, size);
	else
		run->u.io.data = x86_state_pio_in(vm, port, size);
	return true;
}

static bool exit_mmio(struct vm *vm, struct vcpu_run *run)
{
	uint64_t gpa = run->u.mmio.phys_addr, data = run->u.mmio.data;
	uint32_t len = run->u.mmio.len, write = run->u.mmio.is_write;
	if (write > 1 || (len != 1 && len != 2 && len != 4 && len != 8))
		return false;
	bus_mmio(&vm->bus, gpa, len, write, &data);
	if (!write)
		run->u.mmio.data = data;
	return true;
}

static void exit_msr(struct vm *vm, struct vcpu_run *run, bool write)
{
	uint32_t index = run->u.msr.index;
	uint64_t data = run->u.msr.data;
	bool ok = write ? vm_wrmsr(vm, index, data) : vm_rdmsr(vm, index, &data);
	if (!write)
		run->u.msr.data = ok ? data : 0;
	run->u.msr.error = !ok;
}

static bool exit_stop(struct vm *vm, struct vcpu_run *run)
{
	int32_t status = run->u.stop.status;
	char reason[160];
	vcpu_exit_text(reason, sizeof(reason), run->u.stop.reason, sizeof(run->u.stop.reason));
	if (status != EXIT_CRASH && status != EXIT_HOST)
		return false;
	vm_stop(vm, status, "%s", reason);
	return true;
}

/* The vCPU process's counters join plexvm's: names checked, values as
 * given (a guest that forges them only lies about itself). */
static void exit_done(struct vm *vm, struct vcpu_run *run, const uint8_t *area)
{
	uint32_t n = run->u.done.nstats;
	const struct vcpu_stat *s = (const struct vcpu_stat *)(area + VCPU_AREA_STATS);
	if (n > VCPU_STATS_MAX)
		n = VCPU_STATS_MAX;
	for (uint32_t i = 0; vm->stats && i < n; i++) {
		char group[sizeof(s->group)], key[sizeof(s->key)];
		vcpu_exit_text(group, sizeof(group), s[i].group, sizeof(s[i].group));
		vcpu_exit_text(key, sizeof(key), s[i].key, sizeof(s[i].key));
		if (group[0] && key[0])
			stats_add(vm->stats, group, key, s[i].value);
	}
}

enum vcpu_exit_result vcpu_exit_handle(struct vm *vm, uint8_t *area, struct vcpu_regs *regs)
{
	struct vcpu_run *run = (struct vcpu_run *)(area + VCPU_AREA_RUN);
	uint32_t reason = __atomic_load_n(&run->exit_reason, __ATOMIC_ACQUIRE);
	bool ok = false;
	switch (reason) {
	case VCPU_EXIT_IO: ok = exit_io(vm, run); break;
	case VCPU_EXIT_MMIO: ok = exit_mmio(vm, run); break;
	case VCPU_EXIT_RDMSR:
	case VCPU_EXIT_WRMSR:
		exit_msr(vm, run, reason == VCPU_EXIT_WRMSR);
		return VCPU_EXIT_ANSWERED;
	case VCPU_EXIT_IRQ_ACK:
		run->irq_vector = vm_irq_pending(vm) ? vm_irq_ack(vm) : -1;
		return VCPU_EXIT_ANSWERED;
	case VCPU_EXIT_HLT: vm_wait(vm); return VCPU_EXIT_ANSWERED;
	case VCPU_EXIT_STOP:
		memcpy(regs, (const void *)&run->regs, sizeof(*regs));
		if (!exit_stop(vm, run))
			break;
		return VCPU_EXIT_REGS;
	case VCPU_EXIT_DONE:
		memcpy(regs, (const void *)&run->regs, sizeof(*regs));
		exit_done(vm, run, area);
		return VCPU_EXIT_FINISHED;
	default: ok = false; break;
	}
	if (ok)
		return VCPU_EXIT_ANSWERED;
	vm_stop(vm, EXIT_CRASH, "the vCPU process sent a malformed exit (reason %u)", reason);
	return VCPU_EXIT_MALFORMED;
}
