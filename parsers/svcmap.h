/* svcmap.h -- service knowledge the parsers consult: which service listens
 * on a port, which caller a User-Agent names, which service consumes an RPC
 * topic or publishes as a publisher_id, and operation names of REST paths.
 *
 * Plain tables, no YAML here: rca/rules_load fills them from the YAML files in rules/
 * (the arrow points that way). Patterns are globs where '*' matches any run
 * of characters (and the part matched by the last '*' is the "host"
 * capture); templates are '/'-separated path segments where "{name}" matches
 * one segment and a final "*" matches any rest. All strings are copied. */
#ifndef OSRCA_SVCMAP_H
#define OSRCA_SVCMAP_H

#include <stddef.h>
#include <stdint.h>

enum svc_proto { SVC_PROTO_UNKNOWN = 0, SVC_PROTO_HTTP, SVC_PROTO_AMQP };

struct svcmap;

struct svcmap *svcmap_new(void);
void svcmap_free(struct svcmap *m); /* NULL accepted */

/* Each add returns 0, or -1 on allocation failure or an invalid argument. */
int svcmap_add_port(struct svcmap *m, uint16_t port, enum svc_proto proto, const char *service);
/* Path prefix of an API fronted on a shared port ("/identity" -> keystone).
 * The prefix is stripped before operation matching. */
int svcmap_add_path_prefix(struct svcmap *m, const char *prefix, const char *service);
/* User-Agent glob ("nova-compute *", "python-novaclient*") -> calling service. */
int svcmap_add_user_agent(struct svcmap *m, const char *glob, const char *service);
/* RPC topic / routing key glob ("conductor", "compute.*") -> consuming service;
 * the '*' part names the host. */
int svcmap_add_topic(struct svcmap *m, const char *glob, const char *service);
/* Notification publisher_id glob ("compute.*", "nova-compute:*") -> service. */
int svcmap_add_publisher(struct svcmap *m, const char *glob, const char *service);
/* AMQP client connection_name glob ("nova-compute:*") -> service. */
int svcmap_add_conn_name(struct svcmap *m, const char *glob, const char *service);
/* Operation of service: method ("POST", or "*") + path template -> name.
 * Earlier additions win over later ones. */
int svcmap_add_operation(struct svcmap *m, const char *service, const char *method,
                         const char *tmpl, const char *name);

/* Lookups return the stored service/operation name (valid while m lives)
 * or NULL. host/hostlen may be NULL; when given, the glob capture is
 * copied there (empty string if none). First match in insertion order. */
const char *svcmap_port(const struct svcmap *m, uint16_t port, enum svc_proto *proto);
const char *svcmap_path_prefix(const struct svcmap *m, const char *path, size_t *prefix_len);
const char *svcmap_user_agent(const struct svcmap *m, const char *ua);
const char *svcmap_topic(const struct svcmap *m, const char *topic, char *host, size_t hostlen);
const char *svcmap_publisher(const struct svcmap *m, const char *pub, char *host, size_t hostlen);
const char *svcmap_conn_name(const struct svcmap *m, const char *name);
/* 1 if service speaks AMQP: it consumes an RPC topic, publishes
 * notifications or names its AMQP connections (so it needs the broker). */
int svcmap_amqp_peer(const struct svcmap *m, const char *service);
/* path without query; service may be NULL (any). Version-less and prefixed
 * forms are the caller's business: pass the path as it should match. */
const char *svcmap_operation(const struct svcmap *m, const char *service, const char *method,
                             const char *path);

/* Enumerate ports (for the capture layer's port map). Returns the count;
 * fills up to max entries. */
size_t svcmap_ports(const struct svcmap *m, uint16_t *ports, enum svc_proto *protos,
                    const char **services, size_t max);

/* Glob match used by the map ('*' any run); exported for rca and tests.
 * On a match, the span matched by the last '*' is returned in cap/caplen. */
int svcmap_glob(const char *glob, const char *s, const char **cap, size_t *caplen);

#endif
