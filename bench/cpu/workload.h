#ifndef PLEXVM_BENCH_WORKLOAD_H
#define PLEXVM_BENCH_WORKLOAD_H
#include <stdint.h>
/* Runs @rounds rounds of the mixed workload; returns a checksum. */
uint32_t workload(uint32_t rounds);
#endif
