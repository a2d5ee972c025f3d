/*
 * replay.c — runs every file of a corpus directory through a fuzz target,
 * so that the normal test run (under ASan/UBSan) replays what fuzzing
 * found. Usage: fuzz_X DIR...
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	size_t n = 0;
	for (int i = 1; i < argc; i++) {
		DIR *d = opendir(argv[i]);
		struct dirent *e;
		if (!d) {
			perror(argv[i]);
			return 2;
		}
		while ((e = readdir(d))) {
			char path[4096];
			FILE *f;
			long len;
			uint8_t *buf;
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
			if (!(f = fopen(path, "rb")))
				continue;
			fseek(f, 0, SEEK_END);
			len = ftell(f);
			fseek(f, 0, SEEK_SET);
			buf = malloc(len > 0 ? (size_t)len : 1);
			if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
				fclose(f);
				free(buf);
				return 2;
			}
			fclose(f);
			LLVMFuzzerTestOneInput(buf, (size_t)len);
			free(buf);
			n++;
		}
		closedir(d);
	}
	if (n == 0) {
		fprintf(stderr, "no corpus files found\n");
		return 1;
	}
	printf("replayed %zu inputs\n%zu passed, 0 failed\n", n, n);
	return 0;
}
