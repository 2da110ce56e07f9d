/* rest.h -- OpenStack REST semantics over HTTP/1.1 (PROTOCOLS.md §3):
 * one event per request and per response (parsers/event.h), with the
 * serving and calling services, operation name, request ids, error class
 * and message of each service's error body, resource UUIDs with their
 * roles, and server state / fault. Secrets are dropped here (redact.h).
 *
 * rest_http_ops plugs into the wiring (parsers/parse.h) for every flow
 * classified HTTP: per connection, both directions, framed by http1.h. */
#ifndef OSRCA_REST_H
#define OSRCA_REST_H

#include <stddef.h>
#include <stdint.h>

#include "parsers/event.h"
#include "parsers/jv.h"
#include "parsers/parse.h"
#include "parsers/svcmap.h"

#define REST_JSON_MAX (256 * 1024) /* bodies decoded as JSON at most this long */
#define REST_JSON_DEPTH 32         /* deeper JSON is not decoded */
#define REST_TEXT_MAX 1024         /* error / fault messages kept at most this long */

extern const struct app_parser_ops rest_http_ops;

/* Error class and message of an error body, as the services write them
 * (nova/cinder fault wrapper, NeutronError, keystone error, placement
 * errors[], webob JSON / HTML / plain text). body need not be
 * NUL-terminated; json may be the already-decoded body or NULL. Results go
 * into ev (error_class, error_module, error_message), secrets masked.
 * Returns 1 if something was recognised, else 0. */
int rest_error_from_body(struct event *ev, const struct jv *json, const uint8_t *body, size_t n);

/* Resource UUIDs of a request path (servers/{id} -> instance, ...), added
 * to ev. path without the query, NUL-terminated. */
void rest_uuids_from_path(struct event *ev, const char *path);

/* Resource UUIDs of a JSON body (server.id -> instance, imageRef -> image,
 * device_id -> instance, placement allocations keys -> provider / consumer,
 * ...), added to ev. path (request path without prefix and query, may be
 * NULL) gives the role of a top-level "id". Ids of unknown role are skipped,
 * and so is whatever the scrubber would drop (a secret member, a token's
 * id): returns how many such members were met on the way. */
size_t rest_uuids_from_json(struct event *ev, const struct jv *json, const char *path);

/* 1 if [p, p+n) nests JSON arrays/objects deeper than max (strings
 * skipped). The decoder stops at REST_JSON_DEPTH itself; this tells a
 * too-deep body from a malformed one when decoding failed. */
int rest_json_too_deep(const uint8_t *p, size_t n, int max);

#endif
