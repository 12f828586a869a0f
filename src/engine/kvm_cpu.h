/* vCPU state for the kvm engine: entry state from the loader, and the
 * register dump for crash reports. */
#ifndef PLEXVM_KVM_CPU_H
#define PLEXVM_KVM_CPU_H

#include <stdio.h>

#include "../loader/loader.h"
#include "../mem.h"

/* Sets registers and segments of @vcpu_fd from @e; builds identity page
 * tables in guest RAM for BOOT_LONG64. Returns 0 or -errno. */
int kvm_cpu_setup(int vcpu_fd, struct mem *m, const struct boot_entry *e);

void kvm_cpu_dump(int vcpu_fd, FILE *out);

#endif
