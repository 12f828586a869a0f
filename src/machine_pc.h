/*
 * The PC: the one place where devices are created, given their ports and
 * interrupt lines, and connected to the terminal and output files.
 */
#ifndef PLEXVM_MACHINE_PC_H
#define PLEXVM_MACHINE_PC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct machine_pc;

/* Creates every device and claims its ports on vm->bus. Returns NULL with a
 * message in err (e.g. an output file cannot be created). */
struct machine_pc *machine_pc_create(struct vm *vm, char *err, size_t errlen);
void machine_pc_destroy(struct machine_pc *m);

bool machine_pc_irq_pending(struct machine_pc *m);
int machine_pc_irq_ack(struct machine_pc *m);

/* Brings timers, terminal input, held guest output and the live screen
 * up to @now_ns. */
void machine_pc_poll(struct machine_pc *m, uint64_t now_ns);
uint64_t machine_pc_next_deadline(struct machine_pc *m);

/* File descriptor whose readability should wake a halted guest (terminal
 * input), or -1. */
int machine_pc_input_fd(struct machine_pc *m);

/* Writes the guest output the serial and debugcon backends hold. */
void machine_pc_flush_output(struct machine_pc *m);
/* At exit: the held output, the final screen for --vga dump, the terminal
 * restored. */
void machine_pc_finish(struct machine_pc *m);

#endif
