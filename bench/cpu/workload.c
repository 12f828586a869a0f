/*
 * A fixed CPU-bound workload with a realistic mix: loops over memory (a
 * sieve), pointer chasing (a linked list), calls and returns (recursion),
 * data-dependent branches (hashing, insertion sort); built with BENCH_X87
 * (bench/cpu/run ROUNDS x87), x87 arithmetic as well.  The same source runs
 * as a guest kernel under each engine and as a host program; it returns a
 * checksum so every run can be checked against the others.
 */
#include "workload.h"

#define SIEVE_SIZE 32768
#define LIST_SIZE 4096
#define SORT_SIZE 256

static uint8_t sieve[SIEVE_SIZE];
static struct node { struct node *next; uint32_t value; } nodes[LIST_SIZE];
static uint32_t sort_buf[SORT_SIZE];

static uint32_t count_primes(void)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < SIEVE_SIZE; i++)
		sieve[i] = 1;
	for (uint32_t i = 2; i < SIEVE_SIZE; i++) {
		if (!sieve[i])
			continue;
		n++;
		for (uint32_t j = i * 2; j < SIEVE_SIZE; j += i)
			sieve[j] = 0;
	}
	return n;
}

static uint32_t walk_list(uint32_t seed)
{
	for (uint32_t i = 0; i < LIST_SIZE; i++) {
		seed = seed * 1103515245u + 12345u;
		nodes[i].value = seed >> 8;
		nodes[i].next = &nodes[(i * 2053u + 7u) % LIST_SIZE];
	}
	uint32_t sum = 0;
	struct node *p = &nodes[0];
	for (uint32_t i = 0; i < 4 * LIST_SIZE; i++) {
		sum += p->value ^ i;
		p = p->next;
	}
	return sum;
}

static uint32_t fib(uint32_t n)
{
	return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

static uint32_t sort_and_hash(uint32_t seed)
{
	for (uint32_t i = 0; i < SORT_SIZE; i++) {
		seed ^= seed << 13;
		seed ^= seed >> 17;
		seed ^= seed << 5;
		sort_buf[i] = seed;
	}
	for (uint32_t i = 1; i < SORT_SIZE; i++) {
		uint32_t v = sort_buf[i], j = i;
		while (j > 0 && sort_buf[j - 1] > v) {
			sort_buf[j] = sort_buf[j - 1];
			j--;
		}
		sort_buf[j] = v;
	}
	uint32_t h = 2166136261u;
	for (uint32_t i = 0; i < SORT_SIZE; i++)
		h = (h ^ sort_buf[i]) * 16777619u;
	return h;
}

#ifdef BENCH_X87
#define X87_STEPS 256
/* x87 arithmetic: sqrt(v) + v * sqrt(v), rounded to an integer, summed.
 * In asm statements, as the guest is built without x87 code generation;
 * the same instructions in 32-bit and 64-bit code. */
static uint32_t x87_sums(uint32_t seed)
{
	uint32_t sum = 0;
	for (uint32_t i = 0; i < X87_STEPS; i++) {
		int32_t v = (int32_t)((seed * 2654435761u + i) & 0xffff), r;
		__asm__ volatile("fildl %1\n\t"
		                 "fsqrt\n\t"
		                 "fildl %1\n\t"
		                 "fmul %%st(1), %%st\n\t"
		                 "faddp\n\t"
		                 "fistpl %0"
		                 : "=m"(r)
		                 : "m"(v));
		sum += (uint32_t)r;
	}
	return sum;
}
#endif

uint32_t workload(uint32_t rounds)
{
	uint32_t sum = 0;
	for (uint32_t r = 0; r < rounds; r++) {
		sum += count_primes();
		sum ^= walk_list(r + 1);
		sum += fib(16);
		sum ^= sort_and_hash(r + 7);
#ifdef BENCH_X87
		sum += x87_sums(r);
#endif
	}
	return sum;
}
