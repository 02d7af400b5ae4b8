/* test_bench.c - runs ./apr-bench as a subprocess on stories260K: statistics on known
   samples, JSON / JSONL / CSV / markdown output and their fields, the PNG chart (IHDR
   size), a saved llama-bench JSON baseline, a fake Ollama and OpenAI server on 127.0.0.1
   (a thread of this program) as --baseline-url, and perplexity (finite, repeatable).
   Skipped (with a message) when ./apr-bench or the model is missing, or on Windows. */
#define APR_IMPLEMENTATION
#include "apr.h"
#include "test.h"
#include "drivers/json.h"

#include <math.h>
#if !defined(_WIN32)
#include <unistd.h>
#include <pthread.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#endif

#if defined(_WIN32)
int main(void) {
    fprintf(stderr, "test_bench: POSIX only: skipped\n");
    return test_finish();
}
#else

static const char *model_path;
static char scratch[512];

static const char *scratch_path(const char *name) {
    static char buf[4][768];
    static int which;
    char *b = buf[which++ & 3];
    snprintf(b, sizeof buf[0], "%s/%s", scratch, name);
    return b;
}

/* Run a shell command; stdout into a malloc'd string, exit status into *rc. */
static char *run_cmd(const char *cmd, int *rc) {
    FILE *f = popen(cmd, "r");
    if (!f) { *rc = -1; return NULL; }
    size_t cap = 4096, n = 0;
    char *buf = (char *)malloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 >= cap) { cap *= 2; buf = (char *)realloc(buf, cap); }
    }
    buf[n] = 0;
    int st = pclose(f);
    *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return buf;
}

static bool expect_fail;
static char *bench(const char *args, int *rc) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "./apr-bench -m %s %s 2>%s", model_path, args, scratch_path("bench.stderr"));
    char *out = run_cmd(cmd, rc);
    if (*rc != 0 && !expect_fail) {
        size_t n;
        char *e = (char *)test_read_file(scratch_path("bench.stderr"), &n);
        fprintf(stderr, "    command: %s\n    stderr: %s\n", cmd, e ? e : "");
        free(e);
    }
    return out;
}

static double jnum(const json_value *o, const char *k) {
    const json_value *v = json_get(o, k);
    return v && v->type == JSON_NUMBER ? v->number : NAN;
}

static bool close_rel(double a, double b, double rel) { return fabs(a - b) <= rel * fabs(b) + 1e-12; }

/* ---- statistics --------------------------------------------------------------------- */

static void test_stats(void) {
    TEST("stats on known samples");
    int rc;
    char *out = run_cmd("./apr-bench --selftest-stats 2 4 4 4 5 5 7 9", &rc);
    json_doc d;
    char err[128];
    bool parsed = rc == 0 && out && json_parse(&d, out, strlen(out), 8, err, sizeof err);
    CHECK(parsed, "selftest-stats JSON: %s", out ? out : "");
    if (parsed) {
        CHECK(jnum(d.root, "n") == 8, "n");
        CHECK(close_rel(jnum(d.root, "mean"), 5.0, 1e-12), "mean %g", jnum(d.root, "mean"));
        CHECK(close_rel(jnum(d.root, "stddev"), sqrt(32.0 / 7.0), 1e-9), "sample stddev %g", jnum(d.root, "stddev"));
        CHECK(close_rel(jnum(d.root, "median"), 4.5, 1e-12), "median of even count %g", jnum(d.root, "median"));
        /* t(0.975, 7) = 2.365 */
        CHECK(close_rel(jnum(d.root, "ci95"), 2.365 * sqrt(32.0 / 7.0) / sqrt(8.0), 1e-3), "ci95 %g", jnum(d.root, "ci95"));
        CHECK(close_rel(jnum(d.root, "cv"), sqrt(32.0 / 7.0) / 5.0, 1e-9), "cv %g", jnum(d.root, "cv"));
        CHECK(jnum(d.root, "min") == 2 && jnum(d.root, "max") == 9, "min/max");
        json_doc_free(&d);
    }
    free(out);
    out = run_cmd("./apr-bench --selftest-stats 10 30 20", &rc);
    if (rc == 0 && out && json_parse(&d, out, strlen(out), 8, err, sizeof err)) {
        CHECK(jnum(d.root, "median") == 20, "median of odd count (unsorted input)");
        CHECK(close_rel(jnum(d.root, "ci95"), 4.303 * 10.0 / sqrt(3.0), 1e-3), "ci95 df=2 %g", jnum(d.root, "ci95"));
        json_doc_free(&d);
    } else CHECK(0, "selftest-stats 3 samples");
    free(out);
    out = run_cmd("./apr-bench --selftest-stats 7.5", &rc);
    if (rc == 0 && out && json_parse(&d, out, strlen(out), 8, err, sizeof err)) {
        CHECK(jnum(d.root, "stddev") == 0 && jnum(d.root, "ci95") == 0 && jnum(d.root, "median") == 7.5, "one sample");
        json_doc_free(&d);
    } else CHECK(0, "selftest-stats 1 sample");
    free(out);
    /* 40 samples: beyond the t table */
    char cmd[1024] = "./apr-bench --selftest-stats";
    for (int i = 0; i < 40; i++) snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " %d", i % 2 ? 11 : 9);
    out = run_cmd(cmd, &rc);
    if (rc == 0 && out && json_parse(&d, out, strlen(out), 8, err, sizeof err)) {
        double sd = sqrt(40.0 / 39.0);
        CHECK(close_rel(jnum(d.root, "ci95"), 2.0227 * sd / sqrt(40.0), 2e-3), "ci95 df=39 %g", jnum(d.root, "ci95"));
        json_doc_free(&d);
    } else CHECK(0, "selftest-stats 40 samples");
    free(out);
}

