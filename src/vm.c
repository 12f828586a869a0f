/*
 * VM lifecycle: read the kernel, make RAM and the PC, load, pick an engine,
 * run it until the guest stops, report why.
 */
#include "vm.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine.h"
#include "exit_status.h"
#include "loader/loader.h"
#include "log.h"
#include "machine_pc.h"
#include "stats.h"
#include "stop_signal.h"

/* The built-in demo guest, linked in by demo_guest.S. */
extern const uint8_t demo_guest_start[], demo_guest_end[];

void vm_stop(struct vm *vm, int status, const char *fmt, ...)
{
	if (vm->stopped)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(vm->stop_reason, sizeof(vm->stop_reason), fmt, ap);
	va_end(ap);
	vm->exit_status = status;
	vm->stopped = true;
}

uint64_t vm_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool vm_irq_pending(struct vm *vm)
{
	return machine_pc_irq_pending(vm->machine);
}

int vm_irq_ack(struct vm *vm)
{
	stats_add(vm->stats, "interrupts", "delivered", 1);
	return machine_pc_irq_ack(vm->machine);
}

/* SIGINT, SIGTERM or SIGHUP arrived: the run ends (stop_signal.h). */
static void vm_check_stop_signal(struct vm *vm)
{
	int sig = stop_signal_taken();
	if (sig)
		vm_stop(vm, 128 + sig, "terminating on signal %d (%s)", sig, strsignal(sig));
}

void vm_poll(struct vm *vm)
{
	vm_check_stop_signal(vm);
	machine_pc_poll(vm->machine, vm_now_ns());
}

uint64_t vm_next_deadline_ns(struct vm *vm)
{
	return machine_pc_next_deadline(vm->machine);
}

void vm_wait(struct vm *vm)
{
	stats_add(vm->stats, "exits", "hlt-wait", 1);
	while (!vm->stopped) {
		uint64_t now = vm_now_ns();
		vm_check_stop_signal(vm);
		machine_pc_poll(vm->machine, now);
		if (vm->stopped || vm_irq_pending(vm))
			return;
		uint64_t deadline = machine_pc_next_deadline(vm->machine);
		struct pollfd p = { .fd = machine_pc_input_fd(vm->machine), .events = POLLIN };
		if (deadline == UINT64_MAX && p.fd < 0) {
			/* No timer is armed and no input can arrive: a real PC
			 * would sit there forever.  Stop instead of hanging. */
			vm_stop(vm, EXIT_CRASH,
			        "the guest halted waiting for an interrupt, and no timer or input "
			        "can raise one");
			return;
		}
		struct timespec ts, *tsp = NULL;
		if (deadline != UINT64_MAX) {
			uint64_t wait = deadline > now ? deadline - now : 0;
			ts.tv_sec = (time_t)(wait / 1000000000ull);
			ts.tv_nsec = (long)(wait % 1000000000ull);
			tsp = &ts;
		}
		machine_pc_flush_output(vm->machine); /* the guest idles: show its output now */
		ppoll(&p, p.fd >= 0 ? 1 : 0, tsp, NULL);
	}
}

/* Engines in the order --engine auto tries them. */
static const struct engine_ops *vm_engine_ops(enum engine_kind kind)
{
	switch (kind) {
	case ENGINE_KVM: return &engine_kvm;
	case ENGINE_EMU: return &engine_emu;
	case ENGINE_MONITOR: return &engine_monitor;
	default: return NULL;
	}
}

static int vm_create_engine(struct vm *vm)
{
	static const enum engine_kind auto_order[] = { ENGINE_MONITOR, ENGINE_KVM, ENGINE_EMU };
	char err[256] = "";
	enum engine_kind kind = vm->cfg->engine;

	if (kind != ENGINE_AUTO) {
		vm->engine = vm_engine_ops(kind);
		if (!vm->engine) {
			log_error("the %s engine does not exist yet", config_engine_name(kind));
			return EXIT_USAGE;
		}
		int r = vm->engine->create(vm, &vm->engine_ctx, err, sizeof(err));
		if (r == 0)
			return 0;
		log_error("%s engine: %s", vm->engine->name, err[0] ? err : strerror(-r));
		vm->engine = NULL;
		return EXIT_HOST;
	}
	for (size_t i = 0; i < sizeof(auto_order) / sizeof(auto_order[0]); i++) {
		vm->engine = vm_engine_ops(auto_order[i]);
		if (!vm->engine)
			continue;
		int r = vm->engine->create(vm, &vm->engine_ctx, err, sizeof(err));
		if (r == 0)
			return 0;
		if (r != -ENODEV) {
			log_error("%s engine: %s", vm->engine->name, err[0] ? err : strerror(-r));
			vm->engine = NULL;
			return EXIT_HOST;
		}
	}
	vm->engine = NULL;
	log_error("no engine can run on this host: %s", err);
	return EXIT_HOST;
}

/* Reads the kernel and modules and loads them into RAM. Returns 0 or an
 * exit status. */
