#ifndef PLEXVM_LOG_H
#define PLEXVM_LOG_H

/* Messages go to stderr prefixed with "plexvm: ". */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints the message and exits with @status (an enum exit_status). For host
 * set-up failures where there is nothing to unwind. */
_Noreturn void die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Warn once per call site: a static flag in the caller. */
#define log_warn_once(...)                                                                         \
	do {                                                                                       \
		static int warned_;                                                                \
		if (!warned_) {                                                                    \
			warned_ = 1;                                                               \
			log_warn(__VA_ARGS__);                                                     \
		}                                                                                  \
	} while (0)

#endif
