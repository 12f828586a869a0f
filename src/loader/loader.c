/*
 * Reading kernel files and choosing the format.
 *
 * Multiboot wins over ELF because a multiboot kernel is usually also an ELF
 * file, and its header is what says how it wants to be booted.
 */
#include "loader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loader_util.h"

int loader_fail(char *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, LOADER_ERR_LEN, fmt, ap);
	va_end(ap);
	return -1;
}

int loader_check_range(const struct mem *m, uint64_t gpa, uint64_t len, const char *name,
                       const char *what, char *err)
{
	uint64_t end = gpa + len;
	if (end < gpa || !mem_ptr(m, gpa, len))
		return loader_fail(
		        err,
		        "%s: %s at 0x%llx (0x%llx bytes) does not fit in %llu MiB of guest RAM",
		        name, what, (unsigned long long)gpa, (unsigned long long)len,
		        (unsigned long long)(m->size >> 20));
	if (len && gpa < 0x1000)
		return loader_fail(err, "%s: %s at 0x%llx overlaps page 0", name, what,
		                   (unsigned long long)gpa);
	if (len && gpa < LOADER_VGA_END && end > LOADER_VGA_START)
		return loader_fail(err,
		                   "%s: %s at 0x%llx..0x%llx overlaps VGA memory 0xa0000..0xc0000",
		                   name, what, (unsigned long long)gpa, (unsigned long long)end);
	return 0;
}

int loader_load(struct mem *m, const struct loader_args *a, struct boot_entry *e, char *err)
{
	memset(e, 0, sizeof(*e));
	if (a->image_size == 0)
		return loader_fail(err, "%s: the file is empty", a->image_name);
	int mb = multiboot_probe(a->image, a->image_size);
	if (mb < 0)
		return loader_fail(err, "%s: multiboot header checksum is wrong", a->image_name);
	if (a->initrd && !linux_probe(a->image, a->image_size))
		return loader_fail(err,
		                   "%s: an initrd needs a Linux bzImage kernel (multiboot kernels "
		                   "take --module)",
		                   a->image_name);
	if (mb)
		return multiboot_load(m, a, e, err);
	if (a->nmodules)
		return loader_fail(err, "%s: modules need a multiboot kernel", a->image_name);
	if (elf_probe(a->image, a->image_size))
		return elf_load(m, a, e, err);
	/* A bzImage (boot sector signature and "HdrS") before the flat
	 * fallback, which would run its 16-bit setup code in 32-bit mode. */
	if (linux_probe(a->image, a->image_size))
		return linux_load(m, a, e, err);
	return flat_load(m, a, e, err);
}

int loader_read_file(const char *path, size_t max, uint8_t **data, size_t *size, char *err)
{
	struct stat st;
	*data = NULL;
	*size = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return loader_fail(err, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		close(fd);
		return loader_fail(err, "%s: %s", path, strerror(errno));
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return loader_fail(err, "%s: is a directory", path);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return loader_fail(err, "%s: not a regular file", path);
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return loader_fail(err, "%s: %lld bytes is larger than guest RAM", path,
		                   (long long)st.st_size);
	}
	size_t len = (size_t)st.st_size;
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf) {
		close(fd);
		return loader_fail(err, "%s: out of memory", path);
	}
	size_t got = 0;
	while (got < len) {
		ssize_t r = read(fd, buf + got, len - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			int e = r < 0 ? errno : EIO;
			free(buf);
			close(fd);
			return loader_fail(err, "%s: %s", path,
			                   r < 0 ? strerror(e) : "file shrank while reading");
		}
		got += (size_t)r;
	}
	close(fd);
	if (len == 0) {
		free(buf);
		return loader_fail(err, "%s: the file is empty", path);
	}
	*data = buf;
	*size = len;
	return 0;
}
