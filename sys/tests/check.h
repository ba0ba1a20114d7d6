/*
 * check.h — CHECK() for the test programs of sys/ (header only, one per program): counts
 * the checks and the failures, and prints file:line, the condition and a printf-style
 * message for each failure. The program reports `checks` and `failures` at its end.
 */
#ifndef NM_TESTS_CHECK_H
#define NM_TESTS_CHECK_H

#include <stdio.h>

static int failures, checks;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		checks++;                                                                          \
		if (!(cond)) {                                                                     \
			failures++;                                                                \
			fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);   \
			fprintf(stderr, __VA_ARGS__);                                              \
			fprintf(stderr, "\n");                                                     \
		}                                                                                  \
	} while (0)

#endif /* NM_TESTS_CHECK_H */
