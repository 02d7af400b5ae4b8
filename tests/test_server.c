/* test_server.c - starts ./apr-server on 127.0.0.1 (a free port) with stories260K and
   talks to it over sockets: every endpoint (streaming and not) with its exact structure,
   greedy answers equal to apr_generate's, 16 concurrent clients, a bad-request suite
   (invalid JSON, wrong types, deep nesting, huge bodies, bad chunks, endless headers,
   pipelining, a slow client, disconnects), API keys, a full queue, /metrics through
   promtool (when installed), the openai npm package (when node and the package are
   present: tests/tmp/node or $APR_NODE_MODULES), and SIGTERM. Skipped (0 checks) where
   ./apr-server or the model is missing, or on Windows. */
#define APR_IMPLEMENTATION
#include "apr.h"
#include "test.h"
#include "drivers/json.h"

#if defined(_WIN32)
int main(void) {
    printf("test_server: skipped on Windows\n");
    return test_finish();
}
#else
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <ctype.h>

static bool quick;

/* ---- a running server ---------------------------------------------------------------- */

typedef struct server {
    pid_t pid;
    int port;
    char log_path[128];   /* the server's stderr */
} server;

static int n_servers;
static void server_check_log(server *s);

static bool server_start_ex(server *s, const char *extra_args, bool wait_loaded) {
    snprintf(s->log_path, sizeof s->log_path, "tests/bin/test_server.server%d.log", n_servers++);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "exec ./apr-server -m %s --port 0 %s 2>%s", test_shared("data/models/stories260K.gguf"),
             extra_args, s->log_path);
    unlink(s->log_path);
    pid_t pid = fork();
    if (pid < 0) return false;
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    s->pid = pid;
    s->port = 0;
    /* "apr-server: listening on http://127.0.0.1:PORT", then "loaded ..." once ready */
    for (int i = 0; i < 600; i++) {
        char *log = (char *)test_read_file(s->log_path, NULL);
        const char *p = log ? strstr(log, "listening on http://127.0.0.1:") : NULL;
        if (p) s->port = atoi(p + strlen("listening on http://127.0.0.1:"));
        bool loaded = log && strstr(log, "apr-server: loaded ") != NULL;
        bool failed = log && strstr(log, "cannot") != NULL;
        if (failed) fprintf(stderr, "server: %s", log);
        free(log);
        if (!wait_loaded && s->port > 0) return true;
        if (loaded || failed || waitpid(pid, NULL, WNOHANG) == pid) return loaded && s->port > 0;
        usleep(50000);
    }
    return false;
}

static bool server_start(server *s, const char *extra_args) { return server_start_ex(s, extra_args, true); }

/* Sanitizer reports in a server's log. */
static void server_check_log(server *s) {
    char *log = (char *)test_read_file(s->log_path, NULL);
    CHECK(log && !strstr(log, "Sanitizer") && !strstr(log, "runtime error"), "server log %s is clean", s->log_path);
    free(log);
}

/* Stops with SIGTERM; returns the exit status (or -1 if it had to be killed). */
static int server_stop(server *s) {
    if (s->pid <= 0) return -1;
    kill(s->pid, SIGTERM);
    int status = 0;
    for (int i = 0; i < 200; i++) {
        pid_t r = waitpid(s->pid, &status, WNOHANG);
        if (r == s->pid) {
            s->pid = 0;
            server_check_log(s);
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        usleep(50000);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &status, 0);
    s->pid = 0;
    server_check_log(s);
    return -1;
}

/* ---- a tiny HTTP client ------------------------------------------------------------ */

typedef struct client {
    int fd;
    char buf[1 << 16];
    size_t len;
} client;

static int tcp_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(0x7f000001);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) { close(fd); return -1; }
    struct timeval tv;
    tv.tv_sec = 20;
    tv.tv_usec = 0;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static bool send_str(int fd, const char *s, size_t n) {
    while (n) {
        ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
        if (k <= 0) return false;
        s += k;
        n -= (size_t)k;
    }
    return true;
}

static int cl_fill(client *c) {
    if (c->len == sizeof c->buf) return -1;
    ssize_t k = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
    if (k > 0) c->len += (size_t)k;
    return (int)k;
}

static void cl_consume(client *c, size_t n) {
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* Reads a line ending in CRLF (without it) into out. */
static bool cl_line(client *c, char *out, size_t size) {
    for (;;) {
        for (size_t i = 0; i + 1 < c->len; i++)
            if (c->buf[i] == '\r' && c->buf[i + 1] == '\n') {
                size_t n = i < size - 1 ? i : size - 1;
                memcpy(out, c->buf, n);
                out[n] = 0;
                cl_consume(c, i + 2);
                return true;
            }
        if (cl_fill(c) <= 0) return false;
    }
}

static bool cl_bytes(client *c, char *out, size_t n) {
    while (c->len < n)
        if (cl_fill(c) <= 0) return false;
    memcpy(out, c->buf, n);
    cl_consume(c, n);
    return true;
}

typedef struct response {
    int status;
    char headers[4096];
    char *body;
    size_t len;
} response;

static void resp_free(response *r) { free(r->body); memset(r, 0, sizeof *r); }

static bool hdr_has(const response *r, const char *needle) { return strstr(r->headers, needle) != NULL; }

/* Reads one response: Content-Length, chunked, or until close. */
static bool read_response(client *c, response *r, bool head) {
    memset(r, 0, sizeof *r);
    char line[4096];
    do {
        if (!cl_line(c, line, sizeof line)) return false;
        if (sscanf(line, "HTTP/1.%*d %d", &r->status) != 1) return false;
        /* skip 100 Continue */
        if (r->status == 100) while (cl_line(c, line, sizeof line) && line[0]) {}
    } while (r->status == 100);
    long long cl = -1;
    bool chunked = false;
    size_t hl = 0;
    while (cl_line(c, line, sizeof line) && line[0]) {
        size_t n = strlen(line);
        if (hl + n + 2 < sizeof r->headers) { memcpy(r->headers + hl, line, n); hl += n; r->headers[hl++] = '\n'; r->headers[hl] = 0; }
        for (char *p = line; *p && *p != ':'; p++) *p = (char)tolower((unsigned char)*p);
        if (strncmp(line, "content-length:", 15) == 0) cl = atoll(line + 15);
        if (strncmp(line, "transfer-encoding:", 18) == 0 && strstr(line, "chunked")) chunked = true;
    }
    r->body = (char *)malloc(1);
    r->body[0] = 0;
    if (head) return true;
    if (chunked) {
        for (;;) {
            if (!cl_line(c, line, sizeof line)) return false;
            size_t n = (size_t)strtoul(line, NULL, 16);
            if (n == 0) { cl_line(c, line, sizeof line); break; }
            r->body = (char *)realloc(r->body, r->len + n + 1);
            if (!cl_bytes(c, r->body + r->len, n)) return false;
            r->len += n;
            r->body[r->len] = 0;
            if (!cl_line(c, line, sizeof line)) return false;
        }
    } else if (cl >= 0) {
        r->body = (char *)realloc(r->body, (size_t)cl + 1);
        if (!cl_bytes(c, r->body, (size_t)cl)) return false;
        r->len = (size_t)cl;
        r->body[r->len] = 0;
    } else {
        for (;;) {
            if (c->len) {
                r->body = (char *)realloc(r->body, r->len + c->len + 1);
                memcpy(r->body + r->len, c->buf, c->len);
                r->len += c->len;
                r->body[r->len] = 0;
                c->len = 0;
            }
            if (cl_fill(c) <= 0) break;
        }
    }
    return true;
}

static int g_port;
static int metric_value(const char *name, double *v);

/* One request on a new connection. */
static response http(const char *method, const char *path, const char *body, const char *headers) {
    response r;
    memset(&r, 0, sizeof r);
    r.status = -1;
    client *c = (client *)calloc(1, sizeof *c);
    c->fd = tcp_connect(g_port);
    if (c->fd < 0) { free(c); return r; }
    char req[8192];
    size_t bl = body ? strlen(body) : 0;
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s%s", method, path,
                     headers ? headers : "", body ? "Content-Type: application/json\r\n" : "");
    if (body) n += snprintf(req + n, sizeof req - (size_t)n, "Content-Length: %zu\r\n", bl);
    n += snprintf(req + n, sizeof req - (size_t)n, "\r\n");
    if (send_str(c->fd, req, (size_t)n) && (!body || send_str(c->fd, body, bl))) {
        if (!read_response(c, &r, strcmp(method, "HEAD") == 0)) { resp_free(&r); r.status = -1; }
    }
    close(c->fd);
    free(c);
    return r;
}

static response post(const char *path, const char *body) { return http("POST", path, body, NULL); }

