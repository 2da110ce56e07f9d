/* dynlib.h -- libcurl, libmicrohttpd and hiredis, loaded when first needed.
 *
 * Only live mode's webhook and HTTP endpoint and `osrca annotate --from`
 * use them, but linked in they bring ~35 more shared libraries (TLS,
 * Kerberos, LDAP, ...) whose loading and constructors cost every run ~6 ms
 * (1.3 ms for osrca's other twelve): a lot for an alert annotator started
 * per alert, or a small capture. So they are dlopen'ed by their sonames
 * (libcurl.so.4, libmicrohttpd.so.12) on first use, and the code calls
 * them through the tables below under their usual names.
 *
 * Include this instead of <curl/curl.h> / <microhttpd.h>; call
 * dyn_curl_load / dyn_mhd_load (cheap after the first time) before the
 * first call of the library. */
#ifndef OSRCA_DYNLIB_H
#define OSRCA_DYNLIB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* curl's GCC type checks wrap curl_easy_setopt in a macro of its own */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <microhttpd.h>
#include <hiredis/hiredis.h>

struct dyn_curl {
    CURLcode (*global_init)(long flags);
    void (*global_cleanup)(void);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *c, CURLoption o, ...);
    CURLcode (*easy_perform)(CURL *c);
    CURLcode (*easy_getinfo)(CURL *c, CURLINFO i, ...);
    void (*easy_cleanup)(CURL *c);
    void (*easy_reset)(CURL *c);
    const char *(*easy_strerror)(CURLcode rc);
    struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
    void (*slist_free_all)(struct curl_slist *l);
};

struct dyn_mhd {
    struct MHD_Daemon *(*start_daemon)(unsigned int flags, uint16_t port,
                                       MHD_AcceptPolicyCallback apc, void *apc_cls,
                                       MHD_AccessHandlerCallback dh, void *dh_cls, ...);
    void (*stop_daemon)(struct MHD_Daemon *d);
    const union MHD_DaemonInfo *(*get_daemon_info)(struct MHD_Daemon *d,
                                                   enum MHD_DaemonInfoType t, ...);
    const char *(*lookup_connection_value)(struct MHD_Connection *c, enum MHD_ValueKind k,
                                           const char *key);
    struct MHD_Response *(*create_response_from_buffer)(size_t size, void *buffer,
                                                        enum MHD_ResponseMemoryMode mode);
    enum MHD_Result (*add_response_header)(struct MHD_Response *r, const char *header,
                                           const char *content);
    enum MHD_Result (*queue_response)(struct MHD_Connection *c, unsigned int status,
                                      struct MHD_Response *r);
    void (*destroy_response)(struct MHD_Response *r);
};

/* hiredis (the sensors' and the correlator's Redis Streams bus) */
struct dyn_redis {
    redisContext *(*connect_with_timeout)(const char *ip, int port, const struct timeval tv);
    int (*set_timeout)(redisContext *c, const struct timeval tv);
    void (*free_ctx)(redisContext *c);
    void *(*command_argv)(redisContext *c, int argc, const char **argv, const size_t *argvlen);
    int (*append_command_argv)(redisContext *c, int argc, const char **argv,
                               const size_t *argvlen);
    int (*get_reply)(redisContext *c, void **reply);
    void (*free_reply)(void *reply);
};

extern struct dyn_curl dyn_curl;
extern struct dyn_redis dyn_redis;
extern struct dyn_mhd dyn_mhd;

/* Load the library (once; later calls only say how that went). 0, or -1
 * with a message naming the library and what to install in err. */
int dyn_curl_load(char *err, size_t errlen);
int dyn_mhd_load(char *err, size_t errlen);
int dyn_redis_load(char *err, size_t errlen);

#ifndef OSRCA_DYNLIB_IMPL
#define curl_global_init dyn_curl.global_init
#define curl_global_cleanup dyn_curl.global_cleanup
#define curl_easy_init dyn_curl.easy_init
#undef curl_easy_setopt /* curl.h's own macro checking the argument count */
#define curl_easy_setopt dyn_curl.easy_setopt
#define curl_easy_perform dyn_curl.easy_perform
#undef curl_easy_getinfo
#define curl_easy_getinfo dyn_curl.easy_getinfo
#define curl_easy_cleanup dyn_curl.easy_cleanup
#define curl_easy_reset dyn_curl.easy_reset
#define curl_easy_strerror dyn_curl.easy_strerror
#define curl_slist_append dyn_curl.slist_append
#define curl_slist_free_all dyn_curl.slist_free_all
#define redisConnectWithTimeout dyn_redis.connect_with_timeout
#define redisSetTimeout dyn_redis.set_timeout
#define redisFree dyn_redis.free_ctx
#define redisCommandArgv dyn_redis.command_argv
#define redisAppendCommandArgv dyn_redis.append_command_argv
#define redisGetReply dyn_redis.get_reply
#define freeReplyObject dyn_redis.free_reply
#define MHD_start_daemon dyn_mhd.start_daemon
#define MHD_stop_daemon dyn_mhd.stop_daemon
#define MHD_get_daemon_info dyn_mhd.get_daemon_info
#define MHD_lookup_connection_value dyn_mhd.lookup_connection_value
#define MHD_create_response_from_buffer dyn_mhd.create_response_from_buffer
#define MHD_add_response_header dyn_mhd.add_response_header
#define MHD_queue_response dyn_mhd.queue_response
#define MHD_destroy_response dyn_mhd.destroy_response
#endif

#endif
