// SPDX-License-Identifier: GPL-2.0

#include <linux/audit.h>

__rust_helper struct audit_context *rust_helper_audit_context(void)
{
	return audit_context();
}

__rust_helper kuid_t rust_helper_audit_get_loginuid(struct task_struct *tsk)
{
	return audit_get_loginuid(tsk);
}

__rust_helper unsigned int rust_helper_audit_get_sessionid(struct task_struct *tsk)
{
	return audit_get_sessionid(tsk);
}