static int vm_load(struct vm *vm, struct boot_entry *entry)
{
	const struct config *cfg = vm->cfg;
	char err[LOADER_ERR_LEN] = "";
	struct loader_module mods[CONFIG_MAX_MODULES];
	uint8_t *image = NULL, *initrd = NULL;
	size_t image_size = 0;
	int status = EXIT_LOAD;
	int nmods = 0;

	struct loader_args a = { .cmdline = cfg->append, .modules = mods };
	if (cfg->kernel) {
		if (loader_read_file(cfg->kernel, vm->mem.size, &image, &image_size, err) < 0)
			goto out;
		a.image = image;
		a.image_size = image_size;
		a.image_name = cfg->kernel;
	} else {
		a.image = demo_guest_start;
		a.image_size = (size_t)(demo_guest_end - demo_guest_start);
		a.image_name = "built-in demo guest";
	}
	for (; nmods < cfg->nmodules; nmods++) {
		struct loader_module *mod = &mods[nmods];
		uint8_t *data;
		mod->path = cfg->modules[nmods].path;
		mod->cmdline = cfg->modules[nmods].cmdline;
		if (loader_read_file(mod->path, vm->mem.size, &data, &mod->size, err) < 0)
			goto out;
		mod->data = data;
	}
	a.nmodules = nmods;
	if (cfg->initrd) {
		if (loader_read_file(cfg->initrd, vm->mem.size, &initrd, &a.initrd_size, err) < 0)
			goto out;
		a.initrd = initrd;
		a.initrd_name = cfg->initrd;
	}
	if (loader_load(&vm->mem, &a, entry, err) == 0)
		status = 0;
out:
	if (status)
		log_error("%s", err);
	free(image);
	free(initrd);
	while (nmods-- > 0)
		free((void *)mods[nmods].data);
	return status;
}

/* Resident memory of plexvm itself: anonymous and file-backed pages, not the
 * guest's RAM (a memfd, which Linux counts as shared memory). */
static void vm_record_memory(struct vm *vm)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[128];
	unsigned long long kib;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "RssAnon: %llu", &kib) == 1)
			stats_set(vm->stats, "memory", "host-anon-kib", kib);
		else if (sscanf(line, "RssFile: %llu", &kib) == 1)
			stats_set(vm->stats, "memory", "host-file-kib", kib);
		else if (sscanf(line, "RssShmem: %llu", &kib) == 1)
			stats_set(vm->stats, "memory", "guest-ram-resident-kib", kib);
	}
	fclose(f);
}

static void vm_report(struct vm *vm, uint64_t t_start, uint64_t t_entry)
{
	if (stop_signal_taken())
		log_error("%s", vm->stop_reason);
	if (vm->exit_status == EXIT_CRASH || vm->exit_status == EXIT_HOST) {
		log_error("guest stopped: %s", vm->stop_reason);
		if (vm->exit_status == EXIT_CRASH && vm->engine && vm->engine->dump_regs)
			vm->engine->dump_regs(vm->engine_ctx, stderr);
	}
	if (!vm->stats)
		return;
	uint64_t t_end = vm_now_ns();
	stats_set(vm->stats, "time", "start-to-guest-entry-us", (t_entry - t_start) / 1000);
	stats_set(vm->stats, "time", "start-to-exit-us", (t_end - t_start) / 1000);
	vm_record_memory(vm);
	stats_set(vm->stats, "exit", "status", (uint64_t)vm->exit_status);
	if (vm->cfg->stats == STATS_TEXT)
		fprintf(stderr, "plexvm: engine %s: %s\n", vm->engine->name, vm->stop_reason);
	stats_print(vm->stats, stderr, vm->cfg->stats == STATS_JSON);
}

int vm_main(const struct config *cfg)
{
	uint64_t t_start = vm_now_ns();
	struct vm vm = { .cfg = cfg };
	struct boot_entry entry;
	char err[256];
	int status;

	if (cfg->stats != STATS_OFF) {
		vm.stats = stats_new();
		if (!vm.stats)
			die(EXIT_HOST, "out of memory");
	}
	vm.bus.stats = vm.stats;
	int r = mem_init(&vm.mem, cfg->memory);
	if (r < 0) {
		log_error("cannot create %llu bytes of guest RAM: %s",
		          (unsigned long long)cfg->memory, strerror(-r));
		status = EXIT_HOST;
		goto out;
	}
	status = vm_load(&vm, &entry);
	if (status)
		goto out;
	vm.machine = machine_pc_create(&vm, err, sizeof(err));
	if (!vm.machine) {
		log_error("%s", err);
		status = EXIT_HOST;
		goto out;
	}
	status = vm_create_engine(&vm);
	if (status)
		goto out;
	r = vm.engine->setup(vm.engine_ctx, &entry);
	if (r < 0) {
		log_error("%s engine cannot enter the kernel: %s", vm.engine->name, strerror(-r));
		status = r == -ENOTSUP ? EXIT_CRASH : EXIT_HOST;
		goto out;
	}
	uint64_t t_entry = vm_now_ns();
	stop_signal_install();
	r = vm.engine->run(vm.engine_ctx);
	if (r < 0)
		vm_stop(&vm, EXIT_HOST, "%s engine failed: %s", vm.engine->name, strerror(-r));
	machine_pc_finish(vm.machine);
	vm_report(&vm, t_start, t_entry);
	status = vm.exit_status;
out:
	if (vm.engine)
		vm.engine->destroy(vm.engine_ctx);
	machine_pc_destroy(vm.machine);
	if (vm.mem.host)
		mem_free(&vm.mem);
	stats_free(vm.stats);
	return status;
}
