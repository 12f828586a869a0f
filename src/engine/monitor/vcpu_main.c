/*
 * The vCPU process: where the monitor runs guest code (docs/design.md,
 * "The vCPU process").
 *
 * plexvm starts it (vcpu_spawn.c) from a static binary of its own with two
 * descriptors — guest RAM (VCPU_FD_RAM) and the run area (VCPU_FD_RUN) —
 * no environment and no other file.  It maps both, sets up the monitor
 * (trap handlers, the guest's 4 GiB, the LDT probe), locks itself down
 * (vcpu_lockdown.c), says it is ready and runs the monitor's loop.  Every
 * device access, interrupt acknowledgement, HLT and stop becomes an exit
 * on the run page that plexvm answers (vcpu_run.h).  When the loop ends it
 * writes the registers and its --stats counters there and exits.
 *
 * Guest code may take this process over (64-bit mode after a far jump the
 * scanner missed).  That is why it holds nothing but the guest's own state
 * and can make only the few system calls the lockdown allows.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../exit_status.h"
#include "../../mem.h"
#include "../../stats.h"
#include "monitor_engine.h"
#include "monitor_trap.h"
#include "vcpu_futex.h"
#include "vcpu_lockdown.h"
#include "vcpu_run.h"

struct vcpu {
	struct vcpu_run *run;
	uint32_t spin_cycles; /* vcpu_init.spin_cycles */
	struct monitor_engine m;
	struct mem mem;
};

/* Posts exit @reason (its fields are filled in) and waits for the answer. */
static void vcpu_post_exit(struct vcpu *v, uint32_t reason)
{
	struct vcpu_run *run = v->run;
	run->exit_reason = reason;
	/* An exit that must wake plexvm costs a futex wake-up (tens to
	 * hundreds of microseconds on this kind of host): --stats counts them. */
	if (v->m.stats && __atomic_load_n(&run->sleepers, __ATOMIC_RELAXED))
		stats_add(v->m.stats, "exits", "plexvm-asleep", 1);
	vcpu_turn_pass(run, VCPU_TURN_HOST);
	while (!vcpu_turn_wait(run, VCPU_TURN_VCPU, v->spin_cycles, 0))
		;
	/* plexvm ended the run while answering (the guest wrote the
	 * debug-exit port, say): stop at this instruction. */
	if (__atomic_load_n(&run->stop_request, __ATOMIC_ACQUIRE) && !v->m.stopped) {
		v->m.stopped = true;
		x86_request_stop(&v->m.cpu);
	}
}

/* Is @addr in one of the @n ranges plexvm says devices claim? */
static bool vcpu_claimed(const struct vcpu_range *r, uint32_t n, uint64_t addr)
{
	for (uint32_t i = 0; i < n && i < VCPU_RANGES; i++)
		if (addr - r[i].base < r[i].len)
			return true;
	return false;
}

