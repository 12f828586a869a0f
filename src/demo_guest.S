/* The built-in demo guest (guests/hello.c built with -DPLEXVM_DEMO), linked
 * into plexvm so that running it with no kernel shows something. */
	.section .rodata
	.balign 16
	.globl demo_guest_start, demo_guest_end
demo_guest_start:
	.incbin DEMO_GUEST_PATH
demo_guest_end:
	.section .note.GNU-stack, "", @progbits
