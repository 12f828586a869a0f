/*
 * Scan-before-execute (see monitor_scan.h): a recursive descent over one
 * page of guest code with the pure x86 decoder, following fall-through and
 * relative branches from the entries, a classification of each decoded
 * instruction, and the side table of patches.
 *
 * State is three bitmaps (instruction starts, patched offsets, the bytes
 * the recorded instructions cover) and the patch list in the order found,
 * so that scan_add_entry() can hand back its new patches as a tail of the
 * list.  A recorded start has always been followed to the end of its paths
 * before a call returns, so a later descent stops at any known start.
 *
 * Cost: a call decodes each offset it looks at once (struct scan_memo),
 * although the gap rule looks at most of them several times; a start is
 * covered as it is followed.  scan_add_entry() would decode the whole page
 * again (every start, to find the gaps, and every gap), but for the few
 * instructions it adds: so a call keeps in the scan_page the covered
 * bytes, which gaps it found no function in (scan_page.gap_after_end) and
 * the bytes it saw, and the next call takes these over when the bytes are
 * the same.  They need not be: a data write that touches no recorded
 * instruction keeps the scan (monitor_space_write), and the next page's
 * bytes may change at any time; the call then works all out afresh, as
 * the first did.
 */
#include "monitor_scan.h"

#include <errno.h>
#include <string.h>

#include "../../../x86/decoder.h"

#define PAGE SCAN_PAGE_SIZE

/* The bytes a scan decodes: a page and the start of the next one. */
struct scan_bytes {
	const uint8_t *page, *next;
	size_t next_len;
	bool code32;
	bool fpu_native;        /* x87 and WAIT run natively: not patched */
	struct scan_memo *memo; /* what this call has learnt of them */
};

/* See scan_set_fpu_native(): the one policy new scans follow. */
static bool scan_fpu_native;

void scan_set_fpu_native(bool native)
{
	scan_fpu_native = native;
}

bool scan_get_fpu_native(void)
{
	return scan_fpu_native;
}

static const char *const kind_names[SCAN_NKINDS] = {
	[SCAN_FLAGS] = "flags",           [SCAN_DESC_READ] = "desc-read",
	[SCAN_SEG_LOAD] = "seg-load",     [SCAN_SEG_READ] = "seg-read",
	[SCAN_FAR_BRANCH] = "far-branch", [SCAN_IRET] = "iret",
	[SCAN_SOFT_INT] = "soft-int",     [SCAN_SEG_CHECK] = "seg-check",
	[SCAN_CPUID] = "cpuid",           [SCAN_SYSENTER] = "sysenter",
	[SCAN_FOREIGN] = "foreign",       [SCAN_STRADDLE] = "straddle",
	[SCAN_OVERLAP] = "overlap",       [SCAN_FPU] = "fpu",
};

const char *scan_kind_name(enum scan_kind kind)
{
	return (unsigned)kind < SCAN_NKINDS ? kind_names[kind] : "?";
}

static bool bit_test(const uint64_t *map, unsigned off)
{
	return map[off / 64] >> (off % 64) & 1;
}

static void bit_set(uint64_t *map, unsigned off)
{
	map[off / 64] |= 1ull << (off % 64);
}

/* The first offset from @from on whose bit in @map is @set, or PAGE: a
 * word at a time, as the maps are walked for every page scanned. */
static unsigned bit_find(const uint64_t *map, unsigned from, bool set)
{
	while (from < PAGE) {
		uint64_t w = (set ? map[from / 64] : ~map[from / 64]) & ~0ull << (from % 64);
		if (w)
			return from / 64 * 64 + (unsigned)__builtin_ctzll(w);
		from = (from / 64 + 1) * 64;
	}
	return PAGE;
}

/* The bits of [*@from, @to) in *@from's word, as a mask of it; moves
 * *@from on past them. */
static uint64_t word_mask(unsigned *from, unsigned to)
{
	unsigned n = 64 - *from % 64 < to - *from ? 64 - *from % 64 : to - *from;
	uint64_t m = (n == 64 ? ~0ull : (1ull << n) - 1) << (*from % 64);
	*from += n;
	return m;
}

/* Sets the bits of [@from, @to) in @map. */
static void bit_set_range(uint64_t *map, unsigned from, unsigned to)
{
	while (from < to) {
		unsigned w = from / 64;
		map[w] |= word_mask(&from, to);
	}
}

/* True if @map has a bit set in [@from, @to). */
static bool bit_any(const uint64_t *map, unsigned from, unsigned to)
{
	while (from < to) {
		unsigned w = from / 64;
		if (map[w] & word_mask(&from, to))
			return true;
	}
	return false;
}

/* Copies the bytes of the instruction at @off into @buf: the page's, then
 * @next's up to X86_MAX_INSN_LEN in all.  Returns how many. */
