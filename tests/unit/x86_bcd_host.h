/*
 * The record the 32-bit host helper (x86_bcd_host.c) writes for each case
 * of the BCD-adjust test (test_x86_bcd.c): the instruction, its inputs and
 * what the host CPU made of them.  Both sides are little-endian x86 and the
 * layout has no padding in either ABI, so the bytes are the interface.
 */
#ifndef PLEXVM_X86_BCD_HOST_H
#define PLEXVM_X86_BCD_HOST_H

#include <stdint.h>

struct bcd_record {
	uint8_t op;    /* 0x27 DAA, 0x2f DAS, 0x37 AAA, 0x3f AAS, 0xd4 AAM, 0xd5 AAD */
	uint8_t imm;   /* AAM/AAD's base; 0 for the others */
	uint8_t fault; /* 1: the instruction raised #DE (AAM with base 0) */
	uint8_t pad;
	uint16_t ax_in, flags_in;
	uint16_t ax_out, flags_out; /* 0 when it faulted */
};

_Static_assert(sizeof(struct bcd_record) == 12, "bcd_record is the helper's output format");

/* The bases AAD is tried with (AAM is tried with all 256): the usual 10,
 * 0 and 1, powers of two and the ends of the byte. */
#define BCD_AAD_BASES                                                                              \
	{                                                                                          \
		0, 1, 2, 7, 10, 16, 0x7f, 0x80, 0xff                                               \
	}

/* AH values for AAA and AAS, whose carry or borrow reaches AH: around
 * both ends and the sign change. */
#define BCD_AH_EDGES                                                                               \
	{                                                                                          \
		0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff                                                 \
	}

#endif
