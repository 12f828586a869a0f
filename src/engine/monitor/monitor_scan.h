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
 *   SCAN_FPU         x87 instructions (D8-DF) and WAIT (9B), only while
 *                    the guest's CR0.EM or CR0.TS is set (scan_set_fpu_native
 *                    below): they must then raise #NM (or, for WAIT, not),
 *                    which the host's FPU, whose CR0 is the host kernel's,
 *                    would not.  With both clear they run natively on the
 *                    guest's own x87 registers (monitor_switch.h), and an
 *                    unmasked exception traps as #MF, which the monitor
 *                    hands to the core (monitor_loop.c)
 *   SCAN_FOREIGN     encodings the host CPU may run at ring 3 although the
 *                    guest CPU (the i686 of x86/, no SSE) would raise #UD
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
 *                    short) and more of it than its displacement and
 *                    immediate lies there, or it is a relative branch
 *                    (they are its target): it cannot be classified or
 *                    followed, so it is emulated.  (With only operands on
 *                    the next page, it is classified as any other: they
 *                    decide neither its length nor its kind.)
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
 * How a page is scanned: by following the flow of control (recursive
 * descent), so that only instructions reachable from an entry are decoded,
 * recorded and patched.  From each entry (an offset the guest is known to
 * run: see the monitor below) the scanner decodes, records the instruction
 * start, goes on to the next instruction, and queues the targets of
 * relative branches — Jcc (70-7F, 0F 80-8F), JCXZ and LOOPx (E0-E3), JMP
 * (EB, E9) and CALL (E8) — that lie in the page, taking CS base + EIP as
 * linear and the page as contiguous (with a 16-bit operand size the target
 * IP wraps at 64 KiB).  A path ends after a transfer that does not come
 * back: JMP (relative, indirect FF /4, far FF /5 and EA), RET (C3, C2), far
 * RET (CA, CB), IRET (CF), UD2 (0F 0B), SYSEXIT (0F 35).  It goes on after
 * a CALL (direct, indirect or far: the callee returns), INT n, INT3, INTO,
 * INT1 and HLT.  It also ends at the page end, at a start already known
 * (what follows from it has been followed), and at an encoding the decoder
 * rejects (patched as SCAN_FOREIGN, or left to fault if too long: either
 * way nothing runs natively past it).  An instruction that straddles the
 * page end is decoded with @next; if @next_len is too short for it, it is
 * patched as SCAN_STRADDLE unless only its operands are missing (above).  Where a path leaves the page — a branch target
 * outside it, or the next page's offset where a path runs on — is listed
 * in scan_page.outs.  Every entry is trusted: there is no guess about the
 * bytes before the first one.  SCAN_ENTRY_HEAD (an entry where the previous
 * page's last instruction ends) is one more such entry.
 *
 * Invariant: no recorded instruction holds a patched byte other than its
 * first, since natively it would run with 0xCC in its operands; where
 * decodings overlap (a jump into the middle of an instruction), the
 * covering instruction is patched too (SCAN_OVERLAP).
 *
 * What following the flow trades:
 *   - Data in a code page is never patched.  The patched copy is what the
 *     guest's data reads see (x86 has no execute-only pages without
 *     protection keys), so guest reads of constants, strings and jump
 *     tables that share a page with code stay right; only a read of a
 *     patched instruction's first byte sees 0xCC.  (A linear sweep decoded
 *     .rodata after .text as instructions and patched it.)
 *   - Code in a scanned page that no scanned path reaches runs unpatched if
 *     native execution gets there without a trap: a function only called
 *     through a pointer, code reached by a native indirect jump or by a
 *     return to an address no path here continued to, and code reached by
 *     a direct jump, call or fall-through from another page, unless the
 *     monitor adds that page's scan_page.outs here as entries (at once if
 *     this page is scanned, else when it is).  The gap rule narrows the
 *     first case (monitor_scan.c, gap_function): each gap between
 *     decoded instructions is decoded straight through from its start,
 *     the end of a reached return or jump (compiled code has no data
 *     inline), and a function is taken to start where that lands on a
 *     16-byte boundary after a return or jump and any padding or INT3
 *     filler, if from there it decodes cleanly onto the next decoded
 *     instruction or to a return or jump followed by NOP padding up to
 *     the next boundary.  A function's first instruction may itself be a
 *     NOP (Linux's ftrace site).  The gap at the page start, and what
 *     follows an encoding the decoder rejects, are decoded from where
 *     decoding from each of the 15 offsets the code may start at falls
 *     in step, so a function there is found only after a return or jump
 *     met in step.  A pointer-only function that is not aligned, or holds
 *     an encoding the decoder rejects, or ends without NOP padding before
 *     no reached code, or comes first in the page, or runs past its end,
 *     stays unseen.  A sensitive instruction there runs natively and the
 *     guest silently sees host state; nothing traps to say so, since the
 *     page is executable.  The monitor narrows this: it adds an entry
 *     every time it enters guest code (after every trap, interrupt
 *     delivery, emulated far transfer or IRET), every fetch fault on an
 *     unscanned page adds one, and scan_is_start() tells it whether a
 *     target it computes itself was scanned.  (A trap at a patch offset
 *     is always right, whatever path reached it: decoding from one offset
 *     gives one instruction.)  A trap at an offset that is not a recorded
 *     start shows that unscanned code ran up to it: --stats counts those
 *     by address (monitor_emulate.c, "monitor-unscanned-trap").
 *   - Overlapping decodings are handled between the paths the scanner
 *     followed (the invariant above).  Every entry is taken to be code: an
 *     entry inside the tail of the previous page's last instruction would
 *     have that tail decoded and perhaps patched, and the instruction would
 *     then run with 0xCC in it.  When native code faults fetching such a
 *     tail, the entry is that instruction's end (its page's spill), never
 *     offset 0.
 *   - A scan that used @next depends on the following page's bytes: when
 *     that page changes, this page's scan must be dropped too.  One that
 *     decoded a last instruction without them (only its operands lie
 *     there) does not: whatever bytes follow, natively it is the same
 *     instruction, with other operands -- unless the next page's scan
 *     patched a byte among them, which takes a path into the middle of an
 *     instruction (the overlap above, across a page end, which no
 *     compiler's code has; a guest that builds it only misleads itself).
 *
 * Pure: no system calls, no state outside struct scan_page, except the
 * x87 policy (one bool for the process: there is one vCPU).
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
/* Distinct places outside the page a page's paths go on to.  Most code
 * pages have a few dozen, but a switch compiled to a tree of compares and
 * calls has one per case: Linux's i386 system call dispatcher leaves its
 * pages for ~300 places each, and at 256 those pages could not run
 * natively (every instruction a fault and the core, 2900 per boot).  No
 * page can have more than this: 819 5-byte CALLs fill one, and a short
 * jump leaves it only from near its ends. */
#define SCAN_MAX_OUTS 1024
/* Or'ed into an entry: the previous page's last instruction ends here (an
 * entry like any other; kept so that callers can say so). */
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
	bool fpu_native;                       /* the x87 policy it was scanned with */
	bool full;    /* SCAN_MAX_PATCHES or SCAN_MAX_OUTS was not enough */
	int8_t spill; /* bytes of the next page the last instruction takes, or SCAN_SPILL_* */
	uint16_t npatches;
	uint16_t nouts;
	struct scan_patch patches[SCAN_MAX_PATCHES]; /* in the order found */
	/* Where paths leave the page, distinct, in the order found: targets
	 * of relative JMP, CALL, Jcc, JCXZ and LOOPx outside the page, and the
	 * next page's offset where a path runs on (SCAN_PAGE_SIZE + spill).
	 * Offsets from the page start, so negative or SCAN_PAGE_SIZE and more;
	 * with a 16-bit operand size, as if the IP did not wrap. */
	int32_t outs[SCAN_MAX_OUTS];
	/* The scanner's own, kept for scan_add_entry() (monitor_scan.c,
	 * "Cost"): the bytes of the recorded instructions, per gap between
	 * them whether a path ends at its start, and the bytes scanned (the
	 * page's, and the @next bytes a decode may read). */
	uint64_t covered[SCAN_PAGE_SIZE / 64];
	uint64_t gap_after_end[SCAN_PAGE_SIZE / 64];
	bool kept; /* seen[] holds them */
	uint8_t seen_next_len;
	uint8_t seen[SCAN_PAGE_SIZE + 14];
};

