/*
 * Flat binaries: the raw bytes at 1 MiB, entered there in 32-bit protected
 * mode with flat 4 GiB segments and paging off (what Bochs'
 * load32bitOSImage did for plex86's nullkernel).  ESP is 0: the image sets
 * up its own stack.
 */
#include "loader_util.h"

#define FLAT_LOAD_ADDR 0x100000ull

int flat_load(struct mem *m, const struct loader_args *a, struct boot_entry *e, char *err)
{
	if (a->image_size == 0)
		return loader_fail(err, "%s: the file is empty", a->image_name);
	if (loader_check_range(m, FLAT_LOAD_ADDR, a->image_size, a->image_name, "flat image", err) <
	    0)
		return -1;
	mem_write(m, FLAT_LOAD_ADDR, a->image, a->image_size);
	e->mode = BOOT_PM32_FLAT;
	e->rip = FLAT_LOAD_ADDR;
	return 0;
}
