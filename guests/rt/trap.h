/* Trap dispatch, expected faults and ring 3.
 *
 * Every vector lands in trap_dispatch() with a struct trap_frame.  A handler
 * set with trap_set_handler() runs first; otherwise, if the faulting EIP lies
 * inside a TRAP_TRY() block (found through the .extable section, the way
 * XTF's exception table works), the exception is recorded in trap_last and
 * execution resumes after the block; anything else fails the test. */
#ifndef GUEST_TRAP_H
#define GUEST_TRAP_H

#include <stdint.h>

/* Laid out by entry.S: what entry_common pushed, then the stub's vector and
 * error code, then the CPU's own frame.  esp and ss are valid only when
 * (cs & 3) != 0, i.e. the trap came from ring 3. */
struct trap_frame {
	uint32_t gs, fs, es, ds;
	uint32_t edi, esi, ebp, esp_pusha, ebx, edx, ecx, eax;
	uint32_t vector, error;
	uint32_t eip, cs, eflags;
	uint32_t esp, ss;
};

typedef void (*trap_handler)(struct trap_frame *f);

/* Installs h for vector (NULL removes it). */
void trap_set_handler(unsigned vector, trap_handler h);

void trap_dispatch(struct trap_frame *f);

#define TRAP_NONE 0xFFFFFFFFu

/* The last exception taken inside a TRAP_TRY() block. */
struct trap_fault {
	uint32_t vector, error;
	uint32_t eip;                 /* the EIP the CPU pushed */
	uint32_t insn;                /* address of the block's first instruction */
	uint32_t next;                /* address just past the block */
	uint32_t cs, eflags, esp, ss; /* esp/ss as pushed from ring 3, else 0 */
};
extern volatile struct trap_fault trap_last;

/* Runs the inline assembly text and evaluates to the vector of the exception
 * it raised, or TRAP_NONE; trap_last holds the details.  Operands follow the
 * text after a comma: TRAP_TRY("movw %w0, %%ss", : : "r"(sel)).  A
 * fault-type exception leaves trap_last.eip == insn, a trap-type one == next
 * (SDM 6.5), so the instruction under test goes first (or last, for traps).
 * Ring-3 code may use it too, as long as trap_last is user-accessible. */
#define TRAP_TRY(text, ...)                                                                        \
	({                                                                                         \
		trap_last.vector = TRAP_NONE;                                                      \
		__asm__ volatile("1998:\n\t" text "\n1999:\n\t"                                    \
		                 ".pushsection .extable, \"a\"\n\t"                                \
		                 ".long 1998b, 1999b\n\t"                                          \
		                 ".popsection" __VA_ARGS__);                                       \
		trap_last.vector;                                                                  \
	})

/* Runs fn(arg) at ring 3 with these EFLAGS (code and data selectors
 * SEL_UCODE/SEL_UDATA, stack user_stack) and returns what fn returned. */
uint32_t user_run(uint32_t (*fn)(uint32_t), uint32_t arg, uint32_t eflags);
extern uint8_t user_stack[], user_stack_top[];

#endif
