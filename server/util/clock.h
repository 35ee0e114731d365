/* clock.h - the daemon's clocks, one place for every layer of server/.
 *
 * Monotonic time (CLOCK_MONOTONIC) measures durations, deadlines and rates:
 * it never jumps when the system clock is set. Wall time (CLOCK_REALTIME) is
 * for timestamps that leave the process (the store's columns, /metrics,
 * last-inference times). The engine keeps its own monotonic helper
 * (engine/train.c): it may not include server/ (layers.mk). log.c reads
 * CLOCK_REALTIME itself, as it formats the calendar fields of a timestamp.
 * Thread-safe; no state.
 */
#ifndef MLPD_CLOCK_H
#define MLPD_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Monotonic seconds (sub-second), from an arbitrary origin. */
double mono_seconds(void);
/* Monotonic nanoseconds, from the same origin. */
uint64_t mono_ns(void);
/* The CLOCK_MONOTONIC instant ns nanoseconds from now, as
 * pthread_cond_timedwait takes it (for a condition whose clock attribute is
 * CLOCK_MONOTONIC). */
struct timespec mono_deadline(uint64_t ns);

/* Seconds since the Unix epoch (sub-second). */
double wall_seconds(void);
/* Milliseconds since the Unix epoch. */
uint64_t wall_ms(void);

/* Sleep ms milliseconds (a signal may end it early: callers loop on a flag). */
void sleep_ms(long ms);

#endif /* MLPD_CLOCK_H */
