/* apr-server - OpenAI- and Ollama-compatible HTTP server for apr.
   Build:  cc -O2 -o apr-server drivers/server.c -lm -lpthread -ldl
   MinGW:  x86_64-w64-mingw32-gcc -O2 -o apr-server.exe drivers/server.c -lws2_32
   Run:    ./apr-server -m model.gguf [--host 127.0.0.1] [--port 8080] [-np 4] [-c 4096]

   Endpoints: POST /v1/chat/completions, /v1/completions (stream: SSE, one event per
   token), GET /v1/models, /health, /metrics (Prometheus text 0.0.4), POST /tokenize,
   /detokenize; Ollama's POST /api/generate, /api/chat (NDJSON stream), /api/show, GET
   /api/tags, /api/ps, /api/version. Request extras as llama-server: ignore_eos,
   cache_prompt, top_k, min_p, repeat_penalty, seed.

   Threads: the main thread accepts connections; each connection gets a thread (bounded
   count) that reads requests, validates them, tokenizes and queues generation tasks, then
   writes what the inference thread produces. The inference thread alone owns the
   apr_context: it has one sequence per slot (-np), and every step runs ONE forward pass over
   the next token of every generating slot plus a chunk of each new prompt (continuous
   batching: requests join and leave between steps). Sockets are never touched by the
   inference thread, so a slow client cannot stall the others. A finished slot keeps its
   keys/values: the next request is given the free slot holding the longest prefix of its
   prompt (multi-turn chats re-read only the new turn).

   Models without a chat template are rendered with chatml (override: --chat-template).
   -c is the context of the whole server, split between the -np slots as llama-server does
   (default: min(n_ctx_train, 4096) per slot). */
#define APR_IMPLEMENTATION
#include "../apr.h"
#include "json.h"

#if defined(_WIN32)
#include <winsock2.h>
#include <ws2tcpip.h>
#include <signal.h>
typedef SOCKET srv_sock;
#define SRV_BAD_SOCK INVALID_SOCKET
#define srv_close_sock closesocket
#define srv_poll WSAPoll
#define SRV_MSG_NOSIGNAL 0
typedef int srv_ssize;
#else
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
typedef int srv_sock;
#define SRV_BAD_SOCK (-1)
#define srv_close_sock close
#define srv_poll poll
#ifdef MSG_NOSIGNAL
#define SRV_MSG_NOSIGNAL MSG_NOSIGNAL
#else
#define SRV_MSG_NOSIGNAL 0
#endif
typedef ssize_t srv_ssize;
#endif
#include <time.h>
#include <ctype.h>

/* =====================================================================================
   Configuration
   ===================================================================================== */

typedef struct srv_config {
    const char *model_path, *host, *alias, *api_key, *cors, *chat_template;
    int port, n_ctx, n_slots, n_threads, n_gpu_layers, n_batch;
    int default_max_tokens, max_tokens_limit;
    int max_queue, max_conns, max_header_bytes, max_headers, json_depth;
    long long max_body;
    double timeout_s, idle_timeout_s, shutdown_grace_s;
    bool verbose;
    bool cache_prompt;
} srv_config;

static void srv_usage(FILE *f) {
    fprintf(f,
        "usage: apr-server -m MODEL.gguf [options]\n"
        "  -m, --model PATH         GGUF model (required)\n"
        "  -a, --alias NAME         model name reported to clients (default: file name)\n"
        "      --host ADDR          address to bind (default 127.0.0.1)\n"
        "      --port N             port (default 8080; 0 = any free port, printed at start)\n"
        "  -c, --ctx-size N         total context, split between slots (default: per slot\n"
        "                           min(n_ctx_train, 4096))\n"
        "  -np, --parallel N        slots: requests generated at once, batched (default 4)\n"
        "  -b, --batch-size N       tokens per forward pass for prompts (default 512)\n"
        "  -t, --threads N          CPU threads (default: all cores)\n"
        "  -ngl, --n-gpu-layers N   layers on the GPU (default: all when CUDA is present)\n"
        "  -n, --n-predict N        default max tokens per request (default -1: until end\n"
        "                           or context full)\n"
        "      --max-tokens N       ceiling on any request's max tokens (default 0 = context)\n"
        "      --api-key KEY        require 'Authorization: Bearer KEY' or 'X-Api-Key: KEY'\n"
        "                           (/health stays public)\n"
        "      --cors ORIGIN        send CORS headers allowing ORIGIN (default: none)\n"
        "      --chat-template NAME template for chat requests (default: the model's, else\n"
        "                           chatml)\n"
        "      --queue N            requests waiting for a slot before 503 (default 64)\n"
        "      --max-conns N        open connections (default 128)\n"
        "      --max-header-bytes N request line + headers (default 16384)\n"
        "      --max-headers N      header count (default 100)\n"
        "      --max-body N         body bytes (default 16777216)\n"
        "      --json-depth N       JSON nesting depth (default 64)\n"
        "      --timeout S          a request must arrive, and each write progress, within S\n"
        "                           seconds (default 60)\n"
        "      --idle-timeout S     keep-alive connections close after S idle seconds (30)\n"
        "      --shutdown-grace S   on SIGINT/SIGTERM, let running requests finish for S\n"
        "                           seconds before cancelling them (default 5)\n"
        "      --no-cache-prompt    do not reuse a slot's cached prompt prefix (requests can\n"
        "                           also send \"cache_prompt\": false)\n"
        "  -v, --verbose            log every request\n"
        "  -h, --help               this text\n");
}

/* =====================================================================================
   Small utilities: time, growable byte buffers, sockets
   ===================================================================================== */

static double srv_now(void) { return (double)apr__time_ns() * 1e-9; }

typedef struct srv_bytes {
    char *p;
    size_t len, cap;
} srv_bytes;

static bool srv_bytes_add(srv_bytes *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *np = (char *)realloc(b->p, cap);
        if (!np) return false;
        b->p = np;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    return true;
}

static void srv_bytes_free(srv_bytes *b) { free(b->p); b->p = NULL; b->len = b->cap = 0; }

/* Timed wait on a platform condition variable. */
static void srv_cond_timedwait(apr__cond *c, apr__mutex *m, int ms) {
#if defined(_WIN32)
    SleepConditionVariableCS(c, m, (DWORD)ms);
#else
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
    pthread_cond_timedwait(c, m, &ts);
#endif
}

static void srv_sleep_ms(int ms) {
#if defined(_WIN32)
    Sleep((DWORD)ms);
#else
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
#endif
}

static bool srv_would_block(void) {
#if defined(_WIN32)
    int e = WSAGetLastError();
    return e == WSAEWOULDBLOCK || e == WSAEINTR;
#else
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
#endif
}

static void srv_set_nonblocking(srv_sock s) {
#if defined(_WIN32)
    u_long on = 1;
    ioctlsocket(s, FIONBIO, &on);
#else
    int fl = fcntl(s, F_GETFL, 0);
    if (fl >= 0) fcntl(s, F_SETFL, fl | O_NONBLOCK);
#endif
}

/* Send everything, waiting at most timeout_s for each bit of progress. */
static bool srv_send_all(srv_sock s, const char *p, size_t n, double timeout_s) {
    while (n > 0) {
        srv_ssize k = send(s, p, (int)APR__MIN(n, (size_t)1 << 20), SRV_MSG_NOSIGNAL);
        if (k > 0) { p += k; n -= (size_t)k; continue; }
        if (k < 0 && srv_would_block()) {
            struct pollfd pf;
            pf.fd = s; pf.events = POLLOUT; pf.revents = 0;
            int r = srv_poll(&pf, 1, (int)(timeout_s * 1000));
            if (r <= 0 || (pf.revents & (POLLERR | POLLHUP | POLLNVAL))) return false;
            continue;
        }
        return false;
    }
    return true;
}

/* Constant-time comparison (the time depends on the lengths only). */
static bool srv_secure_equal(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = (unsigned char)(la != lb);
    for (size_t i = 0; i < lb; i++) diff |= (unsigned char)(a[i % (la ? la : 1)] ^ b[i]) | (unsigned char)(la == 0);
    return diff == 0;
}

static bool srv_ieq(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return false;
    return *a == *b;
}

/* =====================================================================================
   Tasks, slots and the server state
   ===================================================================================== */

typedef enum { TASK_QUEUED, TASK_ACTIVE, TASK_DONE } srv_task_state;

typedef struct srv_task {
    /* set by the connection before queuing, read-only afterwards */
    int32_t *prompt;
    int32_t n_prompt;
    int32_t max_tokens;           /* < 0: until end of generation / context full */
    bool ignore_eos;              /* benchmarks: end-of-generation tokens are never sampled */
    bool cache_prompt;            /* reuse a slot's cached prefix (default true) */
    apr_sampler_params sp;
    char **stop;
    int n_stop;
    /* shared, under g.mu */
    srv_task_state state;
    bool cancel;
    srv_bytes out;                /* text ready for the client */
    srv_bytes out_cuts;           /* uint32 lengths of its pieces: one per token, so that
                                     streams send one event per token as llama-server does */
    int32_t n_gen;
    const char *finish;           /* "stop", "length" */
    int err_status;               /* != 0: failed with this HTTP status */
    char err[256];
    double t_submit, t_start, t_first, t_end;
    apr__cond cond;
    struct srv_task *next;        /* queue link */
} srv_task;

typedef struct srv_slot {
    srv_task *task;
    int32_t n_past;               /* positions in this slot's sequence */
    int32_t n_fed;                /* prompt tokens fed so far */
    int32_t last;                 /* token to feed in the next step */
    bool generating;
    apr_sampler *smpl;
    apr_detok_stream ds;
    int32_t *hist;                /* the tokens whose keys/values the sequence holds
                                     (n_past of them): a later prompt sharing a prefix
                                     reuses them (prompt cache) */
    int32_t n_cached;             /* prompt tokens of the current task found in the cache */
    srv_bytes gen;                /* all text generated so far */
    size_t gen_sent;              /* bytes of gen handed to the client */
} srv_slot;

typedef struct srv_metrics {
    uint64_t prompt_tokens, prompt_tokens_cached, gen_tokens, requests, requests_ok, requests_rejected, requests_cancelled;
    double prompt_seconds, gen_seconds;
    uint64_t http_requests, decode_steps;
} srv_metrics;

typedef struct srv_conn_entry {
    apr__thread th;
    int state;                    /* 0 free, 1 running, 2 finished (to join): atomic */
    srv_sock fd;
    int idx;
} srv_conn_entry;

#define SRV_STOPPING() (APR__ATOMIC_LOAD(&g.stop) != 0)
#define SRV_READY() (APR__ATOMIC_LOAD(&g.ready) != 0)

static struct srv_state {
    srv_config cfg;
    char model_name[256];
    apr_model *model;
    apr_context *ctx;
    const apr_vocab *vocab;
    int n_ctx_slot;
    const char *template_name;
    int32_t *eog;                 /* end-of-generation token ids (for ignore_eos) */
    int32_t n_eog;
    int ready;                    /* model loaded, context created (SRV_READY) */
    int load_failed;
    int stop;                     /* SIGINT/SIGTERM (SRV_STOPPING, srv_request_stop) */
    double t_start;               /* srv_now() at start (monotonic) */
    long long t_start_epoch;      /* time(NULL) at start */
    apr__mutex mu;                /* guards the queue, tasks, slots' busy flags, metrics */
    apr__cond work;               /* inference thread waits here for work */
    srv_task *q_head, *q_tail;
    int n_queued;
    int n_active;
    srv_slot *slots;
    int32_t kv_used;
    srv_metrics m;
    srv_conn_entry *conns;
    int n_conns;
    uint64_t id_counter;
} g;

/* =====================================================================================
   Inference thread: one forward pass per step over every active slot
   ===================================================================================== */

static size_t srv_find(const char *h, size_t hn, const char *n, size_t nn, size_t from) {
    if (nn == 0 || hn < nn) return (size_t)-1;
    for (size_t i = from; i + nn <= hn; i++)
        if (h[i] == n[0] && memcmp(h + i, n, nn) == 0) return i;
    return (size_t)-1;
}

/* Hands the client the text that can no longer turn into a stop string; true if a stop
   string completed (the generation is over). Text is cut before the stop string. */
static bool srv_slot_emit(srv_slot *s, bool final) {
    srv_task *t = s->task;
    const char *gen = s->gen.p ? s->gen.p : "";
    size_t len = s->gen.len, upto = len;
    bool stopped = false;
    /* a stop string cannot start before gen_sent: its prefixes were always held back */
    size_t best = (size_t)-1;
    for (int i = 0; i < t->n_stop; i++) {
        size_t p = srv_find(gen, len, t->stop[i], strlen(t->stop[i]), s->gen_sent);
        if (p < best) best = p;
    }
    if (best != (size_t)-1) {
        upto = best;
        s->gen.len = best;
        stopped = true;
    } else if (!final) {
        for (size_t p = s->gen_sent; p < len && upto == len; p++) {
            for (int i = 0; i < t->n_stop; i++) {
                size_t sl = strlen(t->stop[i]);
                if (len - p < sl && memcmp(gen + p, t->stop[i], len - p) == 0) { upto = p; break; }
            }
        }
    }
    if (upto > s->gen_sent) {
        apr__mutex_lock(&g.mu);
        uint32_t piece = (uint32_t)(upto - s->gen_sent);
        srv_bytes_add(&t->out, gen + s->gen_sent, upto - s->gen_sent);
        srv_bytes_add(&t->out_cuts, (const char *)&piece, sizeof piece);
        apr__cond_broadcast(&t->cond);
        apr__mutex_unlock(&g.mu);
        s->gen_sent = upto;
    }
    return stopped;
}

