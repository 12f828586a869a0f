/*
 * The vCPU process locks itself down before the first guest instruction
 * (vcpu_main.c).  Assume guest code runs as 64-bit code anywhere in that
 * process: what it holds and which system calls it may make are all that
 * stands between it and the host, so every call the filter lets through
 * must be harmless in its hands.
 */
#ifndef PLEXVM_VCPU_LOCKDOWN_H
#define PLEXVM_VCPU_LOCKDOWN_H

#include <stddef.h>
#include <stdint.h>

/* Before the monitor is set up: leave plexvm's session and process group
 * (no terminal signals), become nobody if plexvm runs as root, new user,
 * mount, IPC, UTS and cgroup namespaces where the host allows unprivileged
 * ones (best effort), and death with plexvm (@parent).  Returns 0 or -errno with @err filled. */
int vcpu_lockdown_early(int parent, char *err, size_t errlen);

/* After it: unmaps the vDSO and vvar, sets the resource limits (no files,
 * no processes, no core, no file growth), not dumpable, no new privileges,
 * and installs the seccomp filter (vcpu_lockdown.c says what it allows;
 * FUTEX only on @futex_word, the run page's turn; mmap only of guest
 * RAM, @code_fd or anonymous memory).  Irrevocable.  Returns
 * 0 or -errno with @err filled. */
int vcpu_lockdown(const uint32_t *futex_word, int code_fd, char *err, size_t errlen);

/* Just the seccomp filter (the last step of vcpu_lockdown()).  Returns 0
 * or -errno. */
int vcpu_lockdown_filter(const uint32_t *futex_word, int code_fd);

#endif