static size_t gather(const struct scan_bytes *b, unsigned off, uint8_t buf[X86_MAX_INSN_LEN])
{
	size_t n = PAGE - off;
	if (n >= X86_MAX_INSN_LEN) {
		memcpy(buf, b->page + off, X86_MAX_INSN_LEN);
		return X86_MAX_INSN_LEN;
	}
	size_t more = b->next ? b->next_len : 0;
	if (more > X86_MAX_INSN_LEN - n)
		more = X86_MAX_INSN_LEN - n;
	memcpy(buf, b->page + off, n);
	if (more)
		memcpy(buf + n, b->next, more);
	return n + more;
}

/* Decodes the instruction at @off, reading past the page end into @next
 * (so never more than the bytes given).  Only an instruction that may
 * straddle is copied together first. */
static int decode_at(const struct scan_bytes *b, unsigned off, struct x86_decoded *d)
{
	uint8_t buf[X86_MAX_INSN_LEN];
	const uint8_t *p = b->page + off;
	size_t n = X86_MAX_INSN_LEN;
	if (off > PAGE - X86_MAX_INSN_LEN) {
		n = gather(b, off, buf);
		p = buf;
	}
	int r = x86_decode(p, n, b->code32, d);
	/* Given 15 bytes, the decoder calls an instruction that needs more
	 * "short" (e.g. 15 prefixes); it is too long, whatever follows. */
	if (r == X86_DECODE_SHORT && n == X86_MAX_INSN_LEN)
		return X86_DECODE_TOO_LONG;
	return r;
}

/* The 0F 01 register forms (mod=3) are other instructions on the host:
 * VMCALL, MONITOR, CLAC, XGETBV, XTEST, RDTSCP, ... (SDM vol. 2, table
 * A-6); on an i686 only SMSW r and LMSW r exist. */
static int classify_0f01(const struct x86_decoded *d)
{
	if (d->reg == 4)
		return SCAN_DESC_READ; /* SMSW */
	if (d->mod == 3)
		return d->reg == 6 ? -1 : SCAN_FOREIGN;
	return d->reg <= 1 ? SCAN_DESC_READ : -1; /* SGDT, SIDT; LGDT, LIDT, INVLPG fault */
}

static int classify_0f(const struct x86_decoded *d)
{
	switch (d->opcode) {
	case 0x00:
		if (d->reg <= 1)
			return SCAN_DESC_READ;                           /* SLDT, STR */
		return d->reg == 4 || d->reg == 5 ? SCAN_SEG_CHECK : -1; /* LLDT, LTR fault */
	case 0x01: return classify_0f01(d);
	case 0x02:
	case 0x03: return SCAN_SEG_CHECK;
	case 0x34:
	case 0x35: return SCAN_SYSENTER;
	case 0xa0:
	case 0xa8: return SCAN_SEG_READ;
	case 0xa1:
	case 0xa9:
	case 0xb2:
	case 0xb4:
	case 0xb5: return SCAN_SEG_LOAD;
	case 0xa2: return SCAN_CPUID;
	case 0xbc:
	case 0xbd: return d->rep == 0xf3 ? SCAN_FOREIGN : -1; /* TZCNT, LZCNT */
	default: return -1;
	}
}

/* The kind of a decoded instruction, or -1 if it may run natively. */
static int classify(const struct x86_decoded *d, bool fpu_native)
{
	if (d->two_byte)
		return classify_0f(d);
	switch (d->opcode) {
	case 0x9c:
	case 0x9d: return SCAN_FLAGS;
	case 0x06:
	case 0x0e:
	case 0x16:
	case 0x1e:
	case 0x8c: return SCAN_SEG_READ;
	case 0x07:
	case 0x17:
	case 0x1f:
	case 0x8e:
	case 0xc4: /* LES/LDS; with mod=3 a VEX prefix on the host */
	case 0xc5: return SCAN_SEG_LOAD;
	case 0x62: return d->mod == 3 ? SCAN_FOREIGN : -1; /* EVEX on the host */
	case 0x9a:
	case 0xea:
	case 0xca:
	case 0xcb: return SCAN_FAR_BRANCH;
	case 0xff: return d->reg == 3 || d->reg == 5 ? SCAN_FAR_BRANCH : -1;
	case 0xcf: return SCAN_IRET;
	case 0xcd:
	case 0xce:
	case 0xf1: return SCAN_SOFT_INT;
	case 0x9b: return fpu_native ? -1 : SCAN_FPU;
	default: return d->opcode >= 0xd8 && d->opcode <= 0xdf && !fpu_native ? SCAN_FPU : -1;
	}
}