/* Ends a slot's task (finish: "stop", "length", or NULL when cancelled/failed). */
static void srv_slot_release(srv_slot *s, const char *finish, int err_status, const char *err) {
    srv_task *t = s->task;
    if (!t) return;
    if (finish && err_status == 0) {
        char buf[256];
        int32_t n = apr_detok_stream_flush(&s->ds, buf, (int32_t)sizeof buf);
        if (n > (int32_t)sizeof buf) n = (int32_t)sizeof buf;
        if (n > 0) srv_bytes_add(&s->gen, buf, (size_t)n);
        if (srv_slot_emit(s, true)) finish = "stop";
    }
    double now = srv_now();
    apr__mutex_lock(&g.mu);
    t->finish = finish ? finish : "stop";
    t->err_status = err_status;
    if (err) snprintf(t->err, sizeof t->err, "%s", err);
    t->t_end = now;
    if (t->t_first == 0) t->t_first = now;
    t->state = TASK_DONE;
    g.m.prompt_tokens += (uint64_t)(s->n_fed - s->n_cached);
    g.m.prompt_tokens_cached += (uint64_t)s->n_cached;
    g.m.gen_tokens += (uint64_t)t->n_gen;
    g.m.prompt_seconds += t->t_first - t->t_start;
    g.m.gen_seconds += t->t_end - t->t_first;
    if (err_status == 0 && !t->cancel) g.m.requests_ok++;
    if (t->cancel) g.m.requests_cancelled++;
    g.n_active--;
    /* keep the keys/values for the prompt cache unless the sequence may be damaged */
    if (err_status != 0 || !g.cfg.cache_prompt) {
        g.kv_used -= s->n_past;
        s->n_past = 0;
    }
    apr__cond_broadcast(&t->cond);
    apr__mutex_unlock(&g.mu);
    apr_sampler_free(s->smpl);
    s->smpl = NULL;
    s->task = NULL;
    s->gen.len = 0;
    s->gen_sent = 0;
    if (s->n_past == 0) apr_seq_truncate(g.ctx, (int32_t)(s - g.slots), 0);
}

static int32_t srv_common_prefix(const srv_slot *s, const srv_task *t) {
    int32_t n = 0, lim = APR__MIN(s->n_past, t->n_prompt);
    while (n < lim && s->hist[n] == t->prompt[n]) n++;
    return n;
}

/* Takes a queued task into slot s (called with g.mu held). The sequence keeps the
   longest prefix it shares with the prompt, less one token: the last prompt token is
   always evaluated, for its logits. */
static void srv_slot_assign(srv_slot *s, srv_task *t) {
    int32_t keep = t->cache_prompt && g.cfg.cache_prompt ? srv_common_prefix(s, t) : 0;
    if (keep >= t->n_prompt) keep = t->n_prompt - 1;
    if (keep < 0) keep = 0;
    g.kv_used -= s->n_past - keep;
    s->task = t;
    s->n_past = keep;
    s->n_fed = keep;
    s->n_cached = keep;
    s->generating = false;
    s->gen.len = 0;
    s->gen_sent = 0;
    t->state = TASK_ACTIVE;
    t->t_start = srv_now();
    g.n_active++;
}

static void srv_inference_loop(void) {
    int ns = g.cfg.n_slots;
    int cap = g.cfg.n_batch + ns;
    int32_t *tok = (int32_t *)malloc(sizeof(int32_t) * (size_t)cap);
    int32_t *pos = (int32_t *)malloc(sizeof(int32_t) * (size_t)cap);
    int32_t *seq = (int32_t *)malloc(sizeof(int32_t) * (size_t)cap);
    int8_t *want = (int8_t *)malloc((size_t)cap);
    int *out_slot = (int *)malloc(sizeof(int) * (size_t)ns);
    int32_t *argmax = (int32_t *)malloc(sizeof(int32_t) * (size_t)ns);
    bool *cancel = (bool *)malloc(sizeof(bool) * (size_t)ns);
    int32_t n_vocab = apr_model_n_vocab(g.model);
    double stop_deadline = 0;
    /* tests slow the steps down to observe queueing and cancellation deterministically */
    const char *step_delay_env = getenv("APR_SERVER_TEST_STEP_DELAY_MS");
    int step_delay_ms = step_delay_env ? atoi(step_delay_env) : 0;
    if (!tok || !pos || !seq || !want || !out_slot || !argmax || !cancel) {
        fprintf(stderr, "apr-server: out of memory\n");
        APR__ATOMIC_STORE(&g.stop, 1);
    }
    for (;;) {
        /* ---- admit new tasks, drop cancelled ones ---- */
        apr__mutex_lock(&g.mu);
        while (!SRV_STOPPING() && g.n_active == 0 && !g.q_head) srv_cond_timedwait(&g.work, &g.mu, 200);
        if (SRV_STOPPING()) {
            /* shutting down: refuse the queue, give running requests a grace period */
            while (g.q_head) {
                srv_task *t = g.q_head;
                g.q_head = t->next;
                g.n_queued--;
                t->state = TASK_DONE;
                t->err_status = 503;
                snprintf(t->err, sizeof t->err, "server is shutting down");
                apr__cond_broadcast(&t->cond);
            }
            g.q_tail = NULL;
            if (stop_deadline == 0) stop_deadline = srv_now() + g.cfg.shutdown_grace_s;
            if (srv_now() > stop_deadline)
                for (int i = 0; i < ns; i++) if (g.slots[i].task) g.slots[i].task->cancel = true;
        }
        while (g.q_head) {
            /* the free slot holding the longest prefix of the prompt, else the emptiest */
            srv_task *t = g.q_head;
            int best = -1;
            int32_t best_lcp = -1, best_past = 0;
            for (int i = 0; i < ns; i++) {
                if (g.slots[i].task) continue;
                int32_t lcp = t->cache_prompt && g.cfg.cache_prompt ? srv_common_prefix(&g.slots[i], t) : 0;
                if (lcp > best_lcp || (lcp == best_lcp && g.slots[i].n_past < best_past)) {
                    best = i;
                    best_lcp = lcp;
                    best_past = g.slots[i].n_past;
                }
            }
            if (best < 0) break;
            g.q_head = t->next;
            if (!g.q_head) g.q_tail = NULL;
            g.n_queued--;
            t->next = NULL;
            srv_slot_assign(&g.slots[best], t);
        }
        for (int i = 0; i < ns; i++) cancel[i] = g.slots[i].task && g.slots[i].task->cancel;
        int n_active = g.n_active;
        apr__mutex_unlock(&g.mu);
        if (SRV_STOPPING() && n_active == 0) break;
        for (int i = 0; i < ns; i++)
            if (cancel[i]) srv_slot_release(&g.slots[i], NULL, 0, NULL);

        /* ---- new slots: sampler and detokenizer ---- */
        for (int i = 0; i < ns; i++) {
            srv_slot *s = &g.slots[i];
            if (!s->task || s->smpl) continue;
            if (apr_sampler_create(&s->task->sp, n_vocab, &s->smpl) != APR_SUCCESS) {
                srv_slot_release(s, NULL, 500, "cannot create the sampler");
                continue;
            }
            for (int32_t k = 0; k < s->task->n_prompt; k++) apr_sampler_accept(s->smpl, s->task->prompt[k]);
            apr_detok_stream_init(&s->ds, g.vocab, false);
            s->ds.at_start = false; /* generated text continues the prompt: keep its spaces */
            apr_seq_truncate(g.ctx, i, s->n_past);
        }

        /* ---- one batch: every generating slot's next token, then prompt chunks ---- */
        int n = 0, n_out = 0;
        for (int i = 0; i < ns; i++) {
            srv_slot *s = &g.slots[i];
            if (!s->task || !s->generating) continue;
            tok[n] = s->last; pos[n] = s->n_past; seq[n] = i; want[n] = 1;
            s->hist[s->n_past] = s->last;
            out_slot[n_out++] = i;
            n++;
        }
        int budget = g.cfg.n_batch;
        int fed[1024];
        for (int i = 0; i < ns && i < 1024; i++) fed[i] = 0;
        for (int i = 0; i < ns && budget > 0; i++) {
            srv_slot *s = &g.slots[i];
            if (!s->task || s->generating) continue;
            int32_t left = s->task->n_prompt - s->n_fed;
            int32_t take = APR__MIN(left, budget);
            for (int32_t k = 0; k < take; k++) {
                tok[n] = s->task->prompt[s->n_fed + k];
                s->hist[s->n_past + k] = tok[n];
                pos[n] = s->n_past + k;
                seq[n] = i;
                want[n] = (k == left - 1) ? 1 : 0;
                n++;
            }
            if (take == left) out_slot[n_out++] = i;
            if (i < 1024) fed[i] = take;
            budget -= take;
        }
        if (n == 0) continue;
        if (step_delay_ms > 0) srv_sleep_ms(step_delay_ms);
        apr_batch b;
        b.n_tokens = n; b.tokens = tok; b.pos = pos; b.seq = seq; b.want_logits = want;
        /* all greedy without penalties: only token ids leave the backend (as apr_generate) */
        bool all_greedy = n_out > 0;
        for (int k = 0; k < n_out && all_greedy; k++) {
            const apr_sampler_params *sp = &g.slots[out_slot[k]].task->sp;
            if (sp->temperature > 0 || g.slots[out_slot[k]].task->ignore_eos || ((sp->repeat_penalty != 1.0f || sp->frequency_penalty != 0.0f ||
                                         sp->presence_penalty != 0.0f) && sp->repeat_last_n != 0))
                all_greedy = false;
        }
        apr_result r = all_greedy ? apr_decode_argmax(g.ctx, &b, argmax) : apr_decode(g.ctx, &b);
        if (r != APR_SUCCESS) {
            const char *msg = apr_context_last_error(g.ctx);
            char err[1024];
            snprintf(err, sizeof err, "decode failed: %s%s%s", apr_result_string(r), msg && *msg ? ": " : "",
                     msg ? msg : "");
            fprintf(stderr, "apr-server: %s\n", err);
            for (int i = 0; i < ns; i++)
                if (!g.slots[i].task && g.slots[i].n_past > 0) {
                    apr__mutex_lock(&g.mu);
                    g.kv_used -= g.slots[i].n_past;
                    apr__mutex_unlock(&g.mu);
                    g.slots[i].n_past = 0;
                    apr_seq_truncate(g.ctx, i, 0);
                }
            for (int i = 0; i < ns; i++)
                if (g.slots[i].task) {
                    if (r == APR_ERROR_CONTEXT_FULL && g.slots[i].generating) srv_slot_release(&g.slots[i], "length", 0, NULL);
                    else srv_slot_release(&g.slots[i], NULL, 500, err);
                }
            continue;
        }
        /* positions advance for every token fed */
        int32_t added = 0;
        for (int i = 0; i < ns; i++) {
            srv_slot *s = &g.slots[i];
            if (!s->task) continue;
            if (s->generating) { s->n_past++; added++; }
            else if (i < 1024 && fed[i] > 0) { s->n_past += fed[i]; s->n_fed += fed[i]; added += fed[i]; }
        }
        apr__mutex_lock(&g.mu);
        g.kv_used += added;
        g.m.decode_steps++;
        apr__mutex_unlock(&g.mu);

        /* ---- sample one token for each slot that got logits ---- */
        double now = srv_now();
        for (int k = 0; k < n_out; k++) {
            srv_slot *s = &g.slots[out_slot[k]];
            srv_task *t = s->task;
            int32_t id;
            if (all_greedy) {
                id = argmax[k];
            } else {
                float *logits = apr_get_logits(g.ctx, k);
                if (!logits) { srv_slot_release(s, NULL, 500, "no logits"); continue; }
                if (t->ignore_eos)
                    for (int32_t e = 0; e < g.n_eog; e++) logits[g.eog[e]] = -INFINITY;
                id = apr_sampler_sample(s->smpl, logits);
            }
            if (id < 0 || id >= n_vocab) { srv_slot_release(s, NULL, 500, "sampled an invalid token"); continue; }
            apr_sampler_accept(s->smpl, id);
            if (!s->generating) {
                s->generating = true;
                t->t_first = now;
            }
            s->last = id;
            if (t->max_tokens == 0) { srv_slot_release(s, "length", 0, NULL); continue; }
            if (apr_vocab_is_eog(g.vocab, id)) { srv_slot_release(s, "stop", 0, NULL); continue; }
            t->n_gen++;
            char piece[256];
            int32_t pn = apr_detok_stream_push(&s->ds, id, piece, (int32_t)sizeof piece);
            if (pn > (int32_t)sizeof piece) pn = (int32_t)sizeof piece; /* truncated piece */
            if (pn > 0) srv_bytes_add(&s->gen, piece, (size_t)pn);
            if (srv_slot_emit(s, false)) { srv_slot_release(s, "stop", 0, NULL); continue; }
            if (t->max_tokens >= 0 && t->n_gen >= t->max_tokens) { srv_slot_release(s, "length", 0, NULL); continue; }
            if (s->n_past >= g.n_ctx_slot) { srv_slot_release(s, "length", 0, NULL); continue; }
        }
    }
    free(tok); free(pos); free(seq); free(want); free(out_slot); free(argmax); free(cancel);
}

static void srv_log_fn(void *user, apr_log_level level, const char *message) {
    (void)user;
    if (level <= APR_LOG_INFO || g.cfg.verbose) fprintf(stderr, "apr: %s\n", message);
}

