/* merge.h -- one ordered event stream out of many sensors' (README
 * "Sensors and the correlator").
 *
 * Each sensor's events come in its own packet-time order. The merge holds
 * them per sensor and releases the oldest head only when every other
 * sensor that still speaks has said (an event, or a MARK of its clock) that
 * it is past that time, plus a hold-back of max_skew: the clocks of two
 * hosts are never quite equal, and the hold-back is the time an offset
 * learned from their first shared messages needs to apply.
 *
 * Clock offsets: a message seen by two sensors (the same TCP connection
 * captured at both ends) has two packet times; their difference, over many
 * such messages (median), is the offset of one sensor's clock to the
 * other's. Offsets are relative to the median clock of the sensors that
 * share connections (most clocks agree: the odd one out gets the offset),
 * and are applied (subtracted from every time of the sensor's events) once they are
 * 1 ms or more; smaller ones are not told apart from the wire's delay.
 *
 * Doubles: a TCP connection seen by several sensors is owned by the first
 * that shows an event of it; the others' events of that connection are
 * dropped (counted) until the owner has said nothing of it for own_idle_us.
 *
 * Sequence numbers and flow ids are per sensor: released events get a
 * merged seq, responses the merged seq of their request, flows an id with
 * the sensor's index on top. Memory: a bounded queue per sensor (the
 * caller reads no more of a sensor whose queue is full), fixed tables. */
#ifndef OSRCA_MERGE_H
#define OSRCA_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "capture/stats.h"
#include "parsers/event.h"

#define MERGE_MAX_SENSORS 256

struct merge_cfg {
    uint64_t max_skew_us; /* hold-back, and the widest offset believed */
    uint64_t own_idle_us; /* a connection's owner lapses after this */
    size_t max_queued;    /* events held per sensor */
};

/* max_skew 2 s, own_idle 10 s, 100000 events per sensor. */
void merge_defaults(struct merge_cfg *cfg);

struct merge;

/* Released events, in order; takes ownership. sensor: its index. */
typedef void (*merge_event_fn)(void *ctx, struct event *ev, int sensor);
/* A sensor's clock tick (merge_tick), in order with the events. */
typedef void (*merge_tick_fn)(void *ctx, uint64_t now_us);

struct merge *merge_new(const struct merge_cfg *cfg, struct stats *st, merge_event_fn fn,
                        merge_tick_fn tick, void *ctx);
void merge_free(struct merge *m); /* frees held events; NULL accepted */

/* The index of sensor id (registered on first use, in that order); -1
 * when MERGE_MAX_SENSORS are known. */
int merge_sensor(struct merge *m, const char *id);
const char *merge_sensor_id(const struct merge *m, int s);
int merge_nsensors(const struct merge *m);

/* One event of sensor s (takes ownership). */
void merge_push(struct merge *m, int s, struct event *ev);
/* Sensor s's clock reached clock_us (raw, its own clock). */
void merge_mark(struct merge *m, int s, uint64_t clock_us);
/* As merge_mark, and the tick is handed on in its place among the events
 * (a sensor's pipeline ticks: the analysis decides chains at the same
 * points as on the sensor's own capture). */
void merge_tick(struct merge *m, int s, uint64_t clock_us);
/* Sensor s's stream ended: it holds nobody back any more. */
void merge_end(struct merge *m, int s);
/* The caller's judgement (wall clock): sensor s has been silent too long
 * (1) and must not hold the others back, or speaks again (0). */
void merge_set_silent(struct merge *m, int s, int silent);
int merge_is_silent(const struct merge *m, int s);
int merge_is_ended(const struct merge *m, int s);

/* Releases every event that can be; returns the merged clock (the time
 * below which nothing more will come, 0 before any). */
uint64_t merge_release(struct merge *m);
/* End of all input: releases everything. */
void merge_flush(struct merge *m);

/* Room left in sensor s's queue (the caller reads more only when > 0). */
size_t merge_room(const struct merge *m, int s);
/* Events and ticks of sensor s released (or dropped as doubles) so far. */
uint64_t merge_done(const struct merge *m, int s);
/* Sensor s's clock offset in use (us, its clock minus the reference's). */
int64_t merge_offset(const struct merge *m, int s);
/* Sensor s's raw clock as it last said (event or mark). */
uint64_t merge_watermark(const struct merge *m, int s);

#endif
