/*
 * A main() for the fuzz target where libFuzzer is not available (gcc):
 * runs each file given, or N inputs from a fixed-seed generator.
 *
 *   replay FILE...      replay crash files / a corpus
 *   replay -n N         N pseudo-random inputs (the make check smoke run)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
	static uint8_t buf[1 << 16];
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return 1;
	}
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	return 0;
}

/* Inputs that look a bit like code: mostly short opcodes, some prefixes. */
static void replay_random(unsigned long count)
{
	uint8_t buf[48 + 256];
	uint64_t x = 0x2545f4914f6cdd1dull;
	for (unsigned long i = 0; i < count; i++) {
		for (size_t j = 0; j < sizeof(buf); j++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[j] = (uint8_t)(x >> 24);
		}
		LLVMFuzzerTestOneInput(buf, 48 + (x >> 40) % 256);
	}
}

int main(int argc, char **argv)
{
	int rc = 0;
	if (argc == 3 && strcmp(argv[1], "-n") == 0) {
		replay_random(strtoul(argv[2], NULL, 0));
		printf("%s inputs: no crash\n", argv[2]);
		return 0;
	}
	for (int i = 1; i < argc; i++)
		rc |= replay_file(argv[i]);
	return rc;
}
