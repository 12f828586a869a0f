/*
 * plexvm's exit statuses (documented in --help and README.md).
 *
 * Odd statuses belong to the guest: a write of V to the debug-exit port 0xF4
 * ends plexvm with (V << 1) | 1, QEMU's isa-debug-exit convention.  Even
 * statuses are plexvm's own.
 */
#ifndef PLEXVM_EXIT_STATUS_H
#define PLEXVM_EXIT_STATUS_H

enum exit_status {
	EXIT_POWEROFF = 0, /* the guest powered off or reset */
	EXIT_USAGE = 2,    /* bad command line or config file */
	EXIT_LOAD = 4,     /* the kernel image cannot be loaded */
	EXIT_CRASH = 6,    /* the guest crashed or needs what plexvm cannot run */
	EXIT_HOST = 8,     /* host or internal error */
};

#endif
