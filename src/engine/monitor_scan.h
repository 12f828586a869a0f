/*
 * Scan-before-execute for the monitor engine.
 *
 * Guest kernel code runs natively at host ring 3.  Most privileged
 * instructions fault there on their own, but some are sensitive (they read
 * or change state the monitor virtualizes) and run silently.  Before a code
 * page first runs, this module decodes it and lists those instructions; the
 * monitor writes INT3 (0xCC) over each one's first byte (prefixes included)
 * in the private copy it maps executable, and emulates the original
 * instruction, read from guest RAM, when the INT3 traps.
 *
 * Patched (sensitive, silent at ring 3), by kind:
 *   SCAN_FLAGS       PUSHF, POPF (9C, 9D): show host IOPL/IF, drop IF writes
 *   SCAN_DESC_READ   SGDT, SIDT, SMSW (0F 01 /0 /1 /4), SLDT, STR (0F 00 /0
 *                    /1): read the host's tables and CR0, not the guest's
 *   SCAN_SEG_LOAD    MOV Sreg,r/m (8E), POP ES/SS/DS/FS/GS (07 17 1F 0F A1
 *                    0F A9), LES, LDS (C4, C5), LSS, LFS, LGS (0F B2 B4 B5):
 *                    the guest's selectors are virtual (see monitor_ldt)
 *   SCAN_SEG_READ    MOV r/m,Sreg (8C), PUSH ES/CS/SS/DS/FS/GS (06 0E 16 1E
 *                    0F A0 0F A8): would show the real selectors
 *   SCAN_FAR_BRANCH  far JMP and CALL (EA, 9A, FF /3, FF /5), far RET (CA,
 *                    CB): load CS
 *   SCAN_IRET        IRET (CF)
 *   SCAN_SOFT_INT    INT n (CD), INTO (CE), INT1 (F1): go through the host's
 *                    IDT, not the guest's
 *   SCAN_SEG_CHECK   LAR, LSL (0F 02, 0F 03), VERR, VERW (0F 00 /4 /5): test
 *                    the real descriptors
 *   SCAN_CPUID       CPUID (0F A2): the host's, not the guest CPU's
 *   SCAN_SYSENTER    SYSENTER, SYSEXIT (0F 34, 0F 35)
 * and four kinds that are not on the list of sensitive instructions:
 *   SCAN_FPU         x87 instructions (D8-DF) and WAIT (9B): the guest CPU
 *                    has no FPU (CPUID says so), so the core raises #NM or
 *                    #UD as CR0.EM/TS say, as under the emu engine, instead
 *                    of the host's FPU running them
 *   SCAN_FOREIGN     encodings the host CPU may run at ring 3 although the
 *                    guest CPU (the i686 of x86/, no x87/SSE) would raise #UD
 *                    or do something else: whatever x86_decode() rejects as
 *                    invalid (SSE, RDRAND, XOP, ...), BOUND with a register
 *                    operand (62 /r mod=3: EVEX on the host), 0F 01 register
 *                    forms other than SMSW and LMSW (XGETBV, RDTSCP, ...),
 *                    and F3 0F BC/BD (TZCNT/LZCNT on the host, BSF/BSR on
 *                    the guest).  The monitor's core raises what the guest
 *                    CPU would.  C4/C5 with mod=3 are VEX prefixes on the
 *                    host too; they stay SCAN_SEG_LOAD.
 *   SCAN_STRADDLE    an instruction that runs past the page end when the
 *                    following page's bytes are unknown (@next_len too
 *                    short): it cannot be classified, so it is emulated
 *   SCAN_OVERLAP     not sensitive, but a patch of another decoding of the
 *                    same bytes lies inside it (see "overlapping decodings")
 *
 * Not patched, because they fault at ring 3 by themselves (#GP, or #UD,
 * and the monitor emulates them from the fault): CLI, STI, HLT, IN, OUT,
 * INS, OUTS (IOPL 0 and no I/O bitmap), LGDT, LIDT, LLDT, LTR, LMSW, CLTS,
 * MOV to/from CRn and DRn, INVLPG, RDMSR, WRMSR, INVD, WBINVD (CPL 0 only),
 * instructions longer than 15 bytes (#GP), and INT3 (CC), which traps like
 * a patch: scan_find() tells the two apart.
 *
 * How a page is scanned.  Each entry offset starts a linear sweep that
 * records every instruction start and every sensitive instruction, and
 * stops at the page end, at an offset already known as a start (the
 * decodings have converged: the rest is already scanned), or at an encoding
 * the decoder rejects (patched as SCAN_FOREIGN, or left to fault if too
 * long; either way native execution cannot run past it).  The bytes before
 * the lowest entry are synced backwards: the smallest s in [0, 15) whose
 * linear decode lands exactly on that entry is swept as well (the bytes
 * before s are taken to be the tail of an instruction that started on the
 * previous page); if none lands, the region stays unscanned.  An entry
 * flagged SCAN_ENTRY_HEAD instead says where the previous page's last
 * instruction ends (its scan's @spill): the bytes before it are that
 * instruction's tail and no guess is made.  An instruction that straddles
 * the page end is decoded with @next; if @next_len is too short for it, it
 * is patched as SCAN_STRADDLE.
 *
 * Invariant: no recorded instruction holds a patched byte other than its
 * first, since natively it would run with 0xCC in its operands; where
 * decodings overlap, the covering instruction is patched too (SCAN_OVERLAP).
 *
 * What the scanner cannot see, and what it means:
 *   - Native branches are not followed.  The monitor sees the targets it
 *     computes itself (emulated far branches, IRET, INT n, exception
 *     delivery) and can check them with scan_is_start(); a native near jump,
 *     call or return it does not see.  One that lands in the middle of a
 *     decoded instruction, or in an unscanned region (before the backward
 *     sync, after a rejected encoding), runs bytes that were never scanned:
 *     a sensitive instruction there runs unpatched and the guest silently
 *     sees host state, and a patch byte inside one of those instructions
 *     changes its operand.  The page is already executable, so nothing
 *     traps to say so.  (A trap at a patch offset is always right, whatever
 *     decoding reached it: decoding from one offset gives one instruction.)
 *   - Overlapping decodings are handled only between the entries the
 *     scanner was given (the invariant above); the backward sync is a guess,
 *     and if it is wrong it may patch the tail of the previous page's last
 *     instruction, which would then run with 0xCC in it: pass the previous
 *     page's spill as a SCAN_ENTRY_HEAD entry whenever it is known
 *     (scan_add_entry() with it removes what was guessed below it).  In
 *     particular, when native code faults fetching the tail of an
 *     instruction that starts on the previous page, the entry is that
 *     instruction's end, never offset 0.
 *   - A scan that used @next depends on the following page's bytes: when
 *     that page changes, this page's scan must be dropped too.
 *   - The patched copy is what the guest's data reads see if the copy is
 *     readable: a read of a patched byte (a jump table or a constant in a
 *     code page, or data the linear sweep took for code) returns 0xCC
 *     instead of the guest's byte.  Only an execute-only mapping (protection
 *     keys) or emulating such reads avoids it.
 *
 * Pure: no system calls, no state outside struct scan_page.
 */
