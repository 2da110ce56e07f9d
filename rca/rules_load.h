/* rules_load.h -- load the operator-editable rules/ directory (YAML 1.1 via
 * libyaml, patterns via PCRE2 8-bit) into the service map and the ordered
 * fault signatures. Schema: brief RULES_SCHEMA.md (services, operations,
 * faults); every *.yaml of the directory is read in name order.
 *
 * Errors name the place: "file:line:col: yaml.path: message", e.g.
 * "rules/services.yaml:12:5: services[3].prots: unknown key". */
#ifndef OSRCA_RULES_LOAD_H
#define OSRCA_RULES_LOAD_H

#include <stddef.h>
#include <stdio.h>

#include "capture/stats.h"
#include "parsers/svcmap.h"

#define RULES_MAX_FILE (1u << 20) /* bytes per rules file */

struct rules;

/* Fields a fault signature can match (each a PCRE2 pattern). */
enum rules_field {
    RULES_F_KIND = 0,    /* evidence kind: "rpc_failure", "http_5xx", ... */
    RULES_F_STATUS,      /* HTTP status or AMQP reply code as decimal text */
    RULES_F_ERROR_CLASS, /* "NoValidHost", "itemNotFound", ... */
    RULES_F_MODULE,      /* "nova.exception" */
    RULES_F_MESSAGE,     /* error message / fault message */
    RULES_F_EVENT_TYPE,  /* notification event type */
    RULES_F_SERVICE,     /* service blamed before the culprit rule */
    RULES_F_OPERATION,   /* the chain's operation name */
    RULES_F_RPC_METHOD,  /* the RPC method involved */
    RULES_F_COUNT
};

/* Who the verdict blames once a rule matched. */
enum rules_culprit {
    RULES_CULPRIT_ORIGIN = 0,     /* the service where the error was born */
    RULES_CULPRIT_TOPIC_CONSUMER, /* consumer of the RPC topic involved */
    RULES_CULPRIT_CALLEE,         /* the service that was called */
    RULES_CULPRIT_CALLER,         /* the service that made the call */
    RULES_CULPRIT_SERVICE         /* a named service (culprit_service) */
};

/* One fault signature, in file order. Strings live as long as the rules. */
struct rules_fault {
    const char *name;
    const char *category;
    const char *hint; /* may be NULL */
    enum rules_culprit culprit;
    const char *culprit_service; /* RULES_CULPRIT_SERVICE only */
    const char *const *when_down; /* services whose outage during the failure
                                     explains it (the model is asked) */
    size_t nwhen_down;
    unsigned when_down_within_s; /* ... or that long before it (an outage
                                    whose effect lingers), 0 = default */
};

/* Load every *.yaml in dir (name order). Returns NULL on error; err gets the
 * first error as "file:line:col: yaml.path: message". st may be NULL (the
 * counters "rules.services", "rules.operations" and
 * "rules.faults" are set when given). Free with rules_free(). */
struct rules *rules_load_dir(const char *dir, struct stats *st, char *err, size_t errlen);

/* Read fp to its end into a new buffer (free it), *out_n bytes; at most
 * max + 1 bytes are read, so *out_n > max tells the stream is too long.
 * size_hint: the size the file claims (-1 unknown): the first buffer, not a
 * limit, since a file may grow while read or not tell its size. NULL when
 * memory runs out. */
unsigned char *rules_read_stream(FILE *fp, long size_hint, size_t max, size_t *out_n);

/* Check a dir and report ALL errors through cb (file:line:col: path:
 * message), nothing is kept. Returns the error count, -1 if dir unreadable. */
int rules_check_dir(const char *dir, void (*cb)(void *ctx, const char *msg), void *ctx);

/* The service map built from the rules (valid while r lives). */
const struct svcmap *rules_svcmap(const struct rules *r);

/* 1 if name is a service declared in services: */
int rules_is_service(const struct rules *r, const char *name);
/* 1 if name is declared `embedded: true`: a library or client that runs
 * inside whichever service is handling the request (keystonemiddleware,
 * nova's glance/neutron clients), named after that service in chains. */
int rules_is_embedded(const struct rules *r, const char *name);
/* 1 if the rules say svc depends on service on (services.yaml depends_on:
 * a dependency the wire may not show, such as the database). */
int rules_depends(const struct rules *r, const char *svc, const char *on);
/* The services svc depends on (depends_on), up to max into out; returns
 * how many. */
size_t rules_depends_of(const struct rules *r, const char *svc, const char **out, size_t max);

/* When a successful operation is slow (rules/performance.yaml, issue 19):
 * its wall time is over relative x its usual (the median of the same
 * operation's, learned from the traffic or loaded from a baseline) plus
 * absolute_s, once the usual rests on min_samples operations; or over
 * max_s whatever the usual (0: no such ceiling). */
struct rules_perf {
    const char *operation; /* exact operation name, "*" any */
    double relative;
    double absolute_s;
    unsigned min_samples;
    double max_s;
};
/* The first performance rule for operation ("*" matches any); never NULL:
 * built-in defaults (2 x usual + 10 s, 3 samples) when none is given. */
const struct rules_perf *rules_perf_for(const struct rules *r, const char *operation);

size_t rules_fault_count(const struct rules *r);
/* The i-th fault signature (i < rules_fault_count), or NULL. */
const struct rules_fault *rules_fault_at(const struct rules *r, size_t i);

/* Index of the first fault signature whose every given field matches
 * subject[field] (NULL subject strings never match a given field), or -1. */
int rules_fault_find(const struct rules *r, const char *const subject[RULES_F_COUNT]);

/* "error_class", "message", ... */
const char *rules_field_name(enum rules_field f);

void rules_free(struct rules *r); /* NULL accepted */

#endif
