/*
 * The host CPU's answers for test_x86_bcd: runs DAA, DAS, AAA, AAS, AAM and
 * AAD natively over AL x AF x CF (and AH and the base where they matter)
 * and writes one struct bcd_record per case to stdout.
 *
 * These instructions are #UD in 64-bit mode, so this program is built as a
 * 32-bit one (-m32) and runs in compatibility mode; a host whose kernel
 * cannot run 32-bit programs refuses to start it, and the test skips.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "x86_bcd_host.h"

#define FLAG_CF 0x1u
#define FLAG_AF 0x10u
/* PF ZF SF OF, set on some cases so that a result that keeps them shows */
#define FLAG_OTHERS 0x8c4u

static sigjmp_buf on_fpe;
static uint8_t *code; /* op, imm, RET: rewritten per instruction */

static void bcd_host_fpe(int sig)
{
	siglongjmp(on_fpe, 1);
}

/* Runs the instruction at code with AX and the flags of @r; fills the rest. */
static void bcd_host_run(struct bcd_record *r)
{
	uint32_t eax = r->ax_in, fl = r->flags_in | 0x2u;
	if (sigsetjmp(on_fpe, 1)) {
		r->fault = 1;
		r->ax_out = r->flags_out = 0;
		return;
	}
	__asm__ volatile("push %[fl]\n\t"
	                 "popf\n\t"
	                 "call *%[fn]\n\t"
	                 "pushf\n\t"
	                 "pop %[fl]"
	                 : "+a"(eax), [fl] "+r"(fl)
	                 : [fn] "r"(code)
	                 : "cc", "memory");
	r->fault = 0;
	r->ax_out = (uint16_t)eax;
	r->flags_out = (uint16_t)fl;
}

static void bcd_host_emit(uint8_t op, uint8_t imm, unsigned ah, unsigned al, unsigned af_cf,
                          unsigned others)
{
	struct bcd_record r = { .op = op, .imm = imm };
	r.ax_in = (uint16_t)(ah << 8 | al);
	r.flags_in = (uint16_t)((af_cf & 2 ? FLAG_AF : 0) | (af_cf & 1 ? FLAG_CF : 0) |
	                        (others ? FLAG_OTHERS : 0));
	bcd_host_run(&r);
	if (fwrite(&r, sizeof(r), 1, stdout) != 1) {
		perror("x86_bcd_host: write");
		exit(1);
	}
}

static void bcd_host_set_code(uint8_t op, uint8_t imm)
{
	unsigned n = 0;
	code[n++] = op;
	if (op == 0xd4 || op == 0xd5)
		code[n++] = imm;
	code[n] = 0xc3; /* RET */
}

int main(void)
{
	static const uint8_t adjust[] = { 0x27, 0x2f, 0x37, 0x3f };
	static const uint8_t ah_edges[] = BCD_AH_EDGES, aad_bases[] = BCD_AAD_BASES;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = bcd_host_fpe;
	sigaction(SIGFPE, &sa, NULL);
	code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1,
	            0);
	if (code == MAP_FAILED) {
		perror("x86_bcd_host: mmap");
		return 1;
	}
	for (unsigned i = 0; i < sizeof(adjust); i++) {
		uint8_t op = adjust[i];
		bcd_host_set_code(op, 0);
		/* DAA/DAS leave AH alone; AAA/AAS carry into or borrow from it */
		unsigned nah = op == 0x37 || op == 0x3f ? sizeof(ah_edges) : 1;
		for (unsigned a = 0; a < nah; a++)
			for (unsigned al = 0; al < 256; al++)
				for (unsigned f = 0; f < 4; f++)
					bcd_host_emit(op, 0, nah > 1 ? ah_edges[a] : al ^ 0xa5, al,
					              f, al & 1);
	}
	for (unsigned base = 0; base < 256; base++) {
		bcd_host_set_code(0xd4, (uint8_t)base);
		for (unsigned al = 0; al < 256; al++)
			for (unsigned f = 0; f < 4; f++)
				bcd_host_emit(0xd4, (uint8_t)base, 0x5a, al, f, (al ^ base) & 1);
	}
	for (unsigned b = 0; b < sizeof(aad_bases); b++) {
		bcd_host_set_code(0xd5, aad_bases[b]);
		for (unsigned ah = 0; ah < 256; ah++)
			for (unsigned al = 0; al < 256; al++)
				bcd_host_emit(0xd5, aad_bases[b], ah, al, (al + ah) & 3,
				              (al ^ ah) & 1);
	}
	return fflush(stdout) == 0 ? 0 : 1;
}