static void add_patch(struct scan_page *sp, const struct scan_bytes *b, unsigned off, int kind,
                      int len)
{
	if (bit_test(sp->patched, off))
		return;
	if (sp->npatches == SCAN_MAX_PATCHES) {
		sp->full = true;
		return;
	}
	sp->patches[sp->npatches++] = (struct scan_patch){
		.offset = (uint16_t)off,
		.orig = b->page[off],
		.len = (uint8_t)(len > 0 ? len : 0),
		.kind = (uint8_t)kind,
	};
	bit_set(sp->patched, off);
}

static void note_spill(struct scan_page *sp, int spill)
{
	if (sp->spill == SCAN_SPILL_NONE)
		sp->spill = (int8_t)spill;
	else if (sp->spill != spill)
		sp->spill = SCAN_SPILL_AMBIGUOUS;
}

/* What a decoded instruction does to the flow of control. */
enum flow {
	FLOW_NEXT,   /* goes on to the next instruction */
	FLOW_BRANCH, /* Jcc, JCXZ, LOOPx, CALL rel: the target and the next one */
	FLOW_JUMP,   /* JMP rel: the target only */
	FLOW_END,    /* no way on that the scanner can see */
};

/* Where control goes after @d.  A call (direct, indirect or far), INT n,
 * INT3, INTO, INT1, SYSENTER and HLT come back to the next instruction;
 * a return, an indirect or far jump, IRET, UD2 and SYSEXIT do not. */
static enum flow flow_of(const struct x86_decoded *d)
{
	if (d->two_byte) {
		if (d->opcode >= 0x80 && d->opcode <= 0x8f)
			return FLOW_BRANCH; /* Jcc rel16/32 */
		if (d->opcode == 0x0b || d->opcode == 0x35)
			return FLOW_END; /* UD2, SYSEXIT */
		return FLOW_NEXT;
	}
	switch (d->opcode) {
	case 0xe0: /* LOOPNE, LOOPE, LOOP, JCXZ */
	case 0xe1:
	case 0xe2:
	case 0xe3:
	case 0xe8: return FLOW_BRANCH; /* CALL rel */
	case 0xe9:
	case 0xeb: return FLOW_JUMP;
	case 0xc2: /* RET, far RET, IRET, far JMP */
	case 0xc3:
	case 0xca:
	case 0xcb:
	case 0xcf:
	case 0xea: return FLOW_END;
	case 0xff: return d->reg == 4 || d->reg == 5 ? FLOW_END : FLOW_NEXT; /* JMP near, far */
	default: return d->opcode >= 0x70 && d->opcode <= 0x7f ? FLOW_BRANCH : FLOW_NEXT;
	}
}

/* True for the no-op forms compilers and assemblers pad with: NOP, XCHG
 * %ax,%ax, NOP r/m (0F 1F), and LEA or MOV of a register onto itself. */
static bool is_padding(const struct x86_decoded *d)
{
	if (!d->two_byte && d->opcode == 0x90 && !d->rep)
		return true;
	if (d->two_byte && d->opcode == 0x1f)
		return true;
	bool self = d->has_modrm && d->reg == d->rm && !d->has_sib;
	if (!d->two_byte && d->opcode == 0x89 && d->mod == 3 && self)
		return true; /* mov %esi,%esi */
	if (!d->two_byte && d->opcode == 0x8d && d->mod != 3 && self &&
	    (d->disp == 0 || d->mod == 0))
		return true; /* lea 0(%esi),%esi */
	return !d->two_byte && d->opcode == 0x8d && d->has_sib && (d->sib & 7) == d->reg &&
	       ((d->sib >> 3) & 7) == 4 && d->disp == 0; /* lea 0(%esi,%eiz,1),%esi */
}

static bool ends_path(const struct x86_decoded *d)
{
	enum flow fl = flow_of(d);
	return fl == FLOW_END || fl == FLOW_JUMP;
}

/* What a call knows of the instruction at an offset: decode_at()'s result
 * and, once a sweep of the gap rule (gap_function() below) has asked, what
 * that needs.  The gap rule looks at most offsets more than once -- a gap
 * again after each function found in it or after it, the start before it,
 * 15 offsets where decoding must fall in step -- so a call decodes each
 * offset once. */
struct scan_insn {
	int8_t len;    /* decode_at()'s result; 0 if not decoded yet */
	uint8_t flags; /* INSN_*, when len > 0 and INSN_KNOWN is set */
};

#define INSN_ENDS_PATH 1u /* ends_path() */
#define INSN_PADDING 2u   /* is_padding() */
#define INSN_FILLER 4u    /* padding, or INT3 between functions */
#define INSN_KNOWN 8u     /* the others were worked out (only a sweep needs them) */

#define OUT_BITS 11
_Static_assert(1u << OUT_BITS >= 2 * SCAN_MAX_OUTS, "scan_memo.out_index is half empty at most");

