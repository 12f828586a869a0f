/*
 * Can this host run 32-bit code in compatibility mode on LDT descriptors?
 * Some kernels cannot (no IA-32 emulation, or an LDT the CPU never sees),
 * and there the monitor must not be chosen.  The probe runs one INT3 in a
 * scratch page at the top of the guest's 4 GiB, which no guest RAM reaches.
 */
#include "monitor_probe.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "monitor_ldt.h"
#include "monitor_space.h"
#include "monitor_switch.h"

#define PROBE_PAGE (MONITOR_SPACE_END - 2 * MONITOR_PAGE)

int monitor_probe(struct monitor_ldt *ldt, char *err, size_t errlen)
{
	void *va = (void *)(uintptr_t)PROBE_PAGE;
	if (mmap(va, MONITOR_PAGE, PROT_READ | PROT_WRITE | PROT_EXEC,
	         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) {
		snprintf(err, errlen, "cannot map the probe page: %s", strerror(errno));
		return -errno;
	}
	static const uint8_t code[] = {
		0xb8, 0x78, 0x56, 0x34, 0x12, 0xcc
	}; /* mov $0x12345678, %eax; int3 */
	memcpy(va, code, sizeof(code));

	struct x86_seg seg[6];
	for (int i = 0; i < 6; i++)
		seg[i] = (struct x86_seg){ 0x10, 0, 0xffffffff, 0xc093 };
	seg[X86_CS] = (struct x86_seg){ 0x08, 0, 0xffffffff, 0xc09b };
	uint16_t sel[6];
	int r = monitor_ldt_sync(ldt, seg, sel, 0);
	if (r < 0) {
		snprintf(err, errlen, "modify_ldt: %s", strerror(-r));
		goto out;
	}
	struct monitor_frame *f = &monitor_frame;
	memset(f->r, 0, sizeof(f->r));
	f->r[4] = (uint32_t)(PROBE_PAGE + MONITOR_PAGE);
	f->eip = (uint32_t)PROBE_PAGE;
	f->eflags = 0x202;
	monitor_frame_set_segs(f, sel);
	monitor_enter();
	if (f->entry_failed || f->signo != SIGTRAP || f->r[0] != 0x12345678 ||
	    f->eip != PROBE_PAGE + sizeof(code)) {
		snprintf(err, errlen,
		         "this host cannot run 32-bit code in compatibility mode on LDT "
		         "descriptors (the probe got signal %d%s)",
		         f->signo, f->entry_failed ? " on entry" : "");
		r = -ENODEV;
	}
out:
	/* back to the reservation */
	monitor_space_reserve(PROBE_PAGE, MONITOR_PAGE);
	return r;
}