/* Loads the model, then runs the inference loop until shutdown. */
static void srv_inference_thread(void *arg) {
    (void)arg;
    /* tests observe /health answering 503 while the model loads */
    const char *delay = getenv("APR_SERVER_TEST_LOAD_DELAY_MS");
    if (delay && atoi(delay) > 0) srv_sleep_ms(atoi(delay));
    apr_model_params mp = apr_model_default_params();
    mp.n_gpu_layers = g.cfg.n_gpu_layers;
    if (g.cfg.n_gpu_layers == 0) mp.cpu_only = true;
    mp.n_threads = g.cfg.n_threads;
    mp.log_fn = srv_log_fn;
    mp.log_level = g.cfg.verbose ? APR_LOG_DEBUG : APR_LOG_WARN;
    apr_error err;
    memset(&err, 0, sizeof err);
    if (apr_model_load(g.cfg.model_path, &mp, &g.model, &err) != APR_SUCCESS) {
        fprintf(stderr, "apr-server: cannot load %s: %s\n", g.cfg.model_path, err.message);
        g.load_failed = 1;
        APR__ATOMIC_STORE(&g.stop, 1);
        return;
    }
    g.vocab = apr_model_vocab(g.model);
    if (!g.vocab) {
        fprintf(stderr, "apr-server: %s has no tokenizer\n", g.cfg.model_path);
        g.load_failed = 1;
        APR__ATOMIC_STORE(&g.stop, 1);
        return;
    }
    int per_slot = g.cfg.n_ctx > 0 ? g.cfg.n_ctx / g.cfg.n_slots : 0;
    if (per_slot <= 0) {
        int train = apr_model_n_ctx_train(g.model);
        per_slot = train > 0 && train < 4096 ? train : 4096;
        if (g.cfg.n_ctx > 0) per_slot = 1;
    }
    apr_context_params cp = apr_context_default_params();
    cp.n_ctx = per_slot;
    cp.n_seq = g.cfg.n_slots;
    cp.n_batch = g.cfg.n_batch;
    cp.n_threads = g.cfg.n_threads;
    if (per_slot < 8 || apr_context_create(g.model, &cp, &g.ctx, &err) != APR_SUCCESS) {
        fprintf(stderr, "apr-server: cannot create the context (%d positions x %d slots): %s\n", per_slot,
                g.cfg.n_slots, per_slot < 8 ? "too small" : err.message);
        g.load_failed = 1;
        APR__ATOMIC_STORE(&g.stop, 1);
        return;
    }
    g.n_ctx_slot = apr_context_n_ctx(g.ctx);
    for (int i = 0; i < g.cfg.n_slots; i++) {
        g.slots[i].hist = (int32_t *)malloc(sizeof(int32_t) * (size_t)g.n_ctx_slot);
        if (!g.slots[i].hist) {
            fprintf(stderr, "apr-server: out of memory\n");
            APR__ATOMIC_STORE(&g.load_failed, 1);
            APR__ATOMIC_STORE(&g.stop, 1);
            return;
        }
    }
    int32_t nv = apr_model_n_vocab(g.model);
    g.eog = (int32_t *)malloc(sizeof(int32_t) * (size_t)(nv > 0 ? nv : 1));
    for (int32_t i = 0; g.eog && i < nv; i++)
        if (apr_vocab_is_eog(g.vocab, i)) g.eog[g.n_eog++] = i;
    g.template_name = g.cfg.chat_template ? g.cfg.chat_template : apr_model_chat_template(g.model);
    if (!g.template_name) g.template_name = "chatml";
    APR__ATOMIC_STORE(&g.ready, 1);
    char desc[256];
    apr_model_desc(g.model, desc, sizeof desc);
    fprintf(stderr, "apr-server: loaded %s (%s) on %s%s%s, %d slots x %d positions, template %s\n", g.model_name, desc,
            apr_model_backend(g.model), *apr_model_gpu_name(g.model) ? " " : "", apr_model_gpu_name(g.model),
            g.cfg.n_slots, g.n_ctx_slot, g.template_name);
    srv_inference_loop();
}

/* =====================================================================================
   HTTP: reading requests
   ===================================================================================== */

typedef struct srv_conn {
    srv_sock fd;
    char peer[64];
    srv_bytes in;                 /* received, not yet consumed (pipelined requests) */
    bool closed;                  /* peer went away or a write failed */
    /* current request */
    char method[16];
    char path[512];
    int http_minor;
    bool keep_alive;
    char auth[512], api_key[512];
    bool has_auth, has_api_key;
    srv_bytes body;
    double t_request;
} srv_conn;

enum { READ_OK = 1, READ_CLOSE = 0, READ_ERROR = -1 };

static const char *srv_status_text(int s) {
    switch (s) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

static void srv_cors_headers(json_buf *h) {
    if (!g.cfg.cors) return;
    json_printf(h, "Access-Control-Allow-Origin: %s\r\n", g.cfg.cors);
    json_rawz(h, "Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n"
                 "Access-Control-Allow-Headers: Authorization, Content-Type, X-Api-Key\r\n");
}

static bool srv_send_response(srv_conn *c, int status, const char *ctype, const char *body, size_t n,
                              const char *extra) {
    json_buf h;
    json_buf_init(&h);
    json_printf(&h, "HTTP/1.1 %d %s\r\n", status, srv_status_text(status));
    if (ctype) json_printf(&h, "Content-Type: %s\r\n", ctype);
    json_printf(&h, "Content-Length: %lu\r\n", (unsigned long)n);
    json_printf(&h, "Connection: %s\r\n", c->keep_alive ? "keep-alive" : "close");
    json_rawz(&h, "Server: apr-server/" APR_VERSION_STRING "\r\n");
    srv_cors_headers(&h);
    if (extra) json_rawz(&h, extra);
    json_rawz(&h, "\r\n");
    bool ok = !h.oom && srv_send_all(c->fd, h.data, h.len, g.cfg.timeout_s) &&
              (n == 0 || strcmp(c->method, "HEAD") == 0 || srv_send_all(c->fd, body, n, g.cfg.timeout_s));
    json_buf_free(&h);
    if (!ok) c->closed = true;
    return ok;
}

static const char *srv_error_type(int status) {
    switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 404: return "not_found_error";
    case 405: return "invalid_request_error";
    case 408: return "timeout_error";
    case 413: return "invalid_request_error";
    case 429: case 503: return "unavailable_error";
    case 501: return "not_supported_error";
    default: return "server_error";
    }
}

static void srv_error_json(json_buf *b, int status, const char *type, const char *msg) {
    json_obj_begin(b);
    json_key(b, "error");
    json_obj_begin(b);
    json_key(b, "code"); json_int(b, status);
    json_key(b, "message"); json_strz(b, msg);
    json_key(b, "type"); json_strz(b, type ? type : srv_error_type(status));
    json_obj_end(b);
    json_obj_end(b);
}

static bool srv_send_error(srv_conn *c, int status, const char *type, const char *msg) {
    json_buf b;
    json_buf_init(&b);
    srv_error_json(&b, status, type, msg);
    const char *extra = status == 405 ? "Allow: GET, POST\r\n" : status == 401 ? "WWW-Authenticate: Bearer\r\n" : NULL;
    bool ok = srv_send_response(c, status, "application/json; charset=utf-8", b.data, b.len, extra);
    json_buf_free(&b);
    return ok;
}

/* Waits until the socket has data, the deadline passes, or the server stops. Returns
   received byte count, 0 on orderly close, -1 on error, -2 on timeout, -3 on shutdown. */
static long srv_recv_some(srv_conn *c, double deadline, bool stop_aborts) {
    for (;;) {
        if (stop_aborts && SRV_STOPPING()) return -3;
        double left = deadline - srv_now();
        if (left <= 0) return -2;
        struct pollfd pf;
        pf.fd = c->fd; pf.events = POLLIN; pf.revents = 0;
        int r = srv_poll(&pf, 1, (int)APR__MIN(left * 1000 + 1, 200));
        if (r < 0) { if (srv_would_block()) continue; return -1; }
        if (r == 0) continue;
        char buf[16384];
        srv_ssize k = recv(c->fd, buf, (int)sizeof buf, 0);
        if (k > 0) {
            if (!srv_bytes_add(&c->in, buf, (size_t)k)) return -1;
            return (long)k;
        }
        if (k == 0) return 0;
        if (srv_would_block()) continue;
        return -1;
    }
}

static bool srv_is_tchar(unsigned char ch) {
    return isalnum(ch) || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Parses one chunked body from c->in starting at *pos into c->body. Returns 1 done,
   0 need more data, or an HTTP status (400/413) on error. */
static int srv_dechunk(srv_conn *c, size_t *pos, bool *in_trailers) {
    for (;;) {
        const char *p = c->in.p + *pos;
        size_t avail = c->in.len - *pos;
        size_t eol = srv_find(p, avail, "\r\n", 2, 0);
        if (*in_trailers) {
            if (eol == (size_t)-1) return avail > 8192 ? 400 : 0;
            *pos += eol + 2;
            if (eol == 0) return 1;
            continue;
        }
        if (eol == (size_t)-1) return avail > 64 ? 400 : 0;
        /* chunk-size [; extensions] */
        uint64_t size = 0;
        size_t i = 0;
        int digits = 0;
        for (; i < eol; i++) {
            int d = isdigit((unsigned char)p[i]) ? p[i] - '0'
                    : (p[i] >= 'a' && p[i] <= 'f') ? p[i] - 'a' + 10
                    : (p[i] >= 'A' && p[i] <= 'F') ? p[i] - 'A' + 10 : -1;
            if (d < 0) break;
            if (++digits > 15) return 413;
            size = size * 16 + (uint64_t)d;
        }
        if (digits == 0) return 400;
        if (i < eol && p[i] != ';' && p[i] != ' ' && p[i] != '\t') return 400;
        if (size == 0) { *pos += eol + 2; *in_trailers = true; continue; }
        if ((long long)(c->body.len + size) > g.cfg.max_body) return 413;
        if (avail < eol + 2 + size + 2) return 0;
        if (p[eol + 2 + size] != '\r' || p[eol + 2 + size + 1] != '\n') return 400;
        if (!srv_bytes_add(&c->body, p + eol + 2, (size_t)size)) return 500;
        *pos += eol + 2 + (size_t)size + 2;
    }
}

static void srv_consume(srv_conn *c, size_t n) {
    if (n >= c->in.len) { c->in.len = 0; if (c->in.p) c->in.p[0] = 0; return; }
    memmove(c->in.p, c->in.p + n, c->in.len - n);
    c->in.len -= n;
    c->in.p[c->in.len] = 0;
}

/* Reads one request (headers and body) into c. On protocol errors the response has been
   sent and READ_ERROR returned (the connection must close). */
static int srv_read_request(srv_conn *c) {
    c->body.len = 0;
    c->has_auth = c->has_api_key = false;
    c->method[0] = c->path[0] = 0;
    c->keep_alive = false;
    double deadline = srv_now() + g.cfg.idle_timeout_s;
    bool started = c->in.len > 0;
    if (started) deadline = srv_now() + g.cfg.timeout_s;
    size_t hdr_end;
    /* ---- headers ---- */
    for (;;) {
        hdr_end = c->in.len ? srv_find(c->in.p, c->in.len, "\r\n\r\n", 4, 0) : (size_t)-1;
        if (hdr_end != (size_t)-1) break;
        if ((long)c->in.len > g.cfg.max_header_bytes) {
            srv_send_error(c, 431, NULL, "request headers too large");
            return READ_ERROR;
        }
        long k = srv_recv_some(c, deadline, !started);
        if (k == -2 && started) {
            srv_send_error(c, 408, NULL, "request not received in time");
            return READ_ERROR;
        }
        if (k <= 0) return READ_CLOSE;
        if (!started) {
            started = true;
            deadline = srv_now() + g.cfg.timeout_s;
        }
    }
    if ((long)hdr_end + 4 > g.cfg.max_header_bytes) {
        srv_send_error(c, 431, NULL, "request headers too large");
        return READ_ERROR;
    }
    c->t_request = srv_now();
    /* ---- request line ---- */
    char *h = c->in.p;
    if (memchr(h, 0, hdr_end + 2)) {
        c->keep_alive = false;
        srv_send_error(c, 400, NULL, "NUL byte in the request head");
        return READ_ERROR;
    }
    h[hdr_end + 2] = 0; /* the headers end with CRLF, then NUL instead of the blank line */
    char *line_end = strstr(h, "\r\n"); /* found: the head ends with CRLF CRLF */
    *line_end = 0;
    char *sp1 = strchr(h, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp1 || !sp2 || sp1 == h || sp2 == sp1 + 1 || (size_t)(sp1 - h) >= sizeof c->method ||
        strncmp(sp2 + 1, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)sp2[8]) || sp2[9] != 0) {
        c->keep_alive = false;
        srv_send_error(c, 400, NULL, "malformed request line");
        return READ_ERROR;
    }
    memcpy(c->method, h, (size_t)(sp1 - h));
    c->method[sp1 - h] = 0;
    for (char *m = c->method; *m; m++)
        if (!srv_is_tchar((unsigned char)*m)) { srv_send_error(c, 400, NULL, "malformed method"); return READ_ERROR; }
    c->http_minor = sp2[8] - '0';
    size_t tlen = (size_t)(sp2 - sp1 - 1);
    char *target = sp1 + 1;
    if (strncmp(target, "http://", 7) == 0 || strncmp(target, "https://", 8) == 0) {
        char *slash = strchr(target + 8, '/');
        if (!slash || slash > sp2) { target = (char *)"/"; tlen = 1; }
        else { tlen -= (size_t)(slash - target); target = slash; }
    }
    size_t q = 0;
    while (q < tlen && target[q] != '?' && target[q] != '#') q++;
    if (q == 0 || q >= sizeof c->path || target[0] != '/') {
        srv_send_error(c, q >= sizeof c->path ? 431 : 400, NULL, "bad request target");
        return READ_ERROR;
    }
    memcpy(c->path, target, q);
    c->path[q] = 0;
    /* ---- headers ---- */
    c->keep_alive = c->http_minor >= 1;
    long long content_length = -1;
    bool chunked = false, expect_continue = false, bad_te = false;
    int n_headers = 0;
    char *p = line_end + 2;
    while (*p) {
        char *e = strstr(p, "\r\n");
        if (!e) break;
        *e = 0;
        if (++n_headers > g.cfg.max_headers) {
            srv_send_error(c, 431, NULL, "too many headers");
            return READ_ERROR;
        }
        char *colon = strchr(p, ':');
        if (!colon || colon == p) { c->keep_alive = false; srv_send_error(c, 400, NULL, "malformed header"); return READ_ERROR; }
        for (char *k = p; k < colon; k++)
            if (!srv_is_tchar((unsigned char)*k)) { c->keep_alive = false; srv_send_error(c, 400, NULL, "malformed header name"); return READ_ERROR; }
        *colon = 0;
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t') v++;
        char *ve = v + strlen(v);
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) *--ve = 0;
        for (char *k = v; *k; k++)
            if ((unsigned char)*k < 0x20 && *k != '\t') { c->keep_alive = false; srv_send_error(c, 400, NULL, "control character in header"); return READ_ERROR; }
        if (srv_ieq(p, "Content-Length")) {
            long long cl = 0;
            if (!*v) bad_te = true;
            for (char *k = v; *k; k++) {
                if (!isdigit((unsigned char)*k)) { c->keep_alive = false; srv_send_error(c, 400, NULL, "bad Content-Length"); return READ_ERROR; }
                if (cl > (LLONG_MAX - 9) / 10) { cl = LLONG_MAX; break; }
                cl = cl * 10 + (*k - '0');
            }
            if (content_length >= 0 && content_length != cl) { c->keep_alive = false; srv_send_error(c, 400, NULL, "conflicting Content-Length"); return READ_ERROR; }
            content_length = cl;
        } else if (srv_ieq(p, "Transfer-Encoding")) {
            if (srv_ieq(v, "chunked")) chunked = true;
            else bad_te = true;
        } else if (srv_ieq(p, "Connection")) {
            if (srv_ieq(v, "close")) c->keep_alive = false;
            else if (srv_ieq(v, "keep-alive")) c->keep_alive = true;
        } else if (srv_ieq(p, "Authorization")) {
            snprintf(c->auth, sizeof c->auth, "%s", v);
            c->has_auth = true;
        } else if (srv_ieq(p, "X-Api-Key")) {
            snprintf(c->api_key, sizeof c->api_key, "%s", v);
            c->has_api_key = true;
        } else if (srv_ieq(p, "Expect")) {
            if (srv_ieq(v, "100-continue")) expect_continue = true;
        }
        p = e + 2;
    }
    if (bad_te || (chunked && content_length >= 0)) {
        c->keep_alive = false;
        srv_send_error(c, bad_te ? 501 : 400, NULL, bad_te ? "unsupported Transfer-Encoding" : "both Content-Length and chunked");
        return READ_ERROR;
    }
    if (content_length > g.cfg.max_body) {
        c->keep_alive = false;
        srv_send_error(c, 413, NULL, "request body too large");
        return READ_ERROR;
    }
    size_t consumed = hdr_end + 4;
    if (expect_continue && (chunked || content_length > 0) && c->in.len == consumed) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (!srv_send_all(c->fd, cont, sizeof cont - 1, g.cfg.timeout_s)) return READ_CLOSE;
    }
    /* ---- body ---- */
    if (chunked) {
        size_t pos = consumed;
        bool trailers = false;
        for (;;) {
            int r = srv_dechunk(c, &pos, &trailers);
            if (r == 1) break;
            if (r > 1) {
                c->keep_alive = false;
                srv_send_error(c, r, NULL, r == 413 ? "request body too large" : "bad chunked encoding");
                return READ_ERROR;
            }
            long k = srv_recv_some(c, deadline, false);
            if (k == -2) { c->keep_alive = false; srv_send_error(c, 408, NULL, "request body not received in time"); return READ_ERROR; }
            if (k <= 0) return READ_CLOSE;
        }
        consumed = pos;
    } else if (content_length > 0) {
        while ((long long)(c->in.len - consumed) < content_length) {
            long k = srv_recv_some(c, deadline, false);
            if (k == -2) { c->keep_alive = false; srv_send_error(c, 408, NULL, "request body not received in time"); return READ_ERROR; }
            if (k <= 0) return READ_CLOSE;
        }
        srv_bytes_add(&c->body, c->in.p + consumed, (size_t)content_length);
        consumed += (size_t)content_length;
    }
    if (!c->body.p) srv_bytes_add(&c->body, "", 0);
    srv_consume(c, consumed);
    return READ_OK;
}

