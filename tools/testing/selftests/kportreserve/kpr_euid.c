// SPDX-License-Identifier: GPL-2.0
/*
 * kpr_euid: prints its effective user ID.
 *
 * The tests install a copy of it setuid root, to check that a task without
 * network access gets no privileges from execve() (no_new_privs).
 */

#include <stdio.h>
#include <unistd.h>

int main(void)
{
	printf("%u\n", (unsigned int)geteuid());
	return 0;
}
