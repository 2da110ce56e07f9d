/* bus.h -- Redis Streams as the bus between sensors and the correlator
 * (README "Sensors and the correlator"), through hiredis (loaded on first
 * use, cli/dynlib.h).
 *
 * Keys, under the URL's prefix P (redis://HOST:PORT/P, default "osrca"):
 *   P:sensors          SET of sensor ids
 *   P:s:ID             STREAM of sensor ID's frames (field "f", evwire.h),
 *                      XADD MAXLEN ~ trimmed
 *   P:fpkey            the token fingerprint key the sensors share
 *   P:verdicts         STREAM of the correlator's verdicts (fields "k" key,
 *                      "j" JSON), written with P:done:GROUP in one MULTI
 *   P:done:GROUP       ZSET of verdict keys already out (score: packet time, s)
 *   P:acked:GROUP      HASH sensor -> "run:batch" of its last frame acknowledged
 * One stream per sensor: each is in its sensor's packet-time order, a
 * flooding sensor trims only its own history, and in a Redis Cluster the
 * streams spread over the slots. */
#ifndef OSRCA_BUS_H
#define OSRCA_BUS_H

#include <stddef.h>
#include <stdint.h>

#define BUS_MAX_ID 48 /* a stream entry id "ms-seq" */

struct bus_url {
    char host[256];
    int port;
    char prefix[128];
};

/* Parses redis://HOST[:PORT][/PREFIX]. 0, or -1 with err. */
int bus_parse_url(const char *url, struct bus_url *u, char *err, size_t errlen);

/* ---- publishing (sensor) ---- */

struct bus_pub_cfg {
    const char *url;
    const char *sensor;
    size_t maxlen;       /* XADD MAXLEN ~ (entries kept per sensor) */
    size_t queue_frames; /* frames waiting for Redis at most */
    size_t queue_bytes;  /* ... and their bytes */
    int block;           /* 1: a full queue makes bus_pub_send wait (replaying a
                            file); 0: the frame is dropped and counted (live) */
};

void bus_pub_defaults(struct bus_pub_cfg *cfg);

struct bus_pub_stats {
    uint64_t frames_sent, bytes_sent, frames_dropped, reconnects, errors;
    size_t queued;
    int connected, connected_once;
};

struct bus_pub;

/* Connects in the background (a worker thread): Redis may be down at
 * first. NULL with err on a bad URL or no hiredis. */
struct bus_pub *bus_pub_new(const struct bus_pub_cfg *cfg, char *err, size_t errlen);
/* Queues a copy of frame: 0, or -1 dropped (queue full, not blocking).
 * wait: wait for room whatever cfg.block says (a sensor's last frame, its
 * END, must not be dropped). */
int bus_pub_send(struct bus_pub *p, const uint8_t *frame, size_t n, int wait);
void bus_pub_get_stats(struct bus_pub *p, struct bus_pub_stats *s);
/* Waits up to wait_ms for the queue to drain, stops the worker, frees.
 * NULL accepted. Returns the frames still unsent (dropped). */
size_t bus_pub_free(struct bus_pub *p, int wait_ms);

/* The shared fingerprint key: P:fpkey, set from key if absent (SET NX),
 * then read back into key. Retries until wait_ms. 0, or -1 with err. */
int bus_fp_key(const char *url, uint8_t key[16], int wait_ms, char *err, size_t errlen);

/* ---- consuming (correlator) ---- */

struct bus_sub;

/* One entry read: the stream's sensor, its id and frame bytes (valid
 * until the next bus_sub_read). */
struct bus_entry {
    const char *sensor;
    char id[BUS_MAX_ID];
    const uint8_t *frame;
    size_t n;
};

typedef void (*bus_entry_fn)(void *ctx, const struct bus_entry *e);

/* Connects (retrying until wait_ms). NULL with err. */
struct bus_sub *bus_sub_new(const char *url, const char *group, const char *consumer,
                            int wait_ms, char *err, size_t errlen);
void bus_sub_free(struct bus_sub *b); /* NULL accepted */

/* The sensor ids in P:sensors, sorted; each gets its consumer group
 * (created at the stream's start when new). Returns how many (at most
 * max) into ids (strings owned by b until the next call), -1 on a Redis
 * error (the connection is retried at the next call). */
int bus_sub_sensors(struct bus_sub *b, const char **ids, int max);

/* Reads this consumer's pending entries of sensor id after *after (start
 * with "0"), then entries other consumers left pending longer than
 * claim_idle_ms (XAUTOCLAIM): what a dead correlator read but did not
 * finish. Calls fn per entry; returns the number, 0 when none is left,
 * -1 on error. */
int bus_sub_pending(struct bus_sub *b, const char *id, char after[BUS_MAX_ID],
                    uint64_t claim_idle_ms, int count, bus_entry_fn fn, void *ctx);
/* Reads new entries of the given sensors (XREADGROUP ... >), blocking up
 * to block_ms. Returns entries read, -1 on error. */
int bus_sub_read(struct bus_sub *b, const char *const *ids, int nids, int count, int block_ms,
                 bus_entry_fn fn, void *ctx);
/* XACK of entries ids[0..n) of sensor id and, when run is not 0, the
 * sensor's last frame acknowledged (run, batch) in P:acked:GROUP, in one
 * MULTI. 0 or -1. */
int bus_sub_ack(struct bus_sub *b, const char *id, const char *const *ids, size_t n,
                uint64_t run, uint64_t batch);
/* The last frame acknowledged of sensor id (0, 0 when none). 0 or -1. */
int bus_sub_acked(struct bus_sub *b, const char *id, uint64_t *run, uint64_t *batch);

/* Verdict keys already out for the group (P:done:GROUP, the newest max),
 * each passed to fn. Returns how many, -1 on error. */
int bus_sub_done_keys(struct bus_sub *b, size_t max, void (*fn)(void *ctx, const char *key),
                      void *ctx);
/* Records verdict key with its JSON atomically (MULTI: XADD P:verdicts,
 * ZADD P:done:GROUP). 0, or -1 (Redis unreachable: the caller still
 * outputs it, the record is lost). */
int bus_sub_record(struct bus_sub *b, const char *key, uint64_t ts_s, const char *json,
                   size_t n);

/* What the correlator reads out of Redis's answers (hiredis redisReply
 * trees, as void * here): the entries of one stream ([[id, [field, value,
 * ...] or nil], ...]; frames are the "f" field; the last id read kept in
 * last, when not NULL), and XREADGROUP's answer for several streams
 * ([[key, entries], ...], keys[i] being sensor ids[i]'s stream). Anything
 * of another shape is skipped. They return the entries handed to fn. */
int bus_reply_entries(const void *reply, const char *sensor, char *last, bus_entry_fn fn,
                      void *ctx);
int bus_reply_streams(const void *reply, const char *const *keys, const char *const *ids,
                      int nids, bus_entry_fn fn, void *ctx);

const char *bus_sub_error(const struct bus_sub *b);
uint64_t bus_sub_reconnects(const struct bus_sub *b);

#endif