/* While a generation runs: notices a client that went away (reads pipelined bytes into
   the buffer so that poll does not spin on them). */
static bool srv_client_gone(srv_conn *c) {
    if (c->closed) return true;
    for (;;) {
        struct pollfd pf;
        pf.fd = c->fd; pf.events = POLLIN; pf.revents = 0;
        int r = srv_poll(&pf, 1, 0);
        if (r <= 0) return false;
        if (pf.revents & (POLLERR | POLLNVAL)) { c->closed = true; return true; }
        /* bounded read-ahead of pipelined requests; past it, writes will tell */
        if ((long)c->in.len > g.cfg.max_header_bytes + 65536) return false;
        char buf[4096];
        srv_ssize k = recv(c->fd, buf, (int)sizeof buf, 0);
        if (k > 0) { srv_bytes_add(&c->in, buf, (size_t)k); continue; }
        if (k == 0 || !srv_would_block()) { c->closed = true; return true; }
        return false;
    }
}

/* =====================================================================================
   Generation requests: parsing, queueing, streaming
   ===================================================================================== */

enum { API_CHAT, API_COMPLETION, API_OLLAMA_GENERATE, API_OLLAMA_CHAT };

typedef struct srv_gen_req {
    int api;
    bool stream, include_usage;
    bool load_only;               /* Ollama /api/generate with no prompt */
    char model[256];
    srv_task *task;
} srv_gen_req;

static void srv_task_free(srv_task *t) {
    if (!t) return;
    free(t->prompt);
    for (int i = 0; i < t->n_stop; i++) free(t->stop[i]);
    free(t->stop);
    srv_bytes_free(&t->out);
    srv_bytes_free(&t->out_cuts);
    apr__cond_destroy(&t->cond);
    free(t);
}

/* Collects an error for a 400 reply. */
typedef struct srv_reqerr {
    int status;
    const char *type;
    char msg[300];
} srv_reqerr;

static bool srv_bad(srv_reqerr *e, const char *fmt, const char *field) {
    e->status = 400;
    e->type = "invalid_request_error";
    snprintf(e->msg, sizeof e->msg, fmt, field);
    return false;
}

static bool srv_add_stop(srv_task *t, const char *s, size_t n, srv_reqerr *e) {
    if (n == 0) return true;
    if (t->n_stop >= 16) return srv_bad(e, "%s: at most 16 stop strings", "stop");
    char **ns = (char **)realloc(t->stop, sizeof(char *) * (size_t)(t->n_stop + 1));
    if (!ns) return srv_bad(e, "%s: out of memory", "stop");
    t->stop = ns;
    char *c = (char *)malloc(n + 1);
    if (!c) return srv_bad(e, "%s: out of memory", "stop");
    memcpy(c, s, n);
    c[n] = 0;
    t->stop[t->n_stop++] = c;
    return true;
}

/* Sampling fields, OpenAI names (and Ollama's options object, same names mostly). */
static bool srv_parse_sampling(const json_value *o, srv_task *t, bool ollama, srv_reqerr *e) {
    double d;
    int64_t i;
#define NUM_FIELD(name, dst)                                                 \
    if (!json_get_number(o, name, dst, &d)) return srv_bad(e, "'%s' must be a number", name); \
    dst = (float)d;
    NUM_FIELD("temperature", t->sp.temperature)
    NUM_FIELD("top_p", t->sp.top_p)
    NUM_FIELD("min_p", t->sp.min_p)
    NUM_FIELD("presence_penalty", t->sp.presence_penalty)
    NUM_FIELD("frequency_penalty", t->sp.frequency_penalty)
    NUM_FIELD("repeat_penalty", t->sp.repeat_penalty)
#undef NUM_FIELD
    if (!json_get_int(o, "top_k", t->sp.top_k, &i)) return srv_bad(e, "'%s' must be an integer", "top_k");
    t->sp.top_k = (int32_t)APR__MAX(APR__MIN(i, INT32_MAX), INT32_MIN);
    if (!json_get_int(o, "repeat_last_n", t->sp.repeat_last_n, &i)) return srv_bad(e, "'%s' must be an integer", "repeat_last_n");
    t->sp.repeat_last_n = (int32_t)APR__MAX(APR__MIN(i, INT32_MAX), -1);
    const json_value *seed = json_get(o, "seed");
    if (seed && seed->type != JSON_NULL) {
        if (seed->type != JSON_NUMBER) return srv_bad(e, "'%s' must be an integer", "seed");
        t->sp.seed = seed->is_int ? (uint64_t)seed->integer : (uint64_t)seed->number;
    }
    if (t->sp.temperature < 0 || t->sp.temperature > 100) return srv_bad(e, "'%s' out of range", "temperature");
    if (t->sp.top_p < 0 || t->sp.top_p > 1) return srv_bad(e, "'%s' must be in [0, 1]", "top_p");
    if (t->sp.min_p < 0 || t->sp.min_p > 1) return srv_bad(e, "'%s' must be in [0, 1]", "min_p");
    if (fabsf(t->sp.presence_penalty) > 100 || fabsf(t->sp.frequency_penalty) > 100 ||
        t->sp.repeat_penalty < 0 || t->sp.repeat_penalty > 100)
        return srv_bad(e, "%s out of range", "penalty");
    const json_value *mt = json_get(o, ollama ? "num_predict" : "max_completion_tokens");
    if (!mt || mt->type == JSON_NULL) mt = json_get(o, "max_tokens");
    if (mt && mt->type != JSON_NULL) {
        if (mt->type != JSON_NUMBER || !mt->is_int) return srv_bad(e, "'%s' must be an integer", "max_tokens");
        int64_t v = mt->integer;
        if (v < 0 && !(ollama && (v == -1 || v == -2))) return srv_bad(e, "'%s' must be >= 0", "max_tokens");
        t->max_tokens = v < 0 ? -1 : (int32_t)APR__MIN(v, (int64_t)INT32_MAX);
    }
    const json_value *stop = json_get(o, "stop");
    if (stop && stop->type == JSON_STRING) {
        if (!srv_add_stop(t, stop->str, stop->len, e)) return false;
    } else if (stop && stop->type == JSON_ARRAY) {
        for (const json_value *s = stop->child; s; s = s->next) {
            if (s->type != JSON_STRING) return srv_bad(e, "'%s' must be a string or an array of strings", "stop");
            if (!srv_add_stop(t, s->str, s->len, e)) return false;
        }
    } else if (stop && stop->type != JSON_NULL) {
        return srv_bad(e, "'%s' must be a string or an array of strings", "stop");
    }
    return true;
}

/* Text of a message's content: a string, or an array of {"type":"text","text":...}. */
static bool srv_content_text(const json_value *c, srv_bytes *out, srv_reqerr *e) {
    if (!c || c->type == JSON_NULL) return srv_bytes_add(out, "", 0);
    if (c->type == JSON_STRING) return srv_bytes_add(out, c->str, c->len);
    if (c->type != JSON_ARRAY) return srv_bad(e, "'%s' must be a string or an array of parts", "content");
    srv_bytes_add(out, "", 0);
    for (const json_value *part = c->child; part; part = part->next) {
        const char *type = NULL, *text = NULL;
        if (part->type != JSON_OBJECT || !json_get_string(part, "type", NULL, &type) || !type)
            return srv_bad(e, "'%s' parts must be objects with a type", "content");
        if (strcmp(type, "text") != 0) return srv_bad(e, "content part type '%s' is not supported", type);
        const json_value *tv = json_get(part, "text");
        if (!json_get_string(part, "text", NULL, &text) || !text) return srv_bad(e, "'%s' must be a string", "text");
        if (!srv_bytes_add(out, tv->str, tv->len)) return srv_bad(e, "%s: out of memory", "content");
    }
    return true;
}

/* Renders messages with the chat template into out. */
static bool srv_render_chat(const json_value *msgs, const char *system, srv_bytes *out, srv_reqerr *e) {
    if (!json_is(msgs, JSON_ARRAY)) return srv_bad(e, "'%s' must be an array", "messages");
    if (msgs->len == 0) return srv_bad(e, "'%s' must not be empty", "messages");
    if (msgs->len > 10000) return srv_bad(e, "too many %s", "messages");
    size_t n = msgs->len + (system ? 1 : 0);
    apr_chat_message *m = (apr_chat_message *)calloc(n, sizeof *m);
    srv_bytes *texts = (srv_bytes *)calloc(n, sizeof *texts);
    bool ok = m && texts;
    size_t k = 0;
    if (ok && system) { m[k].role = "system"; m[k].content = system; k++; }
    for (const json_value *v = msgs->child; ok && v; v = v->next, k++) {
        const char *role = NULL;
        if (v->type != JSON_OBJECT) { ok = srv_bad(e, "'%s' must be objects", "messages"); break; }
        if (!json_get_string(v, "role", NULL, &role) || !role) { ok = srv_bad(e, "each message needs a string '%s'", "role"); break; }
        if (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "assistant") && strcmp(role, "developer") &&
            strcmp(role, "tool")) {
            ok = srv_bad(e, "unknown message role '%s'", role);
            break;
        }
        if (!srv_content_text(json_get(v, "content"), &texts[k], e)) { ok = false; break; }
        m[k].role = strcmp(role, "developer") == 0 ? "system" : role;
        m[k].content = texts[k].p;
    }
    if (ok) {
        int64_t need = apr_chat_render(g.template_name, m, (int64_t)n, true, NULL, 0);
        if (need < 0) {
            ok = false;
            e->status = 500;
            e->type = "server_error";
            snprintf(e->msg, sizeof e->msg, "cannot render chat template '%s'", g.template_name);
        } else {
            char *buf = (char *)malloc((size_t)need + 1);
            if (buf && apr_chat_render(g.template_name, m, (int64_t)n, true, buf, need + 1) >= 0) {
                srv_bytes_add(out, buf, (size_t)need);
            } else {
                ok = srv_bad(e, "%s: out of memory", "messages");
            }
            free(buf);
        }
    }
    for (size_t i = 0; texts && i < n; i++) srv_bytes_free(&texts[i]);
    free(texts);
    free(m);
    return ok;
}

