/* httpd.h -- the live mode's HTTP endpoint (libmicrohttpd, its own thread):
 * GET /metrics in the Prometheus text exposition format 0.0.4 and
 * GET /verdicts, the recent verdicts as a JSON array from a bounded ring,
 * filtered by ?resource=UUID and ?since=RFC3339-or-epoch-seconds.
 *
 * The capture thread publishes: one call per verdict and one metrics text
 * per second, each under the handle's mutex; nothing per packet. */
#ifndef OSRCA_HTTPD_H
#define OSRCA_HTTPD_H

#include <stddef.h>
#include <stdint.h>

#define HTTPD_MAX_RES 64 /* resource ids kept per verdict */

struct httpd;

/* Listen on "ADDR:PORT" ("127.0.0.1:9108", "[::1]:9108", ":9108" = all
 * IPv4 addresses) and start the server thread. ring_max verdicts are kept
 * (oldest dropped). NULL with err on a bad address or a busy port. */
struct httpd *httpd_new(const char *listen, size_t ring_max, char *err, size_t errlen);

/* Keep a copy of one verdict's JSON object (json[0..n)), its decision time
 * (end of chain, packet time, µs since the epoch) and its resource ids
 * (copied, at most HTTPD_MAX_RES). Thread-safe. */
void httpd_add_verdict(struct httpd *h, const char *json, size_t n, uint64_t ts_us,
                       const char *const *res, size_t nres);

/* The port listened on (the kernel's choice when ADDR:0 was given). */
uint16_t httpd_port(const struct httpd *h);

/* Replace the /metrics body by a copy of text[0..n). Thread-safe. */
void httpd_set_metrics(struct httpd *h, const char *text, size_t n);

/* Parse "2026-11-22T08:49:30Z", "...30.5Z", "...30+01:00" or epoch seconds
 * ("1795000000", "1795000000.25") into µs since the epoch. 0 ok, -1 bad. */
int httpd_parse_time(const char *s, uint64_t *us);

/* Stop the server thread and free; NULL accepted. */
void httpd_free(struct httpd *h);

#endif