/* Whether scans from now on leave x87 instructions and WAIT unpatched
 * (the guest's CR0.EM and CR0.TS are clear) or patch them as SCAN_FPU (the
 * default).  A scan keeps the policy it was made with, for the entries
 * added to it later too: when the policy changes, the caller drops every
 * scan.  The guest's x87 code is then patched exactly while the core must
 * run it, at the cost of rescanning when EM or TS change; modern kernels
 * set neither after boot (Linux has switched the FPU eagerly since 4.6),
 * so that is rare, where two patched copies of every page would cost
 * memory and bookkeeping on every scan. */
void scan_set_fpu_native(bool native);
bool scan_get_fpu_native(void);

/* A short name for --stats ("flags", "desc-read", ...); "?" if out of range. */
const char *scan_kind_name(enum scan_kind kind);

/* Scans the SCAN_PAGE_SIZE bytes at @page (the guest's own bytes) as 32-bit
 * (@code32) or 16-bit code from each of @entries (offsets, optionally with
 * SCAN_ENTRY_HEAD), overwriting @sp.  @next holds the first @next_len bytes
 * of the following page (NULL/0 when unknown); 14 are enough.  Returns the
 * number of patches, -EINVAL for an entry outside the page, or -ENOSPC if
 * the page needs more than SCAN_MAX_PATCHES patches or leaves to more than
 * SCAN_MAX_OUTS places (it must then not run natively). */
int scan_page(struct scan_page *sp, const uint8_t *page, const uint8_t *next, size_t next_len,
              bool code32, const uint16_t *entries, size_t nentries);

/* Adds @entry (a guest entry, optionally with SCAN_ENTRY_HEAD) to a scanned
 * page and follows what is newly reachable from it, with the same bytes and
 * mode; known starts are not decoded again.  The new patches are appended:
 * they are the last (return value) of sp->patches, and scan_apply() may
 * simply run again; new outs are appended to sp->outs likewise.  Returns
 * the number of new patches, -EINVAL (entry outside the page, or @code32
 * differs from the scan's: drop it and scan again) or -ENOSPC (as for
 * scan_page()). */
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
