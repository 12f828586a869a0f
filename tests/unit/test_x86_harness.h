/*
 * A bare machine for the x86 core's unit tests: 1 MiB of RAM, no devices
 * (MMIO reads all-ones, port reads all-ones and are logged), a CPU in flat
 * 32-bit protected mode with a decoded-instruction cache.  A test puts code
 * at HARNESS_CODE, sets registers and runs it until HLT.  Tests write RAM
 * behind the core's back, so harness_run() forgets decoded code first, as
 * any writer other than the core must (x86.h).
 */
#ifndef PLEXVM_TEST_X86_HARNESS_H
#define PLEXVM_TEST_X86_HARNESS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../x86/x86.h"

#define HARNESS_RAM (1u << 20)
#define HARNESS_CODE 0x1000u
#define HARNESS_STACK 0x80000u
#define HARNESS_ICACHE_PAGES 16

struct harness {
	uint8_t ram[HARNESS_RAM];
	struct x86_cpu cpu;
	struct x86_ops ops;
	uint32_t last_out_port, last_out_value;
	unsigned outs;
	void *icache;
};

static uint8_t *harness_ram(void *ctx, uint64_t gpa, size_t len)
{
	struct harness *h = ctx;
	if (gpa > HARNESS_RAM || len > HARNESS_RAM - gpa)
		return NULL;
	return h->ram + gpa;
}

static uint64_t harness_mmio_read(void *ctx, uint64_t gpa, unsigned size)
{
	return size == 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

static void harness_mmio_write(void *ctx, uint64_t gpa, uint64_t value, unsigned size)
{
}

static uint32_t harness_pio_in(void *ctx, uint16_t port, unsigned size)
{
	return size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
}

static void harness_pio_out(void *ctx, uint16_t port, uint32_t value, unsigned size)
{
	struct harness *h = ctx;
	h->last_out_port = port;
	h->last_out_value = value;
	h->outs++;
}

/* A fresh machine: flat protected mode, ESP at HARNESS_STACK, EIP at
 * HARNESS_CODE, RAM zeroed. */
static inline struct harness *harness_new(void)
{
	struct harness *h = calloc(1, sizeof(*h));
	if (!h)
		abort();
	h->icache = calloc(1, x86_icache_size(HARNESS_ICACHE_PAGES));
	if (!h->icache)
		abort();
	h->ops = (struct x86_ops){ .ctx = h,
		                   .ram = harness_ram,
		                   .mmio_read = harness_mmio_read,
		                   .mmio_write = harness_mmio_write,
		                   .pio_in = harness_pio_in,
		                   .pio_out = harness_pio_out };
	x86_reset_flat32(&h->cpu);
	x86_icache_attach(&h->cpu, h->icache, x86_icache_size(HARNESS_ICACHE_PAGES));
	h->cpu.r[X86_ESP] = HARNESS_STACK;
	h->cpu.eip = HARNESS_CODE;
	return h;
}

static inline void harness_free(struct harness *h)
{
	free(h->icache);
	free(h);
}

/* Copies @len code bytes to HARNESS_CODE followed by HLT, points EIP at it. */
static inline void harness_load(struct harness *h, const uint8_t *code, size_t len)
{
	memcpy(h->ram + HARNESS_CODE, code, len);
	h->ram[HARNESS_CODE + len] = 0xf4;
	h->cpu.eip = HARNESS_CODE;
	h->cpu.halted = false;
}

/* Runs until HLT or @budget instructions in all (I/O exits continue);
 * returns the last status. */
static inline enum x86_status harness_run(struct harness *h, uint64_t budget)
{
	uint64_t start = h->cpu.icount;
	enum x86_status s;
	x86_icache_flush(&h->cpu);
	do {
		s = x86_run(&h->cpu, &h->ops, budget - (h->cpu.icount - start));
	} while (s == X86_IO && h->cpu.icount - start < budget);
	return s;
}

#endif
