/*
 * Real mode, as much of it as a reset or a test needs: the state after
 * RESET and its first fetch at FFFFFFF0, segment loads as selector << 4,
 * INT n and exceptions through the IVT, IRET, and the switch to protected
 * mode and back (SDM vol. 3, 9.9).
 *
 * RAM is the harness's 1 MiB with its top 64 KiB also seen just below
 * 4 GiB, as a PC shows its BIOS ROM there.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "test_x86_harness.h"

#define GDT 0x500u
#define GDTR 0x600u
#define BOOT 0x7c00u
#define HANDLER 0x7e00u
#define PM32 0x8000u
#define PM16 0x8100u
#define REAL_AGAIN 0x8200u

static uint8_t *real_ram(void *ctx, uint64_t gpa, size_t len)
{
	if (gpa >= 0xffff0000u && gpa + len <= 0x100000000ull)
		gpa -= 0xfff00000u; /* the top 64 KiB of the 1 MiB */
	return harness_ram(ctx, gpa, len);
}

static void put(struct harness *h, uint32_t addr, const uint8_t *bytes, size_t len)
{
	memcpy(h->ram + addr, bytes, len);
}

#define PUT(h, addr, ...)                                                                          \
	put(h, addr, (const uint8_t[]){ __VA_ARGS__ }, sizeof((uint8_t[]){ __VA_ARGS__ }))

/* A machine just out of RESET whose reset vector jumps to 0000:BOOT. */
static struct harness *real_machine(void)
{
	struct harness *h = harness_new();
	h->ops.ram = real_ram;
	x86_reset_real(&h->cpu);
	x86_icache_attach(&h->cpu, h->icache, x86_icache_size(HARNESS_ICACHE_PAGES));
	PUT(h, 0xffff0, 0xea, 0x00, 0x7c, 0x00, 0x00); /* jmp 0000:7c00 */
	return h;
}

static void test_reset_state(void **state)
{
	struct harness *h = real_machine();
	struct x86_cpu *c = &h->cpu;
	assert_int_equal(c->seg[X86_CS].sel, 0xf000);
	assert_int_equal(c->seg[X86_CS].base, 0xffff0000u);
	assert_int_equal(c->eip, 0xfff0);
	assert_int_equal(c->cr0 & X86_CR0_PE, 0);
	assert_int_equal(c->idtr.base, 0);
	PUT(h, BOOT, 0xf4);
	assert_int_equal(x86_step(c, &h->ops), X86_STEP_OK);
	/* The far jump made CS an ordinary real-mode segment. */
	assert_int_equal(c->seg[X86_CS].sel, 0);
	assert_int_equal(c->seg[X86_CS].base, 0);
	assert_int_equal(c->eip, BOOT);
	assert_int_equal(x86_step(c, &h->ops), X86_STEP_OK);
	assert_true(c->halted);
	harness_free(h);
}