static int32_t *srv_tokenize(const char *text, size_t len, int flags, int32_t *n_out) {
    int64_t cap = (int64_t)len + 16;
    int32_t *toks = (int32_t *)malloc(sizeof(int32_t) * (size_t)cap);
    if (!toks) return NULL;
    int64_t n = apr_tokenize(g.vocab, text, len, toks, cap, flags);
    if (n > cap) {
        free(toks);
        cap = n;
        toks = (int32_t *)malloc(sizeof(int32_t) * (size_t)cap);
        if (!toks) return NULL;
        n = apr_tokenize(g.vocab, text, len, toks, cap, flags);
    }
    if (n < 0 || n > cap || n > INT32_MAX) { free(toks); return NULL; }
    *n_out = (int32_t)n;
    return toks;
}

/* Builds the task of a generation request from its JSON. */
static bool srv_build_task(srv_gen_req *r, const json_value *root, srv_reqerr *e) {
    if (!json_is(root, JSON_OBJECT)) return srv_bad(e, "the body must be a JSON %s", "object");
    srv_task *t = (srv_task *)calloc(1, sizeof *t);
    if (!t) return srv_bad(e, "%s", "out of memory");
    apr__cond_init(&t->cond);
    r->task = t;
    t->sp = apr_sampler_default_params();
    t->sp.seed = (uint64_t)apr__time_ns() ^ ((uint64_t)(uintptr_t)t << 16);
    t->max_tokens = g.cfg.default_max_tokens;
    bool ollama = r->api == API_OLLAMA_GENERATE || r->api == API_OLLAMA_CHAT;
    const char *model = NULL;
    if (!json_get_string(root, "model", NULL, &model)) return srv_bad(e, "'%s' must be a string", "model");
    snprintf(r->model, sizeof r->model, "%s", model && *model ? model : g.model_name);
    if (!json_get_bool(root, "stream", ollama, &r->stream)) return srv_bad(e, "'%s' must be a boolean", "stream");
    const json_value *so = json_get(root, "stream_options");
    if (so && so->type != JSON_NULL) {
        if (so->type != JSON_OBJECT) return srv_bad(e, "'%s' must be an object", "stream_options");
        if (!json_get_bool(so, "include_usage", false, &r->include_usage))
            return srv_bad(e, "'%s' must be a boolean", "include_usage");
    }
    int64_t nch;
    if (!json_get_int(root, "n", 1, &nch) || nch != 1) return srv_bad(e, "'%s' must be 1", "n");
    if (!json_get_bool(root, "ignore_eos", false, &t->ignore_eos)) return srv_bad(e, "'%s' must be a boolean", "ignore_eos");
    if (!json_get_bool(root, "cache_prompt", true, &t->cache_prompt)) return srv_bad(e, "'%s' must be a boolean", "cache_prompt");
    if (ollama) {
        const json_value *opt = json_get(root, "options");
        if (opt && opt->type != JSON_NULL && opt->type != JSON_OBJECT) return srv_bad(e, "'%s' must be an object", "options");
        if (opt && opt->type == JSON_OBJECT && !srv_parse_sampling(opt, t, true, e)) return false;
    } else if (!srv_parse_sampling(root, t, false, e)) {
        return false;
    }
    /* ---- prompt ---- */
    srv_bytes text;
    memset(&text, 0, sizeof text);
    int flags = APR_TOKENIZE_ADD_BOS | APR_TOKENIZE_PARSE_SPECIAL;
    bool ok = true;
    if (r->api == API_CHAT || r->api == API_OLLAMA_CHAT) {
        ok = srv_render_chat(json_get(root, "messages"), NULL, &text, e);
    } else if (r->api == API_OLLAMA_GENERATE) {
        const char *prompt = NULL, *system = NULL;
        bool raw = false;
        if (!json_get_string(root, "prompt", "", &prompt)) return srv_bad(e, "'%s' must be a string", "prompt");
        if (!json_get_string(root, "system", NULL, &system)) return srv_bad(e, "'%s' must be a string", "system");
        if (!json_get_bool(root, "raw", false, &raw)) return srv_bad(e, "'%s' must be a boolean", "raw");
        if (!*prompt && !system) {
            r->load_only = true;
            return true;
        }
        if (raw) {
            ok = srv_bytes_add(&text, json_get(root, "prompt") ? json_get(root, "prompt")->str : "",
                               json_get(root, "prompt") ? json_get(root, "prompt")->len : 0);
        } else {
            /* a one-message chat, as Ollama applies the model's template */
            json_doc d;
            json_buf mb;
            json_buf_init(&mb);
            json_arr_begin(&mb); json_obj_begin(&mb);
            json_key(&mb, "role"); json_strz(&mb, "user");
            json_key(&mb, "content"); json_str(&mb, json_get(root, "prompt") ? json_get(root, "prompt")->str : "",
                                               json_get(root, "prompt") ? json_get(root, "prompt")->len : 0);
            json_obj_end(&mb); json_arr_end(&mb);
            if (!mb.oom && json_parse(&d, mb.data, mb.len, 8, NULL, 0)) {
                ok = srv_render_chat(d.root, system, &text, e);
                json_doc_free(&d);
            } else {
                ok = srv_bad(e, "%s: out of memory", "prompt");
            }
            json_buf_free(&mb);
        }
    } else {
        const json_value *p = json_get(root, "prompt");
        if (!p) { srv_bytes_free(&text); return srv_bad(e, "'%s' is required", "prompt"); }
        if (p->type == JSON_ARRAY && p->len == 1 && p->child->type == JSON_STRING) p = p->child;
        if (p->type == JSON_STRING) {
            ok = srv_bytes_add(&text, p->str, p->len);
        } else if (p->type == JSON_ARRAY && p->len > 0) {
            /* token ids */
            t->prompt = (int32_t *)malloc(sizeof(int32_t) * p->len);
            if (!t->prompt) return srv_bad(e, "%s", "out of memory");
            int32_t nv = apr_model_n_vocab(g.model);
            for (const json_value *v = p->child; v; v = v->next) {
                if (v->type != JSON_NUMBER || !v->is_int || v->integer < 0 || v->integer >= nv)
                    return srv_bad(e, "'%s' must be a string or an array of valid token ids", "prompt");
                t->prompt[t->n_prompt++] = (int32_t)v->integer;
            }
        } else {
            return srv_bad(e, "'%s' must be a string or an array of token ids", "prompt");
        }
    }
    if (!ok) { srv_bytes_free(&text); return false; }
    if (!t->prompt) {
        t->prompt = srv_tokenize(text.p ? text.p : "", text.len, flags, &t->n_prompt);
        srv_bytes_free(&text);
        if (!t->prompt) return srv_bad(e, "%s: cannot tokenize the prompt", "prompt");
    }
    if (t->n_prompt == 0) return srv_bad(e, "the %s is empty", "prompt");
    if (t->n_prompt >= g.n_ctx_slot) {
        e->status = 400;
        e->type = "exceed_context_size_error";
        snprintf(e->msg, sizeof e->msg,
                 "the request exceeds the available context size: %d prompt tokens, %d per slot", (int)t->n_prompt,
                 g.n_ctx_slot);
        return false;
    }
    int limit = g.cfg.max_tokens_limit > 0 ? g.cfg.max_tokens_limit : g.n_ctx_slot;
    if (t->max_tokens < 0 || t->max_tokens > limit) t->max_tokens = limit;
    return true;
}

/* Queues the task; false (503) if the queue is full or the server stops. */
static bool srv_submit(srv_task *t) {
    apr__mutex_lock(&g.mu);
    int free_slots = g.cfg.n_slots - g.n_active;
    if (SRV_STOPPING() || (g.n_queued - free_slots) >= g.cfg.max_queue) {
        g.m.requests_rejected++;
        apr__mutex_unlock(&g.mu);
        return false;
    }
    t->state = TASK_QUEUED;
    t->t_submit = srv_now();
    t->next = NULL;
    if (g.q_tail) g.q_tail->next = t; else g.q_head = t;
    g.q_tail = t;
    g.n_queued++;
    g.m.requests++;
    apr__cond_broadcast(&g.work);
    apr__mutex_unlock(&g.mu);
    return true;
}

/* Cancels a task (client gone) and waits until the inference thread lets go of it. */
static void srv_cancel_and_wait(srv_task *t) {
    apr__mutex_lock(&g.mu);
    if (t->state == TASK_QUEUED) {
        srv_task **pp = &g.q_head, *prev = NULL;
        while (*pp && *pp != t) { prev = *pp; pp = &(*pp)->next; }
        if (*pp) {
            *pp = t->next;
            if (g.q_tail == t) g.q_tail = prev;
            g.n_queued--;
        }
        t->state = TASK_DONE;
        g.m.requests_cancelled++;
    }
    t->cancel = true;
    apr__cond_broadcast(&g.work);
    while (t->state != TASK_DONE) srv_cond_timedwait(&t->cond, &g.mu, 100);
    apr__mutex_unlock(&g.mu);
}

/* Waits for new text or the end. Returns false if the client went away (task cancelled). */
static bool srv_wait_output(srv_conn *c, srv_task *t, srv_bytes *take, srv_bytes *cuts, bool *done) {
    apr__mutex_lock(&g.mu);
    for (;;) {
        if (t->out.len > 0 || t->state == TASK_DONE) break;
        srv_cond_timedwait(&t->cond, &g.mu, 50);
        if (t->out.len > 0 || t->state == TASK_DONE) break;
        apr__mutex_unlock(&g.mu);
        bool gone = srv_client_gone(c);
        apr__mutex_lock(&g.mu);
        if (gone) {
            apr__mutex_unlock(&g.mu);
            srv_cancel_and_wait(t);
            return false;
        }
    }
    take->len = 0;
    cuts->len = 0;
    if (t->out.len) srv_bytes_add(take, t->out.p, t->out.len);
    if (t->out_cuts.len) srv_bytes_add(cuts, t->out_cuts.p, t->out_cuts.len);
    t->out.len = 0;
    t->out_cuts.len = 0;
    *done = t->state == TASK_DONE;
    apr__mutex_unlock(&g.mu);
    return true;
}

/* Chunked transfer encoding for streams on HTTP/1.1 keeps the connection reusable. */
static bool srv_send_chunk(srv_conn *c, const char *data, size_t n) {
    if (c->closed) return false;
    bool ok;
    if (c->http_minor >= 1) {
        char hdr[32];
        int hl = snprintf(hdr, sizeof hdr, "%lx\r\n", (unsigned long)n);
        ok = (n == 0 || srv_send_all(c->fd, hdr, (size_t)hl, g.cfg.timeout_s)) &&
             (n == 0 || srv_send_all(c->fd, data, n, g.cfg.timeout_s)) &&
             (n == 0 || srv_send_all(c->fd, "\r\n", 2, g.cfg.timeout_s));
        if (n == 0) ok = srv_send_all(c->fd, "0\r\n\r\n", 5, g.cfg.timeout_s);
    } else {
        ok = n == 0 || srv_send_all(c->fd, data, n, g.cfg.timeout_s);
    }
    if (!ok) c->closed = true;
    return ok;
}

static void srv_iso_time(char *buf, size_t size) {
    uint64_t ns = 0;
#if defined(_WIN32)
    time_t now = time(NULL);
    struct tm tmv;
    gmtime_s(&tmv, &now);
#else
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    time_t now = ts.tv_sec;
    ns = (uint64_t)ts.tv_nsec;
    struct tm tmv;
    gmtime_r(&now, &tmv);
#endif
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tmv);
    snprintf(buf, size, "%s.%09lluZ", base, (unsigned long long)ns);
}

