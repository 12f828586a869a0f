/* The C side of interrupt entry: handlers, the expected-fault table, and the
 * verdict on anything unexpected. */
#include "trap.h"
#include "test.h"

struct extable_entry {
	uint32_t insn, next;
};
extern const struct extable_entry __start_extable[], __stop_extable[];

volatile struct trap_fault trap_last = { .vector = TRAP_NONE };
static trap_handler trap_handlers[256];

void trap_set_handler(unsigned vector, trap_handler h)
{
	trap_handlers[vector & 0xFF] = h;
}

/* A trap-type exception reports the address after the instruction, so an
 * EIP equal to the block's end still belongs to the block. */
static const struct extable_entry *trap_find(uint32_t eip)
{
	for (const struct extable_entry *e = __start_extable; e < __stop_extable; e++)
		if (eip >= e->insn && eip <= e->next)
			return e;
	return 0;
}

static void trap_record(struct trap_frame *f, const struct extable_entry *e)
{
	int user = (f->cs & 3) != 0;
	trap_last.vector = f->vector;
	trap_last.error = f->error;
	trap_last.eip = f->eip;
	trap_last.insn = e->insn;
	trap_last.next = e->next;
	trap_last.cs = f->cs;
	trap_last.eflags = f->eflags;
	trap_last.esp = user ? f->esp : 0;
	trap_last.ss = user ? f->ss : 0;
	f->eip = e->next;
}

void trap_dispatch(struct trap_frame *f)
{
	const struct extable_entry *e;
	if (trap_handlers[f->vector & 0xFF]) {
		trap_handlers[f->vector & 0xFF](f);
		return;
	}
	e = trap_find(f->eip);
	if (e) {
		trap_record(f, e);
		return;
	}
	printf("unexpected vector %u, error 0x%x, at %x:%x\n", f->vector, f->error, f->cs, f->eip);
	test_abort("unexpected exception");
}
