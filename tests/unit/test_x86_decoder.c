/*
 * The pure decoder: the length of every instruction of a varied list,
 * taken from the GNU assembler and objdump (the table below was produced by
 * assembling the mnemonics shown with `as --32`), plus truncated, invalid
 * and over-long encodings and the decoded fields of a few.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../x86/decoder.h"
#include "../../x86/x86.h"

struct encoding {
	const char *bytes;
	int len;
	const char *text;
};

static const struct encoding encodings[] = {
	{ "\x01\xc3", 2, "add %eax,%ebx" },
	{ "\x03\x05\x78\x56\x34\x12", 6, "add 0x12345678,%eax" },
	{ "\x04\x12", 2, "add $0x12,%al" },
	{ "\x05\x78\x56\x34\x12", 5, "add $0x12345678,%eax" },
	{ "\x66\x05\x34\x12", 4, "add $0x1234,%ax" },
	{ "\x06", 1, "push %es" },
	{ "\x1f", 1, "pop %ds" },
	{ "\x27", 1, "daa" },
	{ "\x41", 1, "inc %ecx" },
	{ "\x60", 1, "pusha" },
	{ "\x62\x03", 2, "bound %eax,(%ebx)" },
	{ "\x68\x78\x56\x34\x12", 5, "push $0x12345678" },
	{ "\x69\xd8\x34\x12\x00\x00", 6, "imul $0x1234,%eax,%ebx" },
	{ "\x6b\x0c\x98\x12", 4, "imul $0x12,(%eax,%ebx,4),%ecx" },
	{ "\x6a\x12", 2, "push $0x12" },
	{ "\x6c", 1, "insb (%dx),%es:(%edi)" },
	{ "\x6f", 1, "outsl %ds:(%esi),(%dx)" },
	{ "\x75\x0e", 2, "jne 0x3d" },
	{ "\x81\x44\x24\x10\x78\x56\x34\x12", 8, "addl $0x12345678,0x10(%esp)" },
	{ "\x80\x08\x12", 3, "orb $0x12,(%eax)" },
	{ "\x83\x6c\xf5\x80\x12", 5, "subl $0x12,-0x80(%ebp,%esi,8)" },
	{ "\x85\xc1", 2, "test %eax,%ecx" },
	{ "\x87\x02", 2, "xchg %eax,(%edx)" },
	{ "\x89\x04\x4d\x78\x56\x34\x12", 7, "mov %eax,0x12345678(,%ecx,2)" },
	{ "\x8c\xd8", 2, "mov %ds,%eax" },
	{ "\x8d\x44\x00\x10", 4, "lea 0x10(%eax,%eax,1),%eax" },
	{ "\x8e\xd0", 2, "mov %eax,%ss" },
	{ "\x8f\x00", 2, "pop (%eax)" },
	{ "\x90", 1, "nop" },
	{ "\x92", 1, "xchg %eax,%edx" },
	{ "\x98", 1, "cwtl" },
	{ "\x99", 1, "cltd" },
	{ "\x9a\x78\x56\x34\x12\x10\x00", 7, "lcall $0x10,$0x12345678" },
	{ "\x9c", 1, "pushf" },
	{ "\x9d", 1, "popf" },
	{ "\x9e", 1, "sahf" },
	{ "\x9f", 1, "lahf" },
	{ "\xa1\x78\x56\x34\x12", 5, "mov 0x12345678,%eax" },
	{ "\xa2\x78\x56\x34\x12", 5, "mov %al,0x12345678" },
	{ "\xa4", 1, "movsb %ds:(%esi),%es:(%edi)" },
	{ "\xa7", 1, "cmpsl %es:(%edi),%ds:(%esi)" },
	{ "\xa8\x12", 2, "test $0x12,%al" },
	{ "\xa9\x78\x56\x34\x12", 5, "test $0x12345678,%eax" },
	{ "\xaa", 1, "stos %al,%es:(%edi)" },
	{ "\xad", 1, "lods %ds:(%esi),%eax" },
	{ "\xae", 1, "scas %es:(%edi),%al" },
	{ "\xb4\x12", 2, "mov $0x12,%ah" },
	{ "\xbf\x78\x56\x34\x12", 5, "mov $0x12345678,%edi" },
	{ "\xc1\xc0\x03", 3, "rol $0x3,%eax" },
	{ "\xc2\x08\x00", 3, "ret $0x8" },
	{ "\xc3", 1, "ret" },
	{ "\xc4\x00", 2, "les (%eax),%eax" },
	{ "\xc6\x00\x12", 3, "movb $0x12,(%eax)" },
	{ "\xc7\x40\x04\x78\x56\x34\x12", 7, "movl $0x12345678,0x4(%eax)" },
	{ "\xc8\x10\x00\x02", 4, "enter $0x10,$0x2" },
	{ "\xc9", 1, "leave" },
	{ "\xca\x04\x00", 3, "lret $0x4" },
	{ "\xcb", 1, "lret" },
	{ "\xcc", 1, "int3" },
	{ "\xcd\x80", 2, "int $0x80" },
	{ "\xce", 1, "into" },
	{ "\xcf", 1, "iret" },
	{ "\xd1\xe0", 2, "shl %eax" },
	{ "\xd3\xfb", 2, "sar %cl,%ebx" },
	{ "\xd4\x0a", 2, "aam $0xa" },
	{ "\xd5\x0a", 2, "aad $0xa" },
	{ "\xd7", 1, "xlat %ds:(%ebx)" },
	{ "\xd9\xc1", 2, "fld %st(1)" },
	{ "\xd8\x00", 2, "fadds (%eax)" },
	{ "\xe2\xfe", 2, "loop 0xae" },
	{ "\xe3\xfe", 2, "jecxz 0xb0" },
	{ "\xe4\x60", 2, "in $0x60,%al" },
	{ "\xe6\x80", 2, "out %al,$0x80" },
	{ "\xe8\xfb\x00\x00\x00", 5, "call 0x1b6" },
	{ "\xe9\xfb\x00\x00\x00", 5, "jmp 0x1bb" },
	{ "\xea\x00\x00\x10\x00\x08\x00", 7, "ljmp $0x8,$0x100000" },
	{ "\xeb\xfe", 2, "jmp 0xc7" },
	{ "\xed", 1, "in (%dx),%eax" },
	{ "\xef", 1, "out %eax,(%dx)" },
	{ "\xf0\xff\x00", 3, "lock incl (%eax)" },
	{ "\xf3\xa4", 2, "rep movsb %ds:(%esi),%es:(%edi)" },
	{ "\xf2\xae", 2, "repnz scas %es:(%edi),%al" },
	{ "\xf4", 1, "hlt" },
	{ "\xf5", 1, "cmc" },
	{ "\xf6\x00\x12", 3, "testb $0x12,(%eax)" },
	{ "\xf7\x00\x78\x56\x34\x12", 6, "testl $0x12345678,(%eax)" },
	{ "\xf7\x10", 2, "notl (%eax)" },
	{ "\xf7\xd8", 2, "neg %eax" },
	{ "\xf7\xe3", 2, "mul %ebx" },
	{ "\xf7\xe9", 2, "imul %ecx" },
	{ "\xf7\x30", 2, "divl (%eax)" },
	{ "\xf7\xfb", 2, "idiv %ebx" },
	{ "\xf8", 1, "clc" },
	{ "\xf9", 1, "stc" },
	{ "\xfa", 1, "cli" },
	{ "\xfb", 1, "sti" },
	{ "\xfc", 1, "cld" },
	{ "\xfd", 1, "std" },
	{ "\xfe\x00", 2, "incb (%eax)" },
	{ "\xff\x08", 2, "decl (%eax)" },
	{ "\xff\xd0", 2, "call *%eax" },
	{ "\xff\x10", 2, "call *(%eax)" },
	{ "\xff\x18", 2, "lcall *(%eax)" },
	{ "\xff\xe0", 2, "jmp *%eax" },
	{ "\xff\x28", 2, "ljmp *(%eax)" },
	{ "\xff\x30", 2, "push (%eax)" },
	{ "\x0f\x00\xc0", 3, "sldt %eax" },
	{ "\x0f\x00\xc8", 3, "str %eax" },
	{ "\x0f\x00\xd0", 3, "lldt %ax" },
	{ "\x0f\x00\xd8", 3, "ltr %ax" },
	{ "\x0f\x00\xe0", 3, "verr %ax" },
	{ "\x0f\x00\xe8", 3, "verw %ax" },
	{ "\x0f\x01\x00", 3, "sgdtl (%eax)" },
	{ "\x0f\x01\x08", 3, "sidtl (%eax)" },
	{ "\x0f\x01\x10", 3, "lgdtl (%eax)" },
	{ "\x0f\x01\x18", 3, "lidtl (%eax)" },
	{ "\x0f\x01\xe0", 3, "smsw %eax" },
	{ "\x0f\x01\xf0", 3, "lmsw %ax" },
	{ "\x0f\x01\x38", 3, "invlpg (%eax)" },
	{ "\x0f\x02\xd8", 3, "lar %eax,%ebx" },
	{ "\x0f\x03\xd8", 3, "lsl %eax,%ebx" },
	{ "\x0f\x06", 2, "clts" },
	{ "\x0f\x08", 2, "invd" },
	{ "\x0f\x09", 2, "wbinvd" },
	{ "\x0f\x0b", 2, "ud2" },
	{ "\x0f\x1f\x04\x00", 4, "nopl (%eax,%eax,1)" },
	{ "\x0f\x20\xc0", 3, "mov %cr0,%eax" },
	{ "\x0f\x22\xd8", 3, "mov %eax,%cr3" },
	{ "\x0f\x21\xf8", 3, "mov %db7,%eax" },
	{ "\x0f\x23\xc0", 3, "mov %eax,%db0" },
	{ "\x0f\x30", 2, "wrmsr" },
	{ "\x0f\x31", 2, "rdtsc" },
	{ "\x0f\x32", 2, "rdmsr" },
	{ "\x0f\x34", 2, "sysenter" },
	{ "\x0f\x35", 2, "sysexit" },
	{ "\x0f\x44\xd8", 3, "cmove %eax,%ebx" },
	{ "\x0f\x85\xfa\x0f\x00\x00", 6, "jne 0x1151" },
	{ "\x0f\x94\xc0", 3, "sete %al" },
	{ "\x0f\xa0", 2, "push %fs" },
	{ "\x0f\xa1", 2, "pop %fs" },
	{ "\x0f\xa2", 2, "cpuid" },
	{ "\x0f\xa3\xc3", 3, "bt %eax,%ebx" },
	{ "\x0f\xa4\xc3\x03", 4, "shld $0x3,%eax,%ebx" },
	{ "\x0f\xa5\xc3", 3, "shld %cl,%eax,%ebx" },
	{ "\x0f\xa8", 2, "push %gs" },
	{ "\x0f\xa9", 2, "pop %gs" },
	{ "\x0f\xab\x03", 3, "bts %eax,(%ebx)" },
	{ "\x0f\xac\xc3\x03", 4, "shrd $0x3,%eax,%ebx" },
	{ "\x0f\xad\xc3", 3, "shrd %cl,%eax,%ebx" },
	{ "\x0f\xaf\x18", 3, "imul (%eax),%ebx" },
	{ "\x0f\xb0\x18", 3, "cmpxchg %bl,(%eax)" },
	{ "\x0f\xb1\x18", 3, "cmpxchg %ebx,(%eax)" },
	{ "\x0f\xb2\x18", 3, "lss (%eax),%ebx" },
	{ "\x0f\xb3\xc3", 3, "btr %eax,%ebx" },
	{ "\x0f\xb4\x18", 3, "lfs (%eax),%ebx" },
	{ "\x0f\xb5\x18", 3, "lgs (%eax),%ebx" },
	{ "\x0f\xb6\xd8", 3, "movzbl %al,%ebx" },
	{ "\x0f\xb7\x18", 3, "movzwl (%eax),%ebx" },
	{ "\x0f\xba\x20\x03", 4, "btl $0x3,(%eax)" },
	{ "\x0f\xbb\xc3", 3, "btc %eax,%ebx" },
	{ "\x0f\xbc\xd8", 3, "bsf %eax,%ebx" },
	{ "\x0f\xbd\xd8", 3, "bsr %eax,%ebx" },
	{ "\x0f\xbe\xd8", 3, "movsbl %al,%ebx" },
	{ "\x0f\xbf\x18", 3, "movswl (%eax),%ebx" },
	{ "\x0f\xc0\x03", 3, "xadd %al,(%ebx)" },
	{ "\x0f\xc1\xc3", 3, "xadd %eax,%ebx" },
	{ "\x0f\xc7\x08", 3, "cmpxchg8b (%eax)" },
	{ "\x0f\xc8", 2, "bswap %eax" },
	{ "\x64\xa1\x10\x00\x00\x00", 6, "mov %fs:0x10,%eax" },
	{ "\x67\x66\x8b\x00", 4, "mov (%bx,%si),%ax" },
	{ "\x67\x8b\x86\x34\x12", 5, "mov 0x1234(%bp),%eax" },
	{ "\x67\xa1\x34\x12", 4, "addr16 mov 0x1234,%eax" },
	{ "\x67\x8b\x43\x12", 4, "mov 0x12(%bp,%di),%eax" },
	{ "\x66\xc7\x00\x34\x12", 5, "movw $0x1234,(%eax)" },
};

static void test_lengths(void **state)
{
	struct x86_decoded d;
	for (size_t i = 0; i < sizeof(encodings) / sizeof(encodings[0]); i++) {
		const struct encoding *e = &encodings[i];
		int r = x86_decode((const uint8_t *)e->bytes, (size_t)e->len, true, &d);
		if (r != e->len)
			fail_msg("%s: decoded length %d, want %d", e->text, r, e->len);
		/* Every prefix of the encoding is too short to decode. */
		for (int n = 0; n < e->len; n++)
			if (x86_decode((const uint8_t *)e->bytes, (size_t)n, true, &d) !=
			    X86_DECODE_SHORT)
				fail_msg("%s: %d of %d bytes not reported short", e->text, n,
				         e->len);
	}
}

