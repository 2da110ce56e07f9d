/* jw.h -- a small JSON writer for the output lines (verdicts, messages,
 * summaries): values are built as a tree in an arena, then written in one
 * go, compact, object keys sorted. The bytes are the ones jansson's
 * json_dumpf(JSON_COMPACT | JSON_SORT_KEYS) writes for the same values
 * (tests/check_jw.c compares them), without a hash table and a malloc per
 * value: building and writing the JSON of a report took 18 % of
 * `analyze --format json`.
 *
 * Strings are copied (a caller's buffer may be reused at once); keys are
 * not: they must outlive the next jw_write (literals, counter names). A
 * string that is not valid UTF-8 makes no value (NULL), as json_string does,
 * and setting a NULL value sets nothing. Setting a key twice keeps the last
 * value. */
#ifndef OSRCA_JW_H
#define OSRCA_JW_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "capture/arena.h"

struct jw_node;

#define JW_T_DEPTH 8 /* containers open at once in a text (jw_t_*) */

struct jw {
    struct arena arena; /* the nodes and strings of the line being built */
    char *buf;          /* the line as written */
    size_t len, cap;
    int nomem;          /* an allocation failed: the line is dropped */
    /* texts written at once (jw_t_*), until the next jw_reset */
    char *tbuf;
    size_t tlen, tcap, tstart;
    int tdepth;
    char tclose[JW_T_DEPTH];
    uint32_t tcount[JW_T_DEPTH];
};

void jw_init(struct jw *w);
/* The calling thread's writer for output lines, initialized on first use
 * and kept (its buffers are reused from line to line). */
struct jw *jw_thread_writer(void);
/* Drop every value built (keeps the memory of the biggest line). */
void jw_reset(struct jw *w);
void jw_free(struct jw *w);

struct jw_node *jw_object(struct jw *w);
struct jw_node *jw_array(struct jw *w);
/* s NULL or not valid UTF-8: NULL. */
struct jw_node *jw_str(struct jw *w, const char *s);
/* jw_str without the copy: s must stay as it is until the line is
 * written (strings of the events and reports being written). */
struct jw_node *jw_str_ref(struct jw *w, const char *s);
struct jw_node *jw_int(struct jw *w, long long v);
struct jw_node *jw_bool(struct jw *w, int b);
struct jw_node *jw_null(struct jw *w);

/* Member key of object o = v (v NULL, or o not an object: nothing). */
void jw_set(struct jw *w, struct jw_node *o, const char *key, struct jw_node *v);
/* Append v to array a (v NULL: nothing). */
void jw_push(struct jw *w, struct jw_node *a, struct jw_node *v);

/* A value written as JSON text at once, for a caller that gives an
 * object's members in key order (strcmp) and no key twice: the bytes are
 * those the same values set as nodes would render as, at a fraction of
 * the cost (no node per value, no sorting). jw_t_begin, then the calls
 * below (key NULL inside arrays and for the outermost container), then
 * jw_t_end gives the node (rendered as is; NULL if memory ran out or the
 * containers do not match). One text at a time, JW_T_DEPTH deep. */
void jw_t_begin(struct jw *w);
void jw_t_open(struct jw *w, const char *key, int array);
void jw_t_close(struct jw *w);
/* s NULL or not valid UTF-8: nothing, not even the key (as jw_str). */
void jw_t_str(struct jw *w, const char *key, const char *s);
void jw_t_int(struct jw *w, const char *key, long long v);
void jw_t_bool(struct jw *w, const char *key, int b);
struct jw_node *jw_t_end(struct jw *w);

/* Write v (an object or an array) and a newline to f, then jw_reset.
 * Returns 0, or -1 (nothing written) when v is NULL, not a container, or
 * memory ran out while building or writing. */
int jw_write_line(struct jw *w, FILE *f, const struct jw_node *v);

/* The JSON text of v in w->buf (w->len bytes, NUL-terminated) without a
 * newline; the text stays until the next jw call. Returns 0 or -1. */
int jw_render(struct jw *w, const struct jw_node *v);

#endif
