#include <stdlib.h>

#include "test.h"

static struct test_case *cases, **tail = &cases;
int test_failures_in_case;

void test_register(struct test_case *t)
{
	*tail = t;
	tail = &t->next;
}

int main(int argc, char **argv)
{
	int passed = 0, failed = 0;
	for (struct test_case *t = cases; t; t = t->next) {
		if (argc > 1 && !strstr(t->name, argv[1]))
			continue;
		test_failures_in_case = 0;
		t->fn();
		if (test_failures_in_case) {
			printf("FAIL %s\n", t->name);
			failed++;
		} else {
			passed++;
		}
	}
	printf("unit: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
