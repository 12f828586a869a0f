/*
 * SIGINT, SIGTERM and SIGHUP stop the guest cleanly: the run ends as for
 * any other stop (--stats, the VGA dump, the terminal restored), and then
 * plexvm dies of the same signal, so whoever sent it sees it as the cause,
 * as with QEMU's "terminating on signal".
 */
#ifndef PLEXVM_STOP_SIGNAL_H
#define PLEXVM_STOP_SIGNAL_H

/* Catches the three signals from now on (no SA_RESTART: a sleep in
 * ppoll() ends with EINTR). */
void stop_signal_install(void);

/* The first of them that arrived, or 0. */
int stop_signal_taken(void);

/* If one arrived: dies of it, with its default action. */
void stop_signal_reraise(void);

#endif
