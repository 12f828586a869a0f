/*
 * Guest physical memory.
 *
 * RAM is one memfd mapped once into plexvm.  Every loader, device and engine
 * reaches guest memory through mem_ptr(), which takes (guest physical address,
 * length) and refuses a range that overflows or leaves RAM, so a guest-chosen
 * address can never index outside the mapping.
 */
#ifndef PLEXVM_MEM_H
#define PLEXVM_MEM_H

#include <stddef.h>
#include <stdint.h>

typedef uint64_t gpa_t; /* guest physical address */

struct mem {
	int fd;        /* memfd backing RAM, for engines that map it again */
	uint8_t *host; /* host mapping of all of RAM */
	uint64_t size; /* bytes of RAM, a multiple of 4 KiB */
};

/* Upper bound on guest RAM: the 32-bit guests we run see at most 3 GiB below
 * the PCI hole.  Smallest: 1 MiB + room for a kernel. */
#define MEM_MIN_SIZE (2ull << 20)
#define MEM_MAX_SIZE (3ull << 30)

/* Creates RAM of @size bytes (rounded up to 4 KiB). Returns 0 or -errno. */
int mem_init(struct mem *m, uint64_t size);
void mem_free(struct mem *m);

/* Host pointer to [gpa, gpa+len) if that range lies wholly in RAM, else NULL.
 * len 0 is allowed and yields a pointer when gpa <= size. */
void *mem_ptr(const struct mem *m, gpa_t gpa, uint64_t len);

/* Copy helpers built on mem_ptr(); return 0 or -EFAULT. */
int mem_read(const struct mem *m, gpa_t gpa, void *dst, uint64_t len);
int mem_write(struct mem *m, gpa_t gpa, const void *src, uint64_t len);

#endif
