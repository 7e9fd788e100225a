/* ui_int.h: what the files of `backprop ui` share (cli/ui.c the command,
 * ui_http.c the server and its routes, ui_api.c the JSON endpoints): the
 * server's state and its pool of read-only connections.
 *
 * Private to cli/; the command itself is bp_cli_ui (bp_cli.h). */
#ifndef UI_INT_H
#define UI_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#include "bp_runlog.h"

/* The threads that answer requests, and as many connections: a request
 * holds one connection while it reads, so none ever waits for another. */
#define UI_THREADS 4

/* The longest a query of the SQL box may spend in SQLite unless
 * --sql-timeout says otherwise, and the rows it shows (it counts the
 * others). */
#define UI_SQL_SECONDS 5
#define UI_SQL_ROWS 1000

/* Answers kept (ui_cache.c): how many, and one of them. */
#define UI_CACHE 32
typedef struct ui_cached {
    char *key; /* the request; NULL: an empty slot */
    double at; /* bp_clock() when it was answered */
    unsigned status;
    char *body;
    size_t len;
} ui_cached;

typedef struct ui_server {
    const char *db;   /* the database's path */
    const char *host; /* the address served on, as given */
    int any_host;     /* served on every address: any Host header goes */
    int port;         /* the port, once listening */
    int sql_seconds;  /* the SQL box's time limit */
    pthread_mutex_t lock;
    pthread_cond_t freed;
    bp_runlog *logs[UI_THREADS]; /* opened read-only as needed, NULL before */
    int busy[UI_THREADS];
    struct MHD_Daemon *daemon;
    ui_cached cache[UI_CACHE]; /* under lock */
} ui_server;

/* libmicrohttpd's functions that ui_http.c calls, each with its header's
 * type, filled by ui_mhd_load (ui_mhd.c: the library is opened by `backprop
 * ui` alone, not linked into every command). */
typedef struct ui_mhd_api {
    __typeof__(MHD_start_daemon) *start_daemon;
    __typeof__(MHD_stop_daemon) *stop_daemon;
    __typeof__(MHD_get_daemon_info) *get_daemon_info;
    __typeof__(MHD_create_response_from_buffer) *create_response_from_buffer;
    __typeof__(MHD_add_response_header) *add_response_header;
    __typeof__(MHD_queue_response) *queue_response;
    __typeof__(MHD_destroy_response) *destroy_response;
    __typeof__(MHD_lookup_connection_value) *lookup_connection_value;
    __typeof__(MHD_get_connection_values) *get_connection_values;
} ui_mhd_api;
extern ui_mhd_api ui_mhd;

/* Loads libmicrohttpd into ui_mhd (once; later calls return at once): 0,
 * or -1 with e naming the library, why, and the package that has it. */
int ui_mhd_load(bp_err *e);

/* A connection of the pool for this request (opened with
 * BP_RUNLOG_READONLY when none is free yet), NULL with e when it cannot be
 * opened; give it back with ui_log_give. */
bp_runlog *ui_log_take(ui_server *s, bp_err *e);
void ui_log_give(ui_server *s, bp_runlog *log);

/* An answer: status, media type, and the body (malloc'd, the server frees
 * it once sent; NULL with len 0 for none). */
typedef struct ui_reply {
    unsigned status;
    const char *type;
    char *body;
    size_t len;
} ui_reply;

/* The JSON endpoints (ui_api.c): path is the URL after "/api/", get(name)
 * reads an argument of the query string (decoded; NULL when absent). Fills
 * r: 200 with JSON, 404 for an unknown id or endpoint, 400 for a bad
 * argument, 500 when the database fails, each failure {"error": "..."}. */
typedef const char *(*ui_arg_fn)(void *ctx, const char *name);
void ui_api(ui_server *s, const char *path, ui_arg_fn get, void *ctx, ui_reply *r);

/* The answer of the same request (key: its path and arguments) made less
 * than a second ago, copied into r: 1, or 0 when there is none. _put keeps
 * a copy of r, in the place of the oldest; _free frees them all. */
int ui_cache_get(ui_server *s, const char *key, ui_reply *r);
void ui_cache_put(ui_server *s, const char *key, const ui_reply *r);
void ui_cache_free(ui_server *s);

/* r as {"error": msg} with status. */
void ui_reply_error(ui_reply *r, unsigned status, const char *msg);

/* Starts and stops the server (ui_http.c): listening on s->host and
 * s->port (0: a free port, then set in s->port). -1 with why in e. */
int ui_http_start(ui_server *s, bp_err *e);
void ui_http_stop(ui_server *s);

#endif