#ifndef PLEXVM_MONITOR_SCAN_H
#define PLEXVM_MONITOR_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCAN_PAGE_SIZE 4096
/* Real code pages hold a few dozen sensitive instructions at most; a page
 * with more is data or hostile, and must not run natively (-ENOSPC). */
#define SCAN_MAX_PATCHES 512
/* Or'ed into an entry: the previous page's last instruction ends here. */
#define SCAN_ENTRY_HEAD 0x8000u

/* Values of scan_page.spill below zero. */
#define SCAN_SPILL_NONE (-1)      /* no decoding reached the page end */
#define SCAN_SPILL_AMBIGUOUS (-2) /* decodings disagree, or @next was short */

enum scan_kind {
	SCAN_FLAGS,
	SCAN_DESC_READ,
	SCAN_SEG_LOAD,
	SCAN_SEG_READ,
	SCAN_FAR_BRANCH,
	SCAN_IRET,
	SCAN_SOFT_INT,
	SCAN_SEG_CHECK,
	SCAN_CPUID,
	SCAN_SYSENTER,
	SCAN_FOREIGN,
	SCAN_STRADDLE,
	SCAN_OVERLAP,
	SCAN_FPU,
	SCAN_NKINDS
};

/* One patched instruction: the side table entry. */
struct scan_patch {
	uint16_t offset; /* in the page, of the first byte (prefixes included) */
	uint8_t orig;    /* the guest's byte there, replaced by 0xCC */
	uint8_t len;     /* instruction length (may run into the next page); 0 if unknown */
	uint8_t kind;    /* enum scan_kind */
};

struct scan_page {
	uint64_t starts[SCAN_PAGE_SIZE / 64];  /* offsets known to be instruction starts */
	uint64_t patched[SCAN_PAGE_SIZE / 64]; /* offsets in patches[] */
	bool code32;                           /* the mode the page was scanned in */
	bool full;                             /* more than SCAN_MAX_PATCHES were needed */
	int8_t spill; /* bytes of the next page the last instruction takes, or SCAN_SPILL_* */
	uint16_t npatches;
	struct scan_patch patches[SCAN_MAX_PATCHES]; /* in the order found */
};

/* A short name for --stats ("flags", "desc-read", ...); "?" if out of range. */
const char *scan_kind_name(enum scan_kind kind);

/* Scans the SCAN_PAGE_SIZE bytes at @page (the guest's own bytes) as 32-bit
 * (@code32) or 16-bit code from each of @entries (offsets, optionally with
 * SCAN_ENTRY_HEAD), overwriting @sp.  @next holds the first @next_len bytes
 * of the following page (NULL/0 when unknown); 14 are enough.  Returns the
 * number of patches, -EINVAL for an entry outside the page, or -ENOSPC if
 * the page needs more than SCAN_MAX_PATCHES (it must then not run
 * natively). */
int scan_page(struct scan_page *sp, const uint8_t *page, const uint8_t *next, size_t next_len,
              bool code32, const uint16_t *entries, size_t nentries);

/* Adds @entry (a guest entry at an offset that is not yet a known start)
 * to a scanned page: sweeps from it with the same bytes and mode.  The new
 * patches are appended: they are the last (return value) of sp->patches,
 * and scan_apply() may simply run again.  With SCAN_ENTRY_HEAD, the starts
 * and patches below the entry are dropped first (a guessed decoding above
 * it stays, made safe by the invariant): the copy must then be rebuilt
 * from the guest's bytes.  Returns the number of new patches,
 * -EINVAL (entry outside the page, or @code32 differs from the scan's: drop
 * it and scan again) or -ENOSPC (as for scan_page()). */
int scan_add_entry(struct scan_page *sp, const uint8_t *page, const uint8_t *next, size_t next_len,
                   bool code32, uint16_t entry);

/* True if @offset is a recorded instruction start. */
bool scan_is_start(const struct scan_page *sp, uint16_t offset);

/* Writes 0xCC at every patch into @copy (SCAN_PAGE_SIZE bytes, a copy of
 * the guest's page).  Idempotent. */
void scan_apply(const struct scan_page *sp, uint8_t *copy);

/* The patch at @offset, or NULL: an INT3 trap at an offset with no patch is
 * the guest's own. */
const struct scan_patch *scan_find(const struct scan_page *sp, uint16_t offset);

#endif