static void test_fields(void **state)
{
	struct x86_decoded d;
	/* subl $0x12,-0x80(%ebp,%esi,8) */
	assert_int_equal(x86_decode((const uint8_t *)"\x83\x6c\xf5\x80\x12", 5, true, &d), 5);
	assert_true(d.has_modrm && d.has_sib);
	assert_int_equal(d.opcode, 0x83);
	assert_int_equal(d.reg, 5);
	assert_int_equal(d.disp, -0x80);
	assert_int_equal(d.imm, 0x12);
	/* lcall $0x10,$0x12345678 */
	assert_int_equal(x86_decode((const uint8_t *)"\x9a\x78\x56\x34\x12\x10\x00", 7, true, &d),
	                 7);
	assert_int_equal(d.imm, 0x12345678);
	assert_int_equal(d.imm2, 0x10);
	/* enter $0x10,$2 */
	assert_int_equal(x86_decode((const uint8_t *)"\xc8\x10\x00\x02", 4, true, &d), 4);
	assert_int_equal(d.imm, 0x10);
	assert_int_equal(d.imm2, 2);
	/* %fs: override, 0x66 operand size and 0x67 address size in 32-bit code */
	assert_int_equal(x86_decode((const uint8_t *)"\x64\x66\x67\x8b\x00", 5, true, &d), 5);
	assert_int_equal(d.seg, 4);
	assert_false(d.o32);
	assert_false(d.a32);
	assert_int_equal(d.prefix_len, 3);
	/* 16-bit code: B8 takes a 2-byte immediate, 66 makes it 4 */
	assert_int_equal(x86_decode((const uint8_t *)"\xb8\x34\x12", 3, false, &d), 3);
	assert_int_equal(x86_decode((const uint8_t *)"\x66\xb8\x78\x56\x34\x12", 6, false, &d), 6);
	/* rep, lock, two-byte opcode */
	assert_int_equal(x86_decode((const uint8_t *)"\xf3\xa4", 2, true, &d), 2);
	assert_int_equal(d.rep, 0xf3);
	assert_int_equal(x86_decode((const uint8_t *)"\x0f\xa2", 2, true, &d), 2);
	assert_true(d.two_byte);
	assert_int_equal(d.opcode, 0xa2);
}

