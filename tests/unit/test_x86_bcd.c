/*
 * DAA, DAS, AAA, AAS, AAM and AAD in the x86 core against the host CPU,
 * exhaustively over AL x AF x CF (with AH where a carry or borrow reaches
 * it, every AAM base, and AL x AH for several AAD bases).  The host's
 * answers come from x86_bcd_host, a 32-bit program built beside this test:
 * the instructions are #UD in 64-bit mode.  Registers and every flag the
 * SDM defines for the instruction must agree (the opcode table's undefined
 * flags, x86_undefined_flags(), are left out); AAM with base 0 must raise
 * #DE on both.  A host that cannot run 32-bit programs skips the
 * comparison; the fixed cases from the SDM's pseudocode run everywhere.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../x86/decoder.h"
#include "test_x86_harness.h"
#include "x86_bcd_host.h"

#define STATUS_FLAGS (X86_CF | X86_PF | X86_AF | X86_ZF | X86_SF | X86_OF)
#define SHOW_AT_MOST 16

extern char **environ;

/* The host's records, read once; NULL with host_skip set if it cannot run. */
static struct bcd_record *host;
static size_t host_n;
static const char *host_skip;
static struct harness *h;

/* Where the core finds each instruction: AAM/AAD per base, HLT after. */
static uint32_t bcd_code_addr(uint8_t op, uint8_t imm)
{
	switch (op) {
	case 0xd4: return 0x2000u + 4u * imm;
	case 0xd5: return 0x3000u + 4u * imm;
	default: return 0x1000u + op; /* 0x27, 0x2f, 0x37, 0x3f: 8 bytes apart */
	}
}

static bool bcd_keep_pending(void *ctx, int vector, uint32_t err, bool soft)
{
	return false;
}

static void bcd_machine(void)
{
	h = harness_new();
	h->ops.exception = bcd_keep_pending;
	static const uint8_t ops[] = { 0x27, 0x2f, 0x37, 0x3f };
	for (unsigned i = 0; i < sizeof(ops); i++) {
		h->ram[bcd_code_addr(ops[i], 0)] = ops[i];
		h->ram[bcd_code_addr(ops[i], 0) + 1] = 0xf4;
	}
	for (unsigned b = 0; b < 256; b++)
		for (uint8_t op = 0xd4; op <= 0xd5; op++) {
			uint8_t *p = h->ram + bcd_code_addr(op, (uint8_t)b);
			p[0] = op;
			p[1] = (uint8_t)b;
			p[2] = 0xf4;
		}
}

/* The core's answer to @in's inputs, in a record shaped like the host's. */
static struct bcd_record bcd_core(const struct bcd_record *in)
{
	struct x86_cpu *c = &h->cpu;
	struct bcd_record r = *in;
	uint32_t at = bcd_code_addr(in->op, in->imm);
	c->eip = at;
	c->halted = false;
	c->r[X86_EAX] = 0x12340000u | in->ax_in;
	c->eflags = 0x2u | in->flags_in;
	enum x86_step_result s = x86_step(c, &h->ops);
	r.fault = s == X86_STEP_EXCEPTION;
	if (r.fault) {
		/* #DE is a fault: nothing changed, EIP still on the AAM */
		assert_int_equal(c->exc_vector, 0);
		assert_int_equal(c->eip, at);
		assert_int_equal(c->r[X86_EAX], 0x12340000u | in->ax_in);
		assert_int_equal(c->eflags, 0x2u | in->flags_in);
		r.ax_out = r.flags_out = 0;
		return r;
	}
	assert_int_equal(s, X86_STEP_OK);
	assert_int_equal(c->r[X86_EAX] >> 16, 0x1234); /* the upper half is kept */
	r.ax_out = (uint16_t)c->r[X86_EAX];
	r.flags_out = (uint16_t)c->eflags;
	return r;
}