/* What one call has learnt of the bytes it scans. */
struct scan_memo {
	struct scan_insn insns[PAGE];
	/* Per gap start: gap_key() of a gap that gap_function() found no
	 * function in (in this call, or the last one: recall()); 0 if
	 * none.  Such a gap is not swept again when fill_gaps() looks at
	 * the gaps once more. */
	uint16_t empty_gap[PAGE];
	uint64_t fresh[PAGE / 64]; /* the starts this call recorded */
	/* sp->outs by value (open addressing, see out_slot()): 1 + the index
	 * of an out, 0 for none.  add_out() looks one up for every branch
	 * out of the page, and the pages of a boot that have many such
	 * branches have a hundred places and more to go to. */
	uint16_t out_index[1u << OUT_BITS];
};

/* Records that decode_at(@off) gave @r. */
static void insn_note(const struct scan_bytes *b, unsigned off, int r)
{
	b->memo->insns[off] = (struct scan_insn){ (int8_t)r, 0 };
}

/* decode_at(@off)'s result, decoded once per call. */
static int insn_len(const struct scan_bytes *b, unsigned off)
{
	struct x86_decoded d;
	if (!b->memo->insns[off].len)
		insn_note(b, off, decode_at(b, off, &d));
	return b->memo->insns[off].len;
}

/* decode_at(@off)'s result and what the sweeps need to know of it. */
static struct scan_insn insn_at(const struct scan_bytes *b, unsigned off)
{
	struct scan_insn in = b->memo->insns[off];
	if (in.len && (in.flags & INSN_KNOWN))
		return in;
	struct x86_decoded d;
	in = (struct scan_insn){ (int8_t)decode_at(b, off, &d), INSN_KNOWN };
	if (in.len > 0) {
		bool pad = is_padding(&d), int3 = !d.two_byte && d.opcode == 0xcc && d.len == 1;
		in.flags |= (ends_path(&d) ? INSN_ENDS_PATH : 0) | (pad ? INSN_PADDING : 0) |
		            (pad || int3 ? INSN_FILLER : 0);
	}
	b->memo->insns[off] = in;
	return in;
}

/* Where a relative branch at @off goes, as an offset from the page start
 * (CS base + EIP taken as linear, the page as contiguous). */
static int32_t branch_target(const struct x86_decoded *d, unsigned off)
{
	int32_t rel = d->imm_size == 1   ? (int8_t)d->imm
	              : d->imm_size == 2 ? (int16_t)d->imm
	                                 : (int32_t)d->imm;
	return (int32_t)(off + d->len) + rel;
}

/* With a 16-bit operand size the new EIP is truncated to 16 bits (SDM
 * vol. 2, JMP, Jcc, LOOP: "EIP <- tempEIP AND 0000FFFFH"): a target past
 * IP 0 or 0xFFFF wraps within its 64 KiB.  The page offset stands in for
 * the IP; a rel8 or rel16 moves less than 32 KiB, so the wrap never brings
 * into the page a target that the plain sum puts outside it. */
static bool target_in_page(const struct x86_decoded *d, int32_t t)
{
	uint32_t ip = d->o32 ? (uint32_t)t : (uint32_t)t & 0xffff;
	return ip < PAGE;
}

/* Where the out @t is in memo->out_index, or would be. */
static unsigned out_slot(const struct scan_page *sp, const struct scan_memo *m, int32_t t)
{
	unsigned i = (uint32_t)t * 0x9e3779b1u >> (32 - OUT_BITS); /* Fibonacci hashing */
	while (m->out_index[i] && sp->outs[m->out_index[i] - 1] != t)
		i = (i + 1) % (1u << OUT_BITS);
	return i;
}

/* Indexes the outs @sp has from the calls before. */
static void index_outs(const struct scan_page *sp, const struct scan_bytes *b)
{
	for (unsigned i = 0; i < sp->nouts; i++)
		b->memo->out_index[out_slot(sp, b->memo, sp->outs[i])] = (uint16_t)(i + 1);
}

/* Records a place outside the page where a path goes on (see scan_page.outs). */
static void add_out(struct scan_page *sp, const struct scan_bytes *b, int32_t t)
{
	uint16_t *slot = &b->memo->out_index[out_slot(sp, b->memo, t)];
	if (*slot)
		return;
	if (sp->nouts == SCAN_MAX_OUTS) {
		sp->full = true;
		return;
	}
	sp->outs[sp->nouts++] = t;
	*slot = sp->nouts;
}

/* Offsets waiting to be followed: each is a recorded start, pushed once,
 * so a page's worth is enough. */
struct worklist {
	uint16_t off[PAGE];
	unsigned n;
	unsigned lowest; /* of the starts recorded */
};

/* Records @off (in the page) as a start and queues it, unless known. */
static void reach(struct scan_page *sp, struct worklist *w, uint32_t off)
{
	if (bit_test(sp->starts, off))
		return;
	bit_set(sp->starts, off);
	w->off[w->n++] = (uint16_t)off;
	w->lowest = off < w->lowest ? off : w->lowest;
}

