/*
 * Guest paging under the monitor engine: the host's page tables as a TLB of
 * the guest's.
 *
 * Guest linear addresses stay host virtual addresses below 4 GiB.  With
 * CR0.PG set, a linear page is mapped only once native code touches it: the
 * access faults (SIGSEGV, si_addr the linear address, the error code saying
 * read, write or fetch), x86_translate() walks the guest's tables as the CPU
 * would (setting A, and D on a write), and the fault either becomes the
 * guest's own #PF (CR2, error code, delivered by the core) or a mapping of
 * the frame at that linear page (monitor_space_map), after which the
 * instruction is retried.  What a mapping allows (monitor_space_how):
 *   - writable only if the guest may write (R/W, or CPL 0-2 with CR0.WP
 *     clear) and D is set already: a clean page is mapped read-only, and its
 *     first write faults, sets D and remaps it writable;
 *   - executable only as the frame's scanned copy (read+execute, never
 *     writable; a fetch fault scans the frame), and never with NX;
 *   - a frame that is not RAM, frame 0 and linear page 0 are never mapped:
 *     the core emulates those accesses.
 * Stale mappings are what a TLB may hold: the guest must INVLPG or reload
 * CR3 after changing a PTE, so the page tables need no write protection.
 * A CR3 write unmaps what is not global (G with CR4.PGE), as a TLB keeps
 * global translations (SDM vol. 3, 4.10.4.1) -- except in the 4 MiB
 * regions that the new page directory maps through the same entry (with
 * PAE, the same two entries) as before (the same page table: a kernel's half,
 * which every process shares, and which Linux without PGE marks nothing
 * global in).  That is more than a CPU keeps, and what a guest that
 * changes a PTE of a shared table and relies on the next process switch,
 * not INVLPG or a reload of the same CR3, to flush it would see stale;
 * Linux flushes kernel mappings explicitly.  CR0.WP/PG and CR4 changes
 * (a CR4.PGE toggle among them) and EFER changes unmap everything (one
 * mmap over [4 KiB, 4 GiB)); INVLPG unmaps a page (a large page's 4 MiB),
 * global or not.  Guest CPL 0 and CPL 3 both run at host ring 3, so what
 * was mapped at CPL 0-2 and CPL 3 may not have (supervisor pages,
 * read-only pages written with WP clear) is unmapped before guest code
 * runs at CPL 3; the rest (user pages, wherever they were mapped from)
 * stays.  At most MONITOR_MAX_MAPPED pages are mapped at once; beyond
 * that the oldest quarter goes (monitor_space.h).
 *
 * Unmapping the kernel's pages at each return to CPL 3 and faulting them
 * back in one by one after it cost most of a Linux boot's page faults, so
 * where it can the monitor keeps them and *cuts CPL 3's segments* instead:
 * when every page CPL 3 may have that was mapped since paging went on lies
 * below a 4 MiB boundary (a 3G/1G kernel's 0xC0000000), and the kernel's
 * pages above it, CPL 3's segments go to the host with limits that end
 * there (monitor_ldt.h), and only supervisor pages below it are unmapped.
 * CPL 3 then cannot reach the kernel's pages natively, as the x86 lets
 * a 32-bit host keep itself out of a segment-limited guest.  An access
 * beyond a cut limit faults (#GP, #SS, or the entry itself) and the core
 * runs the instruction with the guest's limits; if that may have been a
 * user page above the boundary (not through a segment with a base, whose
 * offsets wrap around: glibc's TLS below %gs), the next entry runs uncut,
 * so its page is mapped and the boundary moves up.  A guest whose CPL 3
 * has pages at the top of the 4 GiB, or an expand-down segment that
 * reaches the boundary, runs uncut, as before.  What the cut does not
 * stop: CPL 3 code that escaped the scanner can load the host's own flat
 * selectors (0x23, 0x2b) and reach the kernel's pages through them -- as
 * it can reach everything of the guest's by a far jump to the host's
 * 64-bit selector 0x33 (docs/design.md, the vCPU process).
 */
#ifndef PLEXVM_MONITOR_PAGING_H
#define PLEXVM_MONITOR_PAGING_H

#include <stdbool.h>
#include <stdint.h>

#include <stddef.h>

#include "monitor_engine.h"

struct monitor_engine;

/* Gives the address space its way to translate linear addresses. */
void monitor_paging_init(struct monitor_engine *m);

/* Before guest code runs with paging on: unmaps what it may not see at its
 * CPL, and makes EIP a known instruction start of a mapped scanned page.
 * Returns 0, or -errno if the instruction at EIP must run in the core. */
int monitor_paging_enter(struct monitor_engine *m);

/* A #GP, #SS or refused entry from native guest code at CPL 3 while its
 * segments were cut: decides whether the next entry must run uncut. */
void monitor_paging_cut_fault(struct monitor_engine *m, bool entry_failed);

/* A page fault from native guest code with paging on (in monitor_frame):
 * maps the page or delivers the guest's #PF (MONITOR_RESUME), or says the
 * core must run the instruction, or that the write hit a write-protected
 * frame, then in @frame. */
enum monitor_action monitor_paging_fault(struct monitor_engine *m, uint32_t *frame);

/* The core's hooks: a control register written, an INVLPG. */
void monitor_paging_ctrl_written(struct monitor_engine *m, int cr, uint32_t old);
void monitor_paging_invlpg(struct monitor_engine *m, uint32_t lin);

/* Reads @len guest bytes at linear @lin through the guest's tables without
 * marking them accessed, as an access of kind @access (X86_ACCESS_*: a fetch
 * by the guest's code, or 0 for the CPU's own reads of descriptor tables);
 * returns how many could be read. */
size_t monitor_paging_peek(struct monitor_engine *m, uint64_t lin, unsigned access, uint8_t *buf,
                           size_t len);

#endif