static bool parse(json_doc *d, const response *r) {
    char err[128];
    return r->body && json_parse(d, r->body, r->len, 64, err, sizeof err);
}

static const char *jstr(const json_value *o, const char *k) {
    const json_value *v = json_get(o, k);
    return v && v->type == JSON_STRING ? v->str : NULL;
}

static int64_t jint(const json_value *o, const char *k) {
    const json_value *v = json_get(o, k);
    return v && v->type == JSON_NUMBER ? (int64_t)v->number : -999;
}

/* ---- expected greedy output, computed in-process ------------------------------------ */

static apr_model *g_model;
static apr_context *g_ctx;

static bool collect_text(void *user, const char *text, size_t len) {
    json_buf *b = (json_buf *)user;
    json_raw(b, text, len);
    return true;
}

static char *expected_greedy(const char *prompt, int max_tokens, int *n_prompt, int *n_gen) {
    json_buf b;
    json_buf_init(&b);
    json_raw(&b, "", 0);
    apr_generate_params gp = apr_generate_default_params();
    gp.sampling.temperature = 0;
    gp.max_tokens = max_tokens;
    gp.on_text = collect_text;
    gp.user = &b;
    apr_generate_stats st;
    memset(&st, 0, sizeof st);
    apr_result r = apr_generate(g_ctx, prompt, &gp, &st);
    if (r != APR_SUCCESS) { json_buf_free(&b); return NULL; }
    if (n_prompt) *n_prompt = st.n_prompt_tokens;
    if (n_gen) *n_gen = st.n_generated_tokens;
    return b.data;
}

static char *chat_prompt(const char *user_text) {
    const char *tmpl = apr_model_chat_template(g_model);
    if (!tmpl) tmpl = "chatml";
    apr_chat_message m[1];
    m[0].role = "user";
    m[0].content = user_text;
    int64_t n = apr_chat_render(tmpl, m, 1, true, NULL, 0);
    if (n < 0) return NULL;
    char *buf = (char *)malloc((size_t)n + 1);
    apr_chat_render(tmpl, m, 1, true, buf, n + 1);
    return buf;
}

/* Splits an SSE body into its data: payloads; checks the framing. Returns count. */
static int sse_events(const char *body, char **events, int max) {
    int n = 0;
    const char *p = body;
    while (*p && n < max) {
        if (strncmp(p, "data: ", 6) != 0) return -1;
        const char *e = strstr(p, "\n\n");
        if (!e) return -1;
        size_t l = (size_t)(e - p - 6);
        events[n] = (char *)malloc(l + 1);
        memcpy(events[n], p + 6, l);
        events[n][l] = 0;
        n++;
        p = e + 2;
    }
    return n;
}

/* ---- endpoint checks ---------------------------------------------------------------- */

static void test_basic_endpoints(void) {
    TEST("GET /health, /v1/models, /api/tags, /api/version");
    response r = http("GET", "/health", NULL, NULL);
    json_doc d;
    CHECK(r.status == 200, "health status %d", r.status);
    CHECK(hdr_has(&r, "Content-Type: application/json"), "json content type");
    if (parse(&d, &r)) {
        CHECK(jstr(d.root, "status") && strcmp(jstr(d.root, "status"), "ok") == 0, "status ok");
        CHECK(jstr(d.root, "backend") && strcmp(jstr(d.root, "backend"), "CPU") == 0, "backend CPU");
        CHECK(jstr(d.root, "gpu") != NULL, "gpu field");
        json_doc_free(&d);
    } else CHECK(false, "health JSON: %s", r.body);
    resp_free(&r);

    r = http("GET", "/v1/models", NULL, NULL);
    CHECK(r.status == 200, "models status %d", r.status);
    if (parse(&d, &r)) {
        const json_value *data = json_get(d.root, "data");
        CHECK(jstr(d.root, "object") && strcmp(jstr(d.root, "object"), "list") == 0, "object list");
        CHECK(json_is(data, JSON_ARRAY) && data->len == 1, "one model");
        const json_value *m = json_at(data, 0);
        CHECK(m && jstr(m, "id") && strcmp(jstr(m, "id"), "stories260K.gguf") == 0, "model id");
        CHECK(m && jstr(m, "object") && strcmp(jstr(m, "object"), "model") == 0, "object model");
        CHECK(m && jstr(m, "owned_by") != NULL && json_is(json_get(m, "created"), JSON_NUMBER), "owned_by, created");
        CHECK(m && llabs((long long)jint(m, "created") - (long long)time(NULL)) < 3600, "created is a Unix time");
        json_doc_free(&d);
    } else CHECK(false, "models JSON");
    resp_free(&r);

    r = http("GET", "/api/tags", NULL, NULL);
    CHECK(r.status == 200, "tags status %d", r.status);
    if (parse(&d, &r)) {
        const json_value *m = json_at(json_get(d.root, "models"), 0);
        CHECK(m && jstr(m, "name") && jstr(m, "model") && jstr(m, "modified_at") && json_get(m, "size") &&
                  json_is(json_get(m, "details"), JSON_OBJECT),
              "tags model fields");
        json_doc_free(&d);
    } else CHECK(false, "tags JSON");
    resp_free(&r);

    r = post("/api/show", "{\"model\":\"stories260K.gguf\"}");
    if (r.status == 200 && parse(&d, &r)) {
        CHECK(json_is(json_get(d.root, "details"), JSON_OBJECT) && json_is(json_get(d.root, "model_info"), JSON_OBJECT),
              "api/show details, model_info");
        json_doc_free(&d);
    } else CHECK(false, "api/show: %d", r.status);
    resp_free(&r);
    r = http("GET", "/api/ps", NULL, NULL);
    CHECK(r.status == 200 && r.body && strstr(r.body, "\"models\""), "api/ps: %d", r.status);
    resp_free(&r);

    r = http("GET", "/api/version", NULL, NULL);
    CHECK(r.status == 200 && r.body && strstr(r.body, "\"version\""), "version: %d %s", r.status, r.body);
    resp_free(&r);
    r = http("HEAD", "/health", NULL, NULL);
    CHECK(r.status == 200, "HEAD /health %d", r.status);
    resp_free(&r);
}

static void test_tokenize(void) {
    TEST("POST /tokenize, /detokenize");
    const char *text = "Once upon a time, there was a little girl.";
    int32_t want[256];
    int64_t nw = apr_tokenize(apr_model_vocab(g_model), text, strlen(text), want, 256, APR_TOKENIZE_PARSE_SPECIAL);
    response r = post("/tokenize", "{\"content\":\"Once upon a time, there was a little girl.\"}");
    json_doc d;
    CHECK(r.status == 200, "tokenize status %d", r.status);
    json_buf toks;
    json_buf_init(&toks);
    if (parse(&d, &r)) {
        const json_value *t = json_get(d.root, "tokens");
        CHECK(json_is(t, JSON_ARRAY) && (int64_t)t->len == nw, "token count %d vs %d", t ? (int)t->len : -1, (int)nw);
        int i = 0;
        bool same = true;
        for (const json_value *v = json_first(t); v; v = v->next, i++) if (i >= nw || v->integer != want[i]) same = false;
        CHECK(same, "same tokens as apr_tokenize");
        json_obj_begin(&toks); json_key(&toks, "tokens"); json_write_value(&toks, t); json_obj_end(&toks);
        json_doc_free(&d);
    } else CHECK(false, "tokenize JSON");
    resp_free(&r);
    r = post("/tokenize", "{\"content\":\"hi\",\"add_special\":true,\"with_pieces\":true}");
    if (parse(&d, &r)) {
        const json_value *t0 = json_at(json_get(d.root, "tokens"), 0);
        CHECK(t0 && json_get(t0, "id") && jstr(t0, "piece"), "with_pieces gives id and piece");
        if (apr_vocab_add_bos(apr_model_vocab(g_model)))
            CHECK(t0 && jint(t0, "id") == apr_vocab_bos(apr_model_vocab(g_model)), "add_special adds BOS");
        json_doc_free(&d);
    } else CHECK(false, "tokenize with_pieces: %d %s", r.status, r.body);
    resp_free(&r);
    if (toks.data) {
        r = post("/detokenize", toks.data);
        CHECK(r.status == 200, "detokenize status %d", r.status);
        if (parse(&d, &r)) {
            const char *c = jstr(d.root, "content");
            CHECK(c && strstr(c, "Once upon a time, there was a little girl.") != NULL, "round trip: '%s'", c ? c : "");
            json_doc_free(&d);
        } else CHECK(false, "detokenize JSON");
        resp_free(&r);
    }
    json_buf_free(&toks);
    r = post("/detokenize", "{\"tokens\":[1,999999]}");
    CHECK(r.status == 400, "bad token id: %d", r.status);
    resp_free(&r);
    r = post("/tokenize", "{\"content\":5}");
    CHECK(r.status == 400, "content not a string: %d", r.status);
    resp_free(&r);
}

