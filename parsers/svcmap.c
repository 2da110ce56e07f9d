/* svcmap.c -- service knowledge tables (see svcmap.h). Linear tables in
 * insertion order: they hold tens of entries and are consulted once per
 * message, never per byte. Operations, a few hundred, are also listed per
 * service, so that a request is matched against its own service's. */
#include "parsers/svcmap.h"

#include <stdlib.h>
#include <string.h>

struct glob_entry {
    char *glob;
    char *service;
    size_t n; /* path prefixes: length without trailing '/' */
};

struct glob_list {
    struct glob_entry *v;
    size_t n, cap;
};

struct port_entry {
    uint16_t port;
    enum svc_proto proto;
    char *service;
};

struct op_entry {
    char *service; /* NULL = any */
    char *method;  /* "*" = any */
    char *tmpl;
    char *name;
};

/* The operations a request to one service can match, in rules order:
 * that service's and those of any service. */
struct op_list {
    const char *service; /* an op_entry's copy; NULL: those of any service only */
    size_t *v;           /* indices into ops */
    size_t n, cap;
};

struct svcmap {
    struct port_entry *ports;
    size_t nports, capports;
    struct glob_list prefixes, uas, topics, pubs, conns;
    struct op_entry *ops;
    size_t nops, capops;
    struct op_list any;  /* operations of any service */
    struct op_list *per; /* one list per service named by an operation */
    size_t nper, capper;
};

static char *dupstr(const char *s)
{
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d)
        memcpy(d, s, n + 1);
    return d;
}

/* Grow *v (element size sz) so that one more element fits. */
static int grow(void **v, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 8;
    void *nv = realloc(*v, ncap * sz);
    if (!nv)
        return -1;
    *v = nv;
    *cap = ncap;
    return 0;
}

struct svcmap *svcmap_new(void)
{
    return calloc(1, sizeof(struct svcmap));
}

static void glob_list_free(struct glob_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].glob);
        free(l->v[i].service);
    }
    free(l->v);
}

void svcmap_free(struct svcmap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nports; i++)
        free(m->ports[i].service);
    free(m->ports);
    glob_list_free(&m->prefixes);
    glob_list_free(&m->uas);
    glob_list_free(&m->topics);
    glob_list_free(&m->pubs);
    glob_list_free(&m->conns);
    for (size_t i = 0; i < m->nops; i++) {
        free(m->ops[i].service);
        free(m->ops[i].method);
        free(m->ops[i].tmpl);
        free(m->ops[i].name);
    }
    free(m->ops);
    free(m->any.v);
    for (size_t i = 0; i < m->nper; i++)
        free(m->per[i].v);
    free(m->per);
    free(m);
}

int svcmap_add_port(struct svcmap *m, uint16_t port, enum svc_proto proto, const char *service)
{
    if (!service || grow((void **)&m->ports, &m->capports, m->nports, sizeof(*m->ports)) < 0)
        return -1;
    char *s = dupstr(service);
    if (!s)
        return -1;
    m->ports[m->nports].port = port;
    m->ports[m->nports].proto = proto;
    m->ports[m->nports].service = s;
    m->nports++;
    return 0;
}

static int glob_add(struct glob_list *l, const char *glob, const char *service)
{
    if (!glob || !service || grow((void **)&l->v, &l->cap, l->n, sizeof(*l->v)) < 0)
        return -1;
    char *g = dupstr(glob), *s = dupstr(service);
    if (!g || !s) {
        free(g);
        free(s);
        return -1;
    }
    l->v[l->n].glob = g;
    l->v[l->n].service = s;
    l->v[l->n].n = 0;
    l->n++;
    return 0;
}

int svcmap_add_path_prefix(struct svcmap *m, const char *prefix, const char *service)
{
    if (!prefix || prefix[0] != '/' || glob_add(&m->prefixes, prefix, service) < 0)
        return -1;
    size_t n = strlen(prefix);
    while (n > 1 && prefix[n - 1] == '/')
        n--;
    m->prefixes.v[m->prefixes.n - 1].n = n;
    return 0;
}

int svcmap_add_user_agent(struct svcmap *m, const char *glob, const char *service)
{
    return glob_add(&m->uas, glob, service);
}

int svcmap_add_topic(struct svcmap *m, const char *glob, const char *service)
{
    return glob_add(&m->topics, glob, service);
}

int svcmap_add_publisher(struct svcmap *m, const char *glob, const char *service)
{
    return glob_add(&m->pubs, glob, service);
}

