/* dynlib.c -- libcurl, libmicrohttpd and hiredis loaded on first use (see dynlib.h). */
#define OSRCA_DYNLIB_IMPL 1
#include "cli/dynlib.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

struct dyn_curl dyn_curl;
struct dyn_mhd dyn_mhd;
struct dyn_redis dyn_redis;

struct sym {
    const char *name;
    void *slot; /* address of the function pointer to set */
};

/* dlopen soname and set every slot from its symbol. *state: 0 not tried,
 * 1 loaded, -1 failed (the message in msg). */
static int load(const char *soname, const char *pkg, const struct sym *syms, size_t n,
                int *state, char *msg, size_t msglen, char *err, size_t errlen)
{
    if (*state == 0) {
        *state = -1;
        void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            const char *why = dlerror();
            snprintf(msg, msglen, "cannot load %s (Debian package %s): %s", soname, pkg,
                     why ? why : "?");
        } else {
            size_t i;
            for (i = 0; i < n; i++) {
                void *f = dlsym(h, syms[i].name);
                if (!f) {
                    snprintf(msg, msglen, "%s has no %s: too old?", soname, syms[i].name);
                    break;
                }
                /* POSIX: a function's address comes back as a void * */
                memcpy(syms[i].slot, &f, sizeof(f));
            }
            if (i == n)
                *state = 1;
        }
    }
    if (*state < 0 && err && errlen)
        snprintf(err, errlen, "%s", msg);
    return *state > 0 ? 0 : -1;
}

int dyn_curl_load(char *err, size_t errlen)
{
    static int state;
    static char msg[512];
    const struct sym syms[] = {
        {"curl_global_init", &dyn_curl.global_init},
        {"curl_global_cleanup", &dyn_curl.global_cleanup},
        {"curl_easy_init", &dyn_curl.easy_init},
        {"curl_easy_setopt", &dyn_curl.easy_setopt},
        {"curl_easy_perform", &dyn_curl.easy_perform},
        {"curl_easy_getinfo", &dyn_curl.easy_getinfo},
        {"curl_easy_cleanup", &dyn_curl.easy_cleanup},
        {"curl_easy_reset", &dyn_curl.easy_reset},
        {"curl_easy_strerror", &dyn_curl.easy_strerror},
        {"curl_slist_append", &dyn_curl.slist_append},
        {"curl_slist_free_all", &dyn_curl.slist_free_all},
    };
    return load("libcurl.so.4", "libcurl4", syms, sizeof(syms) / sizeof(syms[0]), &state, msg,
                sizeof(msg), err, errlen);
}

int dyn_mhd_load(char *err, size_t errlen)
{
    static int state;
    static char msg[512];
    const struct sym syms[] = {
        {"MHD_start_daemon", &dyn_mhd.start_daemon},
        {"MHD_stop_daemon", &dyn_mhd.stop_daemon},
        {"MHD_get_daemon_info", &dyn_mhd.get_daemon_info},
        {"MHD_lookup_connection_value", &dyn_mhd.lookup_connection_value},
        {"MHD_create_response_from_buffer", &dyn_mhd.create_response_from_buffer},
        {"MHD_add_response_header", &dyn_mhd.add_response_header},
        {"MHD_queue_response", &dyn_mhd.queue_response},
        {"MHD_destroy_response", &dyn_mhd.destroy_response},
    };
    return load("libmicrohttpd.so.12", "libmicrohttpd12", syms, sizeof(syms) / sizeof(syms[0]),
                &state, msg, sizeof(msg), err, errlen);
}

int dyn_redis_load(char *err, size_t errlen)
{
    static int state;
    static char msg[512];
    const struct sym syms[] = {
        {"redisConnectWithTimeout", &dyn_redis.connect_with_timeout},
        {"redisSetTimeout", &dyn_redis.set_timeout},
        {"redisFree", &dyn_redis.free_ctx},
        {"redisCommandArgv", &dyn_redis.command_argv},
        {"redisAppendCommandArgv", &dyn_redis.append_command_argv},
        {"redisGetReply", &dyn_redis.get_reply},
        {"freeReplyObject", &dyn_redis.free_reply},
    };
    return load("libhiredis.so.0.14", "libhiredis0.14", syms, sizeof(syms) / sizeof(syms[0]),
                &state, msg, sizeof(msg), err, errlen);
}