/* An instruction that runs past the page end into bytes not given: if
 * everything but its displacement and immediate lies in the page, those
 * decide neither its length nor whether it is sensitive, so it decodes the
 * same whatever follows (zeros stand in for them).  Not so for a relative
 * branch, whose target they are: that one, and one whose opcode or ModRM
 * is cut, stay X86_DECODE_SHORT.  (Kernel code straddles page ends in
 * every other page: each such instruction used to be patched to trap.) */
static int decode_operands_unknown(const struct scan_bytes *b, unsigned off, struct x86_decoded *d)
{
	uint8_t buf[X86_MAX_INSN_LEN] = { 0 };
	size_t n = gather(b, off, buf);
	int r = x86_decode(buf, X86_MAX_INSN_LEN, b->code32, d);
	if (r < 0)
		return X86_DECODE_SHORT;
	size_t fixed = (size_t)r - d->disp_size - d->imm_size;
	enum flow f = flow_of(d);
	if (fixed > n || f == FLOW_BRANCH || f == FLOW_JUMP)
		return X86_DECODE_SHORT;
	return r;
}

/* Marks in @covered the bytes of the recorded instruction at @s, which
 * decode_at() gave @r (one byte if it did not decode). */
static void cover_insn(uint64_t *covered, unsigned s, int r)
{
	unsigned end = s + (unsigned)(r > 0 ? r : 1);
	bit_set_range(covered, s, end < PAGE ? end : PAGE);
}

/* Decodes and classifies the (recorded) start @off; queues where control
 * goes from it. */
static void follow(struct scan_page *sp, const struct scan_bytes *b, struct worklist *w,
                   unsigned off)
{
	struct x86_decoded d;
	int r = decode_at(b, off, &d);
	insn_note(b, off, r);
	cover_insn(sp->covered, off, r);
	bit_set(b->memo->fresh, off);
	if (r == X86_DECODE_SHORT) /* only possible across the page end */
		r = decode_operands_unknown(b, off, &d);
	if (r == X86_DECODE_SHORT) {
		add_patch(sp, b, off, SCAN_STRADDLE, 0);
		note_spill(sp, SCAN_SPILL_AMBIGUOUS);
		return;
	}
	if (r == X86_DECODE_INVALID)
		add_patch(sp, b, off, SCAN_FOREIGN, 0);
	if (r < 0) /* invalid, or too long: #UD or #GP natively, nothing runs after it */
		return;
	int kind = classify(&d, b->fpu_native);
	if (kind >= 0)
		add_patch(sp, b, off, kind, r);
	enum flow flow = flow_of(&d);
	bool falls = flow == FLOW_NEXT || flow == FLOW_BRANCH;
	unsigned end = off + (unsigned)r;
	/* The next page's bytes this instruction takes, or where its path
	 * goes on there: the next page's first instruction starts there. */
	if (end > PAGE || (end == PAGE && falls))
		note_spill(sp, (int)(end - PAGE));
	if (flow == FLOW_BRANCH || flow == FLOW_JUMP) {
		int32_t t = branch_target(&d, off);
		if (target_in_page(&d, t))
			reach(sp, w, (uint32_t)t & (PAGE - 1));
		else
			add_out(sp, b, t);
	}
	if (falls) {
		if (end < PAGE)
			reach(sp, w, end);
		else
			add_out(sp, b, (int32_t)end);
	}
}

/* Follows every path from @entry to its end: a transfer the scanner cannot
 * follow, the page end, a rejected encoding, or a start already known
 * (whatever follows from it was followed when it was recorded).  Returns
 * the lowest start it recorded, or PAGE if none. */
static unsigned descend(struct scan_page *sp, const struct scan_bytes *b, unsigned entry)
{
	struct worklist w; /* 8 KiB of stack; no state outside @sp */
	w.n = 0;
	w.lowest = PAGE;
	reach(sp, &w, entry);
	while (w.n)
		follow(sp, b, &w, w.off[--w.n]);
	return w.lowest;
}

/* Marks in sp->covered, afresh, the bytes of every recorded instruction. */
static void cover(struct scan_page *sp, const struct scan_bytes *b)
{
	memset(sp->covered, 0, sizeof(sp->covered));
	for (unsigned s = bit_find(sp->starts, 0, true); s < PAGE;
	     s = bit_find(sp->starts, s + 1, true))
		cover_insn(sp->covered, s, insn_len(b, s));
}

/* Where real code starts in [@a, @z) once the padding is skipped, or @z. */
static unsigned skip_padding(const struct scan_bytes *b, unsigned a, unsigned z)
{
	while (a < z) {
		struct scan_insn in = insn_at(b, a);
		if (in.len <= 0 || !(in.flags & INSN_PADDING))
			break;
		a += (unsigned)in.len;
	}
	return a;
}

