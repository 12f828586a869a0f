/* ldlayout: a kernel linked by GNU ld's default script, as one built
 * without a linker script of its own is (`ld -m elf_i386 -Ttext=0x100000`,
 * guests.mk).  That layout (-z separate-code) has four PT_LOAD segments:
 * the ELF and program headers read-only one page below .text (0xFF000),
 * .text, .rodata, and .data with .bss, each on pages of its own.  A loader
 * must load all of them, the headers too (QEMU does), and zero the BSS;
 * plexvm once refused the first, which lies in the PC's hole below 1 MiB.
 *
 * The kernel checks that a multiboot loader entered it, reads its own ELF
 * header and program headers from the page below .text, and checks that
 * each of its sections lies in a segment with the right permissions and
 * holds what the linker put there. */
#include "test.h"

uint32_t ldlayout_magic, ldlayout_info; /* set by ldlayout.S */
extern const char ldlayout_text[];      /* the start of .text (ldlayout.S) */

/* In .rodata, .data and .bss: values only a correct load gives, read
 * through volatile (so the compiler reads memory instead of using what it
 * knows; a const volatile object would go to .data). */
static const uint32_t ld_rodata[4] = { 0x9e3779b9, 0x7f4a7c15, 0xf39cc060, 0x5ced1a2f };
static volatile uint32_t ld_data[4] = { 0xfeedface, 0xcafef00d, 0x8badf00d, 0xdeadbeef };
static volatile uint32_t ld_bss[1024];

/* The ELF32 header and program header fields read here (System V ABI). */
#define LD_PT_LOAD 1
#define LD_PF_X 1
#define LD_PF_W 2
#define LD_PF_R 4
#define LD_MAX_PHDRS 16
struct ld_ehdr {
	uint8_t ident[16];
	uint16_t type, machine;
	uint32_t version, entry, phoff, shoff, flags;
	uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct ld_phdr {
	uint32_t type, offset, vaddr, paddr, filesz, memsz, flags, align;
};

static const struct ld_phdr *ld_phdrs;
static unsigned ld_nphdrs;

/* The flags of the PT_LOAD segment holding [addr, addr + len), or -1. */
static int ld_segment_flags(const volatile void *addr, uint32_t len)
{
	uint32_t a = (uint32_t)addr;
	for (unsigned i = 0; i < ld_nphdrs; i++) {
		const struct ld_phdr *p = &ld_phdrs[i];
		if (p->type == LD_PT_LOAD && a >= p->vaddr && a - p->vaddr <= p->memsz &&
		    len <= p->memsz - (a - p->vaddr))
			return (int)(p->flags & 7);
	}
	return -1;
}

/* Finds the headers one page below .text and lists the segments. */
static int ld_read_headers(void)
{
	const struct ld_ehdr *h = (const void *)(((uint32_t)ldlayout_text & ~0xfffu) - 0x1000);
	printf("ELF header at 0x%x\n", (uint32_t)h);
	if (!test_eq(*(const uint32_t *)h->ident, 0x464c457f, "ELF magic below .text"))
		return 0;
	if (!test_check(h->phentsize == sizeof(struct ld_phdr) && h->phnum <= LD_MAX_PHDRS &&
	                        h->phoff + h->phnum * sizeof(struct ld_phdr) <= 0x1000,
	                "program headers: %u of %u bytes at offset 0x%x", h->phnum,
	                h->phentsize, h->phoff))
		return 0;
	ld_phdrs = (const void *)((const char *)h + h->phoff);
	ld_nphdrs = h->phnum;
	for (unsigned i = 0; i < ld_nphdrs; i++) {
		const struct ld_phdr *p = &ld_phdrs[i];
		if (p->type == LD_PT_LOAD)
			printf("LOAD offset 0x%05x at 0x%x, 0x%x bytes (0x%x in the file) %c%c%c\n",
			       p->offset, p->vaddr, p->memsz, p->filesz,
			       p->flags & LD_PF_R ? 'R' : '-', p->flags & LD_PF_W ? 'W' : '-',
			       p->flags & LD_PF_X ? 'X' : '-');
	}
	/* The headers themselves: file offset 0, read-only, where we found
	 * them. Else ld's default changed and this kernel tests nothing. */
	test_eq(ld_segment_flags(h, sizeof(*h)), LD_PF_R, "the headers' segment");
	return 1;
}

static void ld_check_sections(void)
{
	test_eq(ld_segment_flags(ldlayout_text, 16), LD_PF_R | LD_PF_X, ".text's segment");
	test_eq(ld_segment_flags(ld_rodata, sizeof(ld_rodata)), LD_PF_R, ".rodata's segment");
	test_eq(ld_segment_flags(ld_data, sizeof(ld_data)), LD_PF_R | LD_PF_W, ".data's segment");
	test_eq(ld_segment_flags(ld_bss, sizeof(ld_bss)), LD_PF_R | LD_PF_W, ".bss's segment");
	const volatile uint32_t *ro = ld_rodata;
	test_eq(ro[0], 0x9e3779b9, ".rodata word 0");
	test_eq(ro[3], 0x5ced1a2f, ".rodata word 3");
	test_eq(ld_data[0], 0xfeedface, ".data word 0");
	test_eq(ld_data[3], 0xdeadbeef, ".data word 3");
	uint32_t nonzero = 0;
	for (int i = 0; i < 1024; i++)
		nonzero |= ld_bss[i];
	test_eq(nonzero, 0, ".bss is zero");
}

void test_main(void)
{
	printf("ldlayout: a kernel laid out by GNU ld's default script\n");
	test_eq(ldlayout_magic, 0x2BADB002, "multiboot magic in EAX");
	if (ld_read_headers())
		ld_check_sections();
}
