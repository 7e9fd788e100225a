/* reads_json.c: JSON text written in C (reads_int.h, rd_json), for the
 * dashboard's reads that compute their answer (reads_dash_series.c,
 * reads_dash_sql.c); the tables' JSON is made by SQLite (reads_dash.c).
 *
 * JSON has no NaN nor infinities: NaN is null, as the run log stores it,
 * and +-Inf the strings "Infinity" and "-Infinity", as reads_dash.c's
 * FIN() spells them, which JavaScript's Number() reads back. */
#define _XOPEN_SOURCE 700
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reads_int.h"

void rd_json_put(rd_json *b, const char *fmt, ...) {
    /* The first try writes what fits; the second, after growing, all. */
    for (int tries = 0; !b->oom && tries < 2; tries++) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) b->oom = 1;
        if (b->oom || (b->s && b->n + (size_t)k < b->cap)) {
            if (!b->oom) b->n += (size_t)k;
            return;
        }
        size_t cap = b->cap ? b->cap : 4096;
        while (cap <= b->n + (size_t)k) cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) b->oom = 1;
        else b->s = p, b->cap = cap;
    }
}

void rd_json_num(rd_json *b, double v) {
    if (isnan(v)) return rd_json_put(b, "null");
    if (isinf(v)) return rd_json_put(b, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    char t[32];
    for (int p = 15; p <= 17; p++) {
        snprintf(t, sizeof t, "%.*g", p, v);
        if (strtod(t, NULL) == v) break;
    }
    rd_json_put(b, "%s", t);
}

void rd_json_str(rd_json *b, const char *s) {
    rd_json_put(b, "\"");
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t run = 0; /* the stretch that needs no escape, put at once */
        while (p[run] >= 0x20 && p[run] != '"' && p[run] != '\\') run++;
        if (run) rd_json_put(b, "%.*s", (int)run, (const char *)p);
        p += run;
        if (!*p) break;
        if (*p == '"' || *p == '\\') rd_json_put(b, "\\%c", *p);
        else rd_json_put(b, "\\u%04x", *p);
        p++;
    }
    rd_json_put(b, "\"");
}

void rd_json_value(rd_json *b, const bp_runlog_value *v) {
    switch (v->type) {
        case BP_RUNLOG_NULL: rd_json_put(b, "null"); break;
        case BP_RUNLOG_INT: rd_json_put(b, "%lld", (long long)v->i); break;
        case BP_RUNLOG_REAL: rd_json_num(b, v->r); break;
        case BP_RUNLOG_TEXT: rd_json_str(b, v->s); break;
        case BP_RUNLOG_BLOB:
            rd_json_put(b, "\"");
            for (size_t k = 0; k < v->n; k++)
                rd_json_put(b, "%02x", (unsigned char)v->s[k]);
            rd_json_put(b, "\"");
    }
}

int rd_json_finish(rd_json *b, char **json, size_t *len, bp_err *e) {
    if (b->oom || !b->s) {
        free(b->s);
        *b = (rd_json){0};
        *json = NULL, *len = 0;
        return rd_oom(e);
    }
    *json = b->s, *len = b->n;
    *b = (rd_json){0};
    return 0;
}
