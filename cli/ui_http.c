/* ui_http.c: the HTTP side of `backprop ui`: the daemon, what each URL
 * answers (the page's files, its pages, the JSON endpoints of ui_api.c),
 * and what it refuses.
 *
 * The server is GNU libmicrohttpd (Debian's libmicrohttpd-dev), chosen
 * over civetweb because it is only an HTTP library: a C API of callbacks
 * with no file serving, CGI, Lua or configuration of its own to keep shut,
 * long maintained under GNU, packaged in Debian for years (systemd's
 * journal-remote serves with it), with a thread pool of its own and
 * careful request parsing. It answers from UI_THREADS threads, each
 * request on a read-only connection of the pool (ui.c).
 *
 * Every answer is static text or JSON, never HTML made from the database:
 * the page writes what it reads as text (textContent), and its Content-
 * Security-Policy allows only the server's own scripts, so a run named
 * <script> is shown, never run. Only GET and HEAD are answered; a path
 * with ".." or a Host header naming another machine (DNS rebinding) is
 * refused. */
#define _XOPEN_SOURCE 700
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_cli.h"
#include "cli_int.h"
#include "ui_int.h"

typedef struct ui_asset {
    const char *url, *type;
    const unsigned char *bytes;
    size_t len;
} ui_asset;
#include "ui_assets.h" /* the page's files, cli/ui_assets/embed.cmake */

/* The page (index.html) answers these paths; the script reads the path. */
static const char *const pages[] = {"/",       "/runs",   "/run/", "/compare",
                                    "/sweeps", "/sweep/", "/sql",  "/weights/"};

static const char csp[] = "default-src 'self'; script-src 'self'; style-src 'self';"
                          " img-src 'self' data:; connect-src 'self';"
                          " frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

static enum MHD_Result send_reply(struct MHD_Connection *c, const ui_reply *r,
                                  int cache) {
    struct MHD_Response *res = ui_mhd.create_response_from_buffer(
        r->len, r->body ? r->body : (void *)"",
        r->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!res) {
        free(r->body);
        return MHD_NO;
    }
    ui_mhd.add_response_header(res, "Content-Type", r->type);
    ui_mhd.add_response_header(res, "Cache-Control", cache ? "max-age=3600" : "no-store");
    ui_mhd.add_response_header(res, "X-Content-Type-Options", "nosniff");
    ui_mhd.add_response_header(res, "Content-Security-Policy", csp);
    ui_mhd.add_response_header(res, "Referrer-Policy", "no-referrer");
    enum MHD_Result rc = ui_mhd.queue_response(c, r->status, res);
    ui_mhd.destroy_response(res);
    return rc;
}

/* A copy of text as the body of r (status and type given). */
static void reply_text(ui_reply *r, unsigned status, const char *type, const void *text,
                       size_t len) {
    r->status = status, r->type = type, r->len = 0;
    r->body = malloc(len ? len : 1);
    if (r->body) memcpy(r->body, text, len), r->len = len;
}

static const ui_asset *asset(const char *url) {
    for (size_t k = 0; k < UI_N_ASSETS; k++)
        if (!strcmp(ui_assets[k].url, url)) return &ui_assets[k];
    return NULL;
}

/* Whether the Host header names this server: a loopback name or the
 * address served on (any, when served on every address). A page of
 * another site whose name was made to point here sends its own name. */
static int host_ok(const ui_server *s, const char *host) {
    if (s->any_host) return 1;
    if (!host) return 0;
    char name[256];
    size_t n = host[0] == '[' ? strcspn(host, "]") + 1 : strcspn(host, ":");
    if (n >= sizeof name) return 0;
    memcpy(name, host, n);
    name[n] = '\0';
    if (!strcmp(name, "localhost") || !strcmp(name, "[::1]")) return 1;
    struct in_addr a;
    if (inet_pton(AF_INET, name, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127) return 1;
    char mine[260];
    snprintf(mine, sizeof mine, strchr(s->host, ':') ? "[%s]" : "%s", s->host);
    return !strcmp(name, mine);
}

/* The query string's arguments, for ui_api. */
static const char *arg_of(void *ctx, const char *name) {
    return ui_mhd.lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, name);
}

/* The request as the cache's key: its path and arguments, in the order
 * given; "" when longer than cap allows. */
typedef struct req_key {
    char text[2048];
    size_t n;
} req_key;

static enum MHD_Result key_arg(void *cls, enum MHD_ValueKind kind, const char *name,
                               const char *value) {
    req_key *k = cls;
    (void)kind;
    if (k->n < sizeof k->text)
        k->n += (size_t)snprintf(k->text + k->n, sizeof k->text - k->n, "&%s=%s", name,
                                 value ? value : "");
    return MHD_YES;
}

