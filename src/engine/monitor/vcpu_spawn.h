/*
 * Starting the monitor's vCPU process (vcpu_main.c) from plexvm.
 */
#ifndef PLEXVM_VCPU_SPAWN_H
#define PLEXVM_VCPU_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

/* Runs the vCPU binary built into plexvm in a new process whose only
 * descriptors are @ram_fd and @run_fd, as VCPU_FD_RAM and VCPU_FD_RUN, with
 * no environment and every signal unblocked.  Returns its pid, or -errno
 * with @err filled. */
pid_t vcpu_spawn(int ram_fd, int run_fd, char *err, size_t errlen);

#endif