static uint64_t vcpu_all_ones(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

static uint32_t vcpu_pio_in(void *ctx, uint16_t port, unsigned size)
{
	struct vcpu *v = ctx;
	if (!vcpu_claimed(v->run->pio, v->run->npio, port)) {
		stats_add_addr(v->m.stats, "unclaimed-pio", port, 1);
		return (uint32_t)vcpu_all_ones(size);
	}
	v->run->u.io.direction = 0;
	v->run->u.io.size = (uint8_t)size;
	v->run->u.io.port = port;
	vcpu_post_exit(v, VCPU_EXIT_IO);
	return v->run->u.io.data;
}

static void vcpu_pio_out(void *ctx, uint16_t port, uint32_t value, unsigned size)
{
	struct vcpu *v = ctx;
	if (!vcpu_claimed(v->run->pio, v->run->npio, port)) {
		stats_add_addr(v->m.stats, "unclaimed-pio", port, 1);
		return;
	}
	v->run->u.io.direction = 1;
	v->run->u.io.size = (uint8_t)size;
	v->run->u.io.port = port;
	v->run->u.io.data = value;
	vcpu_post_exit(v, VCPU_EXIT_IO);
}

static uint64_t vcpu_mmio_read(void *ctx, uint64_t gpa, unsigned size)
{
	struct vcpu *v = ctx;
	if (!vcpu_claimed(v->run->mmio, v->run->nmmio, gpa)) {
		stats_add_addr(v->m.stats, "unclaimed-mmio", gpa, 1);
		return vcpu_all_ones(size);
	}
	v->run->u.mmio.phys_addr = gpa;
	v->run->u.mmio.len = size;
	v->run->u.mmio.is_write = 0;
	vcpu_post_exit(v, VCPU_EXIT_MMIO);
	return v->run->u.mmio.data;
}

static void vcpu_mmio_write(void *ctx, uint64_t gpa, uint64_t value, unsigned size)
{
	struct vcpu *v = ctx;
	if (!vcpu_claimed(v->run->mmio, v->run->nmmio, gpa)) {
		stats_add_addr(v->m.stats, "unclaimed-mmio", gpa, 1);
		return;
	}
	v->run->u.mmio.phys_addr = gpa;
	v->run->u.mmio.len = size;
	v->run->u.mmio.is_write = 1;
	v->run->u.mmio.data = value;
	vcpu_post_exit(v, VCPU_EXIT_MMIO);
}

static bool vcpu_rdmsr(void *ctx, uint32_t index, uint64_t *value)
{
	struct vcpu *v = ctx;
	v->run->u.msr.index = index;
	vcpu_post_exit(v, VCPU_EXIT_RDMSR);
	*value = v->run->u.msr.data;
	return v->run->u.msr.error == 0;
}

static bool vcpu_wrmsr(void *ctx, uint32_t index, uint64_t value)
{
	struct vcpu *v = ctx;
	v->run->u.msr.index = index;
	v->run->u.msr.data = value;
	vcpu_post_exit(v, VCPU_EXIT_WRMSR);
	return v->run->u.msr.error == 0;
}

static void vcpu_save_regs(struct vcpu *v)
{
	const struct x86_cpu *c = &v->m.cpu;
	struct vcpu_regs *r = &v->run->regs;
	memcpy(r->r, c->r, sizeof(r->r));
	r->eip = c->eip;
	r->eflags = c->eflags;
	memcpy(r->seg, c->seg, sizeof(r->seg));
	r->tr = c->tr.sel;
	r->ldtr = c->ldtr.sel;
	r->gdtr = c->gdtr;
	r->idtr = c->idtr;
	r->cr0 = c->cr0;
	r->cr2 = c->cr2;
	r->cr3 = c->cr3;
	r->cr4 = c->cr4;
	r->cpl = c->cpl;
}

static void vcpu_stop(void *ctx, int status, const char *reason)
{
	struct vcpu *v = ctx;
	v->run->u.stop.status = status;
	snprintf(v->run->u.stop.reason, sizeof(v->run->u.stop.reason), "%s", reason);
	vcpu_save_regs(v);
	vcpu_post_exit(v, VCPU_EXIT_STOP);
}

static bool vcpu_poll(void *ctx)
{
	struct vcpu *v = ctx;
	return __atomic_load_n(&v->run->stop_request, __ATOMIC_ACQUIRE) != 0;
}

static bool vcpu_irq_pending(void *ctx)
{
	struct vcpu *v = ctx;
	return __atomic_load_n(&v->run->irq_pending, __ATOMIC_ACQUIRE) != 0;
}

static int vcpu_irq_ack(void *ctx)
{
	struct vcpu *v = ctx;
	vcpu_post_exit(v, VCPU_EXIT_IRQ_ACK);
	return v->run->irq_vector;
}

static void vcpu_wait(void *ctx)
{
	vcpu_post_exit(ctx, VCPU_EXIT_HLT);
}

/* Copies the counters into the stats area. */
struct vcpu_stats_out {
	struct vcpu_stat *out;
	uint32_t n;
};

static void vcpu_stat_put(void *ctx, const char *group, const char *key, uint64_t value)
{
	struct vcpu_stats_out *o = ctx;
	if (o->n >= VCPU_STATS_MAX)
		return;
	struct vcpu_stat *s = &o->out[o->n++];
	snprintf(s->group, sizeof(s->group), "%s", group);
	snprintf(s->key, sizeof(s->key), "%s", key);
	s->value = value;
}

static void vcpu_done(struct vcpu *v, uint8_t *area)
{
	struct vcpu_stats_out o = { (struct vcpu_stat *)(area + VCPU_AREA_STATS), 0 };
	if (v->m.stats)
		stats_foreach(v->m.stats, vcpu_stat_put, &o);
	v->run->u.done.nstats = o.n;
	vcpu_save_regs(v);
	v->run->exit_reason = VCPU_EXIT_DONE;
	vcpu_turn_pass(v->run, VCPU_TURN_HOST);
}

/* Setup failed: say why (plexvm may try another engine) and end. */
static int vcpu_refuse(struct vcpu_run *run, int error, const char *message)
{
	run->u.ready.error = error < 0 ? error : -EINVAL;
	snprintf(run->u.ready.message, sizeof(run->u.ready.message), "%s", message);
	run->exit_reason = VCPU_EXIT_READY;
	vcpu_turn_pass(run, VCPU_TURN_HOST);
	return 1;
}

int main(void)
{
	static struct vcpu v;
	char err[160];
	uint8_t *area =
	        mmap(NULL, VCPU_AREA_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, VCPU_FD_RUN, 0);
	if (area == MAP_FAILED)
		return 1;
	struct vcpu_run *run = (struct vcpu_run *)(area + VCPU_AREA_RUN);
	const struct vcpu_init *init = (const struct vcpu_init *)(area + VCPU_AREA_INIT);
	if (run->magic != VCPU_RUN_MAGIC || run->version != VCPU_RUN_VERSION)
		return 1;
	v.run = run;
	v.spin_cycles = init->spin_cycles;

	v.mem.fd = VCPU_FD_RAM;
	v.mem.size = init->ram_size;
	v.mem.host = mmap(NULL, v.mem.size, PROT_READ | PROT_WRITE, MAP_SHARED, VCPU_FD_RAM, 0);
	if (v.mem.host == MAP_FAILED)
		return vcpu_refuse(run, -errno, "cannot map guest RAM in the vCPU process");

	v.m.host = (struct monitor_host){ .ctx = &v,
		                          .pio_in = vcpu_pio_in,
		                          .pio_out = vcpu_pio_out,
		                          .mmio_read = vcpu_mmio_read,
		                          .mmio_write = vcpu_mmio_write,
		                          .rdmsr = vcpu_rdmsr,
		                          .wrmsr = vcpu_wrmsr,
		                          .stop = vcpu_stop,
		                          .poll = vcpu_poll,
		                          .irq_pending = vcpu_irq_pending,
		                          .irq_ack = vcpu_irq_ack,
		                          .wait = vcpu_wait };
	struct stats *stats = init->stats ? stats_new() : NULL;
	int r = vcpu_lockdown_early(init->parent, err, sizeof(err));
	if (r == 0)
		r = monitor_engine_init(&v.m, &v.mem, stats, err, sizeof(err));
	if (r < 0)
		return vcpu_refuse(run, r, err);
	monitor_signals_block();
	r = vcpu_lockdown(&run->turn, v.m.space.code_fd, err, sizeof(err));
	if (r < 0)
		return vcpu_refuse(run, r, err);

	run->u.ready.error = 0;
	vcpu_post_exit(&v, VCPU_EXIT_READY);
	v.m.cpu = init->cpu; /* written by plexvm after READY, before its answer */
	monitor_loop(&v.m);
	vcpu_done(&v, area);
	return 0;
}
