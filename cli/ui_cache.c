/* ui_cache.c: the answers of `backprop ui`'s JSON endpoints kept for a
 * second (ui_int.h, ui_cache_get and _put), keyed by the whole request.
 *
 * Why: every open page of a running run asks the same three things every 2
 * seconds, and fifty of them would make the server reduce the same curve
 * fifty times a cycle, CPU the run that is training needs (on this 2-core
 * machine, 25% of its steps: scripts/bench/NOTES.md). Within a second the
 * answer is the same to everyone; a page is at most a second behind. */
#define _XOPEN_SOURCE 700
#include <stdlib.h>
#include <string.h>

#include "bp_util.h"
#include "ui_int.h"

/* How long an answer is kept, in seconds. */
#define UI_CACHE_SECONDS 1.0

int ui_cache_get(ui_server *s, const char *key, ui_reply *r) {
    int found = 0;
    double now = bp_clock();
    pthread_mutex_lock(&s->lock);
    for (int k = 0; k < UI_CACHE && !found; k++) {
        ui_cached *c = &s->cache[k];
        if (!c->key || strcmp(c->key, key) || now - c->at > UI_CACHE_SECONDS) continue;
        char *body = malloc(c->len ? c->len : 1);
        if (!body) break;
        memcpy(body, c->body, c->len);
        *r = (ui_reply){c->status, "application/json", body, c->len};
        found = 1;
    }
    pthread_mutex_unlock(&s->lock);
    return found;
}

void ui_cache_put(ui_server *s, const char *key, const ui_reply *r) {
    char *k = strdup(key), *body = malloc(r->len ? r->len : 1);
    if (!k || !body || !r->body) {
        free(k), free(body);
        return;
    }
    memcpy(body, r->body, r->len);
    pthread_mutex_lock(&s->lock);
    ui_cached *oldest = &s->cache[0];
    for (int j = 1; j < UI_CACHE; j++)
        if (s->cache[j].at < oldest->at) oldest = &s->cache[j];
    free(oldest->key), free(oldest->body);
    *oldest = (ui_cached){k, bp_clock(), r->status, body, r->len};
    pthread_mutex_unlock(&s->lock);
}

void ui_cache_free(ui_server *s) {
    for (int k = 0; k < UI_CACHE; k++) free(s->cache[k].key), free(s->cache[k].body);
}
