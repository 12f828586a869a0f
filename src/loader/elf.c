/*
 * Plain ELF kernels: ELF32 for i386, entered in 32-bit protected mode, and
 * ELF64 for x86-64, entered in long mode.  Segments are loaded by physical
 * address (p_paddr), as boot loaders do.  Every header field is checked
 * against the file and guest RAM before a byte is copied.
 *
 * The entry point: a kernel linked at a high virtual address but loaded low
 * (p_vaddr != p_paddr) names a virtual e_entry.  As GRUB 2 does, an e_entry
 * inside a segment's virtual range is moved by that segment's p_paddr -
 * p_vaddr, so the CPU, with paging off, starts at the bytes the kernel meant.
 */
#include <elf.h>
#include <stdbool.h>
#include <stdio.h>

#include "loader_util.h"

/* What the two ELF classes share, read from either. */
struct elf_phdr_info {
	uint32_t type;
	uint64_t offset, vaddr, paddr, filesz, memsz;
};

int elf_probe(const uint8_t *img, size_t size)
{
	return size >= EI_NIDENT && memcmp(img, ELFMAG, SELFMAG) == 0;
}

static int elf_check_ident(const uint8_t *img, size_t size, const char *name, int want_class,
                           char *err)
{
	size_t ehsize = want_class == ELFCLASS64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	if (size < ehsize)
		return loader_fail(err, "%s: ELF header is truncated", name);
	if (img[EI_DATA] != ELFDATA2LSB || img[EI_VERSION] != EV_CURRENT)
		return loader_fail(err, "%s: not a little-endian ELF version 1 file", name);
	uint16_t type = rd16(img + 16), machine = rd16(img + 18);
	if (type != ET_EXEC)
		return loader_fail(err, "%s: ELF type %u is not an executable", name, type);
	if (machine != (want_class == ELFCLASS64 ? EM_X86_64 : EM_386))
		return loader_fail(err, "%s: ELF machine %u is not %s", name, machine,
		                   want_class == ELFCLASS64 ? "x86-64" : "i386");
	return 0;
}

/* Reads program header @i after checking the table lies in the file. */
static int elf_phdr(const uint8_t *img, size_t size, const char *name, bool is64, unsigned i,
                    struct elf_phdr_info *ph, char *err)
{
	uint64_t phoff = is64 ? rd64(img + 32) : rd32(img + 28);
	uint16_t phentsize = rd16(img + (is64 ? 54 : 42));
	size_t want = is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	if (phentsize < want)
		return loader_fail(err, "%s: ELF program header size %u is too small", name,
		                   phentsize);
	uint64_t off = phoff + (uint64_t)i * phentsize;
	if (off < phoff || off > size || size - off < want)
		return loader_fail(err, "%s: ELF program header %u lies past the end of the file",
		                   name, i);
	const uint8_t *p = img + off;
	if (is64) {
		*ph = (struct elf_phdr_info){ rd32(p),      rd64(p + 8),  rd64(p + 16),
			                      rd64(p + 24), rd64(p + 32), rd64(p + 40) };
	} else {
		*ph = (struct elf_phdr_info){ rd32(p),      rd32(p + 4),  rd32(p + 8),
			                      rd32(p + 12), rd32(p + 16), rd32(p + 20) };
	}
	return 0;
}

/* Moves a virtual e_entry inside segment @ph to its physical address. */
static void elf_entry_translate(const struct elf_phdr_info *ph, uint64_t e_entry,
                                struct loader_extent *ext)
{
	if (e_entry >= ph->vaddr && e_entry - ph->vaddr < ph->memsz)
		ext->entry = ph->paddr + (e_entry - ph->vaddr);
}

/* Checks PT_LOAD program header @i against the file and guest RAM. */
static int elf_check_segment(const struct mem *m, const struct elf_phdr_info *ph, size_t size,
                             const char *name, unsigned i, char *err)
{
	char what[48];
	if (ph->filesz > ph->memsz)
		return loader_fail(
		        err,
		        "%s: ELF program header %u has a file size larger than its memory size",
		        name, i);
	if (ph->offset > size || ph->filesz > size - ph->offset)
		return loader_fail(err, "%s: ELF program header %u ends past the end of the file",
		                   name, i);
	snprintf(what, sizeof(what), "ELF segment %u", i);
	return loader_check_range(m, ph->paddr, ph->memsz, name, what, err);
}

/* Pass 0 checks every program header and finds the extent and entry; pass
 * 1, reached only when all of it is sound, copies. */
static int elf_load_segments(struct mem *m, const uint8_t *img, size_t size, const char *name,
                             bool is64, struct loader_extent *ext, char *err)
{
	uint16_t phnum = rd16(img + (is64 ? 56 : 44));
	uint64_t e_entry = is64 ? rd64(img + 24) : rd32(img + 24);

	*ext = (struct loader_extent){ UINT64_MAX, 0, e_entry };
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < phnum; i++) {
			struct elf_phdr_info ph = { 0 };
			if (elf_phdr(img, size, name, is64, i, &ph, err) < 0)
				return -1;
			if (ph.type != PT_LOAD || ph.memsz == 0)
				continue;
			if (pass == 1) {
				mem_write(m, ph.paddr, img + ph.offset, ph.filesz);
				memset(mem_ptr(m, ph.paddr + ph.filesz, ph.memsz - ph.filesz), 0,
				       ph.memsz - ph.filesz);
				continue;
			}
			if (elf_check_segment(m, &ph, size, name, i, err) < 0)
				return -1;
			if (ph.paddr < ext->lo)
				ext->lo = ph.paddr;
			if (ph.paddr + ph.memsz > ext->hi)
				ext->hi = ph.paddr + ph.memsz;
			elf_entry_translate(&ph, e_entry, ext);
		}
		if (pass == 1)
			break;
		if (ext->hi == 0)
			return loader_fail(err, "%s: ELF file has no loadable segment", name);
		if (!mem_ptr(m, ext->entry, 1))
			return loader_fail(err, "%s: ELF entry point 0x%llx is outside guest RAM",
			                   name, (unsigned long long)ext->entry);
	}
	return 0;
}

int elf_load_image(struct mem *m, const uint8_t *img, size_t size, const char *name,
                   struct loader_extent *ext, char *err)
{
	int cls = size > EI_CLASS ? img[EI_CLASS] : 0;
	if (cls != ELFCLASS32 && cls != ELFCLASS64)
		return loader_fail(err, "%s: unknown ELF class %d", name, cls);
	if (elf_check_ident(img, size, name, cls, err) < 0)
		return -1;
	bool is64 = cls == ELFCLASS64;
	if (elf_load_segments(m, img, size, name, is64, ext, err) < 0)
		return -1;
	return is64 ? 64 : 32;
}

int elf_load(struct mem *m, const struct loader_args *a, struct boot_entry *e, char *err)
{
	struct loader_extent ext;
	int bits = elf_load_image(m, a->image, a->image_size, a->image_name, &ext, err);
	if (bits < 0)
		return -1;
	e->mode = bits == 64 ? BOOT_LONG64 : BOOT_PM32_FLAT;
	e->rip = ext.entry;
	return 0;
}
