/* pb.h -- a Protocol Buffers wire-format writer (protobuf.dev, "Encoding"):
 * varints, fixed64, length-delimited fields and nested messages into one
 * growing buffer, for OTLP/protobuf (cli/out/otlp.h).
 *
 * A nested message is opened with pb_begin and closed with pb_end; its
 * length is written in front of it once known (minimal varint). After an
 * allocation failure every call does nothing and nomem stays set. */
#ifndef OSRCA_PB_H
#define OSRCA_PB_H

#include <stddef.h>
#include <stdint.h>

#define PB_DEPTH 8

struct pb {
    uint8_t *buf;
    size_t len, cap;
    int nomem;
    size_t open[PB_DEPTH]; /* where each open message's bytes begin */
    int depth;
    int overflow; /* pb_begin past PB_DEPTH: the message is cut (nomem set) */
};

/* Zeroed is empty; pb_reset keeps the memory, pb_free gives it back. */
void pb_reset(struct pb *p);
void pb_free(struct pb *p);

/* Field `field` as a varint (wire type 0): uint64, int64 (two's
 * complement), bool, enum. */
void pb_varint(struct pb *p, uint32_t field, uint64_t v);
/* Field as fixed64 (wire type 1): fixed64, double's bits. */
void pb_fixed64(struct pb *p, uint32_t field, uint64_t v);
void pb_double(struct pb *p, uint32_t field, double v);
/* Field as length-delimited bytes (wire type 2); a string is its bytes
 * without the NUL (s NULL: nothing). */
void pb_bytes(struct pb *p, uint32_t field, const void *d, size_t n);
void pb_string(struct pb *p, uint32_t field, const char *s);
/* Open a nested message in field; pb_end closes the last one opened. */
void pb_begin(struct pb *p, uint32_t field);
void pb_end(struct pb *p);

#endif
