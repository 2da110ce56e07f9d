/* session.h -- clients' sessions: the requests one client makes with one
 * token, from its login on (issue 18 §3: a failed operation gets exactly
 * one verdict, also when no request id exists).
 *
 * A session is known by the fingerprint of its token (never the token):
 * the X-Subject-Token of the keystone answer that issued it, then the
 * X-Auth-Token of every request made with it. It remembers the client's
 * address, the login's request id, user and project names, the requests
 * awaiting an answer and the operation in progress (its first request and
 * the request id of its answer). A refused or unanswered connection has no
 * token and no id: it is tied to the session on its client address that
 * is poised to send (nothing awaiting an answer, active a moment ago, its
 * last answer not a server error, after which a client gives up; and not
 * a connection to the service that issued its token, which a client with
 * a token has no reason to call again unless that token was just refused,
 * nor to a service clients are never seen calling); with none, to an
 * anonymous session that begins there (a client that could not even log
 * in), which takes the refusals of the same burst. A session whose token
 * was just refused (a 401) logs in again at once: the logins that fail
 * then, dropped, 5xx or refused, are its own.
 *
 * Bounded: at most max_sessions (the least recently active is dropped,
 * counted), each forgotten after idle_us of silence. */
#ifndef OSRCA_SESSION_H
#define OSRCA_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "capture/stats.h"
#include "parsers/event.h"

struct session {
    uint32_t id;          /* 1, 2, ... in order of creation */
    uint64_t fp;          /* token fingerprint, 0 = anonymous */
    char addr[46];        /* the client's address */
    uint64_t first_us, last_us;
    uint64_t burst_us;    /* its current burst of requests began (the login,
                             else the first request after SESSION_BURST_US
                             of silence): where a command the user typed
                             began, its name lookups before its request */
    uint32_t open;        /* requests awaiting an answer */
    uint32_t requests;    /* requests made in it */
    uint64_t last_refusal_us; /* refused/unanswered connection last tied to it */
    uint16_t login_port;  /* port of the service that issued its token */
    int last_status;      /* status of the last answer it got */
    char login_rid[64];   /* request id of the login answer, "" unknown */
    char user[64], project[64]; /* names from the login answer, "" unknown */
    char op[64];          /* operation in progress (its first request), "" none */
    char op_rid[64];      /* request id of that request's answer, "" none */
    uint64_t op_us;       /* when its change (a mutating request) was sent, 0 */
    int polling;          /* reading back what its change acted on */
    /* the command of its current burst while it only reads: */
    uint8_t read;         /* enum session_read */
    uint64_t read_flow;   /* its first read (what the command asked): its */
    uint64_t read_us;     /* connection and time (its answer tells them) */
    uint64_t read_op;     /* str_fnv of that read's operation name */
    uint64_t aside_us;    /* its display reads began then, 0 = not in them */
    uint32_t verdicts;    /* failed operations already reported in it */
    char verdict_svc[32]; /* origin service of the last one */
    uint64_t verdict_us;
};

#define SESSION_BURST_US 2000000ull

/* A command that only reads, as its session's burst shows it: its first
 * read sent (ASKED), answered 2xx (HAD: what it asked for is in hand, the
 * reads of other lists that follow only dress it up for display), or
 * anything else (OTHER: a change, a failed first read, a name lookup). */
enum session_read {
    SESSION_READ_NONE = 0,
    SESSION_READ_ASKED,
    SESSION_READ_HAD,
    SESSION_READ_OTHER
};

struct session_cfg {
    size_t max_sessions;   /* default 4096 */
    uint64_t idle_us;      /* default 600 s */
    uint64_t poised_us;    /* a session active this recently may be the one
                              whose connection was refused (default 2 s) */
    uint64_t polling_us;   /* the same for a session polling the resource of
                              its operation (default 6 s: a client waiting
                              for a server polls every 5 s) */
    uint64_t burst_us;     /* refusals this close belong to one attempt
                              (default 20 ms: in the lab corpus one
                              client's came under 15 ms apart, two
                              clients' 35 ms apart) */
    uint64_t relogin_us;   /* a client whose token was refused logs in again
                              this soon after, or after its last failed
                              attempt (default 200 ms: in the lab corpus
                              under 15 ms; a new command's process takes
                              a second to start) */
};

void session_defaults(struct session_cfg *cfg);

struct session_table;

/* NULL on allocation failure; st may be NULL. */
struct session_table *session_table_new(const struct session_cfg *cfg, struct stats *st);
void session_table_free(struct session_table *t);

/* Learn from one event: logins, a client's requests and their answers.
 * Returns the session the event belongs to (a client request or its
 * answer), or 0. */
uint32_t session_observe(struct session_table *t, const struct event *ev);

/* 1 when session sid's command is in its display reads since at or
 * before ts (see enum session_read): a command that only reads got what
 * it asked for, then read other lists to show with it (a server list's
 * images and flavors, for their names). A client tolerates their failure
 * (the command prints what it has), and so does a failed login that
 * follows one (its token refused, it logs in again). */
int session_aside(const struct session_table *t, uint32_t sid, uint64_t ts);

/* The session a refused or unanswered connection from a client belongs
 * to (see above), created when none is poised; 0 when it cannot be a
 * client's (allocation failure). */
uint32_t session_for_refusal(struct session_table *t, const struct event *ev);

/* Looked at again once a refused connection (ev) is judged, when the
 * session it was tied to went on talking afterwards (so the refusal was
 * not its end): the other session on that address, other than not_id,
 * that was poised then (active just before, its last answer no server
 * error, not the login service refused) and has said nothing since, the
 * latest such; 0 when none. */
uint32_t session_silent_after(struct session_table *t, const struct event *ev, uint32_t not_id);

/* The other sessions on the address of refused connection ev (not
 * not_id) that had just logged in when it came (their login answered
 * within the poised window before, not one request made since, no
 * verdict yet): clients that logged in together and were all refused.
 * Up to max ids into out; returns how many. */
size_t session_siblings(struct session_table *t, const struct event *ev, uint32_t not_id,
                        uint32_t *out, size_t max);

/* The service clients log in to: the one that answered their logins
 * (POST .../auth/tokens), "keystone" before any was seen. */
const char *session_identity(const struct session_table *t);

/* The session of id, NULL when forgotten. */
struct session *session_get(struct session_table *t, uint32_t id);

/* Forget sessions idle at now_us. */
void session_expire(struct session_table *t, uint64_t now_us);

#endif