int svcmap_add_conn_name(struct svcmap *m, const char *glob, const char *service)
{
    return glob_add(&m->conns, glob, service);
}

static struct op_list *op_list_of(const struct svcmap *m, const char *service)
{
    for (size_t i = 0; i < m->nper; i++)
        if (m->per[i].service[0] == service[0] && strcmp(m->per[i].service, service) == 0)
            return &m->per[i];
    return NULL;
}

/* List operation m->nops (about to be added, of service, NULL = any):
 * room is made everywhere first, so a refusal changes nothing. */
static int op_index(struct svcmap *m, const char *service)
{
    struct op_list *own = NULL;
    if (service) {
        own = op_list_of(m, service);
        if (!own) { /* a new service: the any-service operations so far */
            if (grow((void **)&m->per, &m->capper, m->nper, sizeof(*m->per)) < 0)
                return -1;
            /* with room for this one: nothing below can fail */
            struct op_list l = {service, malloc((m->any.n + 1) * sizeof(size_t)), m->any.n,
                                m->any.n + 1};
            if (!l.v)
                return -1;
            if (m->any.n)
                memcpy(l.v, m->any.v, m->any.n * sizeof(size_t));
            m->per[m->nper++] = l;
            own = &m->per[m->nper - 1];
        }
        if (grow((void **)&own->v, &own->cap, own->n, sizeof(*own->v)) < 0)
            return -1;
        own->v[own->n++] = m->nops;
        return 0;
    }
    if (grow((void **)&m->any.v, &m->any.cap, m->any.n, sizeof(*m->any.v)) < 0)
        return -1;
    for (size_t i = 0; i < m->nper; i++)
        if (grow((void **)&m->per[i].v, &m->per[i].cap, m->per[i].n, sizeof(size_t)) < 0)
            return -1;
    m->any.v[m->any.n++] = m->nops;
    for (size_t i = 0; i < m->nper; i++)
        m->per[i].v[m->per[i].n++] = m->nops;
    return 0;
}

int svcmap_add_operation(struct svcmap *m, const char *service, const char *method,
                         const char *tmpl, const char *name)
{
    if (!method || !tmpl || !name || tmpl[0] != '/')
        return -1;
    if (grow((void **)&m->ops, &m->capops, m->nops, sizeof(*m->ops)) < 0)
        return -1;
    struct op_entry e = {service ? dupstr(service) : NULL, dupstr(method), dupstr(tmpl),
                         dupstr(name)};
    if ((service && !e.service) || !e.method || !e.tmpl || !e.name) {
        free(e.service);
        free(e.method);
        free(e.tmpl);
        free(e.name);
        return -1;
    }
    if (op_index(m, e.service) < 0) {
        free(e.service);
        free(e.method);
        free(e.tmpl);
        free(e.name);
        return -1;
    }
    m->ops[m->nops++] = e;
    return 0;
}

/* Glob match, '*' = any run (possibly empty). Iterative with one backtrack
 * point, so linear-ish and never recursive on hostile input. The capture is
 * the span of the last '*' in the final match. */
int svcmap_glob(const char *glob, const char *s, const char **cap, size_t *caplen)
{
    const char *g = glob, *p = s;
    const char *star_g = NULL, *star_p = NULL;
    const char *cap_start = NULL;
    while (*p) {
        if (*g == '*') {
            star_g = ++g;
            star_p = p;
            cap_start = p;
        } else if (*g == *p) {
            g++;
            p++;
        } else if (star_g) {
            g = star_g;
            p = ++star_p;
        } else {
            return 0;
        }
    }
    while (*g == '*') {
        g++;
        star_g = g;
        star_p = p;
        cap_start = p;
    }
    if (*g)
        return 0;
    if (cap) {
        if (cap_start) {
            /* the last star's capture ends where the literal tail begins */
            size_t tail = strlen(star_g);
            *cap = cap_start;
            *caplen = (size_t)(p - tail - cap_start);
        } else {
            *cap = NULL;
            *caplen = 0;
        }
    }
    return 1;
}

static const char *glob_find(const struct glob_list *l, const char *s, char *host,
                             size_t hostlen)
{
    if (host && hostlen)
        host[0] = '\0';
    if (!s)
        return NULL;
    for (size_t i = 0; i < l->n; i++) {
        const char *cap;
        size_t caplen;
        const char *g = l->v[i].glob;
        if (g[0] != '*' && g[0] != s[0])
            continue; /* a literal first byte that differs: no match */
        if (svcmap_glob(g, s, &cap, &caplen)) {
            if (host && hostlen && cap) {
                size_t k = caplen < hostlen - 1 ? caplen : hostlen - 1;
                memcpy(host, cap, k);
                host[k] = '\0';
            }
            return l->v[i].service;
        }
    }
    return NULL;
}