/* True if a recorded instruction that ends a path (a return, a jump)
 * ends exactly at @a: what follows it is not reached by falling through,
 * and decoding on from @a goes on in step with the code before it. */
static bool path_ends_at(const struct scan_page *sp, const struct scan_bytes *b, unsigned a)
{
	for (unsigned s = a > X86_MAX_INSN_LEN ? a - X86_MAX_INSN_LEN : 0; s < a; s++) {
		if (!bit_test(sp->starts, s))
			continue;
		struct scan_insn in = insn_at(b, s);
		if (in.len > 0 && s + (unsigned)in.len == a)
			return in.flags & INSN_ENDS_PATH;
	}
	return false;
}

/* Where decoding is in step with the code that starts somewhere in
 * [@from, @from + 14] (at the page start, after however many bytes of the
 * previous page's last instruction; after an instruction the decoder
 * rejects, after however long it is): the first offset below @z that
 * decoding from each of those 15 offsets lands on, unless it met an
 * encoding the decoder rejects first (code does not, so that was not where
 * the code starts); @z if there is none.  x86 code decoded from a wrong
 * offset falls in step within a few instructions. */
static unsigned in_step_from(const struct scan_bytes *b, unsigned from, unsigned z)
{
	unsigned pos[X86_MAX_INSN_LEN];
	bool alive[X86_MAX_INSN_LEN];
	for (unsigned k = 0; k < X86_MAX_INSN_LEN; k++) {
		pos[k] = from + k;
		alive[k] = from + k < z;
	}
	for (;;) {
		unsigned lo = z, hi = 0;
		for (unsigned k = 0; k < X86_MAX_INSN_LEN; k++) {
			if (!alive[k])
				continue;
			lo = pos[k] < lo ? pos[k] : lo;
			hi = pos[k] > hi ? pos[k] : hi;
		}
		if (lo >= z)
			return z; /* none left, or not in step within the gap */
		if (lo == hi)
			return lo;
		int r = insn_at(b, lo).len;
		for (unsigned k = 0; k < X86_MAX_INSN_LEN; k++) {
			if (!alive[k] || pos[k] != lo)
				continue;
			if (r <= 0)
				alive[k] = false;
			else
				pos[k] += (unsigned)r;
		}
	}
}

/*
 * Code that only a pointer reaches (a handler, a callback) sits between
 * code the descent did reach, and would run unpatched if a native
 * indirect call got there.  So the scanner looks for compiled functions in
 * each gap between decoded instructions, by decoding the gap straight
 * through (a linear sweep) from its start, the end of a reached return or
 * jump, where the instruction stream goes on in step (compilers put no
 * data in x86 code; a jump table lives in .rodata).  A function is taken
 * to start where the sweep lands on a 16-byte boundary (compilers align
 * functions so) right after a return or jump and any padding or INT3
 * filler, and to be one when the sweep, every instruction valid, goes on
 * from there either to land exactly on the next decoded instruction (the
 * gap ends at reached code), or to a return or jump followed by NOP
 * padding up to the next 16-byte boundary (a compiled function's end; not
 * INT3 filler, nor a RET that ends on the boundary: a table of pointers
 * into a kernel at 0xCC000000 has C3 CC at a boundary's end often enough).
 * Several such functions may follow one another in a gap, after unreached
 * blocks of the code before them (cold paths, blocks only a jump table
 * reaches): each is scanned, and the gap looked at again.  A padding NOP
 * at a boundary may be a function's first instruction (Linux starts each
 * with a 5-byte NOP, ftrace's call site), so the boundary is the start,
 * not the end of the NOPs.
 *
 * Data sharing a page with code follows the last function (.rodata after
 * .text): to be taken for code, it must decode cleanly from there to a
 * 16-byte boundary after a return or jump (text has no C3 byte) and then
 * to a return or jump and NOP padding.  An instruction the decoder
 * rejects (SSE, say) has no known length, so the sweep loses step there;
 * a gap at the page start may begin in the tail of an instruction that
 * straddles into this page (decoding from byte 0 would put patches inside
 * it) or of the previous page's data.  In both cases the sweep goes on
 * from where decoding from every possible start falls in step
 * (in_step_from), and a function is found only after a return or jump met
 * from then on: not the one that holds the rejected instruction, nor the
 * page's first.  What is left out this way stays unseen, as monitor_scan.h
 * says.
 *
 * @after_end: a recorded return or jump ends at @a (path_ends_at()).
 * Returns the start of the first function found in [@a, @z), or @z.
 */
