/*
 * Stopping on SIGINT, SIGTERM and SIGHUP; see stop_signal.h.
 */
#include "stop_signal.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t taken;

static void on_stop_signal(int sig)
{
	if (!taken)
		taken = sig;
}

void stop_signal_install(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

int stop_signal_taken(void)
{
	return taken;
}

void stop_signal_reraise(void)
{
	int sig = taken;
	if (!sig)
		return;
	signal(sig, SIG_DFL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
}