/* Checks one OpenAI non-streaming reply; returns its text (malloc) or NULL. */
static char *check_openai_reply(const response *r, bool chat, int want_prompt, int want_gen, const char *what) {
    json_doc d;
    char *text = NULL;
    CHECK(r->status == 200, "%s: status %d (%s)", what, r->status, r->body);
    if (!parse(&d, r)) { CHECK(false, "%s: JSON", what); return NULL; }
    const json_value *root = d.root;
    CHECK(jstr(root, "id") && strncmp(jstr(root, "id"), chat ? "chatcmpl-" : "cmpl-", chat ? 9 : 5) == 0, "%s: id", what);
    CHECK(jstr(root, "object") && strcmp(jstr(root, "object"), chat ? "chat.completion" : "text_completion") == 0,
          "%s: object", what);
    CHECK(json_is(json_get(root, "created"), JSON_NUMBER) && jstr(root, "model"), "%s: created, model", what);
    const json_value *ch = json_get(root, "choices");
    CHECK(json_is(ch, JSON_ARRAY) && ch->len == 1, "%s: one choice", what);
    const json_value *c0 = json_at(ch, 0);
    CHECK(c0 && jint(c0, "index") == 0, "%s: index 0", what);
    const char *fr = c0 ? jstr(c0, "finish_reason") : NULL;
    CHECK(fr && (strcmp(fr, "stop") == 0 || strcmp(fr, "length") == 0), "%s: finish_reason %s", what, fr ? fr : "null");
    if (chat) {
        const json_value *m = c0 ? json_get(c0, "message") : NULL;
        CHECK(m && jstr(m, "role") && strcmp(jstr(m, "role"), "assistant") == 0, "%s: role", what);
        if (m && jstr(m, "content")) text = strdup(jstr(m, "content"));
    } else if (c0 && jstr(c0, "text")) {
        text = strdup(jstr(c0, "text"));
    }
    CHECK(text != NULL, "%s: text present", what);
    const json_value *u = json_get(root, "usage");
    CHECK(json_is(u, JSON_OBJECT), "%s: usage", what);
    if (u) {
        CHECK(jint(u, "prompt_tokens") == want_prompt, "%s: prompt_tokens %d want %d", what, (int)jint(u, "prompt_tokens"), want_prompt);
        CHECK(jint(u, "completion_tokens") == want_gen, "%s: completion_tokens %d want %d", what,
              (int)jint(u, "completion_tokens"), want_gen);
        CHECK(jint(u, "total_tokens") == want_prompt + want_gen, "%s: total_tokens", what);
    }
    json_doc_free(&d);
    return text;
}

static int last_stream_pieces; /* events with non-empty text in the last stream checked */

/* Checks an OpenAI SSE stream; returns the concatenated text. */
static char *check_openai_stream(const response *r, bool chat, bool usage, int want_prompt, int want_gen, const char *what) {
    CHECK(r->status == 200, "%s: status %d", what, r->status);
    CHECK(hdr_has(r, "Content-Type: text/event-stream"), "%s: event-stream", what);
    char *ev[4096];
    int n = r->body ? sse_events(r->body, ev, 4096) : -1;
    CHECK(n >= 3, "%s: SSE framing (%d events)", what, n);
    if (n < 3) return NULL;
    CHECK(strcmp(ev[n - 1], "[DONE]") == 0, "%s: ends with [DONE]", what);
    json_buf text;
    json_buf_init(&text);
    json_raw(&text, "", 0);
    const char *id0 = NULL;
    int last_data = n - 2;
    if (usage) last_data = n - 3;
    bool ok = true;
    last_stream_pieces = 0;
    for (int i = 0; i < n - 1 && ok; i++) {
        json_doc d;
        if (!json_parse(&d, ev[i], strlen(ev[i]), 64, NULL, 0)) { CHECK(false, "%s: event %d JSON: %s", what, i, ev[i]); ok = false; break; }
        const json_value *root = d.root;
        const char *obj = jstr(root, "object");
        CHECK(obj && strcmp(obj, chat ? "chat.completion.chunk" : "text_completion") == 0, "%s: chunk object", what);
        if (!id0) { id0 = strdup(jstr(root, "id") ? jstr(root, "id") : ""); }
        else CHECK(jstr(root, "id") && strcmp(jstr(root, "id"), id0) == 0, "%s: same id in every chunk", what);
        const json_value *ch = json_get(root, "choices");
        if (usage && i == n - 2) {
            CHECK(json_is(ch, JSON_ARRAY) && ch->len == 0, "%s: usage chunk has no choices", what);
            const json_value *u = json_get(root, "usage");
            CHECK(u && jint(u, "prompt_tokens") == want_prompt && jint(u, "completion_tokens") == want_gen &&
                      jint(u, "total_tokens") == want_prompt + want_gen,
                  "%s: usage chunk counts", what);
            json_doc_free(&d);
            continue;
        }
        const json_value *c0 = json_at(ch, 0);
        CHECK(c0 && ch->len == 1, "%s: one choice per chunk", what);
        const json_value *fr = c0 ? json_get(c0, "finish_reason") : NULL;
        if (i == last_data) {
            CHECK(fr && fr->type == JSON_STRING && (strcmp(fr->str, "stop") == 0 || strcmp(fr->str, "length") == 0),
                  "%s: last chunk has finish_reason", what);
        } else {
            CHECK(fr && fr->type == JSON_NULL, "%s: finish_reason null before the end (chunk %d)", what, i);
        }
        if (chat) {
            const json_value *delta = c0 ? json_get(c0, "delta") : NULL;
            CHECK(json_is(delta, JSON_OBJECT), "%s: delta", what);
            if (i == 0) CHECK(jstr(delta, "role") && strcmp(jstr(delta, "role"), "assistant") == 0, "%s: first delta has the role", what);
            else CHECK(json_get(delta, "role") == NULL, "%s: role only in the first delta", what);
            if (jstr(delta, "content")) json_rawz(&text, jstr(delta, "content"));
            if (jstr(delta, "content") && *jstr(delta, "content")) last_stream_pieces++;
        } else if (c0 && jstr(c0, "text")) {
            json_rawz(&text, jstr(c0, "text"));
            if (*jstr(c0, "text")) last_stream_pieces++;
        }
        json_doc_free(&d);
    }
    for (int i = 0; i < n; i++) free(ev[i]);
    free((void *)id0);
    return text.data;
}

