/* Small inline wrappers for the x86 instructions the test kernels use, and
 * the architectural bit names they need (names as in the Intel SDM vol. 3). */
#ifndef GUEST_X86_H
#define GUEST_X86_H

#include <stdint.h>

#define X86_EFLAGS_CF 0x00000001u
#define X86_EFLAGS_FIXED 0x00000002u /* bit 1 always reads as 1 */
#define X86_EFLAGS_ZF 0x00000040u
#define X86_EFLAGS_TF 0x00000100u
#define X86_EFLAGS_IF 0x00000200u
#define X86_EFLAGS_DF 0x00000400u
#define X86_EFLAGS_OF 0x00000800u
#define X86_EFLAGS_IOPL 0x00003000u
#define X86_EFLAGS_IOPL3 0x00003000u
#define X86_EFLAGS_NT 0x00004000u
#define X86_EFLAGS_AC 0x00040000u
#define X86_EFLAGS_ID 0x00200000u

#define X86_CR0_PE 0x00000001u
#define X86_CR0_WP 0x00010000u
#define X86_CR0_PG 0x80000000u
#define X86_CR4_PSE 0x00000010u

/* Exception vectors, SDM vol. 3 table 6-1. */
#define X86_EXC_DE 0
#define X86_EXC_DB 1
#define X86_EXC_BP 3
#define X86_EXC_OF 4
#define X86_EXC_BR 5
#define X86_EXC_UD 6
#define X86_EXC_DF 8
#define X86_EXC_TS 10
#define X86_EXC_NP 11
#define X86_EXC_SS 12
#define X86_EXC_GP 13
#define X86_EXC_PF 14

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

/* The pseudo-descriptor LGDT/LIDT take and SGDT/SIDT store (SDM 3.5.1). */
struct __attribute__((packed)) x86_dtr {
	uint16_t limit;
	uint32_t base;
};

static inline void lgdt(const struct x86_dtr *d)
{
	__asm__ volatile("lgdt %0" : : "m"(*d));
}
static inline void lidt(const struct x86_dtr *d)
{
	__asm__ volatile("lidt %0" : : "m"(*d));
}
static inline void sgdt(struct x86_dtr *d)
{
	__asm__ volatile("sgdt %0" : "=m"(*d));
}
static inline void sidt(struct x86_dtr *d)
{
	__asm__ volatile("sidt %0" : "=m"(*d));
}
static inline void ltr(uint16_t sel)
{
	__asm__ volatile("ltr %0" : : "rm"(sel));
}
static inline void lldt(uint16_t sel)
{
	__asm__ volatile("lldt %0" : : "rm"(sel));
}

static inline uint16_t str(void)
{
	uint16_t s;
	__asm__ volatile("str %0" : "=rm"(s));
	return s;
}

static inline uint16_t sldt(void)
{
	uint16_t s;
	__asm__ volatile("sldt %0" : "=rm"(s));
	return s;
}

static inline uint32_t read_eflags(void)
{
	uint32_t f;
	__asm__ volatile("pushfl; popl %0" : "=r"(f));
	return f;
}

static inline void write_eflags(uint32_t f)
{
	__asm__ volatile("pushl %0; popfl" : : "r"(f) : "memory", "cc");
}

static inline uint16_t read_cs(void)
{
	uint16_t s;
	__asm__ volatile("mov %%cs, %0" : "=r"(s));
	return s;
}

static inline uint16_t read_ss(void)
{
	uint16_t s;
	__asm__ volatile("mov %%ss, %0" : "=r"(s));
	return s;
}

#define DEFINE_CR(n)                                                                               \
	static inline uint32_t read_cr##n(void)                                                    \
	{                                                                                          \
		uint32_t v;                                                                        \
		__asm__ volatile("mov %%cr" #n ", %0" : "=r"(v));                                  \
		return v;                                                                          \
	}                                                                                          \
	static inline void write_cr##n(uint32_t v)                                                 \
	{                                                                                          \
		__asm__ volatile("mov %0, %%cr" #n : : "r"(v) : "memory");                         \
	}
DEFINE_CR(0)
DEFINE_CR(2)
DEFINE_CR(3)
DEFINE_CR(4)
#undef DEFINE_CR

static inline void invlpg(const volatile void *p)
{
	__asm__ volatile("invlpg (%0)" : : "r"(p) : "memory");
}
static inline void cli(void)
{
	__asm__ volatile("cli" : : : "memory");
}
static inline void sti(void)
{
	__asm__ volatile("sti" : : : "memory");
}
static inline void hlt(void)
{
	__asm__ volatile("hlt" : : : "memory");
}

/* STI's one-instruction interrupt shadow makes "sti; hlt" sleep without a
 * window for a lost wake-up (SDM vol. 2, STI). */
static inline void sti_hlt(void)
{
	__asm__ volatile("sti; hlt" : : : "memory");
}

#endif
