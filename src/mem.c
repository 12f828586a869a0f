/*
 * Guest RAM (see mem.h): one memfd, mapped once, reached only through
 * mem_ptr()'s bounds check.
 */
#include "mem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE_SIZE 4096ull

int mem_init(struct mem *m, uint64_t size)
{
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if (size < MEM_MIN_SIZE || size > MEM_MAX_SIZE)
		return -EINVAL;
	size = (size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	int fd = memfd_create("plexvm-ram", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) != 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	/* No address hint: a 64-bit process's mappings land far above 4 GiB,
	 * which leaves the low 4 GiB free for an engine that wants them. */
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
	if (p == MAP_FAILED) {
		int e = errno;
		close(fd);
		return -e;
	}
	m->fd = fd;
	m->host = p;
	m->size = size;
	return 0;
}

void mem_free(struct mem *m)
{
	if (m->host)
		munmap(m->host, m->size);
	if (m->fd >= 0)
		close(m->fd);
	m->host = NULL;
	m->fd = -1;
	m->size = 0;
}

void *mem_ptr(const struct mem *m, gpa_t gpa, uint64_t len)
{
	/* Written so that no sum can wrap: gpa <= size, then len <= size - gpa. */
	if (gpa > m->size || len > m->size - gpa)
		return NULL;
	return m->host + gpa;
}

int mem_read(const struct mem *m, gpa_t gpa, void *dst, uint64_t len)
{
	const void *p = mem_ptr(m, gpa, len);
	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

int mem_write(struct mem *m, gpa_t gpa, const void *src, uint64_t len)
{
	void *p = mem_ptr(m, gpa, len);
	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}