static unsigned gap_function(const struct scan_page *sp, const struct scan_bytes *b, unsigned a,
                             unsigned z, bool after_end)
{
	unsigned x = after_end ? a : in_step_from(b, a, z);
	unsigned cand = z; /* a boundary where a function may start */
	bool code = false; /* an instruction that is not filler since @cand */
	while (x < z) {
		if (x % 16 == 0 && after_end && !code)
			cand = x; /* the last boundary in a run of padding */
		struct scan_insn in = insn_at(b, x);
		if (in.len <= 0) { /* not code the decoder knows: start again after it */
			x = in_step_from(b, x + 1, z);
			after_end = code = false;
			cand = z;
			continue;
		}
		x += (unsigned)in.len;
		if (in.flags & INSN_FILLER)
			continue;
		code = cand < z;
		after_end = in.flags & INSN_ENDS_PATH;
		if (!after_end || !code)
			continue;
		unsigned boundary = (x + 15) & ~15u;
		if (x < boundary && boundary <= z && skip_padding(b, x, boundary) == boundary)
			return cand;
	}
	return code && x == z && z < PAGE && bit_test(sp->starts, z) ? cand : z;
}

/* All that gap_function()'s answer for the gap [@a, @z) depends on, but
 * for @a and the bytes: where the gap ends, and whether a path ends at its
 * start.  (It reads the starts only there and at @z, which is always one:
 * the first covered byte after a gap is where an instruction starts.) */
static uint16_t gap_key(unsigned z, bool after_end)
{
	return (uint16_t)(z | (after_end ? 0x8000u : 0));
}

/* True if gap_function() found no function in the gap [@a, @z) as it is
 * now, in this call or the last; sets @after_end as path_ends_at(@a). */
static bool gap_empty(const struct scan_page *sp, const struct scan_bytes *b, unsigned a,
                      unsigned z, bool *after_end)
{
	uint16_t key = b->memo->empty_gap[a];
	/* Whether a path ends at @a changes only with the starts just before
	 * it: with none new there, the key still holds it. */
	unsigned near = a > X86_MAX_INSN_LEN ? a - X86_MAX_INSN_LEN : 0;
	if (key == gap_key(z, key & 0x8000u) && !bit_any(b->memo->fresh, near, a)) {
		*after_end = key & 0x8000u;
		return true;
	}
	/* only padding or filler since a return or jump */
	*after_end = a > 0 && path_ends_at(sp, b, a);
	return key == gap_key(z, *after_end);
}

/* Scans the functions gap_function() finds between decoded instructions,
 * until none is left.  When it returns, every gap has been found empty as
 * it now is: the gaps before one where a function was found are looked at
 * again unless the new code lies wholly after their start, and then they
 * and the starts just before them are as they were. */
static void fill_gaps(struct scan_page *sp, const struct scan_bytes *b)
{
	unsigned a = bit_find(sp->covered, 0, false);
	while (a < PAGE) {
		unsigned z = bit_find(sp->covered, a, true);
		bool after_end;
		unsigned f = gap_empty(sp, b, a, z, &after_end)
		                     ? z
		                     : gap_function(sp, b, a, z, after_end);
		if (f < z) {
			/* new instructions (covered as they are followed): look
			 * at the gaps again; those before this one are as they
			 * were, unless the new code reaches back into them */
			unsigned first = descend(sp, b, f);
			a = bit_find(sp->covered, first < a ? 0 : a, false);
			continue;
		}
		b->memo->empty_gap[a] = gap_key(z, after_end);
		a = bit_find(sp->covered, z, false);
	}
}

/* Restores the invariant: a recorded instruction that holds a patch past
 * its first byte is patched as well.  Patches appended here are visited by
 * the same loop, so one pass reaches the fixed point. */
static void patch_overlaps(struct scan_page *sp, const struct scan_bytes *b)
{
	for (unsigned i = 0; i < sp->npatches; i++) {
		unsigned p = sp->patches[i].offset;
		for (unsigned s = p >= X86_MAX_INSN_LEN ? p - X86_MAX_INSN_LEN + 1 : 0; s < p;
		     s++) {
			if (!bit_test(sp->starts, s) || bit_test(sp->patched, s))
				continue;
			int r = insn_len(b, s);
			if (r > 0 && s + (unsigned)r > p)
				add_patch(sp, b, s, SCAN_OVERLAP, r);
		}
	}
}

_Static_assert(sizeof(((struct scan_page *)0)->seen) == PAGE + X86_MAX_INSN_LEN - 1,
               "scan_page.seen holds the page and the next bytes a decode may read");

/* How many bytes of @next a decode may read: the rest of an instruction
 * that starts in the page's last byte. */
static size_t next_used(const struct scan_bytes *b)
{
	return !b->next                             ? 0
	       : b->next_len < X86_MAX_INSN_LEN - 1 ? b->next_len
	                                            : X86_MAX_INSN_LEN - 1;
}

