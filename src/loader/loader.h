/*
 * Kernel loaders.
 *
 * A loader takes an image already read into host memory, checks every header
 * field against the image size and against guest RAM, copies the image into
 * guest memory and returns the CPU state to enter it with.  Loaders never
 * touch an engine: the engine builds its CPU from struct boot_entry.
 *
 * On failure a loader returns -1 and writes a one-line reason (no trailing
 * newline) to the caller's buffer; plexvm prints it and exits with status 4.
 */
#ifndef PLEXVM_LOADER_H
#define PLEXVM_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "../mem.h"

enum boot_mode {
	BOOT_PM32_FLAT, /* 32-bit protected mode, flat 4 GiB CS/DS, no paging */
	BOOT_LONG64,    /* 64-bit long mode, identity paging (plain ELF64) */
};

struct boot_entry {
	enum boot_mode mode;
	uint64_t rip;
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
};

struct loader_module {
	const char *path;
	const char *cmdline; /* may be NULL */
	const uint8_t *data;
	size_t size;
};

struct loader_args {
	const uint8_t *image;
	size_t image_size;
	const char *image_name; /* for messages */
	const char *cmdline;    /* may be NULL */
	const struct loader_module *modules;
	int nmodules;
	const uint8_t *initrd; /* a Linux initrd, or NULL */
	size_t initrd_size;
	const char *initrd_name;
};

#define LOADER_ERR_LEN 256

/* Detects the format (multiboot, ELF32/64, else flat) and loads it. */
int loader_load(struct mem *m, const struct loader_args *a, struct boot_entry *e, char *err);

/* The individual formats. Each returns 0, -1 with err set, or (probe
 * functions) 1 when the image is of that format. */
int multiboot_probe(const uint8_t *image, size_t size);
int multiboot_load(struct mem *m, const struct loader_args *a, struct boot_entry *e, char *err);
int elf_probe(const uint8_t *image, size_t size);
int elf_load(struct mem *m, const struct loader_args *a, struct boot_entry *e, char *err);
int linux_probe(const uint8_t *image, size_t size);
int linux_load(struct mem *m, const struct loader_args *a, struct boot_entry *e, char *err);
int flat_load(struct mem *m, const struct loader_args *a, struct boot_entry *e, char *err);

/* Reads a whole file into a malloc'd buffer (bounded by @max bytes).
 * Returns 0, or -1 with err naming the file and the problem. */
int loader_read_file(const char *path, size_t max, uint8_t **data, size_t *size, char *err);

#endif
