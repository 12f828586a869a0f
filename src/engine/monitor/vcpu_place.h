/*
 * Keeping plexvm and its vCPU process on different CPUs (vcpu_place.c says
 * why): each exchange between them is a spin on both sides, which on a
 * shared CPU only keeps the other side waiting.
 */
#ifndef PLEXVM_VCPU_PLACE_H
#define PLEXVM_VCPU_PLACE_H

#include <stddef.h>
#include <sys/types.h>

/* How many CPUs plexvm may run on (1 if it cannot tell). */
int vcpu_place_cpus(void);
/* Splits those CPUs in two: plexvm's thread keeps the one it runs on,
 * process @vcpu gets the others.  Returns how many CPUs there were (split
 * if 2 or more), or -errno with @why filled. */
int vcpu_place(pid_t vcpu, char *why, size_t len);

#endif
