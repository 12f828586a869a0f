/* plexvm: the command line.  Everything else starts in vm_main(). */
#include <signal.h>
#include <stdio.h>

#include "config.h"
#include "exit_status.h"
#include "stop_signal.h"
#include "vm.h"

int main(int argc, char **argv)
{
	struct config cfg;
	char err[CONFIG_ERR_LEN];
	int status;

	/* A closed output pipe is handled where we write (chardev.c). */
	signal(SIGPIPE, SIG_IGN);
	switch (config_parse(&cfg, argc, argv, err, sizeof(err))) {
	case CONFIG_HELP:
		config_usage(stdout);
		status = 0;
		break;
	case CONFIG_VERSION:
		printf("plexvm %s\n", PLEXVM_VERSION);
		status = 0;
		break;
	case CONFIG_RUN: status = vm_main(&cfg); break;
	default:
		fprintf(stderr, "plexvm: %s\n", err);
		status = EXIT_USAGE;
		break;
	}
	config_free(&cfg);
	stop_signal_reraise(); /* after the run's own exit work */
	return status;
}