const char *svcmap_port(const struct svcmap *m, uint16_t port, enum svc_proto *proto)
{
    for (size_t i = 0; i < m->nports; i++) {
        if (m->ports[i].port == port) {
            if (proto)
                *proto = m->ports[i].proto;
            return m->ports[i].service;
        }
    }
    if (proto)
        *proto = SVC_PROTO_UNKNOWN;
    return NULL;
}

const char *svcmap_path_prefix(const struct svcmap *m, const char *path, size_t *prefix_len)
{
    if (prefix_len)
        *prefix_len = 0;
    if (!path)
        return NULL;
    for (size_t i = 0; i < m->prefixes.n; i++) {
        const char *pre = m->prefixes.v[i].glob;
        size_t n = m->prefixes.v[i].n;
        if (path[0] == pre[0] && strncmp(path, pre, n) == 0 &&
            (path[n] == '/' || path[n] == '\0' || path[n] == '?')) {
            if (prefix_len)
                *prefix_len = n;
            return m->prefixes.v[i].service;
        }
    }
    return NULL;
}

const char *svcmap_user_agent(const struct svcmap *m, const char *ua)
{
    return glob_find(&m->uas, ua, NULL, 0);
}

const char *svcmap_topic(const struct svcmap *m, const char *topic, char *host, size_t hostlen)
{
    return glob_find(&m->topics, topic, host, hostlen);
}

const char *svcmap_publisher(const struct svcmap *m, const char *pub, char *host, size_t hostlen)
{
    return glob_find(&m->pubs, pub, host, hostlen);
}

const char *svcmap_conn_name(const struct svcmap *m, const char *name)
{
    return glob_find(&m->conns, name, NULL, 0);
}

static int names(const struct glob_list *l, const char *service)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i].service, service))
            return 1;
    return 0;
}

int svcmap_amqp_peer(const struct svcmap *m, const char *service)
{
    return service && (names(&m->topics, service) || names(&m->pubs, service) ||
                       names(&m->conns, service));
}

/* Does path match tmpl? Segments compared one by one; "{x}" matches one
 * non-empty segment, a final "*" matches any rest (including nothing). */
static int tmpl_match(const char *tmpl, const char *path)
{
    const char *t = tmpl, *p = path;
    for (;;) {
        while (*t == '/')
            t++;
        while (*p == '/')
            p++;
        if (*t == '\0')
            return *p == '\0';
        const char *te = strchr(t, '/');
        size_t tn = te ? (size_t)(te - t) : strlen(t);
        if (tn == 1 && t[0] == '*' && !te)
            return 1;
        if (*p == '\0')
            return 0;
        const char *pe = strchr(p, '/');
        size_t pn = pe ? (size_t)(pe - p) : strlen(p);
        if (!(tn >= 2 && t[0] == '{' && t[tn - 1] == '}')) {
            if (tn != pn || memcmp(t, p, tn) != 0)
                return 0;
        }
        t += tn;
        p += pn;
    }
}

static int op_matches(const struct op_entry *e, const char *method, const char *path)
{
    if (!(e->method[0] == '*' && e->method[1] == '\0') &&
        (e->method[0] != method[0] || strcmp(e->method, method) != 0))
        return 0;
    return tmpl_match(e->tmpl, path);
}

const char *svcmap_operation(const struct svcmap *m, const char *service, const char *method,
                             const char *path)
{
    if (!method || !path)
        return NULL;
    if (!service) { /* every operation may be the one */
        for (size_t i = 0; i < m->nops; i++)
            if (op_matches(&m->ops[i], method, path))
                return m->ops[i].name;
        return NULL;
    }
    const struct op_list *l = op_list_of(m, service);
    if (!l)
        l = &m->any;
    for (size_t i = 0; i < l->n; i++)
        if (op_matches(&m->ops[l->v[i]], method, path))
            return m->ops[l->v[i]].name;
    return NULL;
}

size_t svcmap_ports(const struct svcmap *m, uint16_t *ports, enum svc_proto *protos,
                    const char **services, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < m->nports && k < max; i++, k++) {
        if (ports)
            ports[k] = m->ports[i].port;
        if (protos)
            protos[k] = m->ports[i].proto;
        if (services)
            services[k] = m->ports[i].service;
    }
    return m->nports;
}
