/*
 * Running one x87 instruction on the host's FPU (see fpu.h).
 *
 * plexvm runs on x86-64 hosts only, whose x87 is the same FPU as the guest
 * CPU's: an x87 instruction means the same thing in 64-bit code as in
 * 32-bit code, as long as it has no REX prefix.  So the guest's register
 * file goes into the host FPU with FRSTOR, the instruction runs from a stub
 * of its own (its opcode, its ModRM byte with the memory operand at [RAX],
 * RET), and FNSAVE takes the result out.  FNSAVE does not wait: an unmasked
 * exception the instruction raised stays pending in the saved image (ES
 * set) instead of trapping on the host, and the image is loaded with no
 * exception flags, so nothing is pending when the instruction starts.
 *
 * The stubs are generated at assembly time, 8 bytes each: 64 memory forms
 * (D8-DF /0-/7 with [RAX]) and 512 register forms (D8-DF C0-FF).  They are
 * in top-level asm here rather than in a .S file because the core is built
 * from every C file of x86/ by several builds (plexvm, unit tests, the fuzzer).
 */
#include "fpu.h"

#if !defined(__x86_64__)
#error "the x87 of the x86 core runs on an x86-64 host's FPU"
#endif

void x86_fpu_stubs(void);
__asm__(".text\n"
        ".balign 8\n"
        ".globl x86_fpu_stubs\n"
        ".hidden x86_fpu_stubs\n"
        "x86_fpu_stubs:\n"
        ".irp op,0xd8,0xd9,0xda,0xdb,0xdc,0xdd,0xde,0xdf\n"
        ".irp reg,0,1,2,3,4,5,6,7\n"
        ".balign 8\n"
        ".byte \\op, (\\reg << 3)\n"
        "ret\n"
        ".endr\n"
        ".endr\n"
        ".irp op,0xd8,0xd9,0xda,0xdb,0xdc,0xdd,0xde,0xdf\n"
        ".irp hi,0xc0,0xc8,0xd0,0xd8,0xe0,0xe8,0xf0,0xf8\n"
        ".irp lo,0,1,2,3,4,5,6,7\n"
        ".balign 8\n"
        ".byte \\op, \\hi + \\lo\n"
        "ret\n"
        ".endr\n"
        ".endr\n"
        ".endr\n"
        ".balign 8\n");

/* EFLAGS bits an x87 instruction reads (FCMOVcc) or writes (FCOMI). */
#define FPU_EFLAGS (X86_CF | X86_PF | X86_AF | X86_ZF | X86_SF | X86_OF)

void fpu_host_run(struct fpu_image *img, uint8_t mem[16], uint32_t *eflags, unsigned stub)
{
	uint8_t host[108];
	uint64_t fl = *eflags & FPU_EFLAGS;
	const void *fn = (const char *)x86_fpu_stubs + 8 * stub;
	/* The CALL and PUSHes would land in the red zone below RSP, where
	 * the compiler may keep locals: step over it first.  The memory
	 * operands are used only outside that stretch, since they may be
	 * addressed from RSP. */
	__asm__ volatile("fnsave %[host]\n\t"
	                 "frstor %[img]\n\t"
	                 "lea -128(%%rsp), %%rsp\n\t"
	                 "pushfq\n\t"
	                 "andl $~0x8d5, (%%rsp)\n\t"
	                 "orq %[fl], (%%rsp)\n\t"
	                 "pushq (%%rsp)\n\t"
	                 "popfq\n\t"
	                 "call *%[fn]\n\t"
	                 "pushfq\n\t"
	                 "popq %[fl]\n\t"
	                 "popfq\n\t"
	                 "lea 128(%%rsp), %%rsp\n\t"
	                 "fnsave %[img]\n\t"
	                 "frstor %[host]"
	                 : [img] "+m"(*img), [host] "=m"(host), [fl] "+r"(fl),
	                   "+m"(*(uint8_t(*)[16])mem)
	                 : [fn] "r"(fn), "a"(mem)
	                 : "memory", "cc");
	*eflags = (*eflags & ~FPU_EFLAGS) | ((uint32_t)fl & FPU_EFLAGS);
}
