/* evwire.h -- the wire form of decoded events between a sensor and the
 * correlator (README "Sensors and the correlator").
 *
 * A frame is what one Redis Streams entry (field "f") or one record of a
 * stream file holds: a batch of a sensor's records, in its packet-time
 * order.
 *
 *   frame   = "OSEV" version:u8 flags:u8 sensor:str run:varint batch:varint
 *             record*
 *             run: the sensor's start (wall clock, us): a restarted sensor is
 *             a new run; batch: 1, 2, ... within a run (a gap is a loss)
 *   record  = type:u8 len:varint payload[len]
 *   str     = len:varint bytes[len]            (no NUL inside, len <= 65535)
 *   varint  = unsigned LEB128, at most 10 bytes; signed values zig-zag
 *
 * Record types (an unknown type is skipped by its length; an event record
 * longer than this version knows keeps its known prefix: fields are only
 * ever appended, and the version byte changes when one changes meaning):
 *   1 EVENT  one struct event (evwire.c lists the field order)
 *   2 MARK   clock:varint ncounters:varint (name:str value:varint)*
 *            the sensor's packet clock reached `clock`: no later event of
 *            this sensor is older; counters are its running totals
 *   3 END    as MARK: the sensor's stream ended (file done, stopped)
 *
 * Secrets never reach a frame: events hold none (parsers/event.h). The
 * token fingerprints of an event are exported; sensors that must compare
 * them share the fingerprint key (redact_set_fp_key). */
#ifndef OSRCA_EVWIRE_H
#define OSRCA_EVWIRE_H

#include <stddef.h>
#include <stdint.h>

#include "capture/mem.h"
#include "parsers/event.h"

#define EVWIRE_VERSION 1
#define EVWIRE_MAX_FRAME (16u << 20) /* a frame longer is refused */
#define EVWIRE_MAX_STR 65535u
#define EVWIRE_MAX_SENSOR 64 /* sensor id bytes */
#define EVWIRE_MAX_COUNTERS 32

enum evwire_rec { EVWIRE_EVENT = 1, EVWIRE_MARK = 2, EVWIRE_END = 3 };

/* Why a frame or record was refused (counted as "evwire.<name>"). */
enum evwire_err {
    EVWIRE_OK = 0,
    EVWIRE_E_MAGIC,     /* not "OSEV" */
    EVWIRE_E_VERSION,   /* a version this reader does not know */
    EVWIRE_E_TRUNCATED, /* a length runs past the end */
    EVWIRE_E_VARINT,    /* a varint longer than 10 bytes or over its field */
    EVWIRE_E_STRING,    /* a string too long or holding a NUL */
    EVWIRE_E_FIELD,     /* a value out of its range (kind, verb, counts) */
    EVWIRE_E_MEMORY,    /* the event could not be allocated (memcap) */
    EVWIRE_E_COUNT
};

const char *evwire_err_name(enum evwire_err e);

/* A growing output buffer (malloc'ed). */
struct evwire_buf {
    uint8_t *p;
    size_t n, cap;
    int failed; /* an allocation failed: the content is incomplete */
};

void evwire_buf_free(struct evwire_buf *b);

/* Starts a frame in b (emptied first): header with sensor id, run and
 * batch. */
void evwire_begin(struct evwire_buf *b, const char *sensor, uint64_t run, uint64_t batch);
/* Appends one event record. */
void evwire_put_event(struct evwire_buf *b, const struct event *ev);
/* Appends a MARK or END record with n counters (names[i], values[i]). */
void evwire_put_mark(struct evwire_buf *b, enum evwire_rec type, uint64_t clock_us,
                     const char *const *names, const uint64_t *values, size_t n);

/* A frame being read: evwire_open checks the header, evwire_next hands
 * out its records one by one. The reader points into the frame's bytes,
 * which must outlive it. */
struct evwire_reader {
    const uint8_t *p, *end;
    char sensor[EVWIRE_MAX_SENSOR + 1];
    uint64_t run, batch;
    int version;
};

/* EVWIRE_OK, or why the header is refused. */
enum evwire_err evwire_open(struct evwire_reader *r, const uint8_t *p, size_t n);

/* One decoded record. For EVENT, ev is a new event on the given pool
 * (the caller owns it); for MARK and END, clock and counters (names point
 * into the frame). */
struct evwire_rec_out {
    enum evwire_rec type;
    struct event *ev;
    uint64_t clock_us;
    size_t ncounters;
    struct {
        const char *name;
        size_t name_len;
        uint64_t value;
    } counters[EVWIRE_MAX_COUNTERS];
};

/* Reads the next record: 1 with *out filled, 0 at the end of the frame,
 * -1 on a bad record (*err says why; the rest of the frame is abandoned:
 * its framing can no longer be trusted). Unknown record types are
 * skipped. */
int evwire_next(struct evwire_reader *r, struct mem_pool *pool, struct evwire_rec_out *out,
                enum evwire_err *err);

#endif
