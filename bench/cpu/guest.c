/* The workload as a test kernel: prints its checksum, exits through 0xF4. */
#include "console.h"
#include "test.h"
#include "workload.h"

void test_main(void)
{
	printf("cpu workload: %u rounds, checksum %08x\n", BENCH_ROUNDS, workload(BENCH_ROUNDS));
}