/* An endpoint's answer, from the cache when the same request was answered
 * less than a second ago (ui_cache.c); the SQL box's never. */
static void api(ui_server *s, struct MHD_Connection *c, const char *url, ui_reply *r) {
    req_key k = {.n = 0};
    k.n = (size_t)snprintf(k.text, sizeof k.text, "%s?", url);
    ui_mhd.get_connection_values(c, MHD_GET_ARGUMENT_KIND, key_arg, &k);
    int cached = strcmp(url, "/api/sql") && k.n < sizeof k.text;
    if (cached && ui_cache_get(s, k.text, r)) return;
    ui_api(s, url + 5, arg_of, c, r);
    if (cached && r->body) ui_cache_put(s, k.text, r);
}

/* The page, or 404 when it names a run or sweep that is not there (the
 * page then says so, from the endpoint's answer). */
static void page(ui_server *s, struct MHD_Connection *c, const char *url, ui_reply *r) {
    const ui_asset *index = asset("/");
    unsigned status = 200;
    if (!strncmp(url, "/run/", 5) || !strncmp(url, "/sweep/", 7) ||
        !strncmp(url, "/weights/", 9)) {
        char api[64];
        const char *id = strchr(url + 1, '/') + 1;
        snprintf(api, sizeof api, "%s/%.20s", url[1] == 's' ? "sweep" : "run", id);
        ui_reply probe = {0};
        ui_api(s, api, arg_of, c, &probe);
        free(probe.body);
        if (probe.status != 200) status = probe.status == 500 ? 500 : 404;
    }
    reply_text(r, status, index->type, index->bytes, index->len);
}

static int is_page(const char *url) {
    for (size_t k = 0; k < sizeof pages / sizeof *pages; k++) {
        size_t n = strlen(pages[k]);
        if (pages[k][n - 1] == '/' && n > 1 ? !strncmp(url, pages[k], n) && url[n]
                                            : !strcmp(url, pages[k]))
            return 1;
    }
    return 0;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state) {
    (void)version, (void)upload, (void)upload_size, (void)state;
    ui_server *s = cls;
    ui_reply r = {0};
    const ui_asset *a;
    int cache = 0;
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        ui_reply_error(&r, 405,
                       "only GET and HEAD are answered: the dashboard only reads");
    } else if (!host_ok(s, ui_mhd.lookup_connection_value(c, MHD_HEADER_KIND, "Host"))) {
        ui_reply_error(&r, 403, "this server answers requests for itself only (Host)");
    } else if (strstr(url, "..")) {
        ui_reply_error(&r, 400, "a path with '..' is refused");
    } else if (!strncmp(url, "/api/", 5)) {
        api(s, c, url, &r);
    } else if ((a = asset(url)) && strcmp(url, "/")) {
        reply_text(&r, 200, a->type, a->bytes, a->len);
        cache = 1;
    } else if (is_page(url)) {
        page(s, c, url, &r);
    } else {
        ui_reply_error(&r, 404, "no such page");
        free(r.body);
        static const char text[] = "<!doctype html><title>not found</title>"
                                   "<p>No such page. <a href=\"/\">The runs</a>.</p>\n";
        reply_text(&r, 404, "text/html; charset=utf-8", text, sizeof text - 1);
    }
    if (!r.type) ui_reply_error(&r, 500, "out of memory");
    return send_reply(c, &r, cache);
}

int ui_http_start(ui_server *s, bp_err *e) {
    if (ui_mhd_load(e)) return -1;
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
    if (inet_pton(AF_INET, s->host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET, v4->sin_port = htons((uint16_t)s->port);
    } else if (inet_pton(AF_INET6, s->host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6, v6->sin6_port = htons((uint16_t)s->port);
        flags |= MHD_USE_IPv6;
    } else {
        return bp_err_set(e, "'%s' is not an IP address", s->host);
    }
    errno = 0;
    s->daemon = ui_mhd.start_daemon(flags, (uint16_t)s->port, NULL, NULL, answer, s,
                                    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                                    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)UI_THREADS,
                                    MHD_OPTION_CONNECTION_TIMEOUT, 30u,
                                    MHD_OPTION_CONNECTION_LIMIT, 512u, MHD_OPTION_END);
    if (!s->daemon)
        return bp_err_set(e, "cannot listen on %s port %d (%s)%s", s->host, s->port,
                          errno ? strerror(errno) : "libmicrohttpd refused",
                          errno == EADDRINUSE ? "; --port N chooses another, 0 any" : "");
    const union MHD_DaemonInfo *info =
        ui_mhd.get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (info && info->port) s->port = info->port;
    return 0;
}

void ui_http_stop(ui_server *s) {
    if (s->daemon) ui_mhd.stop_daemon(s->daemon);
    s->daemon = NULL;
}