/* The opening of every OpenAI object. */
static void srv_openai_head(json_buf *b, const srv_gen_req *r, const char *id, long long created, bool chunk) {
    json_key(b, "id"); json_strz(b, id);
    json_key(b, "object");
    json_strz(b, r->api == API_CHAT ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion");
    json_key(b, "created"); json_int(b, created);
    json_key(b, "model"); json_strz(b, r->model);
    json_key(b, "system_fingerprint"); json_strz(b, "apr-" APR_VERSION_STRING);
}

static void srv_usage_json(json_buf *b, const srv_task *t) {
    json_key(b, "usage");
    json_obj_begin(b);
    json_key(b, "prompt_tokens"); json_int(b, t->n_prompt);
    json_key(b, "completion_tokens"); json_int(b, t->n_gen);
    json_key(b, "total_tokens"); json_int(b, (int64_t)t->n_prompt + t->n_gen);
    json_obj_end(b);
}

static void srv_timings_json(json_buf *b, const srv_task *t) {
    double pt = t->t_first - t->t_start, gt = t->t_end - t->t_first;
    json_key(b, "timings");
    json_obj_begin(b);
    json_key(b, "prompt_n"); json_int(b, t->n_prompt);
    json_key(b, "prompt_ms"); json_double(b, pt * 1e3);
    json_key(b, "prompt_per_second"); json_double(b, pt > 0 ? t->n_prompt / pt : 0);
    json_key(b, "predicted_n"); json_int(b, t->n_gen);
    json_key(b, "predicted_ms"); json_double(b, gt * 1e3);
    json_key(b, "predicted_per_second"); json_double(b, gt > 0 ? t->n_gen / gt : 0);
    json_obj_end(b);
}

/* One OpenAI streaming chunk: piece (may be NULL), role (first chunk), finish. */
static void srv_openai_chunk(json_buf *b, const srv_gen_req *r, const char *id, long long created, const char *piece,
                             size_t n, bool role, const char *finish) {
    json_buf_reset(b);
    json_rawz(b, "data: ");
    json_obj_begin(b);
    srv_openai_head(b, r, id, created, true);
    json_key(b, "choices");
    json_arr_begin(b);
    json_obj_begin(b);
    json_key(b, "index"); json_int(b, 0);
    if (r->api == API_CHAT) {
        json_key(b, "delta");
        json_obj_begin(b);
        if (role) { json_key(b, "role"); json_strz(b, "assistant"); }
        if (piece) { json_key(b, "content"); json_str(b, piece, n); }
        json_obj_end(b);
    } else {
        json_key(b, "text"); json_str(b, piece ? piece : "", piece ? n : 0);
    }
    json_key(b, "logprobs"); json_null(b);
    json_key(b, "finish_reason"); if (finish) json_strz(b, finish); else json_null(b);
    json_obj_end(b);
    json_arr_end(b);
    json_obj_end(b);
    json_rawz(b, "\n\n");
}

static void srv_ollama_obj(json_buf *b, const srv_gen_req *r, const srv_task *t, const char *piece, size_t n,
                           bool done) {
    char ts[64];
    srv_iso_time(ts, sizeof ts);
    json_buf_reset(b);
    json_obj_begin(b);
    json_key(b, "model"); json_strz(b, r->model);
    json_key(b, "created_at"); json_strz(b, ts);
    if (r->api == API_OLLAMA_CHAT) {
        json_key(b, "message");
        json_obj_begin(b);
        json_key(b, "role"); json_strz(b, "assistant");
        json_key(b, "content"); json_str(b, piece ? piece : "", piece ? n : 0);
        json_obj_end(b);
    } else {
        json_key(b, "response"); json_str(b, piece ? piece : "", piece ? n : 0);
    }
    json_key(b, "done"); json_bool(b, done);
    if (done) {
        json_key(b, "done_reason"); json_strz(b, t->finish ? t->finish : "stop");
        json_key(b, "total_duration"); json_int(b, (int64_t)((t->t_end - t->t_submit) * 1e9));
        json_key(b, "load_duration"); json_int(b, 0);
        json_key(b, "prompt_eval_count"); json_int(b, t->n_prompt);
        json_key(b, "prompt_eval_duration"); json_int(b, (int64_t)((t->t_first - t->t_start) * 1e9));
        json_key(b, "eval_count"); json_int(b, t->n_gen);
        json_key(b, "eval_duration"); json_int(b, (int64_t)((t->t_end - t->t_first) * 1e9));
    }
    json_obj_end(b);
    json_rawz(b, "\n");
}

static void srv_send_reqerr(srv_conn *c, const srv_reqerr *e) {
    srv_send_error(c, e->status ? e->status : 400, e->type, e->msg);
}

static void srv_handle_generate(srv_conn *c, int api, const json_value *root) {
    srv_gen_req r;
    memset(&r, 0, sizeof r);
    r.api = api;
    srv_reqerr e;
    memset(&e, 0, sizeof e);
    if (!srv_build_task(&r, root, &e)) {
        srv_send_reqerr(c, &e);
        srv_task_free(r.task);
        return;
    }
    srv_task *t = r.task;
    bool ollama = api == API_OLLAMA_GENERATE || api == API_OLLAMA_CHAT;
    if (r.load_only) {
        /* Ollama clients send an empty prompt to load a model: answer done at once */
        json_buf b;
        json_buf_init(&b);
        t->finish = "load";
        t->n_prompt = 0;
        t->t_submit = t->t_start = t->t_first = t->t_end = srv_now();
        srv_ollama_obj(&b, &r, t, NULL, 0, true);
        srv_send_response(c, 200, r.stream ? "application/x-ndjson" : "application/json; charset=utf-8", b.data, b.len, NULL);
        json_buf_free(&b);
        srv_task_free(t);
        return;
    }
    if (!srv_submit(t)) {
        srv_send_error(c, 503, "unavailable_error", "server busy: too many requests queued");
        srv_task_free(t);
        return;
    }
    char id[64];
    apr__mutex_lock(&g.mu);
    uint64_t seqno = ++g.id_counter;
    apr__mutex_unlock(&g.mu);
    snprintf(id, sizeof id, "%s-%llx%06llx", api == API_CHAT ? "chatcmpl" : "cmpl",
             (unsigned long long)(apr__time_ns() & 0xffffffffull), (unsigned long long)seqno);
    long long created = (long long)time(NULL);
    srv_bytes take, cuts;
    memset(&take, 0, sizeof take);
    memset(&cuts, 0, sizeof cuts);
    json_buf events;
    json_buf_init(&events);
    json_buf b;
    json_buf_init(&b);
    bool done = false, alive = true;
    if (r.stream) {
        json_buf h;
        json_buf_init(&h);
        json_rawz(&h, "HTTP/1.1 200 OK\r\n");
        json_printf(&h, "Content-Type: %s\r\n", ollama ? "application/x-ndjson" : "text/event-stream; charset=utf-8");
        json_rawz(&h, "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n");
        if (c->http_minor >= 1) json_rawz(&h, "Transfer-Encoding: chunked\r\n");
        else c->keep_alive = false;
        json_printf(&h, "Connection: %s\r\n", c->keep_alive ? "keep-alive" : "close");
        json_rawz(&h, "Server: apr-server/" APR_VERSION_STRING "\r\n");
        srv_cors_headers(&h);
        json_rawz(&h, "\r\n");
        alive = srv_send_all(c->fd, h.data, h.len, g.cfg.timeout_s);
        json_buf_free(&h);
        bool first = true;
        while (alive && !done) {
            if (!srv_wait_output(c, t, &take, &cuts, &done)) { alive = false; break; }
            if (done && t->err_status) break;
            if (!ollama && first) {
                /* the first chunk carries the role (and, for chat, empty content) */
                srv_openai_chunk(&b, &r, id, created, api == API_CHAT ? "" : NULL, 0, api == API_CHAT, NULL);
                if (api == API_CHAT && !srv_send_chunk(c, b.data, b.len)) { alive = false; break; }
                first = false;
            }
            /* one event per token's text, all sent in one write */
            json_buf_reset(&events);
            size_t off = 0;
            for (size_t k = 0; k + sizeof(uint32_t) <= cuts.len; k += sizeof(uint32_t)) {
                uint32_t pl;
                memcpy(&pl, cuts.p + k, sizeof pl);
                if (pl == 0 || off + pl > take.len) continue;
                if (ollama) srv_ollama_obj(&b, &r, t, take.p + off, pl, false);
                else srv_openai_chunk(&b, &r, id, created, take.p + off, pl, false, NULL);
                json_raw(&events, b.data, b.len);
                off += pl;
            }
            if (events.len > 0 && !srv_send_chunk(c, events.data, events.len)) { alive = false; break; }
        }
        if (!alive) {
            srv_cancel_and_wait(t);
            c->closed = true;
        } else if (t->err_status) {
            json_buf_reset(&b);
            if (!ollama) json_rawz(&b, "data: "); /* openai clients raise on a data event with "error" */
            srv_error_json(&b, t->err_status, NULL, t->err);
            json_rawz(&b, ollama ? "\n" : "\n\n");
            srv_send_chunk(c, b.data, b.len);
            srv_send_chunk(c, NULL, 0);
        } else {
            if (ollama) {
                srv_ollama_obj(&b, &r, t, NULL, 0, true);
                srv_send_chunk(c, b.data, b.len);
            } else {
                srv_openai_chunk(&b, &r, id, created, NULL, 0, false, t->finish);
                srv_send_chunk(c, b.data, b.len);
                if (r.include_usage) {
                    json_buf_reset(&b);
                    json_rawz(&b, "data: ");
                    json_obj_begin(&b);
                    srv_openai_head(&b, &r, id, created, true);
                    json_key(&b, "choices"); json_arr_begin(&b); json_arr_end(&b);
                    srv_usage_json(&b, t);
                    srv_timings_json(&b, t);
                    json_obj_end(&b);
                    json_rawz(&b, "\n\n");
                    srv_send_chunk(c, b.data, b.len);
                }
                srv_send_chunk(c, "data: [DONE]\n\n", 14);
            }
            srv_send_chunk(c, NULL, 0);
        }
    } else {
        srv_bytes all;
        memset(&all, 0, sizeof all);
        srv_bytes_add(&all, "", 0);
        while (!done) {
            if (!srv_wait_output(c, t, &take, &cuts, &done)) { alive = false; break; }
            srv_bytes_add(&all, take.p ? take.p : "", take.len);
        }
        if (!alive) {
            c->closed = true;
        } else if (t->err_status) {
            srv_send_error(c, t->err_status, NULL, t->err);
        } else if (ollama) {
            srv_ollama_obj(&b, &r, t, all.p, all.len, true);
            srv_send_response(c, 200, "application/json; charset=utf-8", b.data, b.len, NULL);
        } else {
            json_obj_begin(&b);
            srv_openai_head(&b, &r, id, created, false);
            json_key(&b, "choices");
            json_arr_begin(&b);
            json_obj_begin(&b);
            json_key(&b, "index"); json_int(&b, 0);
            if (api == API_CHAT) {
                json_key(&b, "message");
                json_obj_begin(&b);
                json_key(&b, "role"); json_strz(&b, "assistant");
                json_key(&b, "content"); json_str(&b, all.p, all.len);
                json_obj_end(&b);
            } else {
                json_key(&b, "text"); json_str(&b, all.p, all.len);
            }
            json_key(&b, "logprobs"); json_null(&b);
            json_key(&b, "finish_reason"); json_strz(&b, t->finish);
            json_obj_end(&b);
            json_arr_end(&b);
            srv_usage_json(&b, t);
            srv_timings_json(&b, t);
            json_obj_end(&b);
            srv_send_response(c, 200, "application/json; charset=utf-8", b.data, b.len, NULL);
        }
        srv_bytes_free(&all);
    }
    srv_bytes_free(&take);
    srv_bytes_free(&cuts);
    json_buf_free(&events);
    json_buf_free(&b);
    srv_task_free(t);
}

/* =====================================================================================
   Other endpoints
   ===================================================================================== */

static void srv_send_json(srv_conn *c, int status, json_buf *b) {
    if (b->oom) { srv_send_error(c, 500, NULL, "out of memory"); return; }
    srv_send_response(c, status, "application/json; charset=utf-8", b->data, b->len, NULL);
}

static void srv_handle_health(srv_conn *c) {
    json_buf b;
    json_buf_init(&b);
    if (!SRV_READY()) {
        srv_error_json(&b, 503, "unavailable_error", "Loading model");
        srv_send_json(c, 503, &b);
        json_buf_free(&b);
        return;
    }
    apr__mutex_lock(&g.mu);
    int active = g.n_active, queued = g.n_queued;
    apr__mutex_unlock(&g.mu);
    json_obj_begin(&b);
    json_key(&b, "status"); json_strz(&b, "ok");
    json_key(&b, "model"); json_strz(&b, g.model_name);
    json_key(&b, "backend"); json_strz(&b, apr_model_backend(g.model));
    json_key(&b, "gpu"); json_strz(&b, apr_model_gpu_name(g.model));
    json_key(&b, "cpu_simd"); json_strz(&b, apr_cpu_simd_name());
    json_key(&b, "slots_total"); json_int(&b, g.cfg.n_slots);
    json_key(&b, "slots_idle"); json_int(&b, g.cfg.n_slots - active);
    json_key(&b, "slots_processing"); json_int(&b, active);
    json_key(&b, "requests_queued"); json_int(&b, queued);
    json_obj_end(&b);
    srv_send_json(c, 200, &b);
    json_buf_free(&b);
}

static void srv_metric(json_buf *b, const char *name, const char *type, const char *help, double v) {
    json_printf(b, "# HELP apr_%s %s\n# TYPE apr_%s %s\napr_%s ", name, help, name, type, name);
    if (v == floor(v) && fabs(v) < 9e15) json_printf(b, "%.0f\n", v);
    else json_printf(b, "%.6g\n", v);
}

static void srv_handle_metrics(srv_conn *c) {
    apr__mutex_lock(&g.mu);
    srv_metrics m = g.m;
    int active = g.n_active, queued = g.n_queued;
    int32_t kv = g.kv_used;
    apr__mutex_unlock(&g.mu);
    int conns = 0;
    for (int i = 0; i < g.cfg.max_conns; i++) conns += APR__ATOMIC_LOAD(&g.conns[i].state) == 1;
    double kv_total = (double)g.n_ctx_slot * g.cfg.n_slots;
    json_buf b;
    json_buf_init(&b);
    srv_metric(&b, "prompt_tokens_total", "counter", "Prompt tokens processed.", (double)m.prompt_tokens);
    srv_metric(&b, "prompt_seconds_total", "counter", "Time spent processing prompts.", m.prompt_seconds);
    srv_metric(&b, "prompt_tokens_cached_total", "counter", "Prompt tokens reused from the prompt cache.",
               (double)m.prompt_tokens_cached);
    srv_metric(&b, "tokens_predicted_total", "counter", "Tokens generated.", (double)m.gen_tokens);
    srv_metric(&b, "tokens_predicted_seconds_total", "counter", "Time spent generating tokens.", m.gen_seconds);
    srv_metric(&b, "prompt_tokens_per_second", "gauge", "Average prompt throughput.",
               m.prompt_seconds > 0 ? (double)m.prompt_tokens / m.prompt_seconds : 0);
    srv_metric(&b, "predicted_tokens_per_second", "gauge", "Average generation throughput per request.",
               m.gen_seconds > 0 ? (double)m.gen_tokens / m.gen_seconds : 0);
    srv_metric(&b, "requests_total", "counter", "Generation requests accepted.", (double)m.requests);
    srv_metric(&b, "requests_succeeded_total", "counter", "Generation requests completed.", (double)m.requests_ok);
    srv_metric(&b, "requests_rejected_total", "counter", "Generation requests refused because the queue was full.",
               (double)m.requests_rejected);
    srv_metric(&b, "requests_cancelled_total", "counter", "Generation requests cancelled by a client disconnect.",
               (double)m.requests_cancelled);
    srv_metric(&b, "http_requests_total", "counter", "HTTP requests received.", (double)m.http_requests);
    srv_metric(&b, "decode_steps_total", "counter", "Batched forward passes run.", (double)m.decode_steps);
    srv_metric(&b, "requests_processing", "gauge", "Requests generating now.", active);
    srv_metric(&b, "requests_queued", "gauge", "Requests waiting for a slot.", queued);
    srv_metric(&b, "slots_busy", "gauge", "Slots in use.", active);
    srv_metric(&b, "slots", "gauge", "Slots (-np).", g.cfg.n_slots);
    srv_metric(&b, "kv_cache_tokens", "gauge", "KV cache positions in use.", kv);
    srv_metric(&b, "kv_cache_usage_ratio", "gauge", "KV cache use (0 to 1).", kv_total > 0 ? kv / kv_total : 0);
    srv_metric(&b, "connections_active", "gauge", "Open client connections.", conns);
    srv_metric(&b, "uptime_seconds", "gauge", "Seconds since the server started.", srv_now() - g.t_start);
    if (b.oom) srv_send_error(c, 500, NULL, "out of memory");
    else srv_send_response(c, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len, NULL);
    json_buf_free(&b);
}

static void srv_model_object(json_buf *b) {
    json_obj_begin(b);
    json_key(b, "id"); json_strz(b, g.model_name);
    json_key(b, "object"); json_strz(b, "model");
    json_key(b, "created"); json_int(b, g.t_start_epoch);
    json_key(b, "owned_by"); json_strz(b, "apr");
    if (SRV_READY()) {
        json_key(b, "meta");
        json_obj_begin(b);
        json_key(b, "arch"); json_strz(b, apr_model_arch(g.model));
        json_key(b, "n_vocab"); json_int(b, apr_model_n_vocab(g.model));
        json_key(b, "n_ctx_train"); json_int(b, apr_model_n_ctx_train(g.model));
        json_key(b, "n_ctx_slot"); json_int(b, g.n_ctx_slot);
        json_key(b, "n_params"); json_uint(b, apr_model_n_params(g.model));
        json_key(b, "size"); json_uint(b, apr_model_size(g.model));
        json_obj_end(b);
    }
    json_obj_end(b);
}

static void srv_handle_models(srv_conn *c) {
    json_buf b;
    json_buf_init(&b);
    json_obj_begin(&b);
    json_key(&b, "object"); json_strz(&b, "list");
    json_key(&b, "data"); json_arr_begin(&b); srv_model_object(&b); json_arr_end(&b);
    json_obj_end(&b);
    srv_send_json(c, 200, &b);
    json_buf_free(&b);
}

static void srv_model_details(json_buf *b, const char *desc) {
    json_key(b, "details");
    json_obj_begin(b);
    json_key(b, "format"); json_strz(b, "gguf");
    json_key(b, "family"); json_strz(b, SRV_READY() ? apr_model_arch(g.model) : "");
    json_key(b, "families"); json_arr_begin(b); json_strz(b, SRV_READY() ? apr_model_arch(g.model) : ""); json_arr_end(b);
    json_key(b, "parameter_size"); json_strz(b, desc);
    json_key(b, "quantization_level"); json_strz(b, "");
    json_obj_end(b);
}

/* Ollama's /api/show (POST) and /api/ps (GET): what clients such as Open WebUI query. */
static void srv_handle_show(srv_conn *c, bool ps) {
    json_buf b;
    json_buf_init(&b);
    char desc[256] = "";
    apr_model_desc(g.model, desc, sizeof desc);
    json_obj_begin(&b);
    if (ps) {
        json_key(&b, "models");
        json_arr_begin(&b);
        json_obj_begin(&b);
        json_key(&b, "name"); json_strz(&b, g.model_name);
        json_key(&b, "model"); json_strz(&b, g.model_name);
        json_key(&b, "size"); json_uint(&b, apr_model_size(g.model));
        json_key(&b, "digest"); json_strz(&b, "");
        srv_model_details(&b, desc);
        json_key(&b, "expires_at"); json_strz(&b, "2999-01-01T00:00:00Z");
        json_key(&b, "size_vram"); json_uint(&b, strcmp(apr_model_backend(g.model), "CPU") ? apr_model_size(g.model) : 0);
        json_obj_end(&b);
        json_arr_end(&b);
    } else {
        char key[96];
        json_key(&b, "modelfile"); json_strz(&b, "");
        json_key(&b, "parameters"); json_strz(&b, "");
        json_key(&b, "template"); json_strz(&b, g.template_name);
        srv_model_details(&b, desc);
        json_key(&b, "model_info");
        json_obj_begin(&b);
        json_key(&b, "general.architecture"); json_strz(&b, apr_model_arch(g.model));
        json_key(&b, "general.parameter_count"); json_uint(&b, apr_model_n_params(g.model));
        snprintf(key, sizeof key, "%s.context_length", apr_model_arch(g.model));
        json_key(&b, key); json_int(&b, apr_model_n_ctx_train(g.model));
        snprintf(key, sizeof key, "%s.embedding_length", apr_model_arch(g.model));
        json_key(&b, key); json_int(&b, apr_model_n_embd(g.model));
        snprintf(key, sizeof key, "%s.block_count", apr_model_arch(g.model));
        json_key(&b, key); json_int(&b, apr_model_n_layer(g.model));
        json_obj_end(&b);
        json_key(&b, "capabilities"); json_arr_begin(&b); json_strz(&b, "completion"); json_arr_end(&b);
    }
    json_obj_end(&b);
    srv_send_json(c, 200, &b);
    json_buf_free(&b);
}

static void srv_handle_tags(srv_conn *c) {
    json_buf b;
    json_buf_init(&b);
    char desc[256] = "", ts[64];
    if (SRV_READY()) apr_model_desc(g.model, desc, sizeof desc);
    srv_iso_time(ts, sizeof ts);
    json_obj_begin(&b);
    json_key(&b, "models");
    json_arr_begin(&b);
    json_obj_begin(&b);
    json_key(&b, "name"); json_strz(&b, g.model_name);
    json_key(&b, "model"); json_strz(&b, g.model_name);
    json_key(&b, "modified_at"); json_strz(&b, ts);
    json_key(&b, "size"); json_uint(&b, SRV_READY() ? apr_model_size(g.model) : 0);
    json_key(&b, "digest"); json_strz(&b, "");
    json_key(&b, "details");
    json_obj_begin(&b);
    json_key(&b, "format"); json_strz(&b, "gguf");
    json_key(&b, "family"); json_strz(&b, SRV_READY() ? apr_model_arch(g.model) : "");
    json_key(&b, "families"); json_arr_begin(&b); json_strz(&b, SRV_READY() ? apr_model_arch(g.model) : ""); json_arr_end(&b);
    json_key(&b, "parameter_size"); json_strz(&b, desc);
    json_key(&b, "quantization_level"); json_strz(&b, "");
    json_obj_end(&b);
    json_obj_end(&b);
    json_arr_end(&b);
    json_obj_end(&b);
    srv_send_json(c, 200, &b);
    json_buf_free(&b);
}

static void srv_handle_tokenize(srv_conn *c, const json_value *root) {
    const char *content = NULL;
    bool add_special = false, with_pieces = false, parse_special = true;
    if (!json_is(root, JSON_OBJECT)) { srv_send_error(c, 400, NULL, "the body must be a JSON object"); return; }
    if (!json_get_string(root, "content", NULL, &content) || !content) {
        srv_send_error(c, 400, NULL, "'content' must be a string");
        return;
    }
    if (!json_get_bool(root, "add_special", false, &add_special) || !json_get_bool(root, "with_pieces", false, &with_pieces) ||
        !json_get_bool(root, "parse_special", true, &parse_special)) {
        srv_send_error(c, 400, NULL, "'add_special', 'parse_special' and 'with_pieces' must be booleans");
        return;
    }
    const json_value *cv = json_get(root, "content");
    int32_t n = 0;
    int flags = (add_special ? APR_TOKENIZE_ADD_BOS : 0) | (parse_special ? APR_TOKENIZE_PARSE_SPECIAL : 0);
    int32_t *toks = srv_tokenize(cv->str, cv->len, flags, &n);
    if (!toks) { srv_send_error(c, 500, NULL, "cannot tokenize"); return; }
    json_buf b;
    json_buf_init(&b);
    json_obj_begin(&b);
    json_key(&b, "tokens");
    json_arr_begin(&b);
    for (int32_t i = 0; i < n; i++) {
        if (with_pieces) {
            char piece[256];
            int32_t pl = apr_token_to_piece(g.vocab, toks[i], piece, (int32_t)sizeof piece, true);
            json_obj_begin(&b);
            json_key(&b, "id"); json_int(&b, toks[i]);
            json_key(&b, "piece"); json_str(&b, piece, (size_t)APR__MAX(0, APR__MIN(pl, (int32_t)sizeof piece)));
            json_obj_end(&b);
        } else {
            json_int(&b, toks[i]);
        }
    }
    json_arr_end(&b);
    json_obj_end(&b);
    free(toks);
    srv_send_json(c, 200, &b);
    json_buf_free(&b);
}

static void srv_handle_detokenize(srv_conn *c, const json_value *root) {
    const json_value *tv = json_get(root, "tokens");
    if (!json_is(root, JSON_OBJECT) || !json_is(tv, JSON_ARRAY)) {
        srv_send_error(c, 400, NULL, "'tokens' must be an array of token ids");
        return;
    }
    int32_t nv = apr_model_n_vocab(g.model);
    int32_t *toks = (int32_t *)malloc(sizeof(int32_t) * (tv->len + 1));
    if (!toks) { srv_send_error(c, 500, NULL, "out of memory"); return; }
    int32_t n = 0;
    for (const json_value *v = tv->child; v; v = v->next) {
        if (v->type != JSON_NUMBER || !v->is_int || v->integer < 0 || v->integer >= nv) {
            free(toks);
            srv_send_error(c, 400, NULL, "'tokens' must be an array of valid token ids");
            return;
        }
        toks[n++] = (int32_t)v->integer;
    }
    int64_t need = apr_detokenize(g.vocab, toks, n, NULL, 0, false);
    char *text = need >= 0 ? (char *)malloc((size_t)need + 1) : NULL;
    if (!text) { free(toks); srv_send_error(c, 500, NULL, "cannot detokenize"); return; }
    apr_detokenize(g.vocab, toks, n, text, need + 1, false);
    json_buf b;
    json_buf_init(&b);
    json_obj_begin(&b);
    json_key(&b, "content"); json_str(&b, text, (size_t)need);
    json_obj_end(&b);
    srv_send_json(c, 200, &b);
    json_buf_free(&b);
    free(text);
    free(toks);
}

/* =====================================================================================
   Routing and the connection thread
   ===================================================================================== */

typedef struct srv_route {
    const char *path;
    const char *method;
    int id;
} srv_route;

enum { R_HEALTH, R_METRICS, R_MODELS, R_CHAT, R_COMPLETIONS, R_TOKENIZE, R_DETOKENIZE, R_OLLAMA_GENERATE,
       R_OLLAMA_CHAT, R_OLLAMA_TAGS, R_OLLAMA_VERSION, R_OLLAMA_SHOW, R_OLLAMA_PS };

static const srv_route srv_routes[] = {
    {"/health", "GET", R_HEALTH},           {"/v1/health", "GET", R_HEALTH},
    {"/metrics", "GET", R_METRICS},         {"/v1/models", "GET", R_MODELS},
    {"/models", "GET", R_MODELS},           {"/v1/chat/completions", "POST", R_CHAT},
    {"/chat/completions", "POST", R_CHAT},  {"/v1/completions", "POST", R_COMPLETIONS},
    {"/completions", "POST", R_COMPLETIONS},{"/tokenize", "POST", R_TOKENIZE},
    {"/detokenize", "POST", R_DETOKENIZE},  {"/api/generate", "POST", R_OLLAMA_GENERATE},
    {"/api/chat", "POST", R_OLLAMA_CHAT},   {"/api/tags", "GET", R_OLLAMA_TAGS},
    {"/api/version", "GET", R_OLLAMA_VERSION},{"/api/show", "POST", R_OLLAMA_SHOW},
    {"/api/ps", "GET", R_OLLAMA_PS},
};

static bool srv_authorized(srv_conn *c) {
    if (!g.cfg.api_key) return true;
    bool ok = false;
    if (c->has_auth && strncmp(c->auth, "Bearer ", 7) == 0) ok = srv_secure_equal(c->auth + 7, g.cfg.api_key);
    if (c->has_api_key) ok = srv_secure_equal(c->api_key, g.cfg.api_key) || ok;
    return ok;
}

static void srv_dispatch(srv_conn *c) {
    const srv_route *route = NULL;
    bool path_known = false;
    for (size_t i = 0; i < APR__ARRAY_LEN(srv_routes); i++) {
        if (strcmp(srv_routes[i].path, c->path) != 0) continue;
        path_known = true;
        if (strcmp(srv_routes[i].method, c->method) == 0 ||
            (strcmp(c->method, "HEAD") == 0 && strcmp(srv_routes[i].method, "GET") == 0))
            route = &srv_routes[i];
    }
    if (strcmp(c->method, "OPTIONS") == 0 && g.cfg.cors && path_known) {
        srv_send_response(c, 204, NULL, NULL, 0, NULL);
        return;
    }
    if (!path_known) { srv_send_error(c, 404, NULL, "no such endpoint"); return; }
    if (!route) { srv_send_error(c, 405, NULL, "method not allowed"); return; }
    if (route->id != R_HEALTH && !srv_authorized(c)) {
        srv_send_error(c, 401, NULL, "invalid or missing API key");
        return;
    }
    if (route->id == R_HEALTH) { srv_handle_health(c); return; }
    if (route->id == R_METRICS) { srv_handle_metrics(c); return; }
    if (route->id == R_MODELS) { srv_handle_models(c); return; }
    if (route->id == R_OLLAMA_VERSION) {
        static const char v[] = "{\"version\":\"" APR_VERSION_STRING "\"}";
        srv_send_response(c, 200, "application/json; charset=utf-8", v, sizeof v - 1, NULL);
        return;
    }
    if (!SRV_READY()) { srv_send_error(c, 503, "unavailable_error", "Loading model"); return; }
    if (route->id == R_OLLAMA_TAGS) { srv_handle_tags(c); return; }
    if (route->id == R_OLLAMA_SHOW || route->id == R_OLLAMA_PS) { srv_handle_show(c, route->id == R_OLLAMA_PS); return; }
    /* the rest take a JSON body */
    json_doc doc;
    char err[160], msg[200];
    if (!json_parse(&doc, c->body.p, c->body.len, g.cfg.json_depth, err, sizeof err)) {
        snprintf(msg, sizeof msg, "invalid JSON: %s", err);
        srv_send_error(c, 400, NULL, msg);
        return;
    }
    switch (route->id) {
    case R_TOKENIZE: srv_handle_tokenize(c, doc.root); break;
    case R_DETOKENIZE: srv_handle_detokenize(c, doc.root); break;
    case R_CHAT: srv_handle_generate(c, API_CHAT, doc.root); break;
    case R_COMPLETIONS: srv_handle_generate(c, API_COMPLETION, doc.root); break;
    case R_OLLAMA_GENERATE: srv_handle_generate(c, API_OLLAMA_GENERATE, doc.root); break;
    case R_OLLAMA_CHAT: srv_handle_generate(c, API_OLLAMA_CHAT, doc.root); break;
    default: srv_send_error(c, 404, NULL, "no such endpoint");
    }
    json_doc_free(&doc);
}

static void srv_conn_thread(void *arg) {
    srv_conn_entry *ent = (srv_conn_entry *)arg;
    srv_conn c;
    memset(&c, 0, sizeof c);
    c.fd = ent->fd;
    for (;;) {
        int r = srv_read_request(&c);
        if (r != READ_OK) break;
        apr__mutex_lock(&g.mu);
        g.m.http_requests++;
        apr__mutex_unlock(&g.mu);
        if (SRV_STOPPING()) c.keep_alive = false;
        srv_dispatch(&c);
        if (g.cfg.verbose)
            fprintf(stderr, "apr-server: %s %s %.1f ms\n", c.method, c.path, (srv_now() - c.t_request) * 1e3);
        if (c.closed || !c.keep_alive) break;
    }
    /* let the client read the last response before the reset a close with unread data
       would cause */
#if !defined(_WIN32)
    shutdown(c.fd, SHUT_WR);
#endif
    srv_close_sock(c.fd);
    srv_bytes_free(&c.in);
    srv_bytes_free(&c.body);
    APR__ATOMIC_STORE(&ent->state, 2);
}

/* =====================================================================================
   Startup, accept loop, shutdown
   ===================================================================================== */

static void srv_on_signal(int sig) {
    (void)sig;
    if (SRV_STOPPING()) _exit(1); /* second Ctrl-C: leave now */
    APR__ATOMIC_STORE(&g.stop, 1);
}

static bool srv_parse_int(const char *s, long long lo, long long hi, long long *out) {
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end || errno || v < lo || v > hi) return false;
    *out = v;
    return true;
}