static void test_generation(void) {
    const int N = 24;
    char body[4096];
    TEST("POST /v1/completions (greedy = apr_generate)");
    const char *prompt = "Once upon a time";
    int np = 0, ng = 0;
    char *want = expected_greedy(prompt, N, &np, &ng);
    CHECK(want != NULL, "apr_generate works");
    if (!want) return;
    snprintf(body, sizeof body, "{\"model\":\"x\",\"prompt\":\"%s\",\"max_tokens\":%d,\"temperature\":0}", prompt, N);
    response r = post("/v1/completions", body);
    char *got = check_openai_reply(&r, false, np, ng, "completion");
    CHECK(got && strcmp(got, want) == 0, "completion greedy text:\n got '%s'\nwant '%s'", got ? got : "", want);
    if (r.body) {
        json_doc d;
        if (parse(&d, &r)) {
            CHECK(jstr(d.root, "model") && strcmp(jstr(d.root, "model"), "x") == 0, "model echoed");
            json_doc_free(&d);
        }
    }
    free(got);
    resp_free(&r);

    TEST("POST /v1/completions stream");
    snprintf(body, sizeof body, "{\"prompt\":\"%s\",\"max_tokens\":%d,\"temperature\":0,\"stream\":true}", prompt, N);
    r = post("/v1/completions", body);
    got = check_openai_stream(&r, false, false, np, ng, "completion stream");
    CHECK(got && strcmp(got, want) == 0, "streamed text:\n got '%s'\nwant '%s'", got ? got : "", want);
    CHECK(last_stream_pieces == ng, "one event per token: %d events, %d tokens", last_stream_pieces, ng);
    free(got);
    resp_free(&r);

    TEST("stop strings");
    if (strlen(want) > 8) {
        char stop[8];
        memcpy(stop, want + 6, 3);
        stop[3] = 0;
        const char *cut = strstr(want, stop);
        snprintf(body, sizeof body, "{\"prompt\":\"%s\",\"max_tokens\":%d,\"temperature\":0,\"stop\":[\"%s\"]}", prompt, N, stop);
        r = post("/v1/completions", body);
        json_doc d;
        if (r.status == 200 && parse(&d, &r)) {
            const json_value *c0 = json_at(json_get(d.root, "choices"), 0);
            const char *t = jstr(c0, "text");
            CHECK(t && cut && strlen(t) == (size_t)(cut - want) && strncmp(t, want, strlen(t)) == 0, "text cut before stop '%s': '%s'", stop, t ? t : "");
            CHECK(jstr(c0, "finish_reason") && strcmp(jstr(c0, "finish_reason"), "stop") == 0, "finish_reason stop");
            json_doc_free(&d);
        } else CHECK(false, "stop request: %d", r.status);
        resp_free(&r);
        /* streamed: same cut, the held-back prefix never leaks */
        snprintf(body, sizeof body, "{\"prompt\":\"%s\",\"max_tokens\":%d,\"temperature\":0,\"stop\":\"%s\",\"stream\":true}", prompt, N, stop);
        r = post("/v1/completions", body);
        char *st = check_openai_stream(&r, false, false, np, -1, "stop stream");
        CHECK(st && cut && strlen(st) == (size_t)(cut - want) && strncmp(st, want, strlen(st)) == 0, "streamed text cut before stop: '%s'", st ? st : "");
        free(st);
        resp_free(&r);
        /* a stop string that never appears changes nothing */
        snprintf(body, sizeof body, "{\"prompt\":\"%s\",\"max_tokens\":%d,\"temperature\":0,\"stop\":[\"%.2s#never#\"],\"stream\":true}", prompt, N, want + 1);
        r = post("/v1/completions", body);
        st = check_openai_stream(&r, false, false, np, ng, "unmatched stop stream");
        CHECK(st && strcmp(st, want) == 0, "held-back prefixes are released: '%s'", st ? st : "");
        free(st);
        resp_free(&r);
    }
    free(want);
    r = post("/v1/completions", "{\"prompt\":\"Once\",\"max_tokens\":0}");
    {
        json_doc d;
        if (parse(&d, &r)) {
            const json_value *c0 = json_at(json_get(d.root, "choices"), 0);
            CHECK(jstr(c0, "text") && !*jstr(c0, "text") && jint(json_get(d.root, "usage"), "completion_tokens") == 0 &&
                      strcmp(jstr(c0, "finish_reason"), "length") == 0,
                  "max_tokens 0: nothing generated, finish length");
            json_doc_free(&d);
        } else CHECK(false, "max_tokens 0: %d", r.status);
    }
    resp_free(&r);

    r = post("/v1/completions", "{\"prompt\":\"Once\",\"max_tokens\":300,\"ignore_eos\":true,\"temperature\":0}");
    {
        json_doc d;
        if (parse(&d, &r)) {
            CHECK(jint(json_get(d.root, "usage"), "completion_tokens") == 300, "ignore_eos: exactly max_tokens generated");
            json_doc_free(&d);
        } else CHECK(false, "ignore_eos: %d", r.status);
    }
    resp_free(&r);

    TEST("POST /v1/chat/completions (greedy = apr_generate on the template)");
    char *cp = chat_prompt("Tell me a story");
    CHECK(cp != NULL, "chat render");
    want = cp ? expected_greedy(cp, N, &np, &ng) : NULL;
    free(cp);
    if (!want) return;
    snprintf(body, sizeof body, "{\"messages\":[{\"role\":\"user\",\"content\":\"Tell me a story\"}],\"max_tokens\":%d,\"temperature\":0}", N);
    r = post("/v1/chat/completions", body);
    got = check_openai_reply(&r, true, np, ng, "chat");
    CHECK(got && strcmp(got, want) == 0, "chat greedy text:\n got '%s'\nwant '%s'", got ? got : "", want);
    free(got);
    resp_free(&r);
    /* content as an array of parts */
    snprintf(body, sizeof body, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Tell me \"},{\"type\":\"text\",\"text\":\"a story\"}]}],\"max_tokens\":%d,\"temperature\":0}", N);
    r = post("/v1/chat/completions", body);
    got = check_openai_reply(&r, true, np, ng, "chat parts");
    CHECK(got && strcmp(got, want) == 0, "content parts give the same answer");
    free(got);
    resp_free(&r);

    TEST("POST /v1/chat/completions stream + include_usage");
    snprintf(body, sizeof body, "{\"messages\":[{\"role\":\"user\",\"content\":\"Tell me a story\"}],\"max_tokens\":%d,\"temperature\":0,\"stream\":true,\"stream_options\":{\"include_usage\":true}}", N);
    r = post("/v1/chat/completions", body);
    got = check_openai_stream(&r, true, true, np, ng, "chat stream");
    CHECK(got && strcmp(got, want) == 0, "chat streamed text:\n got '%s'\nwant '%s'", got ? got : "", want);
    free(got);
    resp_free(&r);

    TEST("Ollama /api/chat and /api/generate");
    snprintf(body, sizeof body, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"Tell me a story\"}],\"options\":{\"num_predict\":%d,\"temperature\":0}}", N);
    r = post("/api/chat", body);
    CHECK(r.status == 200 && hdr_has(&r, "application/x-ndjson"), "api/chat stream: %d", r.status);
    {
        json_buf t;
        json_buf_init(&t);
        json_raw(&t, "", 0);
        int lines = 0, done_lines = 0;
        char *save = NULL;
        for (char *line = r.body ? strtok_r(r.body, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
            json_doc d;
            lines++;
            if (!json_parse(&d, line, strlen(line), 64, NULL, 0)) { CHECK(false, "NDJSON line: %s", line); continue; }
            const json_value *m = json_get(d.root, "message");
            CHECK(jstr(d.root, "model") && jstr(d.root, "created_at") && m && jstr(m, "role"), "chat line fields");
            if (m && jstr(m, "content")) json_rawz(&t, jstr(m, "content"));
            const json_value *done = json_get(d.root, "done");
            if (done && done->boolean) {
                done_lines++;
                CHECK(jstr(d.root, "done_reason") && jint(d.root, "prompt_eval_count") == np && jint(d.root, "eval_count") == ng &&
                          jint(d.root, "eval_duration") > 0 && jint(d.root, "prompt_eval_duration") > 0 &&
                          jint(d.root, "total_duration") >= jint(d.root, "eval_duration"),
                      "final object stats: %s", line);
            }
            json_doc_free(&d);
        }
        CHECK(lines >= 2 && done_lines == 1, "ndjson lines %d, done %d", lines, done_lines);
        CHECK(t.data && strcmp(t.data, want) == 0, "ollama chat text:\n got '%s'\nwant '%s'", t.data ? t.data : "", want);
        json_buf_free(&t);
    }
    resp_free(&r);
    snprintf(body, sizeof body, "{\"model\":\"m\",\"prompt\":\"Tell me a story\",\"stream\":false,\"options\":{\"num_predict\":%d,\"temperature\":0}}", N);
    r = post("/api/generate", body);
    {
        json_doc d;
        CHECK(r.status == 200, "api/generate status %d", r.status);
        if (parse(&d, &r)) {
            const json_value *done = json_get(d.root, "done");
            CHECK(done && done->boolean && jstr(d.root, "done_reason"), "done");
            CHECK(jstr(d.root, "response") && strcmp(jstr(d.root, "response"), want) == 0, "generate (templated) text = chat text");
            CHECK(jint(d.root, "prompt_eval_count") == np && jint(d.root, "eval_count") == ng, "counts");
            json_doc_free(&d);
        } else CHECK(false, "api/generate JSON");
    }
    resp_free(&r);
    free(want);
    /* raw generate = completion */
    want = expected_greedy("Once upon a time", 8, &np, &ng);
    r = post("/api/generate", "{\"prompt\":\"Once upon a time\",\"raw\":true,\"stream\":false,\"options\":{\"num_predict\":8,\"temperature\":0}}");
    {
        json_doc d;
        if (want && parse(&d, &r)) {
            CHECK(jstr(d.root, "response") && strcmp(jstr(d.root, "response"), want) == 0, "raw generate = apr_generate");
            json_doc_free(&d);
        } else CHECK(false, "raw generate %d", r.status);
    }
    free(want);
    resp_free(&r);

    TEST("prompt cache: a follow-up sharing the prefix reuses it, same greedy answer");
    {
        double before = 0, after = 0;
        metric_value("apr_prompt_tokens_cached_total", &before);
        const char *p1 = "Once upon a time, there was a little girl named Lily. She loved to play";
        const char *p2 = "Once upon a time, there was a little girl named Lily. She loved to play outside with her dog";
        const char *ps[2] = {p1, p2};
        for (int k = 0; k < 2; k++) {
            int np2 = 0, ng2 = 0;
            char *w = expected_greedy(ps[k], 12, &np2, &ng2);
            snprintf(body, sizeof body, "{\"prompt\":\"%s\",\"max_tokens\":12,\"temperature\":0}", ps[k]);
            r = post("/v1/completions", body);
            char *g2 = check_openai_reply(&r, false, np2, ng2, "cached prompt");
            CHECK(w && g2 && strcmp(w, g2) == 0, "cached-prefix answer = apr_generate:\n got '%s'\nwant '%s'", g2 ? g2 : "", w ? w : "");
            free(w);
            free(g2);
            resp_free(&r);
        }
        metric_value("apr_prompt_tokens_cached_total", &after);
        CHECK(after - before >= 10, "prefix tokens reused: %g", after - before);
        snprintf(body, sizeof body, "{\"prompt\":\"%s\",\"max_tokens\":2,\"cache_prompt\":false}", p1);
        r = post("/v1/completions", body);
        double after2 = 0;
        metric_value("apr_prompt_tokens_cached_total", &after2);
        CHECK(r.status == 200 && after2 == after, "cache_prompt false reuses nothing");
        resp_free(&r);
    }

    TEST("seeded sampling is reproducible");
    const char *sb = "{\"prompt\":\"Once upon a time\",\"max_tokens\":16,\"temperature\":1.0,\"top_k\":40,\"seed\":1234}";
    response r1 = post("/v1/completions", sb), r2 = post("/v1/completions", sb);
    json_doc d1, d2;
    if (parse(&d1, &r1) && parse(&d2, &r2)) {
        const char *t1 = jstr(json_at(json_get(d1.root, "choices"), 0), "text");
        const char *t2 = jstr(json_at(json_get(d2.root, "choices"), 0), "text");
        CHECK(t1 && t2 && strcmp(t1, t2) == 0, "same seed, same text");
        json_doc_free(&d1);
        json_doc_free(&d2);
    } else CHECK(false, "seeded requests: %d %d", r1.status, r2.status);
    resp_free(&r1);
    resp_free(&r2);
}

/* ---- errors -------------------------------------------------------------------------- */

static void check_error(const response *r, int status, const char *type, const char *what) {
    CHECK(r->status == status, "%s: status %d, want %d", what, r->status, status);
    json_doc d;
    if (r->status > 0 && parse(&d, r)) {
        const json_value *e = json_get(d.root, "error");
        CHECK(json_is(e, JSON_OBJECT) && jint(e, "code") == status && jstr(e, "message") && jstr(e, "type"),
              "%s: error object: %s", what, r->body);
        if (type) CHECK(jstr(e, "type") && strcmp(jstr(e, "type"), type) == 0, "%s: type %s", what, jstr(e, "type"));
        json_doc_free(&d);
    } else if (r->status > 0) {
        CHECK(false, "%s: error body is JSON: %s", what, r->body);
    }
}

/* Raw bytes on a fresh connection; the response (status -1 if dropped). */
static response raw_request(const char *data, size_t n) {
    response r;
    memset(&r, 0, sizeof r);
    r.status = -1;
    client *c = (client *)calloc(1, sizeof *c);
    c->fd = tcp_connect(g_port);
    if (c->fd >= 0 && send_str(c->fd, data, n)) {
        if (!read_response(c, &r, false)) { resp_free(&r); r.status = -1; }
    }
    if (c->fd >= 0) close(c->fd);
    free(c);
    return r;
}

static void test_errors(void) {
    TEST("error statuses");
    response r = http("GET", "/nope", NULL, NULL);
    check_error(&r, 404, NULL, "unknown path");
    resp_free(&r);
    r = http("GET", "/v1/chat/completions", NULL, NULL);
    check_error(&r, 405, NULL, "GET on a POST endpoint");
    resp_free(&r);
    r = post("/v1/chat/completions", "{\"messages\": [");
    check_error(&r, 400, "invalid_request_error", "invalid JSON");
    resp_free(&r);
    r = post("/v1/chat/completions", "{\"messages\":\"hello\"}");
    check_error(&r, 400, NULL, "messages not an array");
    resp_free(&r);
    r = post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":\"5\"}");
    check_error(&r, 400, NULL, "max_tokens a string");
    resp_free(&r);
    r = post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":true}");
    check_error(&r, 400, NULL, "temperature a bool");
    resp_free(&r);
    r = post("/v1/completions", "{\"prompt\":\"x\",\"stream\":1}");
    check_error(&r, 400, NULL, "stream a number");
    resp_free(&r);
    r = post("/v1/completions", "[1,2,3]");
    check_error(&r, 400, NULL, "body not an object");
    resp_free(&r);
    r = post("/v1/completions", "{}");
    check_error(&r, 400, NULL, "no prompt");
    resp_free(&r);
    r = post("/v1/chat/completions", "{\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}");
    check_error(&r, 400, NULL, "unknown role");
    resp_free(&r);

    TEST("10,000-deep nesting");
    {
        size_t n = 20000;
        char *deep = (char *)malloc(n + 1);
        for (size_t i = 0; i < n / 2; i++) { deep[i] = '['; deep[n - 1 - i] = ']'; }
        deep[n] = 0;
        r = post("/v1/completions", deep);
        check_error(&r, 400, NULL, "deep nesting");
        CHECK(r.body && strstr(r.body, "deep"), "message names the depth: %s", r.body);
        resp_free(&r);
        free(deep);
    }

    TEST("prompt longer than the context");
    {
        size_t n = 40000;
        char *big = (char *)malloc(n + 64);
        int k = sprintf(big, "{\"prompt\":\"");
        for (size_t i = 0; i < n; i++) big[k + (int)i] = "ab cd"[i % 5];
        strcpy(big + k + n, "\",\"max_tokens\":2}");
        r = post("/v1/completions", big);
        check_error(&r, 400, "exceed_context_size_error", "prompt too long");
        resp_free(&r);
        free(big);
    }

    TEST("huge Content-Length, bad chunks, endless header, bad request line");
    const char *huge = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n";
    r = raw_request(huge, strlen(huge));
    check_error(&r, 413, NULL, "huge Content-Length");
    resp_free(&r);
    const char *big = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 500000000\r\n\r\n{";
    r = raw_request(big, strlen(big));
    check_error(&r, 413, NULL, "Content-Length over --max-body");
    resp_free(&r);
    const char *neg = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n";
    r = raw_request(neg, strlen(neg));
    check_error(&r, 400, NULL, "negative Content-Length");
    resp_free(&r);
    const char *badchunk = "POST /tokenize HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n";
    r = raw_request(badchunk, strlen(badchunk));
    check_error(&r, 400, NULL, "non-hex chunk size");
    resp_free(&r);
    const char *hugechunk = "POST /tokenize HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nabc\r\n";
    r = raw_request(hugechunk, strlen(hugechunk));
    CHECK(r.status == 413 || r.status == 400, "huge chunk size: %d", r.status);
    resp_free(&r);
    const char *shortchunk = "POST /tokenize HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n";
    r = raw_request(shortchunk, strlen(shortchunk));
    check_error(&r, 400, NULL, "chunk longer than its size");
    resp_free(&r);
    const char *goodchunk = "POST /tokenize HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                            "5\r\n{\"con\r\n11;ext=1\r\ntent\":\"hello wo\"}\r\n0\r\n\r\n";
    r = raw_request(goodchunk, strlen(goodchunk));
    CHECK(r.status == 200 && r.body && strstr(r.body, "tokens"), "valid chunked body accepted: %d %s", r.status, r.body);
    resp_free(&r);
    const char *both = "POST /tokenize HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n";
    r = raw_request(both, strlen(both));
    check_error(&r, 400, NULL, "both Content-Length and chunked");
    resp_free(&r);
    {
        size_t n = 40000;
        char *endless = (char *)malloc(n + 64);
        int k = sprintf(endless, "GET /health HTTP/1.1\r\nX-Long: ");
        memset(endless + k, 'a', n - (size_t)k);
        r = raw_request(endless, n);
        CHECK(r.status == 431 || r.status == -1, "header with no end: %d", r.status);
        resp_free(&r);
        free(endless);
    }
    const char *badline = "GARBAGE\r\n\r\n";
    r = raw_request(badline, strlen(badline));
    check_error(&r, 400, NULL, "bad request line");
    resp_free(&r);
    const char *badhdr = "GET /health HTTP/1.1\r\nNo colon here\r\n\r\n";
    r = raw_request(badhdr, strlen(badhdr));
    check_error(&r, 400, NULL, "header without colon");
    resp_free(&r);

    TEST("random garbage requests: the server survives");
    {
        static const char *parts[] = {"GET ", "POST ", "/v1/completions", "/health", " HTTP/1.1", "\r\n", "\r\n\r\n",
                                      "Content-Length: ", "Transfer-Encoding: chunked\r\n", "9999", "-1", "ff\r\n",
                                      "{\"prompt\":", "\"x\"", "[[[[", "}", ":", " ", "\x00", "\xff\xfe", "0\r\n\r\n",
                                      "Expect: 100-continue\r\n", "Connection: close\r\n", "Host: x\r\n"};
        int n_iter = quick ? 60 : 300, survived = 0;
        if (getenv("APR_TEST_SERVER_FUZZ")) n_iter = atoi(getenv("APR_TEST_SERVER_FUZZ")); /* longer local runs */
        for (int it = 0; it < n_iter; it++) {
            char buf[2048];
            size_t len = 0;
            int k = 1 + (int)(test_rand_u64() % 24);
            for (int j = 0; j < k; j++) {
                if (test_rand_u64() % 8 == 0) { /* a random byte */
                    buf[len++] = (char)(test_rand_u64() & 255);
                    continue;
                }
                const char *p = parts[test_rand_u64() % (sizeof parts / sizeof parts[0])];
                size_t pl = strcmp(p, "\x00") == 0 ? 1 : strlen(p);
                if (len + pl >= sizeof buf) break;
                memcpy(buf + len, p, pl);
                len += pl;
            }
            int fd = tcp_connect(g_port);
            if (fd < 0) continue;
            send_str(fd, buf, len);
            shutdown(fd, SHUT_WR); /* end of input: the server must not wait for more */
            struct pollfd pf;
            pf.fd = fd; pf.events = POLLIN; pf.revents = 0;
            char rb[4096];
            while (poll(&pf, 1, 3000) > 0 && recv(fd, rb, sizeof rb, 0) > 0) {}
            close(fd);
            survived++;
        }
        r = http("GET", "/health", NULL, NULL);
        CHECK(r.status == 200 && survived == n_iter, "still serving after %d garbage requests: %d", survived, r.status);
        resp_free(&r);
    }

    TEST("pipelining: two requests in one packet");
    {
        const char *two = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
                          "POST /tokenize HTTP/1.1\r\nHost: x\r\nContent-Length: 16\r\nConnection: close\r\n\r\n{\"content\":\"hi\"}";
        client *c = (client *)calloc(1, sizeof *c);
        c->fd = tcp_connect(g_port);
        response a, b;
        memset(&a, 0, sizeof a);
        memset(&b, 0, sizeof b);
        bool ok = c->fd >= 0 && send_str(c->fd, two, strlen(two)) && read_response(c, &a, false) && read_response(c, &b, false);
        CHECK(ok && a.status == 200 && strstr(a.body, "\"ok\"") && b.status == 200 && strstr(b.body, "tokens"),
              "both answered in order: %d %d", a.status, b.status);
        resp_free(&a);
        resp_free(&b);
        close(c->fd);
        free(c);
    }
}

/* ---- slow clients and disconnects (the server keeps serving others) ------------------ */

static int metric_value(const char *name, double *v) {
    response r = http("GET", "/metrics", NULL, "X-Api-Key: sekrit\r\n");
    int found = 0;
    if (r.status == 200 && r.body) {
        char key[128];
        snprintf(key, sizeof key, "\n%s ", name);
        const char *p = strstr(r.body, key);
        if (p) { *v = atof(p + strlen(key)); found = 1; }
    }
    resp_free(&r);
    return found;
}

static bool wait_idle(double seconds) {
    for (int i = 0; i < (int)(seconds * 20); i++) {
        /* the KV cache keeps finished prompts for reuse: only its bound is checked */
        double busy = -1, queued = -1, kv = -1, ratio = -1, proc = -1;
        if (metric_value("apr_slots_busy", &busy) && metric_value("apr_requests_queued", &queued) &&
            metric_value("apr_requests_processing", &proc) && metric_value("apr_kv_cache_tokens", &kv) &&
            metric_value("apr_kv_cache_usage_ratio", &ratio) && busy == 0 && queued == 0 && proc == 0 && kv >= 0 &&
            ratio >= 0 && ratio <= 1)
            return true;
        usleep(50000);
    }
    return false;
}

static void test_slow_and_disconnect(void) {
    TEST("slow client (one byte a second) is timed out; others are served meanwhile");
    {
        int fd = tcp_connect(g_port);
        const char *req = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
        double t0 = (double)apr__time_ns() * 1e-9;
        int status = -1;
        bool dropped = false;
        for (size_t i = 0; i < strlen(req); i++) {
            if (send(fd, req + i, 1, MSG_NOSIGNAL) != 1) { dropped = true; break; }
            response other = http("GET", "/health", NULL, NULL);
            CHECK(other.status == 200, "other client served while the slow one trickles");
            resp_free(&other);
            struct pollfd pf;
            pf.fd = fd; pf.events = POLLIN; pf.revents = 0;
            if (poll(&pf, 1, 1000) > 0) {
                char buf[512];
                ssize_t k = recv(fd, buf, sizeof buf - 1, 0);
                if (k > 0) { buf[k] = 0; sscanf(buf, "HTTP/1.1 %d", &status); }
                dropped = true;
                break;
            }
        }
        double dt = (double)apr__time_ns() * 1e-9 - t0;
        CHECK(dropped && (status == 408 || status == -1), "slow client dropped (status %d) after %.1f s", status, dt);
        CHECK(dt < 6, "within the --timeout (%.1f s)", dt);
        close(fd);
    }

    TEST("client disconnects mid-stream and while queued");
    for (int k = 0; k < 3; k++) {
        int fd = tcp_connect(g_port);
        const char *body = "{\"prompt\":\"Once upon a time\",\"max_tokens\":400,\"temperature\":0,\"stream\":true}";
        char req[1024];
        int n = snprintf(req, sizeof req, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n%s", strlen(body), body);
        send_str(fd, req, (size_t)n);
        char buf[2048];
        ssize_t got = recv(fd, buf, sizeof buf, 0); /* headers and a first chunk */
        CHECK(got > 0, "stream started");
        close(fd);
    }
    /* queued then gone: fill the slots with long requests, add one, close it */
    CHECK(wait_idle(10), "slots back to idle after disconnects");
    response r = http("GET", "/health", NULL, NULL);
    CHECK(r.status == 200, "still serving");
    resp_free(&r);
}

/* ---- many clients ---------------------------------------------------------------- */

#define N_PROMPTS 4
static const char *conc_prompts[N_PROMPTS] = {"Once upon a time", "The cat", "Lily and Tom", "One day"};
static char *conc_want[N_PROMPTS];
static int conc_requests;
static volatile int conc_fail, conc_ok;

static void *conc_client(void *arg) {
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < conc_requests; i++) {
        int p = (id + i) % N_PROMPTS;
        bool stream = ((id + i) & 1) != 0;
        char body[512];
        snprintf(body, sizeof body, "{\"prompt\":\"%s\",\"max_tokens\":8,\"temperature\":0%s}", conc_prompts[p],
                 stream ? ",\"stream\":true" : "");
        response r = post("/v1/completions", body);
        bool ok = false;
        if (r.status == 200 && r.body) {
            if (stream) {
                json_buf t;
                json_buf_init(&t);
                json_raw(&t, "", 0);
                char *ev[256];
                int n = sse_events(r.body, ev, 256);
                for (int k = 0; k < n; k++) {
                    json_doc d;
                    if (strcmp(ev[k], "[DONE]") != 0 && json_parse(&d, ev[k], strlen(ev[k]), 64, NULL, 0)) {
                        const char *s = jstr(json_at(json_get(d.root, "choices"), 0), "text");
                        if (s) json_rawz(&t, s);
                        json_doc_free(&d);
                    }
                    free(ev[k]);
                }
                ok = n > 0 && strcmp(t.data, conc_want[p]) == 0;
                json_buf_free(&t);
            } else {
                json_doc d;
                if (json_parse(&d, r.body, r.len, 64, NULL, 0)) {
                    const char *s = jstr(json_at(json_get(d.root, "choices"), 0), "text");
                    ok = s && strcmp(s, conc_want[p]) == 0;
                    json_doc_free(&d);
                }
            }
        }
        if (ok) __atomic_add_fetch(&conc_ok, 1, __ATOMIC_SEQ_CST);
        else if (__atomic_add_fetch(&conc_fail, 1, __ATOMIC_SEQ_CST) <= 3)
            fprintf(stderr, "concurrent request failed: status %d body %.300s\n", r.status, r.body ? r.body : "");
        resp_free(&r);
    }
    return NULL;
}

static void test_concurrency(void) {
    int n_clients = quick ? 4 : 16;
    conc_requests = quick ? 3 : 25;
    char name[128];
    snprintf(name, sizeof name, "%d concurrent clients x %d requests, greedy answers = single-client", n_clients, conc_requests);
    TEST(name);
    for (int p = 0; p < N_PROMPTS; p++) {
        char body[256];
        snprintf(body, sizeof body, "{\"prompt\":\"%s\",\"max_tokens\":8,\"temperature\":0}", conc_prompts[p]);
        response r = post("/v1/completions", body);
        json_doc d;
        conc_want[p] = NULL;
        if (parse(&d, &r)) {
            const char *s = jstr(json_at(json_get(d.root, "choices"), 0), "text");
            conc_want[p] = strdup(s ? s : "");
            json_doc_free(&d);
        }
        CHECK(conc_want[p] != NULL, "single-client answer %d", p);
        char *ref = expected_greedy(conc_prompts[p], 8, NULL, NULL);
        CHECK(ref && conc_want[p] && strcmp(ref, conc_want[p]) == 0, "single-client = apr_generate for '%s'", conc_prompts[p]);
        free(ref);
        resp_free(&r);
        if (!conc_want[p]) return;
    }
    pthread_t th[16];
    double t0 = (double)apr__time_ns() * 1e-9;
    for (int i = 0; i < n_clients; i++) pthread_create(&th[i], NULL, conc_client, (void *)(intptr_t)i);
    /* /health and /metrics answer while every slot is busy */
    usleep(100000);
    response h = http("GET", "/health", NULL, NULL);
    CHECK(h.status == 200, "health during load: %d", h.status);
    resp_free(&h);
    h = http("GET", "/metrics", NULL, NULL);
    CHECK(h.status == 200, "metrics during load: %d", h.status);
    resp_free(&h);
    for (int i = 0; i < n_clients; i++) pthread_join(th[i], NULL);
    double dt = (double)apr__time_ns() * 1e-9 - t0;
    fprintf(stderr, "  %d requests in %.2f s (%.1f req/s)\n", conc_ok + conc_fail, dt, (conc_ok + conc_fail) / dt);
    CHECK(conc_fail == 0 && conc_ok == n_clients * conc_requests, "%d ok, %d failed", conc_ok, conc_fail);
    CHECK(wait_idle(5), "no slot leaks: metrics back to idle");
    for (int p = 0; p < N_PROMPTS; p++) free(conc_want[p]);
}

/* ---- metrics ----------------------------------------------------------------------- */

static void test_metrics(void) {
    TEST("GET /metrics (Prometheus text 0.0.4)");
    response r = http("GET", "/metrics", NULL, NULL);
    CHECK(r.status == 200, "status %d", r.status);
    CHECK(hdr_has(&r, "Content-Type: text/plain; version=0.0.4"), "content type");
    const char *names[] = {"apr_prompt_tokens_total", "apr_tokens_predicted_total", "apr_prompt_seconds_total",
                           "apr_tokens_predicted_seconds_total", "apr_predicted_tokens_per_second",
                           "apr_requests_processing", "apr_requests_queued", "apr_slots_busy",
                           "apr_kv_cache_usage_ratio"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char help[160], type[160], val[160];
        snprintf(help, sizeof help, "# HELP %s ", names[i]);
        snprintf(type, sizeof type, "# TYPE %s ", names[i]);
        snprintf(val, sizeof val, "\n%s ", names[i]);
        CHECK(r.body && strstr(r.body, help) && strstr(r.body, type) && strstr(r.body, val), "metric %s with HELP/TYPE", names[i]);
    }
    double v = 0;
    CHECK(metric_value("apr_tokens_predicted_total", &v) && v > 0, "tokens counted: %g", v);
    /* every non-comment line is "name value" */
    int bad = 0;
    char *save = NULL;
    for (char *line = r.body ? strtok_r(r.body, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#') continue;
        char nm[128];
        double x;
        if (sscanf(line, "%127s %lf", nm, &x) != 2) bad++;
    }
    CHECK(bad == 0, "%d malformed sample lines", bad);
    resp_free(&r);
    if (system("command -v promtool >/dev/null 2>&1") == 0) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "curl -s http://127.0.0.1:%d/metrics | promtool check metrics >tests/bin/promtool.out 2>&1", g_port);
        int rc = system(cmd);
        CHECK(rc == 0, "promtool check metrics passes (see tests/bin/promtool.out)");
    } else {
        fprintf(stderr, "  promtool not installed: skipped\n");
    }
}

