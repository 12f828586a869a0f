/* A small user program for the Linux system test: run inside the guest
 * (static i386, glibc), it exercises what a shell's built-ins do not --
 * memory from brk/mmap, x87 arithmetic, fork, a pipe and wait -- and prints
 * results the test knows independently: pi(100000) = 9592 primes,
 * sqrt(2) to nine places, and the child's exit status through wait(). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int prog_primes(int n)
{
	char *composite = calloc((size_t)n, 1);
	int count = 0;

	if (!composite)
		return -1;
	for (int i = 2; i < n; i++) {
		if (composite[i])
			continue;
		count++;
		if (i > n / i) /* i * i would pass n (or overflow) */
			continue;
		for (int j = i * i; j < n; j += i)
			composite[j] = 1;
	}
	free(composite);
	return count;
}

/* The child sends a word through a pipe and exits with 42. */
static int prog_child(char *word, size_t size)
{
	int fd[2], status;
	pid_t pid;
	ssize_t got;

	if (pipe(fd) != 0 || (pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		close(fd[0]);
		if (write(fd[1], "piped", 5) != 5)
			_exit(1);
		_exit(42);
	}
	close(fd[1]);
	got = read(fd[0], word, size - 1);
	word[got > 0 ? got : 0] = '\0';
	close(fd[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

int main(int argc, char **argv)
{
	/* volatile: computed at run time, on the guest's FPU */
	volatile double two = argc > 1 ? atof(argv[1]) : 2.0;
	char word[16];
	int child = prog_child(word, sizeof(word));

	printf("linux-prog: primes=%d child=%d word=%s\n", prog_primes(100000), child, word);
	/* separately: a wrong FPU must not hide whether the rest works */
	printf("linux-prog: sqrt=%.9f\n", sqrt(two));
	return 0;
}