static bool srv_parse_double(const char *s, double lo, double hi, double *out) {
    if (!s || !*s) return false;
    char *end;
    double v = strtod(s, &end);
    if (*end || !(v >= lo && v <= hi)) return false;
    *out = v;
    return true;
}

static bool srv_arg_is(const char *a, const char *s1, const char *s2) {
    return strcmp(a, s1) == 0 || (s2 && strcmp(a, s2) == 0);
}

static int srv_parse_args(int argc, char **argv, srv_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->host = "127.0.0.1";
    cfg->port = 8080;
    cfg->n_slots = 4;
    cfg->n_batch = 512;
    cfg->n_gpu_layers = -1;
    cfg->default_max_tokens = -1;
    cfg->max_queue = 64;
    cfg->max_conns = 128;
    cfg->max_header_bytes = 16384;
    cfg->max_headers = 100;
    cfg->json_depth = 64;
    cfg->max_body = 16ll << 20;
    cfg->timeout_s = 60;
    cfg->idle_timeout_s = 30;
    cfg->shutdown_grace_s = 5;
    cfg->cache_prompt = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long long n;
        double d;
#define ARG(s1, s2) srv_arg_is(a, s1, s2)
#define NEED_INT(lo, hi, dst)                                                                      \
    do {                                                                                           \
        if (!srv_parse_int(v, lo, hi, &n)) {                                                       \
            fprintf(stderr, "apr-server: %s needs an integer in [%lld, %lld]\n", a, (long long)(lo), (long long)(hi)); \
            return 1;                                                                              \
        }                                                                                          \
        dst = n;                                                                                   \
        i++;                                                                                       \
    } while (0)
#define NEED_SEC(dst)                                                                              \
    do {                                                                                           \
        if (!srv_parse_double(v, 0.01, 1e7, &d)) {                                                 \
            fprintf(stderr, "apr-server: %s needs a number of seconds\n", a);                      \
            return 1;                                                                              \
        }                                                                                          \
        dst = d;                                                                                   \
        i++;                                                                                       \
    } while (0)
#define NEED_STR(dst)                                                                              \
    do {                                                                                           \
        if (!v) { fprintf(stderr, "apr-server: %s needs a value\n", a); return 1; }               \
        dst = v;                                                                                   \
        i++;                                                                                       \
    } while (0)
        if (ARG("-h", "--help")) { srv_usage(stdout); return 2; }
        else if (ARG("-m", "--model")) NEED_STR(cfg->model_path);
        else if (ARG("-a", "--alias")) NEED_STR(cfg->alias);
        else if (ARG("--host", NULL)) NEED_STR(cfg->host);
        else if (ARG("--port", NULL)) NEED_INT(0, 65535, cfg->port);
        else if (ARG("-c", "--ctx-size")) NEED_INT(0, 1 << 24, cfg->n_ctx);
        else if (ARG("-np", "--parallel")) NEED_INT(1, 256, cfg->n_slots);
        else if (ARG("-b", "--batch-size")) NEED_INT(1, 1 << 16, cfg->n_batch);
        else if (ARG("-t", "--threads")) NEED_INT(0, 1024, cfg->n_threads);
        else if (ARG("-ngl", "--n-gpu-layers")) NEED_INT(-1, 100000, cfg->n_gpu_layers);
        else if (ARG("--gpu-layers", NULL)) NEED_INT(-1, 100000, cfg->n_gpu_layers);
        else if (ARG("-n", "--n-predict")) NEED_INT(-1, INT32_MAX, cfg->default_max_tokens);
        else if (ARG("--max-tokens", NULL)) NEED_INT(0, INT32_MAX, cfg->max_tokens_limit);
        else if (ARG("--api-key", NULL)) NEED_STR(cfg->api_key);
        else if (ARG("--cors", NULL)) NEED_STR(cfg->cors);
        else if (ARG("--chat-template", NULL)) NEED_STR(cfg->chat_template);
        else if (ARG("--queue", NULL)) NEED_INT(0, 1 << 20, cfg->max_queue);
        else if (ARG("--max-conns", NULL)) NEED_INT(1, 1 << 16, cfg->max_conns);
        else if (ARG("--max-header-bytes", NULL)) NEED_INT(256, 1 << 24, cfg->max_header_bytes);
        else if (ARG("--max-headers", NULL)) NEED_INT(1, 1 << 16, cfg->max_headers);
        else if (ARG("--max-body", NULL)) NEED_INT(0, 1ll << 40, cfg->max_body);
        else if (ARG("--json-depth", NULL)) NEED_INT(1, JSON_MAX_DEPTH_LIMIT, cfg->json_depth);
        else if (ARG("--timeout", "-to")) NEED_SEC(cfg->timeout_s);
        else if (ARG("--idle-timeout", NULL)) NEED_SEC(cfg->idle_timeout_s);
        else if (ARG("--shutdown-grace", NULL)) NEED_SEC(cfg->shutdown_grace_s);
        else if (ARG("-v", "--verbose")) cfg->verbose = true;
        else if (ARG("--no-cache-prompt", NULL)) cfg->cache_prompt = false;
        else {
            fprintf(stderr, "apr-server: unknown option %s (see -h)\n", a);
            return 1;
        }
#undef ARG
#undef NEED_INT
#undef NEED_SEC
#undef NEED_STR
    }
    if (!cfg->model_path) {
        fprintf(stderr, "apr-server: -m MODEL is required (see -h)\n");
        return 1;
    }
    return 0;
}