/* ---- real clients ----------------------------------------------------------------- */

static void test_curl_and_openai(void) {
    TEST("curl");
    if (system("command -v curl >/dev/null 2>&1") == 0) {
        char cmd[512];
        snprintf(cmd, sizeof cmd,
                 "curl -sf http://127.0.0.1:%d/v1/chat/completions -H 'Content-Type: application/json' "
                 "-d '{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":4}' | grep -q chat.completion", g_port);
        CHECK(system(cmd) == 0, "curl chat completion");
        snprintf(cmd, sizeof cmd,
                 "curl -sfN http://127.0.0.1:%d/v1/completions -d '{\"prompt\":\"hi\",\"max_tokens\":4,\"stream\":true}' | grep -q 'data: \\[DONE\\]'", g_port);
        CHECK(system(cmd) == 0, "curl streaming");
    }
    TEST("openai npm package");
    const char *mods = getenv("APR_NODE_MODULES");
    char path[512];
    snprintf(path, sizeof path, "%s/openai/package.json", mods && *mods ? mods : "tests/tmp/node/node_modules");
    FILE *f = fopen(path, "r");
    if (!f || system("command -v node >/dev/null 2>&1") != 0) {
        if (f) fclose(f);
        fprintf(stderr, "  node or the openai package missing (npm install --prefix tests/tmp/node openai): skipped\n");
        return;
    }
    fclose(f);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "NODE_PATH=%s node tests/server_client.mjs http://127.0.0.1:%d/v1 >tests/bin/server_client.out 2>&1",
             mods && *mods ? mods : "tests/tmp/node/node_modules", g_port);
    int rc = system(cmd);
    CHECK(rc == 0, "node tests/server_client.mjs passes (see tests/bin/server_client.out)");
}

