/*
 * tsan_urcu.c - linked only into bin/tests/lpm-conc-tsan: tells ThreadSanitizer about the
 * ordering that liburcu's QSBR grace periods provide.
 *
 * liburcu is not built with TSan, so TSan cannot see that synchronize_rcu() returns only
 * after every registered reader passed a quiescent state (or went offline): it would report
 * every free of a replaced block after a grace period as a race with the readers' earlier
 * lookups. These wrappers (ld --wrap) model exactly that guarantee and nothing more: a reader
 * "releases" a token when it announces a quiescent state, goes offline or unregisters, and
 * the writer "acquires" it when synchronize_rcu() returns. Lookups made after a reader's
 * last quiescent state are still unordered with a free, so a free without a grace period, a
 * reader keeping a pointer across a quiescent state, or a plain (non-atomic) publish of a
 * block are still reported. No suppression file is used.
 */
#include <sanitizer/tsan_interface.h>

void __real_urcu_qsbr_synchronize_rcu(void);
void __real_urcu_qsbr_quiescent_state(void);
void __real_urcu_qsbr_thread_offline(void);
void __real_urcu_qsbr_unregister_thread(void);

void __wrap_urcu_qsbr_synchronize_rcu(void);
void __wrap_urcu_qsbr_quiescent_state(void);
void __wrap_urcu_qsbr_thread_offline(void);
void __wrap_urcu_qsbr_unregister_thread(void);

static char grace_period; /* the token; only its address matters */

void __wrap_urcu_qsbr_synchronize_rcu(void)
{
	__real_urcu_qsbr_synchronize_rcu();
	__tsan_acquire(&grace_period);
}

void __wrap_urcu_qsbr_quiescent_state(void)
{
	__tsan_release(&grace_period);
	__real_urcu_qsbr_quiescent_state();
}

void __wrap_urcu_qsbr_thread_offline(void)
{
	__tsan_release(&grace_period);
	__real_urcu_qsbr_thread_offline();
}

void __wrap_urcu_qsbr_unregister_thread(void)
{
	__tsan_release(&grace_period);
	__real_urcu_qsbr_unregister_thread();
}
