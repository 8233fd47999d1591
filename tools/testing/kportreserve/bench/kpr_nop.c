// SPDX-License-Identifier: GPL-2.0
/*
 * kpr_nop: the program that kpr_bench executes to time fork+execve+wait.
 *
 * It exits at once, without a C library: what is timed is the kernel's exec
 * (and what kportreserve does there), not the start-up of libc.  x86_64 only,
 * like the rest of the test rig.  Built with -nostdlib -static.
 */

__attribute__((naked)) void _start(void)
{
	/* exit_group(0) */
	__asm__ volatile("mov $231, %eax\n\t"
			 "xor %edi, %edi\n\t"
			 "syscall\n\t"
			 "hlt");
}
