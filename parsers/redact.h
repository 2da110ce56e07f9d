/* redact.h -- secret scrubbing shared by the HTTP/REST and AMQP/oslo parsers
 * (PROTOCOLS.md §3.2 "Secrets in HTTP", §2 `_context_auth_token`).
 *
 * Secrets are dropped before anything is stored: credential headers,
 * password / secret / adminPass / admin_password / user_data / auth-token
 * keys in JSON, token and password query parameters, keystone's "Could not
 * find token: <token>" text, and Fernet tokens (`gAAAAA` + base64url)
 * anywhere in text. Stateless helpers; redact_json allocates only from the
 * tree's document arena (parsers/jv.h). */
#ifndef OSRCA_REDACT_H
#define OSRCA_REDACT_H

#include <stddef.h>
#include <stdint.h>

#include "parsers/jv.h"

/* What replaces a masked secret in text. */
#define REDACT_MASK "***"

/* Nesting beyond which redact_json empties a container (never recursing
 * deeper; callers should cap nesting before decoding anyway). */
#define REDACT_MAX_DEPTH 64

/* 1 if a header / field called [name, name+n) carries a credential
 * (X-Auth-Token, X-Subject-Token, X-Service-Token, Authorization,
 * Proxy-Authorization, Cookie, Set-Cookie, X-Storage-Token, X-Auth-Key),
 * case-insensitive; else 0. */
int redact_header_is_secret(const char *name, size_t n);

/* 1 if a JSON key (or oslo context field, AMQP table key) names a secret:
 * anything containing "password"/"passwd"/"secret", adminPass, user_data,
 * auth_token, _context_auth_token, private_key, credential blob, ...
 * Case-insensitive. "token" is not included (see redact_json). */
int redact_key_is_secret(const char *key);

/* Same for the key [key, key+n) (need not be NUL-terminated). */
int redact_key_is_secret_n(const char *key, size_t n);

/* Remove secrets from v (a tree of document d) in place, recursively:
 * members whose key is secret are deleted; a "token" member is deleted when
 * it is a string and loses its "id" when it is an object (keystone token
 * auth); every string value is passed through redact_text (a string with an
 * embedded NUL keeps only what precedes it). Masked strings are copied into
 * d's arena first (the input is never written). Containers deeper than
 * REDACT_MAX_DEPTH are emptied. v may be NULL. Returns the number of values
 * removed or masked. The decoders do not call it (they read a few members
 * and mask what they copy, see README "Secrets"); it defines what they must
 * never let out, and is here for a caller that would print a whole tree. */
size_t redact_json(struct jv_doc *d, struct jv *v);

/* 0 if redact_text cannot change [s, s+n) and it holds no NUL byte: no
 * Fernet prefix "gAAAAA", no "could not find token", no ':' or '=' after a
 * secret name (as redact_text knows them, optional quote and blanks
 * between). 1 otherwise. A cheap pre-check; redact_text runs it itself. */
int redact_text_may_change(const char *s, size_t n);

/* Mask secrets in the NUL-terminated string s in place: Fernet tokens,
 * the token after "Could not find token:", and the value after a secret
 * name followed by ':' or '=' ("X-Auth-Token: abc", "'password': 'x'").
 * Every secret becomes REDACT_MASK (or as many '*' when shorter), so the
 * string never grows. Returns the new length. s may be NULL (returns 0). */
size_t redact_text(char *s);

/* redact_text(s) for s of n bytes before its NUL (a NUL inside counts as
 * the end, as for redact_text): the length is not looked for again. */
size_t redact_text_n(char *s, size_t n);

/* Copy the query string [q, q+n) to out (cap bytes, always NUL-terminated
 * when cap > 0) with the values of secret parameters (names containing
 * token, password, passwd, secret, or signature/sig) replaced by
 * REDACT_MASK, then redact_text applied. Returns the length written. */
size_t redact_query(const char *q, size_t n, char *out, size_t cap);

/* A fingerprint of the secret [p, p+n): SipHash-1-3, under a key drawn
 * from getrandom(2) once per process, of its last REDACT_FP_TAIL bytes
 * (where a signed token -- Fernet, JWS -- holds its signature) and its
 * length; never 0 (0 means "no secret"). It tells
 * whether two messages carried the same token (a service's inbound request
 * and the token validation it makes) without keeping the token: it cannot
 * be turned back into it, it is only compared in memory, and it is never
 * printed, logged or written. 0 for n == 0. */
#define REDACT_FP_TAIL 32
uint64_t redact_fingerprint(const void *p, size_t n);
/* Sensors whose fingerprints a correlator compares share one key: set it
 * (16 bytes) before the first fingerprint is taken. */
void redact_set_fp_key(const uint8_t key[16]);

/* SipHash-2-4 of [p, p+n) under key (16 bytes): the reference vectors
 * check the SipHash code redact_fingerprint runs with 1-3 rounds. */
uint64_t redact_siphash24(const uint8_t key[16], const void *p, size_t n);

#endif
