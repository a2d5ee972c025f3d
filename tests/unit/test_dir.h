/* test_dir.h — removing a test's temporary store directory, shared by the
 * unit tests that open a store. */
#ifndef PW_TEST_DIR_H
#define PW_TEST_DIR_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

static inline void test_dir_remove(const char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

#endif
