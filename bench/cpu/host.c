/* The workload as a host program, the "native" column of bench/cpu. */
#include <stdio.h>
#include <stdlib.h>

#include "workload.h"

int main(int argc, char **argv)
{
	printf("cpu workload: %u rounds, checksum %08x\n", BENCH_ROUNDS, workload(BENCH_ROUNDS));
	return 0;
}