/* ---- output formats ----------------------------------------------------------------- */

static void check_result_fields(const json_value *e, const char *what) {
    static const char *fields[] = {"build_commit", "cpu_info", "backends", "model_filename", "model_type",
                                   "model_size", "model_n_params", "n_batch", "n_threads", "n_gpu_layers",
                                   "n_prompt", "n_gen", "n_depth", "test_time", "avg_ns", "stddev_ns", "avg_ts",
                                   "stddev_ts", "samples_ns", "samples_ts", "median_ts", "ci95_ts", "cv",
                                   "peak_rss_bytes", "engine", "test"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        CHECK(json_get(e, fields[i]) != NULL, "%s: field %s present", what, fields[i]);
    CHECK(jnum(e, "model_size") > 1e6 && jnum(e, "model_n_params") > 2e5, "%s: model size and params", what);
    const json_value *s = json_get(e, "samples_ts");
    const json_value *sn = json_get(e, "samples_ns");
    CHECK(json_is(s, JSON_ARRAY) && s->len == 2 && json_is(sn, JSON_ARRAY) && sn->len == 2, "%s: 2 samples", what);
    if (json_is(s, JSON_ARRAY) && s->len == 2 && json_is(sn, JSON_ARRAY) && sn->len == 2) {
        double a = json_at(s, 0)->number, b = json_at(s, 1)->number;
        CHECK(close_rel(jnum(e, "avg_ts"), (a + b) / 2, 1e-9), "%s: avg_ts is the mean of samples_ts", what);
        CHECK(close_rel(jnum(e, "stddev_ts"), fabs(a - b) / sqrt(2.0), 1e-6), "%s: stddev_ts", what);
        CHECK(close_rel(jnum(e, "median_ts"), (a + b) / 2, 1e-9), "%s: median of 2", what);
        double ns = json_at(sn, 0)->number, tokens = jnum(e, "n_prompt") + jnum(e, "n_gen");
        CHECK(close_rel(a, tokens * 1e9 / ns, 1e-5), "%s: samples_ts = tokens / samples_ns", what);
    }
    CHECK(jnum(e, "avg_ts") > 0 && jnum(e, "peak_rss_bytes") > 1e6, "%s: positive t/s and RSS", what);
}

static void test_json(void) {
    TEST("json output");
    int rc;
    char *out = bench("-p 16 -n 8 -pg 8,4 -d 0,16 -r 2 -t 1 --peak-gbps 10 -o json", &rc);
    CHECK(rc == 0, "apr-bench -o json exits 0");
    json_doc d;
    char err[128];
    bool ok = out && json_parse(&d, out, strlen(out), 16, err, sizeof err);
    CHECK(ok, "-o json parses: %s", ok ? "" : err);
    if (ok) {
        CHECK(json_is(d.root, JSON_ARRAY) && d.root->len == 6, "6 results (3 tests x 2 depths), got %zu", d.root->len);
        static const char *names[6] = {"pp16", "pp16 @ d16", "tg8", "tg8 @ d16", "pp8+tg4", "pp8+tg4 @ d16"};
        int i = 0;
        for (const json_value *e = json_first(d.root); e && i < 6; e = e->next, i++) {
            const char *t = "";
            json_get_string(e, "test", "", &t);
            CHECK(strcmp(t, names[i]) == 0, "test %d named %s, got %s", i, names[i], t);
            check_result_fields(e, names[i]);
            CHECK(jnum(e, "n_threads") == 1, "n_threads 1");
            CHECK(jnum(e, "n_depth") == (i % 2 ? 16 : 0), "n_depth of %s", names[i]);
            bool decode = jnum(e, "n_prompt") == 0;
            if (decode) {
                double bpt = jnum(e, "bytes_per_token"), gbps = jnum(e, "gbps");
                /* stories260K: 1.17 MB of F32 weights, minus the embedding table, plus KV */
                CHECK(bpt > 0.5e6 && bpt < 1.5e6, "%s: bytes per token %g", names[i], bpt);
                CHECK(close_rel(gbps, bpt * jnum(e, "median_ts") * 1e-9, 1e-9), "%s: GB/s = bytes x median t/s", names[i]);
                CHECK(close_rel(jnum(e, "roofline_pct"), 100 * gbps / 10, 1e-9), "%s: roofline against --peak-gbps 10", names[i]);
                CHECK(jnum(e, "peak_gbps") == 10, "peak_gbps given");
            } else {
                CHECK(json_is(json_get(e, "bytes_per_token"), JSON_NULL), "%s: no bytes/token for prompts", names[i]);
            }
        }
        /* deeper cache, more KV bytes per token */
        const json_value *tg0 = json_at(d.root, 2), *tg16 = json_at(d.root, 3);
        if (tg0 && tg16) CHECK(jnum(tg16, "bytes_per_token") > jnum(tg0, "bytes_per_token"), "KV bytes grow with depth");
        json_doc_free(&d);
    }
    free(out);

    TEST("jsonl output");
    out = bench("-p 8 -n 4 -r 2 -t 1 --peak-gbps 10 -o jsonl", &rc);
    CHECK(rc == 0, "-o jsonl exits 0");
    int lines = 0;
    for (char *line = out, *nl; out && *line; line = nl + 1) {
        nl = strchr(line, '\n');
        if (!nl) break;
        if (json_parse(&d, line, (size_t)(nl - line), 16, err, sizeof err)) {
            lines++;
            check_result_fields(d.root, "jsonl");
            json_doc_free(&d);
        } else CHECK(0, "jsonl line parses: %s", err);
    }
    CHECK(lines == 2, "2 jsonl lines, got %d", lines);
    free(out);
}

/* Split one CSV line (RFC 4180 quoting) into fields; returns the count. */
static int csv_split(const char *line, char fields[][256], int max) {
    int n = 0;
    const char *p = line;
    while (n < max) {
        int k = 0;
        if (*p == '"') {
            p++;
            while (*p && !(*p == '"' && p[1] != '"')) {
                if (*p == '"') p++;
                if (k < 255) fields[n][k++] = *p;
                p++;
            }
            if (*p == '"') p++;
        } else {
            while (*p && *p != ',' && *p != '\n' && *p != '\r') { if (k < 255) fields[n][k++] = *p; p++; }
        }
        fields[n++][k] = 0;
        if (*p != ',') break;
        p++;
    }
    return n;
}

static void test_csv_md(void) {
    TEST("csv output");
    int rc;
    char *out = bench("-p 8 -n 4 -r 2 -t 1 --peak-gbps 10 -o csv", &rc);
    CHECK(rc == 0, "-o csv exits 0");
    static char head[64][256], row[64][256];
    char *l2 = out ? strchr(out, '\n') : NULL;
    CHECK(l2 != NULL, "csv has a header line");
    if (l2) {
        int nh = csv_split(out, head, 64);
        int rows = 0;
        for (char *line = l2 + 1; *line; ) {
            char *nl = strchr(line, '\n');
            int nr = csv_split(line, row, 64);
            CHECK(nr == nh, "row has %d fields like the header, got %d", nh, nr);
            int i_ts = -1, i_np = -1, i_file = -1, i_test = -1;
            for (int i = 0; i < nh; i++) {
                if (!strcmp(head[i], "avg_ts")) i_ts = i;
                if (!strcmp(head[i], "n_prompt")) i_np = i;
                if (!strcmp(head[i], "model_filename")) i_file = i;
                if (!strcmp(head[i], "test")) i_test = i;
            }
            CHECK(i_ts >= 0 && i_np >= 0 && i_file >= 0 && i_test >= 0, "llama-bench columns present");
            if (i_ts >= 0 && i_np >= 0 && i_file >= 0 && i_test >= 0 && nr == nh) {
                CHECK(atof(row[i_ts]) > 0, "avg_ts > 0");
                CHECK(strstr(row[i_file], "stories260K.gguf") != NULL, "model_filename %s", row[i_file]);
                CHECK(strcmp(row[i_test], rows == 0 ? "pp8" : "tg4") == 0, "test column %s", row[i_test]);
                CHECK(atoi(row[i_np]) == (rows == 0 ? 8 : 0), "n_prompt column");
            }
            rows++;
            if (!nl) break;
            line = nl + 1;
        }
        CHECK(rows == 2, "2 csv rows, got %d", rows);
    }
    free(out);

    TEST("markdown output");
    out = bench("-p 8 -n 4 -r 2 -t 1", &rc);
    CHECK(rc == 0, "-o md exits 0");
    CHECK(out && strstr(out, "| model | size | params | backend | threads | test | t/s |"), "llama-bench columns:\n%s", out ? out : "");
    CHECK(out && strstr(out, "| pp8 |") && strstr(out, "| tg4 |"), "test names in the table");
    CHECK(out && strstr(out, " ± ") && strstr(out, "roofline") && strstr(out, "(measured read)"), "mean ± sd, measured roofline");
    free(out);
}

/* ---- chart -------------------------------------------------------------------------- */

static uint32_t be32(const unsigned char *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static void test_chart_and_baseline_file(void) {
    TEST("chart and llama-bench baseline file");
    int rc;
    char args[1024];
    const char *png = scratch_path("bench_chart.png");
    remove(png);
    snprintf(args, sizeof args, "-p 64 -n 32 -r 2 -t 2 --peak-gbps 10 -o json --baseline tests/fixtures/llama-bench-sample.json --chart %s --chart-size 640x360", png);
    char *out = bench(args, &rc);
    CHECK(rc == 0, "apr-bench with --baseline and --chart exits 0");
    json_doc d;
    char err[128];
    if (out && json_parse(&d, out, strlen(out), 16, err, sizeof err)) {
        const json_value *pp = json_at(d.root, 0), *tg = json_at(d.root, 1);
        CHECK(pp && jnum(pp, "baseline_avg_ts") == 41.2, "pp64 matched to the 2-thread row (41.2)");
        CHECK(tg && jnum(tg, "baseline_avg_ts") == 10.6, "tg32 matched (10.6)");
        if (pp) CHECK(close_rel(jnum(pp, "ratio"), jnum(pp, "avg_ts") / 41.2, 1e-9), "ratio = apr / baseline");
        json_doc_free(&d);
    } else CHECK(0, "json with baseline parses");
    free(out);
    size_t n;
    unsigned char *p = (unsigned char *)test_read_file(png, &n);
    CHECK(p && n > 33, "chart written (%zu bytes)", n);
    if (p && n > 33) {
        CHECK(memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0, "PNG signature");
        CHECK(be32(p + 8) == 13 && memcmp(p + 12, "IHDR", 4) == 0, "IHDR first");
        CHECK(be32(p + 16) == 640 && be32(p + 20) == 360, "640x360, got %ux%u", be32(p + 16), be32(p + 20));
        CHECK(p[24] == 8 && p[25] == 2, "8-bit RGB");
        CHECK(memcmp(p + n - 8, "IEND", 4) == 0, "IEND last");
    }
    free(p);

    /* markdown side by side: at 1 thread the 1-thread row of the file is used */
    out = bench("-p 64 -n 0 -r 2 -t 1 --baseline tests/fixtures/llama-bench-sample.json", &rc);
    CHECK(rc == 0 && out && strstr(out, "| 22.32 ± 0.32 |") && strstr(out, "x |"), "1-thread baseline row in md:\n%s", out ? out : "");
    free(out);
    expect_fail = true;
    out = bench("-p 64 -n 0 -r 1 --baseline /nonexistent.json", &rc);
    expect_fail = false;
    CHECK(rc != 0, "missing baseline file is an error");
    free(out);
}

/* ---- fake Ollama / OpenAI server ---------------------------------------------------- */

typedef struct fake_server {
    int fd, port;
    volatile int stop;
    int requests;
    int bad_requests;
    int last_num_predict;
    pthread_t th;
} fake_server;

static void send_all(int fd, const char *s, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

static void serve_one(fake_server *fs, int c) {
    char buf[65536];
    size_t n = 0;
    char *body = NULL;
    size_t clen = 0;
    for (;;) {
        ssize_t r = recv(c, buf + n, sizeof buf - 1 - n, 0);
        if (r <= 0) return;
        n += (size_t)r;
        buf[n] = 0;
        char *he = strstr(buf, "\r\n\r\n");
        if (he) {
            char *cl = strstr(buf, "Content-Length:");
            clen = cl ? (size_t)atol(cl + 15) : 0;
            body = he + 4;
            if ((size_t)(buf + n - body) >= clen) break;
        }
        if (n >= sizeof buf - 1) return;
    }
    body[clen] = 0;
    fs->requests++;
    json_doc d;
    char err[128];
    if (!json_parse(&d, body, clen, 16, err, sizeof err)) { fs->bad_requests++; return; }
    const char *model = NULL, *prompt = NULL;
    json_get_string(d.root, "model", NULL, &model);
    json_get_string(d.root, "prompt", NULL, &prompt);
    if (!model || !prompt || !*prompt) fs->bad_requests++;
    if (strncmp(buf, "POST /api/generate ", 19) == 0) {
        int64_t np = 0;
        json_get_int(json_get(d.root, "options"), "num_predict", 0, &np);
        fs->last_num_predict = (int)np;
        /* 40 t/s generation, 200 t/s prompt, exactly */
        char reply[512], out[1024];
        int pc = 16;
        snprintf(reply, sizeof reply,
                 "{\"model\":\"%s\",\"response\":\"x\",\"done\":true,\"prompt_eval_count\":%d,"
                 "\"prompt_eval_duration\":%lld,\"eval_count\":%lld,\"eval_duration\":%lld}",
                 model ? model : "", pc, (long long)pc * 5000000LL, (long long)np, (long long)np * 25000000LL);
        int k = snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                         strlen(reply), reply);
        send_all(c, out, (size_t)k);
    } else if (strncmp(buf, "POST /v1/completions ", 21) == 0) {
        int64_t mt = 0;
        json_get_int(d.root, "max_tokens", 0, &mt);
        fs->last_num_predict = (int)mt;
        const char *h = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
        send_all(c, h, strlen(h));
        for (int i = 0; i < mt; i++) {
            usleep(10000);  /* one token every 10 ms: <= 100 t/s */
            char ev[256], ch[300];
            int k = snprintf(ev, sizeof ev, "data: {\"choices\":[{\"text\":\"t%d\",\"index\":0}]}\n\n", i);
            int m = snprintf(ch, sizeof ch, "%x\r\n%s\r\n", k, ev);
            send_all(c, ch, (size_t)m);
        }
        char ev[256], ch[300];
        /* llama-server adds its own timings to the last chunk */
        bool timings = model && strcmp(model, "with-timings") == 0;
        int k = snprintf(ev, sizeof ev, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":%d}%s}\n\ndata: [DONE]\n\n",
                         (int)mt, timings ? ",\"timings\":{\"prompt_per_second\":123.5,\"predicted_per_second\":77.25}" : "");
        int m = snprintf(ch, sizeof ch, "%x\r\n%s\r\n0\r\n\r\n", k, ev);
        send_all(c, ch, (size_t)m);
    } else {
        fs->bad_requests++;
        const char *r = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        send_all(c, r, strlen(r));
    }
    json_doc_free(&d);
}

static void *fake_server_main(void *arg) {
    fake_server *fs = (fake_server *)arg;
    while (!fs->stop) {
        struct pollfd p;
        p.fd = fs->fd;
        p.events = POLLIN;
        if (poll(&p, 1, 100) <= 0) continue;
        int c = accept(fs->fd, NULL, NULL);
        if (c < 0) continue;
        serve_one(fs, c);
        close(c);
    }
    return NULL;
}

static bool fake_server_start(fake_server *fs) {
    memset(fs, 0, sizeof *fs);
    fs->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fs->fd < 0) return false;
    int one = 1;
    setsockopt(fs->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t al = sizeof a;
    if (bind(fs->fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fs->fd, 8) != 0 ||
        getsockname(fs->fd, (struct sockaddr *)&a, &al) != 0) { close(fs->fd); return false; }
    fs->port = ntohs(a.sin_port);
    return pthread_create(&fs->th, NULL, fake_server_main, fs) == 0;
}

static void fake_server_stop(fake_server *fs) {
    fs->stop = 1;
    pthread_join(fs->th, NULL);
    close(fs->fd);
}

static void test_baseline_url(void) {
    TEST("baseline server (fake Ollama and OpenAI on 127.0.0.1)");
    fake_server fs;
    if (!fake_server_start(&fs)) { CHECK(0, "fake server starts"); return; }
    int rc;
    char args[512];
    snprintf(args, sizeof args, "-p 16 -n 8 -r 2 -t 1 --peak-gbps 10 -o json --baseline-url http://127.0.0.1:%d/api/generate --baseline-model fake", fs.port);
    char *out = bench(args, &rc);
    CHECK(rc == 0, "apr-bench --baseline-url (Ollama) exits 0");
    json_doc d;
    char err[128];
    if (out && json_parse(&d, out, strlen(out), 16, err, sizeof err)) {
        const json_value *pp = json_at(d.root, 0), *tg = json_at(d.root, 1);
        CHECK(pp && close_rel(jnum(pp, "baseline_avg_ts"), 200.0, 1e-9), "prompt t/s from prompt_eval_*: %g", pp ? jnum(pp, "baseline_avg_ts") : 0);
        CHECK(tg && close_rel(jnum(tg, "baseline_avg_ts"), 40.0, 1e-9), "generation t/s from eval_*: %g", tg ? jnum(tg, "baseline_avg_ts") : 0);
        if (tg) CHECK(close_rel(jnum(tg, "ratio"), jnum(tg, "avg_ts") / 40.0, 1e-9), "ratio");
        json_doc_free(&d);
    } else CHECK(0, "json parses");
    free(out);
    CHECK(fs.requests == 6 && fs.bad_requests == 0, "1 warm-up + 2 runs per test, well formed: %d requests, %d bad", fs.requests, fs.bad_requests);
    CHECK(fs.last_num_predict == 8, "num_predict = n_gen (%d)", fs.last_num_predict);

    fs.requests = 0;
    snprintf(args, sizeof args, "-p 0 -n 12 -r 2 -t 1 --peak-gbps 10 --baseline-url http://127.0.0.1:%d/v1/completions --chart %s --chart-size 320x200",
             fs.port, scratch_path("bench_chart_small.png"));
    out = bench(args, &rc);
    CHECK(rc == 0, "apr-bench --baseline-url (OpenAI) exits 0");
    /* the md table holds "| base ± sd | ratio |": find the baseline figure */
    double base = 0;
    const char *row = out ? strstr(out, "| tg12 |") : NULL;
    if (row) {
        /* columns after the test: t/s, median, CI, CV, GB/s, roof, baseline */
        const char *p = row + 8;
        for (int bars = 0; *p && bars < 6; p++) if (*p == '|') bars++;
        base = atof(p);
    }
    CHECK(base > 5 && base <= 101, "client-side t/s of a 10 ms/token stream: %g\n%s", base, out ? out : "");
    CHECK(fs.last_num_predict == 12 && fs.bad_requests == 0, "max_tokens = n_gen");
    free(out);
    snprintf(args, sizeof args, "-p 8 -n 3 -r 1 -t 1 --peak-gbps 10 -o json --baseline-url http://127.0.0.1:%d/v1/completions --baseline-model with-timings", fs.port);
    out = bench(args, &rc);
    json_doc d2;
    if (rc == 0 && out && json_parse(&d2, out, strlen(out), 16, err, sizeof err)) {
        CHECK(jnum(json_at(d2.root, 0), "baseline_avg_ts") == 123.5 && jnum(json_at(d2.root, 1), "baseline_avg_ts") == 77.25,
              "llama-server's timings used when present");
        json_doc_free(&d2);
    } else CHECK(0, "OpenAI with timings: json parses");
    free(out);
    fake_server_stop(&fs);
    expect_fail = true;
    out = bench("-p 0 -n 4 -r 1 --baseline-url http://127.0.0.1:1/api/generate", &rc);
    expect_fail = false;
    CHECK(rc != 0, "unreachable server is an error");
    free(out);
}

/* ---- perplexity ----------------------------------------------------------------------- */

static void test_perplexity(void) {
    TEST("perplexity");
    const char *txt = scratch_path("bench_ppl.txt");
    FILE *f = fopen(txt, "w");
    if (!f) { CHECK(0, "write %s", txt); return; }
    for (int i = 0; i < 6; i++)
        fprintf(f, "Once upon a time, there was a little girl named Lily. She loved to play outside in the sun. "
                   "One day, she saw a big red ball in the park. She ran to the ball and kicked it. "
                   "Her friend Tom came to play with her. They were very happy and played all day.\n");
    fclose(f);
    char args[1024];
    snprintf(args, sizeof args, "--perplexity -f %s -c 64 -t 1 -o json", txt);
    double ppl[2] = {0, 0}, perr = 0, chunks = 0;
    for (int run = 0; run < 2; run++) {
        int rc;
        char *out = bench(args, &rc);
        CHECK(rc == 0, "perplexity run %d exits 0", run);
        json_doc d;
        char err[128];
        if (out && json_parse(&d, out, strlen(out), 8, err, sizeof err)) {
            ppl[run] = jnum(d.root, "perplexity");
            perr = jnum(d.root, "perplexity_error");
            chunks = jnum(d.root, "n_chunks");
            CHECK(jnum(d.root, "n_scored") == chunks * 31, "31 scored tokens per chunk of 64");
            json_doc_free(&d);
        } else CHECK(0, "perplexity json parses: %s", out ? out : "");
        free(out);
    }
    CHECK(isfinite(ppl[0]) && ppl[0] > 1 && ppl[0] < 512, "perplexity finite and below the vocabulary size: %g", ppl[0]);
    CHECK(ppl[0] == ppl[1], "repeatable: %.17g vs %.17g", ppl[0], ppl[1]);
    CHECK(isfinite(perr) && perr > 0 && perr < ppl[0], "error estimate %g", perr);
    CHECK(chunks >= 3, "several chunks (%g)", chunks);
    /* a story the model was trained on must score far better than uniform (512) */
    CHECK(ppl[0] < 100, "TinyStories text is predictable for stories260K: %g", ppl[0]);
    int rc;
    snprintf(args, sizeof args, "--perplexity -f %s -c 64 -t 2 --chunks 2", txt);
    char *out = bench(args, &rc);
    CHECK(rc == 0 && out && strstr(out, "[1]") && strstr(out, "[2]") && !strstr(out, "[3]") && strstr(out, "Final estimate: PPL = "),
          "md: running estimates and the final value:\n%s", out ? out : "");
    double p2 = 0;
    if (out && strstr(out, "PPL = ")) p2 = atof(strstr(out, "PPL = ") + 6);
    CHECK(p2 > 1 && p2 < 100, "2 chunks at 2 threads: %g", p2);
    free(out);
    snprintf(args, sizeof args, "--perplexity -f %s -c 100000", txt);
    expect_fail = true;
    out = bench(args, &rc);
    expect_fail = false;
    CHECK(rc != 0, "text shorter than one chunk is an error");
    free(out);
}

static void test_from(void) {
    TEST("--from: results re-read from a file");
    int rc;
    char *out = bench("-p 8 -n 4 -r 3 -t 1 --peak-gbps 10 -o json", &rc);
    const char *saved = scratch_path("bench_saved.json");
    FILE *f = fopen(saved, "w");
    if (f && out) fputs(out, f);
    if (f) fclose(f);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "./apr-bench --from %s -o json", saved);
    char *again = run_cmd(cmd, &rc);
    json_doc a, b;
    char err[128];
    bool ok = out && again && json_parse(&a, out, strlen(out), 16, err, sizeof err);
    if (ok && json_parse(&b, again, strlen(again), 16, err, sizeof err)) {
        CHECK(a.root->len == 2 && b.root->len == 2, "2 results");
        for (size_t i = 0; i < 2 && i < b.root->len; i++) {
            const json_value *x = json_at(a.root, i), *y = json_at(b.root, i);
            CHECK(jnum(x, "avg_ts") == jnum(y, "avg_ts") && jnum(x, "median_ts") == jnum(y, "median_ts") &&
                  close_rel(jnum(y, "ci95_ts"), jnum(x, "ci95_ts"), 1e-12) && jnum(x, "n_gen") == jnum(y, "n_gen"),
                  "result %zu identical after the round trip", i);
        }
        json_doc_free(&b);
    } else CHECK(0, "--from output parses");
    if (ok) json_doc_free(&a);
    free(out);
    free(again);
    /* a llama-bench file beside itself: ratio 1, engine kept */
    again = run_cmd("./apr-bench --from tests/fixtures/llama-bench-sample.json --baseline tests/fixtures/llama-bench-sample.json -o json", &rc);
    if (again && json_parse(&b, again, strlen(again), 16, err, sizeof err)) {
        const json_value *x = json_at(b.root, 0);
        const char *eng = "";
        json_get_string(x, "engine", "", &eng);
        CHECK(b.root->len == 3 && close_rel(jnum(x, "ratio"), 1.0, 1e-9) && !strcmp(eng, "llama.cpp"), "llama-bench file: ratio 1 to itself");
        CHECK(close_rel(jnum(x, "avg_ts"), 41.2, 0.01), "samples give back llama-bench's mean: %g", jnum(x, "avg_ts"));
        json_doc_free(&b);
    } else CHECK(0, "--from llama-bench file parses");
    free(again);
}

static void test_errors(void) {
    TEST("errors");
    int rc;
    char *out = run_cmd("./apr-bench -m /nonexistent.gguf -r 1 2>/dev/null", &rc);
    CHECK(rc == 1, "missing model: exit 1, got %d", rc);
    free(out);
    out = run_cmd("./apr-bench --bogus 2>/dev/null", &rc);
    CHECK(rc == 2, "unknown flag: exit 2, got %d", rc);
    free(out);
    out = run_cmd("./apr-bench -m x.gguf -p 1,a 2>/dev/null", &rc);
    CHECK(rc == 2, "bad list: exit 2, got %d", rc);
    free(out);
    out = run_cmd("./apr-bench -h", &rc);
    CHECK(rc == 0 && out && strstr(out, "--baseline-url"), "-h lists the options");
    free(out);
}

int main(void) {
    if (access("./apr-bench", X_OK) != 0) {
        fprintf(stderr, "test_bench: ./apr-bench not built (make apr-bench): skipped\n");
        return test_finish();
    }
    model_path = test_shared("data/models/stories260K.gguf");
    if (access(model_path, R_OK) != 0) {
        fprintf(stderr, "test_bench: %s missing: skipped\n", model_path);
        return test_finish();
    }
    const char *bin = getenv("APR_TEST_BIN");
    snprintf(scratch, sizeof scratch, "%s", bin && *bin ? bin : "tests/bin");
    test_stats();
    test_errors();
    test_json();
    test_csv_md();
    test_chart_and_baseline_file();
    test_from();
    test_baseline_url();
    test_perplexity();
    return test_finish();
}
#endif