static srv_sock srv_listen(const char *host, int port, int *bound_port) {
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    if (getaddrinfo(host, ps, &hints, &res) != 0 || !res) {
        fprintf(stderr, "apr-server: cannot resolve --host %s\n", host);
        return SRV_BAD_SOCK;
    }
    srv_sock s = SRV_BAD_SOCK;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        s = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (s == SRV_BAD_SOCK) continue;
        int one = 1;
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, (const char *)&one, sizeof one);
        if (bind(s, ai->ai_addr, (int)ai->ai_addrlen) == 0 && listen(s, 512) == 0) break;
        srv_close_sock(s);
        s = SRV_BAD_SOCK;
    }
    freeaddrinfo(res);
    if (s == SRV_BAD_SOCK) {
        fprintf(stderr, "apr-server: cannot listen on %s:%d: %s\n", host, port, strerror(errno));
        return s;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    *bound_port = port;
    if (getsockname(s, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) *bound_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6) *bound_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    srv_set_nonblocking(s);
    return s;
}

static void srv_join_finished(void) {
    for (int i = 0; i < g.cfg.max_conns; i++)
        if (APR__ATOMIC_LOAD(&g.conns[i].state) == 2) {
            apr__thread_join(g.conns[i].th);
            APR__ATOMIC_STORE(&g.conns[i].state, 0);
        }
}

int main(int argc, char **argv) {
    int pr = srv_parse_args(argc, argv, &g.cfg);
    if (pr) return pr == 2 ? 0 : 1;
    const char *base = strrchr(g.cfg.model_path, '/');
#if defined(_WIN32)
    const char *base2 = strrchr(g.cfg.model_path, '\\');
    if (base2 > base) base = base2;
#endif
    snprintf(g.model_name, sizeof g.model_name, "%s", g.cfg.alias ? g.cfg.alias : base ? base + 1 : g.cfg.model_path);
#if defined(_WIN32)
    WSADATA wsa;
    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) { fprintf(stderr, "apr-server: WSAStartup failed\n"); return 1; }
#else
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = srv_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
#endif
#if defined(_WIN32)
    signal(SIGINT, srv_on_signal);
    signal(SIGTERM, srv_on_signal);
#endif
    g.t_start = srv_now();
    g.t_start_epoch = (long long)time(NULL);
    apr__mutex_init(&g.mu);
    apr__cond_init(&g.work);
    g.slots = (srv_slot *)calloc((size_t)g.cfg.n_slots, sizeof(srv_slot));
    g.conns = (srv_conn_entry *)calloc((size_t)g.cfg.max_conns, sizeof(srv_conn_entry));
    if (!g.slots || !g.conns) { fprintf(stderr, "apr-server: out of memory\n"); return 1; }
    int port = 0;
    srv_sock ls = srv_listen(g.cfg.host, g.cfg.port, &port);
    if (ls == SRV_BAD_SOCK) return 1;
    fprintf(stderr, "apr-server: listening on http://%s:%d\n", g.cfg.host, port);
    fflush(stderr);
    apr__thread inf;
    if (!apr__thread_create(&inf, srv_inference_thread, NULL)) { fprintf(stderr, "apr-server: cannot start a thread\n"); return 1; }
    /* ---- accept loop ---- */
    while (!SRV_STOPPING()) {
        struct pollfd pf;
        pf.fd = ls; pf.events = POLLIN; pf.revents = 0;
        int r = srv_poll(&pf, 1, 200);
        srv_join_finished();
        if (r <= 0) continue;
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        srv_sock cs = accept(ls, (struct sockaddr *)&ss, &sl);
        if (cs == SRV_BAD_SOCK) continue;
        srv_set_nonblocking(cs);
        int one = 1;
        setsockopt(cs, IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof one);
        int slot = -1;
        for (int i = 0; i < g.cfg.max_conns; i++) if (APR__ATOMIC_LOAD(&g.conns[i].state) == 0) { slot = i; break; }
        if (slot < 0) {
            static const char body[] = "{\"error\":{\"code\":503,\"message\":\"too many connections\","
                                       "\"type\":\"unavailable_error\"}}";
            char busy[512];
            int bl = snprintf(busy, sizeof busy, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                              "Content-Length: %d\r\nConnection: close\r\n\r\n%s", (int)(sizeof body - 1), body);
            srv_ssize k = send(cs, busy, bl, SRV_MSG_NOSIGNAL);
            (void)k;
            srv_close_sock(cs);
            continue;
        }
        g.conns[slot].fd = cs;
        g.conns[slot].idx = slot;
        APR__ATOMIC_STORE(&g.conns[slot].state, 1);
        if (!apr__thread_create(&g.conns[slot].th, srv_conn_thread, &g.conns[slot])) {
            APR__ATOMIC_STORE(&g.conns[slot].state, 0);
            srv_close_sock(cs);
        }
    }
    /* ---- shutdown: stop accepting, let the inference thread finish or cancel ---- */
    srv_close_sock(ls);
    fprintf(stderr, "apr-server: shutting down\n");
    apr__thread_join(inf);
    for (int i = 0; i < g.cfg.max_conns; i++)
        if (APR__ATOMIC_LOAD(&g.conns[i].state) != 0) apr__thread_join(g.conns[i].th);
    for (int i = 0; i < g.cfg.n_slots; i++) {
        apr_sampler_free(g.slots[i].smpl);
        srv_bytes_free(&g.slots[i].gen);
        free(g.slots[i].hist);
    }
    if (g.ctx) apr_context_free(g.ctx);
    if (g.model) apr_model_free(g.model);
    free(g.slots);
    free(g.conns);
    free(g.eog);
    apr__cond_destroy(&g.work);
    apr__mutex_destroy(&g.mu);
#if defined(_WIN32)
    WSACleanup();
#endif
    return g.load_failed ? 1 : 0;
}