static uint32_t bcd_defined_flags(uint8_t op, uint8_t imm)
{
	uint8_t bytes[2] = { op, imm };
	struct x86_decoded d;
	assert_true(x86_decode(bytes, sizeof(bytes), true, &d) > 0);
	return STATUS_FLAGS & ~x86_undefined_flags(&d, 0);
}

/* Compares every host record of @op with the core; returns the differences. */
static unsigned bcd_compare(uint8_t op, const char *name, unsigned *cases)
{
	unsigned bad = 0;
	*cases = 0;
	for (size_t i = 0; i < host_n; i++) {
		const struct bcd_record *want = &host[i];
		if (want->op != op)
			continue;
		++*cases;
		struct bcd_record got = bcd_core(want);
		uint32_t mask = bcd_defined_flags(op, want->imm);
		if (got.fault == want->fault && got.ax_out == want->ax_out &&
		    ((got.flags_out ^ want->flags_out) & mask) == 0)
			continue;
		if (bad++ < SHOW_AT_MOST)
			print_error("%s %02x: ax=%04x fl=%03x -> host %s ax=%04x fl=%03x, "
			            "core %s ax=%04x fl=%03x (flags compared %03x)\n",
			            name, want->imm, want->ax_in, want->flags_in,
			            want->fault ? "#DE" : "ok", want->ax_out,
			            want->flags_out & STATUS_FLAGS, got.fault ? "#DE" : "ok",
			            got.ax_out, got.flags_out & STATUS_FLAGS, mask);
	}
	return bad;
}

static void bcd_check(uint8_t op, const char *name, unsigned want_cases)
{
	if (!host) {
		print_message("skipped: %s\n", host_skip);
		skip();
	}
	unsigned cases;
	unsigned bad = bcd_compare(op, name, &cases);
	if (bad)
		print_error("%s: %u of %u cases differ from the host CPU\n", name, bad, cases);
	assert_int_equal(cases, want_cases);
	assert_int_equal(bad, 0);
}

static const unsigned n_ah_edges = sizeof((uint8_t[])BCD_AH_EDGES);
static const unsigned n_aad_bases = sizeof((uint8_t[])BCD_AAD_BASES);

static void test_daa_host(void **state)
{
	bcd_check(0x27, "DAA", 256 * 4);
}

static void test_das_host(void **state)
{
	bcd_check(0x2f, "DAS", 256 * 4);
}

static void test_aaa_host(void **state)
{
	bcd_check(0x37, "AAA", 256 * 4 * n_ah_edges);
}

static void test_aas_host(void **state)
{
	bcd_check(0x3f, "AAS", 256 * 4 * n_ah_edges);
}

static void test_aam_host(void **state)
{
	bcd_check(0xd4, "AAM", 256 * 256 * 4);
}

static void test_aad_host(void **state)
{
	bcd_check(0xd5, "AAD", 256 * 256 * n_aad_bases);
}

/* Cases worked through the SDM's pseudocode (vol. 2A, DAS): CF <- old CF
 * or the borrow of AL - 6, which the core once dropped. */
static void test_das_borrow_sets_cf(void **state)
{
	static const struct {
		uint16_t ax_in, flags_in, ax_out, flags_out;
	} cases[] = {
		/* AL 03, AF: 03 - 6 borrows; FD has SF, odd parity */
		{ 0x0003, X86_AF, 0x00fd, X86_AF | X86_CF | X86_SF },
		/* AL 00, AF: FA, even parity */
		{ 0x7700, X86_AF, 0x77fa, X86_AF | X86_CF | X86_SF | X86_PF },
		/* AL 05, AF and CF: FF - 60 = 9F */
		{ 0x0005, X86_AF | X86_CF, 0x009f, X86_AF | X86_CF | X86_SF | X86_PF },
		/* AL 06, AF: 00, no borrow, no CF */
		{ 0x0006, X86_AF, 0x0000, X86_AF | X86_ZF | X86_PF },
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bcd_record in = { .op = 0x2f,
			                 .ax_in = cases[i].ax_in,
			                 .flags_in = cases[i].flags_in };
		struct bcd_record got = bcd_core(&in);
		assert_int_equal(got.ax_out, cases[i].ax_out);
		assert_int_equal(got.flags_out & (STATUS_FLAGS & ~X86_OF), cases[i].flags_out);
	}
}

