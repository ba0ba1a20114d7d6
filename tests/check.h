/*
 * check.h — CHECK() for the C unit test programs (header only, included once per program):
 * counts the checks and the failures, and for each failure prints file:line, the function,
 * the condition and, when given, a printf-style message:
 *
 *     CHECK(n == 4, "got %u", n);   ->  test_x.c:12: test_ring: CHECK(n == 4) failed: got 3
 *     CHECK(ok);                    ->  test_x.c:13: test_ring: CHECK(ok) failed
 *
 * The program reports `checks` and `failures` at its end and exits non-zero on a failure.
 */
#ifndef NMBOX_TESTS_CHECK_H
#define NMBOX_TESTS_CHECK_H

#include <stdarg.h>
#include <stdio.h>

static int failures, checks;

/* fmt is " " followed by the message, if any (so that no message is not an empty format) */
__attribute__((format(printf, 5, 6), unused)) static void
check_failed(const char *file, int line, const char *func, const char *cond, const char *fmt, ...)
{
	va_list ap;
	failures++;
	fprintf(stderr, "%s:%d: %s: CHECK(%s) failed", file, line, func, cond);
	if (fmt[1]) {
		fputc(':', stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
	}
	fputc('\n', stderr);
}

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		checks++;                                                                          \
		if (!(cond))                                                                       \
			check_failed(__FILE__, __LINE__, __func__, #cond, " " __VA_ARGS__);        \
	} while (0)

#endif /* NMBOX_TESTS_CHECK_H */
