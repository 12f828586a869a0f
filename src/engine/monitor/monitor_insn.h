/*
 * Names of the instructions the monitor emulates, for --stats.
 */
#ifndef PLEXVM_MONITOR_INSN_H
#define PLEXVM_MONITOR_INSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The mnemonic of the instruction in @bytes (lower case, as the assembler
 * writes it), "other" for one the monitor has no reason to name, or
 * "invalid". */
const char *monitor_insn_name(const uint8_t *bytes, size_t len, bool code32);

enum monitor_insn_kind {
	MONITOR_INSN_TRAPS,    /* would trap at ring 3 in the monitor (privileged, or
	                       * patched by the scanner) */
	MONITOR_INSN_JUMP,     /* a near relative JMP: straight-line code goes on at
	                       * the next instruction + @rel */
	MONITOR_INSN_BRANCH,   /* Jcc, LOOPx, JCXZ: goes on at the next instruction
	                        * or at the next + @rel */
	MONITOR_INSN_CALL_RET, /* CALL, RET, indirect JMP: control leaves for code
	                        * no scan may have seen */
	MONITOR_INSN_PLAIN,    /* anything else */
	MONITOR_INSN_INVALID,  /* not an instruction (or cut short) */
};

/* What the instruction in @bytes is to the monitor; its length in @ilen
 * and, for a JMP or a conditional branch, its displacement in @rel; unless @uses_fpu is NULL,
 * whether it reads or writes the guest's x87 state (x87, WAIT), which the
 * core needs converted before it runs one. */
enum monitor_insn_kind monitor_insn_kind(const uint8_t *bytes, size_t len, bool code32,
                                         unsigned *ilen, int32_t *rel, bool *uses_fpu);

#endif
