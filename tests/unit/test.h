/* The unit-test runner: each test file registers functions with TEST(); CHECK records a
 * failure with its line and keeps going. main() in runner.c prints "N passed, N failed". */
#ifndef YUBIN_TEST_H
#define YUBIN_TEST_H
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct test_case {
	const char *name;
	void (*fn)(void);
	struct test_case *next;
};

void test_register(struct test_case *t);
extern int test_failures_in_case;

#define TEST(name)                                                              \
	static void name(void);                                                     \
	static struct test_case name##_case = { #name, name, NULL };                \
	__attribute__((constructor)) static void name##_register(void)              \
	{                                                                           \
		test_register(&name##_case);                                            \
	}                                                                           \
	static void name(void)

#define CHECK(cond)                                                             \
	do {                                                                        \
		if (!(cond)) {                                                          \
			printf("  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);   \
			test_failures_in_case++;                                            \
		}                                                                       \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                      \
	do {                                                                        \
		long long a_ = (long long)(a), b_ = (long long)(b);                     \
		if (a_ != b_) {                                                         \
			printf("  %s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__,  \
			       #a, a_, b_);                                                 \
			test_failures_in_case++;                                            \
		}                                                                       \
	} while (0)

#define CHECK_EQ_STR(a, b)                                                      \
	do {                                                                        \
		const char *a_ = (a), *b_ = (b);                                        \
		if (strcmp(a_, b_) != 0) {                                              \
			printf("  %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__,        \
			       __LINE__, #a, a_, b_);                                       \
			test_failures_in_case++;                                            \
		}                                                                       \
	} while (0)

#endif