/* AAS is AX - 6, then AH - 1 (SDM vol. 2A, AAS): AL's borrow reaches AH,
 * as the host CPU showed, where the core once took 1 from AH alone. */
static void test_aas_borrow_reaches_ah(void **state)
{
	static const struct {
		uint16_t ax_in, ax_out;
	} cases[] = {
		{ 0x0100, 0xff0a }, /* 0100 - 6 = 00FA, - 100 = FFFA, AL & 0F */
		{ 0x0005, 0xfe0f },
		{ 0x0506, 0x0400 }, /* no borrow from AL */
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bcd_record in = { .op = 0x3f, .ax_in = cases[i].ax_in, .flags_in = X86_AF };
		struct bcd_record got = bcd_core(&in);
		assert_int_equal(got.ax_out, cases[i].ax_out);
		assert_int_equal(got.flags_out & (X86_AF | X86_CF), X86_AF | X86_CF);
	}
}

/* AAM 0 is #DE with nothing changed (SDM vol. 2A, AAM). */
static void test_aam_zero_is_de(void **state)
{
	struct bcd_record in = { .op = 0xd4, .imm = 0, .ax_in = 0x1234, .flags_in = X86_CF };
	struct bcd_record got = bcd_core(&in);
	assert_true(got.fault);
}

/* Runs x86_bcd_host and reads all its records.  Returns NULL with
 * host_skip set when this host cannot run a 32-bit program. */
static struct bcd_record *bcd_host_read(size_t *n)
{
	char path[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", path, sizeof(path) - 32);
	assert_true(len > 0);
	path[len] = 0;
	strcpy(strrchr(path, '/') + 1, "x86_bcd_host");
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	char *argv[] = { path, NULL };
	pid_t pid;
	int r = posix_spawn(&pid, path, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	if (r == ENOEXEC) {
		close(fds[0]);
		host_skip = "this host cannot run 32-bit programs (x86_bcd_host: ENOEXEC)";
		return NULL;
	}
	if (r != 0)
		fail_msg("%s: %s", path, strerror(r));
	FILE *f = fdopen(fds[0], "r");
	assert_non_null(f);
	size_t cap = 1 << 20, got = 0;
	struct bcd_record *recs = malloc(cap * sizeof(*recs));
	assert_non_null(recs);
	for (size_t k; (k = fread(recs + got, sizeof(*recs), cap - got, f)) > 0;) {
		got += k;
		if (got == cap) {
			recs = realloc(recs, (cap *= 2) * sizeof(*recs));
			assert_non_null(recs);
		}
	}
	fclose(f);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("x86_bcd_host failed (status 0x%x) after %zu records", status, got);
	*n = got;
	return recs;
}

static int bcd_setup(void **state)
{
	bcd_machine();
	host = bcd_host_read(&host_n);
	return 0;
}

static int bcd_teardown(void **state)
{
	free(host);
	harness_free(h);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_das_borrow_sets_cf),
		cmocka_unit_test(test_aas_borrow_reaches_ah),
		cmocka_unit_test(test_aam_zero_is_de),
		cmocka_unit_test(test_daa_host),
		cmocka_unit_test(test_das_host),
		cmocka_unit_test(test_aaa_host),
		cmocka_unit_test(test_aas_host),
		cmocka_unit_test(test_aam_host),
		cmocka_unit_test(test_aad_host),
	};
	return cmocka_run_group_tests(tests, bcd_setup, bcd_teardown);
}