/* True if @b holds the bytes the last call on @sp saw (see keep()). */
static bool same_bytes(const struct scan_page *sp, const struct scan_bytes *b)
{
	if (!sp->kept || sp->seen_next_len != next_used(b))
		return false;
	uint64_t diff = 0; /* a word at a time: the vCPU's memcmp() goes by bytes */
	for (unsigned i = 0; i < PAGE; i += 8) {
		uint64_t x, y;
		memcpy(&x, b->page + i, 8);
		memcpy(&y, sp->seen + i, 8);
		diff |= x ^ y;
	}
	return !diff &&
	       (!sp->seen_next_len || !memcmp(b->next, sp->seen + PAGE, sp->seen_next_len));
}

/* Keeps in @sp what the next call may take over if the bytes are the
 * same: the bytes (unless @same says they are already) and, per gap, the
 * key that fill_gaps() found it empty with. */
static void keep(struct scan_page *sp, const struct scan_bytes *b, bool same)
{
	if (!same) {
		memcpy(sp->seen, b->page, PAGE);
		sp->seen_next_len = (uint8_t)next_used(b);
		if (sp->seen_next_len)
			memcpy(sp->seen + PAGE, b->next, sp->seen_next_len);
		sp->kept = true;
	}
	memset(sp->gap_after_end, 0, sizeof(sp->gap_after_end));
	for (unsigned a = bit_find(sp->covered, 0, false); a < PAGE;) {
		if (b->memo->empty_gap[a] & 0x8000u)
			bit_set(sp->gap_after_end, a);
		a = bit_find(sp->covered, bit_find(sp->covered, a, true), false);
	}
}

/* Takes over what keep() kept: the gaps are as the last call left them. */
static void recall(const struct scan_page *sp, const struct scan_bytes *b)
{
	for (unsigned a = bit_find(sp->covered, 0, false); a < PAGE;) {
		unsigned z = bit_find(sp->covered, a, true);
		b->memo->empty_gap[a] = gap_key(z, bit_test(sp->gap_after_end, a));
		a = bit_find(sp->covered, z, false);
	}
}

int scan_page(struct scan_page *sp, const uint8_t *page, const uint8_t *next, size_t next_len,
              bool code32, const uint16_t *entries, size_t nentries)
{
	struct scan_memo memo; /* 17 KiB of stack: no state outside @sp */
	memset(&memo, 0, sizeof(memo));
	const struct scan_bytes b = { page, next, next_len, code32, scan_fpu_native, &memo };
	memset(sp, 0, sizeof(*sp));
	sp->code32 = code32;
	sp->fpu_native = scan_fpu_native;
	sp->spill = SCAN_SPILL_NONE;
	for (size_t i = 0; i < nentries; i++)
		if ((entries[i] & ~SCAN_ENTRY_HEAD) >= PAGE)
			return -EINVAL;
	for (size_t i = 0; i < nentries; i++)
		descend(sp, &b, entries[i] & ~SCAN_ENTRY_HEAD);
	fill_gaps(sp, &b);
	patch_overlaps(sp, &b);
	keep(sp, &b, false);
	return sp->full ? -ENOSPC : sp->npatches;
}

int scan_add_entry(struct scan_page *sp, const uint8_t *page, const uint8_t *next, size_t next_len,
                   bool code32, uint16_t entry)
{
	unsigned e = entry & ~SCAN_ENTRY_HEAD;
	if (e >= PAGE || code32 != sp->code32)
		return -EINVAL;
	struct scan_memo memo; /* 17 KiB of stack: no state outside @sp */
	memset(&memo, 0, sizeof(memo));
	/* the page's own policy, so that its patches stay consistent (the
	 * monitor drops every scan when the policy changes) */
	const struct scan_bytes b = { page, next, next_len, code32, sp->fpu_native, &memo };
	index_outs(sp, &b);
	bool same = same_bytes(sp, &b);
	if (same)
		recall(sp, &b);
	unsigned before = sp->npatches;
	descend(sp, &b, e);
	if (!same)
		cover(sp, &b);
	fill_gaps(sp, &b);
	patch_overlaps(sp, &b);
	keep(sp, &b, same);
	return sp->full ? -ENOSPC : (int)(sp->npatches - before);
}

bool scan_is_start(const struct scan_page *sp, uint16_t offset)
{
	return offset < PAGE && bit_test(sp->starts, offset);
}

void scan_apply(const struct scan_page *sp, uint8_t *copy)
{
	for (unsigned i = 0; i < sp->npatches; i++)
		copy[sp->patches[i].offset] = 0xcc;
}

const struct scan_patch *scan_find(const struct scan_page *sp, uint16_t offset)
{
	if (offset >= PAGE || !bit_test(sp->patched, offset))
		return NULL;
	for (unsigned i = 0; i < sp->npatches; i++)
		if (sp->patches[i].offset == offset)
			return &sp->patches[i];
	return NULL;
}