/* ---- a second server: API key, CORS, full queue --------------------------------------- */

static void test_api_key_and_queue(void) {
    server s2;
    TEST("--api-key, --cors, -np 1 --queue 1 (503 past the queue), disconnects cancel at once");
    /* 20 ms per decode step: a 2000-token request holds its slot for 40 s unless cancelled */
    setenv("APR_SERVER_TEST_STEP_DELAY_MS", "20", 1);
    bool started = server_start(&s2, "--api-key sekrit --cors https://example.com -np 1 --queue 1 -t 1 -c 4096 --shutdown-grace 1");
    unsetenv("APR_SERVER_TEST_STEP_DELAY_MS");
    if (!started) {
        CHECK(false, "second server starts");
        return;
    }
    int saved = g_port;
    g_port = s2.port;
    response r = http("GET", "/health", NULL, NULL);
    CHECK(r.status == 200, "/health public: %d", r.status);
    CHECK(hdr_has(&r, "Access-Control-Allow-Origin: https://example.com"), "CORS header with --cors");
    resp_free(&r);
    r = http("GET", "/v1/models", NULL, NULL);
    check_error(&r, 401, "authentication_error", "no key");
    resp_free(&r);
    r = http("GET", "/v1/models", NULL, "Authorization: Bearer wrong\r\n");
    check_error(&r, 401, NULL, "wrong key");
    resp_free(&r);
    r = http("GET", "/v1/models", NULL, "Authorization: Bearer sekri\r\n");
    check_error(&r, 401, NULL, "prefix of the key");
    resp_free(&r);
    r = http("GET", "/v1/models", NULL, "Authorization: Bearer sekrit\r\n");
    CHECK(r.status == 200, "Bearer key: %d", r.status);
    resp_free(&r);
    r = http("GET", "/v1/models", NULL, "X-Api-Key: sekrit\r\n");
    CHECK(r.status == 200, "X-Api-Key: %d", r.status);
    resp_free(&r);
    r = http("OPTIONS", "/v1/chat/completions", NULL, NULL);
    CHECK(r.status == 204 && hdr_has(&r, "Access-Control-Allow-Methods"), "CORS preflight: %d", r.status);
    resp_free(&r);

    /* one slot, one queue place: two long streams occupy them, the third gets 503 */
    int fds[3];
    const char *body = "{\"prompt\":\"Once upon a time\",\"max_tokens\":2000,\"ignore_eos\":true,\"temperature\":0,\"stream\":true}";
    char req[1024];
    int n = snprintf(req, sizeof req, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nX-Api-Key: sekrit\r\nContent-Length: %zu\r\n\r\n%s",
                     strlen(body), body);
    for (int i = 0; i < 2; i++) {
        fds[i] = tcp_connect(g_port);
        send_str(fds[i], req, (size_t)n);
        usleep(100000);
    }
    double q = -1, busy = -1, cancelled0 = 0, cancelled = 0;
    for (int i = 0; i < 40 && !(metric_value("apr_requests_queued", &q) && q == 1); i++) usleep(50000);
    CHECK(q == 1 && metric_value("apr_slots_busy", &busy) && busy == 1, "one running, one queued (queued %g, busy %g)", q, busy);
    r = http("POST", "/v1/completions", "{\"prompt\":\"x\",\"max_tokens\":2}", "X-Api-Key: sekrit\r\n");
    check_error(&r, 503, NULL, "queue full");
    resp_free(&r);
    r = http("GET", "/health", NULL, NULL);
    CHECK(r.status == 200, "health while saturated");
    resp_free(&r);
    metric_value("apr_requests_cancelled_total", &cancelled0);
    /* the queued client leaves: its place frees at once, the running one goes on */
    close(fds[1]);
    q = -1;
    for (int i = 0; i < 40 && !(metric_value("apr_requests_queued", &q) && q == 0); i++) usleep(50000);
    CHECK(q == 0 && metric_value("apr_slots_busy", &busy) && busy == 1, "queued disconnect leaves the queue (queued %g, busy %g)", q, busy);
    r = http("GET", "/v1/models", NULL, "X-Api-Key: sekrit\r\n");
    CHECK(r.status == 200, "served while the slot is busy");
    resp_free(&r);
    /* the running client leaves mid-stream: its slot frees within a few steps, not 40 s */
    close(fds[0]);
    busy = -1;
    for (int i = 0; i < 40 && !(metric_value("apr_slots_busy", &busy) && busy == 0); i++) usleep(50000);
    CHECK(busy == 0, "mid-stream disconnect frees the slot at once (busy %g)", busy);
    metric_value("apr_requests_cancelled_total", &cancelled);
    CHECK(cancelled - cancelled0 == 2, "both counted as cancelled (%g)", cancelled - cancelled0);
    /* SIGTERM while a stream runs: cancelled after --shutdown-grace 1, clean exit */
    fds[2] = tcp_connect(g_port);
    send_str(fds[2], req, (size_t)n);
    usleep(200000);
    g_port = saved;
    double t0 = (double)apr__time_ns() * 1e-9;
    int rc = server_stop(&s2);
    double dt = (double)apr__time_ns() * 1e-9 - t0;
    CHECK(rc == 0, "second server exits 0 on SIGTERM mid-generation (got %d)", rc);
    CHECK(dt < 5, "within the grace period (%.1f s)", dt);
    close(fds[2]);
}