static void test_int_iret_protected_mode_and_back(void **state)
{
	struct harness *h = real_machine();
	struct x86_cpu *c = &h->cpu;
	uint64_t gdt[5] = { 0, 0x00cf9a000000ffffull, 0x00cf92000000ffffull,
		            0x00009a000000ffffull,   /* 0x18: 16-bit code, base 0, 64 KiB */
		            0x000092000000ffffull }; /* 0x20: 16-bit data */
	memcpy(h->ram + GDT, gdt, sizeof(gdt));
	PUT(h, GDTR, 0x27, 0x00, GDT & 0xff, GDT >> 8, 0x00, 0x00);
	PUT(h, BOOT, 0xfa,                                     /* cli */
	    0x31, 0xc0, 0x8e, 0xd8, 0x8e, 0xd0,                /* xor ax,ax; mov ds,ax; mov ss,ax */
	    0xbc, 0x00, 0x70,                                  /* mov sp,0x7000 */
	    0xc7, 0x06, 0xc0, 0x00, 0x00, 0x7e,                /* mov word [0x30*4],0x7e00 */
	    0xc7, 0x06, 0xc2, 0x00, 0x00, 0x00,                /* mov word [0x30*4+2],0 */
	    0xcd, 0x30,                                        /* int 0x30 */
	    0x89, 0xdf,                                        /* mov di,bx */
	    0x0f, 0x01, 0x16, 0x00, 0x06,                      /* lgdt [0x600] */
	    0x0f, 0x20, 0xc0,                                  /* mov eax,cr0 */
	    0x0c, 0x01,                                        /* or al,1 */
	    0x0f, 0x22, 0xc0,                                  /* mov cr0,eax */
	    0x66, 0xea, 0x00, 0x80, 0x00, 0x00, 0x08, 0x00);   /* jmp dword 0x08:0x8000 */
	PUT(h, HANDLER, 0xbb, 0x34, 0x12, 0xcf);               /* mov bx,0x1234; iret */
	PUT(h, PM32, 0x66, 0xb8, 0x10, 0x00,                   /* mov ax,0x10 */
	    0x8e, 0xd8, 0x8e, 0xd0,                            /* mov ds,ax; mov ss,ax */
	    0xbc, 0x00, 0x90, 0x00, 0x00,                      /* mov esp,0x9000 */
	    0xb9, 0xef, 0xbe, 0xad, 0xde,                      /* mov ecx,0xdeadbeef */
	    0x51, 0x5a,                                        /* push ecx; pop edx */
	    0xea, 0x00, 0x81, 0x00, 0x00, 0x18, 0x00);         /* jmp 0x18:0x8100 */
	PUT(h, PM16, 0xb8, 0x20, 0x00,                         /* mov ax,0x20 */
	    0x8e, 0xd8, 0x8e, 0xd0,                            /* mov ds,ax; mov ss,ax */
	    0x0f, 0x20, 0xc0,                                  /* mov eax,cr0 */
	    0x24, 0xfe,                                        /* and al,0xfe */
	    0x0f, 0x22, 0xc0,                                  /* mov cr0,eax */
	    0xea, 0x00, 0x82, 0x00, 0x00);                     /* jmp 0000:8200 */
	PUT(h, REAL_AGAIN, 0x31, 0xc0, 0x8e, 0xd8, 0x8e, 0xd0, /* xor ax,ax; mov ds,ax; mov ss,ax */
	    0x31, 0xdb,                                        /* xor bx,bx */
	    0xcd, 0x30,                                        /* int 0x30 */
	    0xbe, 0x78, 0x56,                                  /* mov si,0x5678 */
	    0xf4);                                             /* hlt */

	/* Up to the INT: the IVT entry and a 16-bit frame. */
	for (int i = 0; i < 8; i++)
		assert_int_equal(x86_step(c, &h->ops), X86_STEP_OK);
	assert_int_equal(x86_step(c, &h->ops), X86_STEP_EXCEPTION); /* int 0x30 */
	assert_int_equal(c->exc_vector, 0x30);
	assert_int_equal(c->seg[X86_CS].base, 0);
	assert_int_equal(c->eip, HANDLER);
	assert_int_equal(c->r[X86_ESP], 0x7000 - 6);
	uint16_t frame[3];
	memcpy(frame, h->ram + 0x7000 - 6, sizeof(frame));
	assert_int_equal(frame[0], BOOT + 24); /* the instruction after INT */
	assert_int_equal(frame[1], 0);
	assert_int_equal(frame[2] & 0x2, 0x2);

	/* The rest: protected mode, 32-bit code, and back. */
	assert_int_equal(harness_run(h, 100), X86_HALT);
	assert_int_equal(c->r[X86_EDI] & 0xffff, 0x1234);
	assert_int_equal(c->r[X86_EDX], 0xdeadbeef);
	assert_int_equal(c->r[X86_EBX] & 0xffff, 0x1234); /* INT worked in real mode again */
	assert_int_equal(c->r[X86_ESI] & 0xffff, 0x5678);
	assert_int_equal(c->cr0 & X86_CR0_PE, 0);
	assert_int_equal(c->seg[X86_CS].sel, 0);
	assert_int_equal(c->seg[X86_CS].base, 0);
	assert_false(c->seg[X86_CS].attr & X86_SEG_DB);
	assert_int_equal(c->r[X86_ESP], 0x9000);
	harness_free(h);
}

static void test_exception_through_the_ivt(void **state)
{
	struct harness *h = real_machine();
	struct x86_cpu *c = &h->cpu;
	PUT(h, BOOT, 0x31, 0xc0, 0x8e, 0xd8, 0x8e, 0xd0, /* xor ax,ax; mov ds,ax; mov ss,ax */
	    0xbc, 0x00, 0x70,                            /* mov sp,0x7000 */
	    0xc7, 0x06, 0x00, 0x00, 0x00, 0x7e,          /* mov word [0],0x7e00 */
	    0xb1, 0x00,                                  /* mov cl,0 */
	    0xfb,                                        /* sti */
	    0xf6, 0xf1);                                 /* div cl */
	PUT(h, HANDLER, 0xf4);
	assert_int_equal(harness_run(h, 100), X86_HALT);
	assert_int_equal(c->eip, HANDLER + 1);
	assert_int_equal(c->r[X86_ESP], 0x7000 - 6);
	assert_false(c->eflags & X86_IF);
	uint16_t frame[3];
	memcpy(frame, h->ram + 0x7000 - 6, sizeof(frame));
	assert_int_equal(frame[0], BOOT + 18); /* the faulting DIV, no error code */
	assert_int_equal(frame[1], 0);
	assert_true(frame[2] & X86_IF);
	harness_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reset_state),
		cmocka_unit_test(test_int_iret_protected_mode_and_back),
		cmocka_unit_test(test_exception_through_the_ivt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
