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

/* True if the instruction in @bytes would trap when run natively at ring 3
 * in the monitor (privileged, or patched by the scanner): the monitor then
 * emulates it straight away rather than entering guest code for one signal
 * more. */
bool monitor_insn_traps(const uint8_t *bytes, size_t len, bool code32);

#endif