static void test_loading_and_connections(void) {
    server s3;
    TEST("/health 503 while loading; --max-conns; --idle-timeout; Ollama load request");
    setenv("APR_SERVER_TEST_LOAD_DELAY_MS", "1000", 1);
    bool ok = server_start_ex(&s3, "-np 1 --max-conns 2 --idle-timeout 1 -t 1", false);
    unsetenv("APR_SERVER_TEST_LOAD_DELAY_MS");
    CHECK(ok, "third server starts");
    if (!ok) return;
    int saved = g_port;
    g_port = s3.port;
    response r = http("GET", "/health", NULL, NULL);
    check_error(&r, 503, "unavailable_error", "health while loading");
    resp_free(&r);
    r = post("/v1/completions", "{\"prompt\":\"x\"}");
    check_error(&r, 503, NULL, "completion while loading");
    resp_free(&r);
    for (int i = 0; i < 100; i++) {
        r = http("GET", "/health", NULL, NULL);
        int st = r.status;
        resp_free(&r);
        if (st == 200) break;
        usleep(50000);
    }
    r = post("/api/generate", "{\"model\":\"m\"}");
    CHECK(r.status == 200 && r.body && strstr(r.body, "\"done_reason\":\"load\""), "empty Ollama prompt = load: %s", r.body);
    resp_free(&r);
    /* two idle connections fill --max-conns 2: a third is refused with 503 (first let
       the threads of the earlier requests finish: only the metrics request is open) */
    double open_conns = -1;
    for (int i = 0; i < 40 && !(metric_value("apr_connections_active", &open_conns) && open_conns == 1); i++) usleep(50000);
    int ab[2];
    for (int k = 0; k < 2; k++) {
        /* a thread of an earlier request may still be closing: retry a refused connection */
        for (int tries = 0; tries < 20; tries++) {
            ab[k] = tcp_connect(g_port);
            struct pollfd pa;
            pa.fd = ab[k]; pa.events = POLLIN; pa.revents = 0;
            if (poll(&pa, 1, 150) == 0) break; /* accepted and waiting for a request */
            close(ab[k]);
            ab[k] = -1;
        }
    }
    int a = ab[0], b = ab[1];
    CHECK(a >= 0 && b >= 0, "two idle connections accepted");
    r = http("GET", "/health", NULL, NULL);
    CHECK(r.status == 503, "connection over --max-conns refused: %d", r.status);
    resp_free(&r);
    /* the idle ones are closed after --idle-timeout 1 */
    char buf[16];
    struct pollfd pf;
    pf.fd = a; pf.events = POLLIN; pf.revents = 0;
    int pr = poll(&pf, 1, 3000);
    CHECK(pr == 1 && recv(a, buf, sizeof buf, 0) == 0, "idle connection closed by the server");
    close(a);
    close(b);
    usleep(300000);
    r = http("GET", "/health", NULL, NULL);
    CHECK(r.status == 200, "served again once idle connections closed: %d", r.status);
    resp_free(&r);
    g_port = saved;
    CHECK(server_stop(&s3) == 0, "third server exits 0");
}

