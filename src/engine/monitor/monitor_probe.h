/*
 * The monitor engine's start-up check that the host runs 32-bit code in
 * compatibility mode (see monitor_probe.c).
 */
#ifndef PLEXVM_MONITOR_PROBE_H
#define PLEXVM_MONITOR_PROBE_H

#include <stddef.h>

struct monitor_ldt;

/* Returns 0 if it does; -ENODEV (or another -errno) with @err saying why
 * not.  Needs monitor_trap_init() and monitor_space_init() done. */
int monitor_probe(struct monitor_ldt *ldt, char *err, size_t errlen);

#endif
