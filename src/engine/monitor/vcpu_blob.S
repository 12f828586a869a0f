/* The monitor's vCPU binary (build/plexvm-vcpu, a static musl program built
 * from vcpu_main.c and the monitor's files), linked into plexvm so that
 * vcpu_spawn.c can run it from a memfd. */
	.section .rodata
	.balign 16
	.globl vcpu_blob_start, vcpu_blob_end
	.hidden vcpu_blob_start, vcpu_blob_end
vcpu_blob_start:
	.incbin VCPU_BLOB_PATH
vcpu_blob_end:
	.section .note.GNU-stack, "", @progbits
