/* Entry of the tiny guest: the runner starts the vCPU in flat 32-bit protected mode at the
 * image's first byte (HV_GUEST_IMAGE_GPA). Set a stack, run guest_main, then halt for good. */
#include "layout.h"

	.code32
	.section .text.entry, "ax"
	.globl _start
_start:
	cli
	movl	$HV_GUEST_STACK_TOP, %esp
	call	guest_main
1:	hlt
	jmp	1b

	.section .note.GNU-stack, "", @progbits