static void test_invalid(void **state)
{
	struct x86_decoded d;
	static const char *const bad[] = {
		"\xfe\x10",         /* FE /2 */
		"\xff\x38",         /* FF /7 */
		"\x8f\x08",         /* 8F /1 */
		"\xc6\x08\x00",     /* C6 /1 */
		"\x0f\xba\x00\x01", /* 0F BA /0 */
		"\x0f\xc7\x00",     /* 0F C7 /0 */
		"\x0f\x00\x30",     /* 0F 00 /6 */
		"\x0f\x10\x00",     /* SSE */
		"\x0f\x0f\x00\x00", /* 3DNow! */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(x86_decode((const uint8_t *)bad[i], 4, true, &d),
		                 X86_DECODE_INVALID);
}

static void test_too_long(void **state)
{
	struct x86_decoded d;
	uint8_t b[20];
	memset(b, 0x66, sizeof(b));
	b[14] = 0x90; /* 14 prefixes + NOP = 15 bytes: fine */
	assert_int_equal(x86_decode(b, sizeof(b), true, &d), 15);
	b[14] = 0x66;
	b[15] = 0x90; /* 16 bytes */
	assert_int_equal(x86_decode(b, sizeof(b), true, &d), X86_DECODE_TOO_LONG);
	/* 11 prefixes + add $imm32, disp32(%eax): 11 + 10 = 21 bytes */
	memset(b, 0x3e, 11);
	memcpy(b + 11, "\x81\x80\x00\x00\x00\x00\x01", 7);
	assert_int_equal(x86_decode(b, sizeof(b), true, &d), X86_DECODE_TOO_LONG);
}

/* The undefined flags the opcode table records, with @ecx as CL. */
static uint32_t undef_of(const uint8_t *bytes, size_t len, uint32_t ecx)
{
	struct x86_decoded d;
	assert_int_equal(x86_decode(bytes, len, true, &d), (int)len);
	return x86_undefined_flags(&d, ecx);
}

#define UNDEF(ecx, ...)                                                                            \
	undef_of((const uint8_t[]){ __VA_ARGS__ }, sizeof((uint8_t[]){ __VA_ARGS__ }), ecx)
#define ALL (X86_CF | X86_PF | X86_AF | X86_ZF | X86_SF | X86_OF)

static void test_undefined_flags(void **state)
{
	assert_int_equal(UNDEF(0, 0x01, 0xc8), 0);                           /* add */
	assert_int_equal(UNDEF(0, 0x83, 0xf1, 0xff), X86_AF);                /* xor cx,-1 */
	assert_int_equal(UNDEF(0, 0x83, 0xe9, 0x01), 0);                     /* sub ecx,1 */
	assert_int_equal(UNDEF(0, 0xf7, 0xf1), ALL);                         /* div ecx */
	assert_int_equal(UNDEF(0, 0xf7, 0xd8), 0);                           /* neg eax */
	assert_int_equal(UNDEF(0, 0x0f, 0xbc, 0xc1), ALL & ~X86_ZF);         /* bsf */
	assert_int_equal(UNDEF(0, 0x37), X86_OF | X86_SF | X86_ZF | X86_PF); /* aaa */
	/* Shifts and rotates: by the masked count. */
	assert_int_equal(UNDEF(0x20, 0xd3, 0xe0), 0); /* shl eax,cl: count 0 */
	assert_int_equal(UNDEF(1, 0xd3, 0xe0), X86_AF);
	assert_int_equal(UNDEF(3, 0xd3, 0xe0), X86_AF | X86_OF);
	assert_int_equal(UNDEF(8, 0xd2, 0xe0), X86_AF | X86_OF | X86_CF);    /* shl al,cl */
	assert_int_equal(UNDEF(8, 0xd2, 0xf8), X86_AF | X86_OF);             /* sar al,cl */
	assert_int_equal(UNDEF(0, 0xd1, 0xe0), X86_AF);                      /* shl eax,1 */
	assert_int_equal(UNDEF(0, 0xc1, 0xc0, 0x02), X86_OF);                /* rol eax,2 */
	assert_int_equal(UNDEF(0, 0x0f, 0xa4, 0xd0, 0x07), X86_AF | X86_OF); /* shld eax,edx,7 */
	assert_int_equal(UNDEF(17, 0x66, 0x0f, 0xa5, 0xd0), ALL); /* shld ax,dx,cl: past 16 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lengths),         cmocka_unit_test(test_fields),
		cmocka_unit_test(test_invalid),         cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_undefined_flags),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