static void test_flags(void) {
    TEST("bad flags: one error line, exit 1");
    int rc = system("./apr-server --bogus >tests/bin/server_flags.out 2>&1");
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 1, "unknown flag exits 1");
    size_t n = 0;
    char *out = (char *)test_read_file("tests/bin/server_flags.out", &n);
    int lines = 0;
    for (size_t i = 0; out && i < n; i++) lines += out[i] == '\n';
    CHECK(lines == 1, "one line: %s", out ? out : "");
    free(out);
    rc = system("./apr-server -m x.gguf --port notanumber >/dev/null 2>&1");
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 1, "bad number exits 1");
    rc = system("./apr-server -h >/dev/null 2>&1");
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "-h exits 0");
    rc = system("./apr-server -m /nonexistent.gguf --port 0 >/dev/null 2>&1");
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 1, "missing model exits 1");
}

int main(void) {
    quick = getenv("APR_TEST_QUICK") != NULL;
    signal(SIGPIPE, SIG_IGN);
    if (access("./apr-server", X_OK) != 0) {
        fprintf(stderr, "test_server: ./apr-server not built (make apr-server): skipped\n");
        return test_finish();
    }
    const char *model_path = test_shared("data/models/stories260K.gguf");
    if (access(model_path, R_OK) != 0) {
        fprintf(stderr, "test_server: %s missing: skipped\n", model_path);
        return test_finish();
    }
    apr_model_params mp = apr_model_default_params();
    mp.cpu_only = true;
    mp.n_gpu_layers = 0;
    apr_error err;
    if (apr_model_load(model_path, &mp, &g_model, &err) != APR_SUCCESS) {
        CHECK(false, "model loads: %s", err.message);
        return test_finish();
    }
    apr_context_params cp = apr_context_default_params();
    cp.n_threads = 1;
    if (apr_context_create(g_model, &cp, &g_ctx, &err) != APR_SUCCESS) {
        CHECK(false, "context: %s", err.message);
        return test_finish();
    }
    test_flags();
    server s;
    CHECK(server_start(&s, "-np 4 -b 16 -t 1 --timeout 2 --idle-timeout 5 --max-body 1000000"), "server starts");
    if (s.port <= 0) return test_finish();
    g_port = s.port;
    test_basic_endpoints();
    test_tokenize();
    test_generation();
    test_errors();
    test_slow_and_disconnect();
    test_concurrency();
    test_metrics();
    test_curl_and_openai();
    test_api_key_and_queue();
    test_loading_and_connections();
    TEST("SIGTERM: clean exit");
    int rc = server_stop(&s);
    CHECK(rc == 0, "exit status %d", rc);
    apr_context_free(g_ctx);
    apr_model_free(g_model);
    return test_finish();
}
#endif
