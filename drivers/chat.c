/* apr-chat - chat with a GGUF model; one-shot generation; tokenizer and GGUF inspection;
   model download from Hugging Face.
   Build:  cc -O2 -o apr-chat drivers/chat.c -lm -lpthread -ldl
   MinGW:  x86_64-w64-mingw32-gcc -O2 -o apr-chat.exe drivers/chat.c

   apr-chat -m model.gguf                     interactive chat with the model's template
   apr-chat -m model.gguf -p "Once upon"      one-shot: only the generated text on stdout
   apr-chat -hf Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF:Q4_K_M      download (cached), chat
   apr-chat -m model.gguf --tokenize -p TEXT  token ids
   apr-chat -m model.gguf --inspect           metadata, tensors, model summary
   Flags follow llama.cpp's llama-cli; -h lists them. Logs and timings go to stderr. */
#define APR_IMPLEMENTATION
#include "../apr.h"
#include "json.h"
#include <signal.h>
#include <ctype.h>
#if defined(_WIN32)
#include <io.h>
#include <direct.h>
#include <sys/stat.h>
#define popen _popen
#define pclose _pclose
#define isatty _isatty
#define fileno _fileno
#else
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#define PROG "apr-chat"
#define MAX_STOP 16

/* ---- errors and logs ------------------------------------------------------------------ */

static int die(const char *fmt, ...) APR__PRINTF(1, 2);
static int die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs(PROG ": error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
    return 1;
}

static int g_verbose;

static void log_cb(void *user, apr_log_level level, const char *msg) {
    static const char *const names[] = {"error", "warning", "info", "debug"};
    (void)user;
    /* errors come back with the failing call's result, which the driver prints once */
    if ((int)level > APR_LOG_WARN + g_verbose || (level == APR_LOG_ERROR && !g_verbose)) return;
    fprintf(stderr, "apr: %s: %s\n", names[level <= APR_LOG_DEBUG ? level : APR_LOG_DEBUG], msg);
}

/* "FILE: message" unless the message names the file already */
static int die_file(const char *path, const char *msg) {
    if (strstr(msg, path)) return die("%s", msg);
    return die("%s: %s", path, msg);
}

/* ---- options --------------------------------------------------------------------------- */

typedef struct options {
    const char *model, *prompt, *file, *system, *tmpl, *hf;
    int n_predict, n_ctx, n_batch, n_threads, ngl;
    int kv_type;
    bool seed_set;
    apr_sampler_params sp;
    const char *stop[MAX_STOP];
    int n_stop;
    bool tokenize, inspect, no_parse_special, cnv, no_cnv, single_turn;
} options;

static void usage(void) {
    printf(
        "usage: " PROG " [options]\n"
        "\n"
        "  -m, --model FILE          GGUF model file\n"
        "  -hf, --hf-repo USER/REPO[:QUANT]\n"
        "                            download the GGUF (default quant Q4_K_M) from Hugging Face\n"
        "                            into $APR_CACHE (default ~/.cache/apr); $HF_ENDPOINT sets the host\n"
        "  -p, --prompt TEXT         one-shot: generate from TEXT (no chat template unless -cnv)\n"
        "  -f, --file FILE           read the prompt from FILE\n"
        "  -sys, --system-prompt T   system message for chat\n"
        "  -cnv, --conversation      use the chat template (-p becomes the first user message)\n"
        "  -no-cnv                   never use the chat template\n"
        "  -st, --single-turn        with -cnv -p: answer once and exit\n"
        "  --chat-template NAME      override the model's template (chatml, qwen2, llama3, ...)\n"
        "  -n, --n-predict N         tokens to generate (-1: until end or context full)\n"
        "  -c, --ctx-size N          context size (0: min(model's, 4096))\n"
        "  -b, --batch-size N        prompt tokens per forward pass\n"
        "  -t, --threads N           CPU threads (0: all cores)\n"
        "  -ngl, --n-gpu-layers N    layers on the GPU (0: CPU only; default: all if a GPU is usable)\n"
        "  -ctk, --cache-type-k T    KV cache type: f16 (default), q8_0, f32\n"
        "  -s, --seed N              random seed (-1: random)\n"
        "  --temp T                  temperature (0: greedy) [0.8]\n"
        "  --top-k N                 top-k sampling (0: off) [40]\n"
        "  --top-p P                 top-p sampling (1: off) [0.95]\n"
        "  --min-p P                 min-p sampling (0: off) [0.05]\n"
        "  --repeat-penalty F        repetition penalty (1: off) [1.0]\n"
        "  --repeat-last-n N         tokens the penalties look at (-1: context) [64]\n"
        "  --frequency-penalty F     [0]\n"
        "  --presence-penalty F      [0]\n"
        "  -r, --reverse-prompt TEXT stop string (repeatable)\n"
        "  --tokenize                print the token ids of the -p/-f text and exit\n"
        "  --no-parse-special        with --tokenize: do not recognise special tokens\n"
        "  --inspect                 print GGUF metadata, tensors and the model summary\n"
        "  -v, --verbose             more log output (repeat for debug)\n"
        "  -h, --help                this help\n"
        "\n"
        "chat commands: /clear (new conversation), /exit, /help. A line ending in '\\' continues;\n"
        "\"\"\" starts and ends a multi-line block. Ctrl-C stops the answer; twice, or EOF, exits.\n");
}

static long parse_int(const char *flag, const char *v, long lo, long hi) {
    char *end = NULL;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!*v || *end || errno || x < lo || x > hi)
        die("invalid value '%s' for %s (an integer in [%ld, %ld])", v, flag, lo, hi);
    return x;
}

static float parse_float(const char *flag, const char *v, float lo, float hi) {
    char *end = NULL;
    errno = 0;
    double x = strtod(v, &end);
    if (!*v || *end || errno || !(x >= lo && x <= hi))
        die("invalid value '%s' for %s (a number in [%g, %g])", v, flag, (double)lo, (double)hi);
    return (float)x;
}

static void parse_args(int argc, char **argv, options *o) {
    memset(o, 0, sizeof *o);
    o->n_predict = -1;
    o->ngl = -1;
    o->sp = apr_sampler_default_params();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
#define IS(s) (strcmp(a, (s)) == 0)
#define VAL() (i + 1 < argc ? argv[++i] : (die("option %s needs a value", a), ""))
        if (IS("-h") || IS("--help")) { usage(); exit(0); }
        else if (IS("-m") || IS("--model")) o->model = VAL();
        else if (IS("-hf") || IS("-hfr") || IS("--hf-repo")) o->hf = VAL();
        else if (IS("-p") || IS("--prompt")) o->prompt = VAL();
        else if (IS("-f") || IS("--file")) o->file = VAL();
        else if (IS("-sys") || IS("--system-prompt")) o->system = VAL();
        else if (IS("--chat-template")) o->tmpl = VAL();
        else if (IS("-cnv") || IS("--conversation")) o->cnv = true;
        else if (IS("-no-cnv") || IS("--no-conversation")) o->no_cnv = true;
        else if (IS("-st") || IS("--single-turn")) o->single_turn = true;
        else if (IS("-n") || IS("--n-predict")) o->n_predict = (int)parse_int(a, VAL(), -1, INT32_MAX);
        else if (IS("-c") || IS("--ctx-size")) o->n_ctx = (int)parse_int(a, VAL(), 0, INT32_MAX);
        else if (IS("-b") || IS("--batch-size")) o->n_batch = (int)parse_int(a, VAL(), 0, 1 << 20);
        else if (IS("-t") || IS("--threads")) o->n_threads = (int)parse_int(a, VAL(), -1, 4096);
        else if (IS("-ngl") || IS("--n-gpu-layers") || IS("--gpu-layers"))
            o->ngl = (int)parse_int(a, VAL(), -1, 100000);
        else if (IS("-ctk") || IS("--cache-type-k")) {
            const char *v = VAL();
            if (!strcmp(v, "f16")) o->kv_type = APR_KV_F16;
            else if (!strcmp(v, "q8_0")) o->kv_type = APR_KV_Q8_0;
            else if (!strcmp(v, "f32")) o->kv_type = APR_KV_F32;
            else die("invalid value '%s' for %s (f16, q8_0 or f32)", v, a);
        } else if (IS("-s") || IS("--seed")) {
            const char *v = VAL();
            char *end = NULL;
            errno = 0;
            long long x = strtoll(v, &end, 10);
            if (!*v || *end || errno) die("invalid value '%s' for %s", v, a);
            o->seed_set = x >= 0;
            o->sp.seed = (uint64_t)x;
        } else if (IS("--temp") || IS("--temperature")) o->sp.temperature = parse_float(a, VAL(), -1e9f, 1e9f);
        else if (IS("--top-k")) o->sp.top_k = (int32_t)parse_int(a, VAL(), -1, INT32_MAX);
        else if (IS("--top-p")) o->sp.top_p = parse_float(a, VAL(), 0.0f, 1.0f);
        else if (IS("--min-p")) o->sp.min_p = parse_float(a, VAL(), 0.0f, 1.0f);
        else if (IS("--repeat-penalty")) o->sp.repeat_penalty = parse_float(a, VAL(), 0.0f, 1e9f);
        else if (IS("--repeat-last-n")) o->sp.repeat_last_n = (int32_t)parse_int(a, VAL(), -1, INT32_MAX);
        else if (IS("--frequency-penalty")) o->sp.frequency_penalty = parse_float(a, VAL(), -1e9f, 1e9f);
        else if (IS("--presence-penalty")) o->sp.presence_penalty = parse_float(a, VAL(), -1e9f, 1e9f);
        else if (IS("-r") || IS("--reverse-prompt")) {
            const char *v = VAL();
            if (o->n_stop >= MAX_STOP) die("too many stop strings (at most %d)", MAX_STOP);
            if (*v) o->stop[o->n_stop++] = v;
        } else if (IS("--tokenize")) o->tokenize = true;
        else if (IS("--no-parse-special")) o->no_parse_special = true;
        else if (IS("--inspect")) o->inspect = true;
        else if (IS("-v") || IS("--verbose")) g_verbose++;
        else if (IS("-vv")) g_verbose += 2;
        else die("unknown option '%s' (see " PROG " -h)", a);
#undef IS
#undef VAL
    }
    if (o->model && o->hf) die("give either -m or -hf, not both");
    if (o->prompt && o->file) die("give either -p or -f, not both");
}

/* ---- files ----------------------------------------------------------------------------- */

static char *read_whole_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = (char *)malloc(cap);
    for (;;) {
        if (!buf) break;
        if (n + 1 >= cap) {
            char *nb = (char *)realloc(buf, cap *= 2);
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    fclose(f);
    if (buf) buf[n] = 0;
    if (size) *size = n;
    return buf;
}

static bool is_directory(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR;
}

static long long file_size(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0 || (st.st_mode & S_IFMT) != S_IFREG) return -1;
    return (long long)st.st_size;
}

/* One line for a model file that cannot be used, then exit 1. */
static void check_model_file(const char *path) {
    if (is_directory(path)) die("model '%s' is a directory, not a GGUF file", path);
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot open model '%s': %s", path, strerror(errno));
    fclose(f);
}

/* ---- Hugging Face download (through the system's curl) -------------------------------- */

static bool safe_for_shell(const char *s) {
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || strchr("._-/:=+%@~,", *s))) return false;
    return true;
}

static bool safe_name(const char *s) {
    if (!*s || !strcmp(s, ".") || !strcmp(s, "..")) return false;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || strchr("._-", *s))) return false;
    return true;
}

static void mkdir_p(const char *path) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/' || *p == '\\') {
            char c = *p;
            *p = 0;
#if defined(_WIN32)
            _mkdir(tmp);
#else
            mkdir(tmp, 0755);
#endif
            *p = c;
        }
    }
#if defined(_WIN32)
    _mkdir(tmp);
#else
    mkdir(tmp, 0755);
#endif
}

static void cache_dir(char *buf, size_t size) {
    const char *c = getenv("APR_CACHE");
    if (c && *c) { snprintf(buf, size, "%s", c); return; }
#if defined(_WIN32)
    const char *h = getenv("LOCALAPPDATA");
    if (h && *h) { snprintf(buf, size, "%s/apr", h); return; }
    h = getenv("USERPROFILE");
#else
    const char *h = getenv("HOME");
#endif
    snprintf(buf, size, "%s/.cache/apr", h && *h ? h : ".");
}

/* The quoted argument: '...' for sh, "..." for cmd.exe; callers pass only safe text. */
#if defined(_WIN32)
#define Q "\""
#else
#define Q "'"
#endif

static char *run_capture(const char *cmd, int *status) {
    FILE *p = popen(cmd, "r");
    if (!p) { *status = -1; return NULL; }
    size_t cap = 65536, n = 0;
    char *buf = (char *)malloc(cap);
    while (buf) {
        if (n + 4096 >= cap) {
            char *nb = (char *)realloc(buf, cap *= 2);
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, p);
        if (got == 0) break;
        n += got;
    }
    if (buf) buf[n] = 0;
    *status = pclose(p);
    return buf;
}

static bool ends_with_ci(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    if (b > a) return false;
    for (size_t i = 0; i < b; i++)
        if (tolower((unsigned char)s[a - b + i]) != tolower((unsigned char)suf[i])) return false;
    return true;
}

static bool contains_ci(const char *s, const char *needle) {
    size_t n = strlen(needle);
    for (; *s; s++) {
        size_t i = 0;
        while (i < n && s[i] && tolower((unsigned char)s[i]) == tolower((unsigned char)needle[i])) i++;
        if (i == n) return true;
    }
    return n == 0;
}

/* Downloads USER/REPO[:QUANT] into the cache (resuming a .part file) and returns the path
   (malloc'd). Any failure: one error line and exit 1. */
static char *hf_fetch(const char *spec) {
    char user[256], repo[256], quant[64] = "Q4_K_M";
    const char *slash = strchr(spec, '/');
    const char *colon = strchr(spec, ':');
    if (!slash || (colon && colon < slash)) die("-hf wants USER/REPO[:QUANT], got '%s'", spec);
    size_t ul = (size_t)(slash - spec), rl = colon ? (size_t)(colon - slash - 1) : strlen(slash + 1);
    if (ul == 0 || ul >= sizeof user || rl == 0 || rl >= sizeof repo) die("-hf: bad repository name '%s'", spec);
    memcpy(user, spec, ul);
    user[ul] = 0;
    memcpy(repo, slash + 1, rl);
    repo[rl] = 0;
    if (colon) {
        if (strlen(colon + 1) == 0 || strlen(colon + 1) >= sizeof quant) die("-hf: bad quantization in '%s'", spec);
        snprintf(quant, sizeof quant, "%s", colon + 1);
    }
    if (!safe_name(user) || !safe_name(repo) || !safe_name(quant))
        die("-hf: unexpected characters in '%s'", spec);
    const char *endpoint = getenv("HF_ENDPOINT");
    if (!endpoint || !*endpoint) endpoint = "https://huggingface.co";
    char ep[1024];
    snprintf(ep, sizeof ep, "%s", endpoint);
    while (strlen(ep) > 0 && ep[strlen(ep) - 1] == '/') ep[strlen(ep) - 1] = 0;
    if (!safe_for_shell(ep)) die("HF_ENDPOINT has unexpected characters: '%s'", endpoint);

    char dir[2048];
    cache_dir(dir, sizeof dir);
    if (!safe_for_shell(dir)) die("cache directory '%s' has characters apr will not pass to curl (set APR_CACHE)", dir);
    char repo_dir[2600];
    snprintf(repo_dir, sizeof repo_dir, "%s/%s/%s", dir, user, repo);

    /* the repository's file list */
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "curl -fsL --connect-timeout 15 " Q "%s/api/models/%s/%s" Q, ep, user, repo);
    int status = 0;
    char *listing = run_capture(cmd, &status);
    if (!listing || status != 0 || !*listing) {
        free(listing);
        const char *hint = getenv("APR_CHAT_LOCAL_HINT");  /* set by tools/chat.sh (make chat) */
        die("could not fetch the file list of %s/%s from %s (offline?); to use a local GGUF file: %s", user, repo,
            ep, hint && *hint ? hint : PROG " -m FILE.gguf");
    }
    json_doc doc;
    char jerr[128];
    if (!json_parse(&doc, listing, strlen(listing), 64, jerr, sizeof jerr))
        die("unexpected answer from %s/api/models/%s/%s: %s", ep, user, repo, jerr);
    const json_value *sib = json_get(doc.root, "siblings");
    char best[512] = "";
    char names[1024] = "";
    for (const json_value *s = json_first(sib); s; s = s->next) {
        const char *fn = NULL;
        if (!json_get_string(s, "rfilename", NULL, &fn) || !fn || !ends_with_ci(fn, ".gguf")) continue;
        if (strlen(names) + strlen(fn) + 3 < sizeof names) {
            if (*names) strcat(names, ", ");
            strcat(names, fn);
        }
        if (!contains_ci(fn, quant) || strlen(fn) >= sizeof best) continue;
        if (!*best || strlen(fn) < strlen(best)) snprintf(best, sizeof best, "%s", fn);
    }
    json_doc_free(&doc);
    free(listing);
    if (!*best) die("no .gguf file matching '%s' in %s/%s (files: %s)", quant, user, repo, *names ? names : "none");
    if (strstr(best, "-of-")) die("'%s' is split into several files; apr needs a single GGUF", best);
    if (!safe_for_shell(best) || strstr(best, "..")) die("unexpected file name '%s' in %s/%s", best, user, repo);

    /* file names may contain folders: keep only the base name locally */
    const char *base = strrchr(best, '/') ? strrchr(best, '/') + 1 : best;
    size_t plen = strlen(repo_dir) + strlen(base) + 8;
    char *path = (char *)malloc(plen);
    char *part = (char *)malloc(plen + 8);
    snprintf(path, plen, "%s/%s", repo_dir, base);
    snprintf(part, plen + 8, "%s.part", path);

    /* the size, from the headers of the final response after redirects */
    char url[4096];
    snprintf(url, sizeof url, "%s/%s/%s/resolve/main/%s", ep, user, repo, best);
    snprintf(cmd, sizeof cmd, "curl -fsIL --connect-timeout 15 " Q "%s" Q, url);
    char *hdr = run_capture(cmd, &status);
    long long expected = -1, linked = -1;
    if (hdr && status == 0) {
        for (char *line = hdr; line && *line;) {
            char *nl = strchr(line, '\n');
            if (nl) *nl = 0;
            if (!strncmp(line, "HTTP/", 5)) expected = -1;  /* a new response after a redirect */
            char *c = strchr(line, ':');
            if (c) {
                *c = 0;
                long long v = atoll(c + 1);
                for (char *k = line; *k; k++) *k = (char)tolower((unsigned char)*k);
                if (!strcmp(line, "content-length")) expected = v;
                if (!strcmp(line, "x-linked-size")) linked = v;
            }
            line = nl ? nl + 1 : NULL;
        }
    }
    free(hdr);
    if (linked > 0) expected = linked;

    long long have = file_size(path);
    if (have >= 0 && (expected < 0 || have == expected)) {
        fprintf(stderr, PROG ": using cached %s\n", path);
        free(part);
        return path;
    }
    mkdir_p(repo_dir);
    long long partial = file_size(part);
    if (partial > 0 && expected > 0 && partial > expected) {
        remove(part);
        partial = -1;
    }
    if (!(partial > 0 && partial == expected)) {
        fprintf(stderr, PROG ": downloading %s (%.1f MiB)%s\n", url, expected > 0 ? expected / 1048576.0 : 0.0,
                partial > 0 ? ", resuming" : "");
        snprintf(cmd, sizeof cmd, "curl -fL --connect-timeout 15 --progress-bar -C - -o " Q "%s" Q " " Q "%s" Q,
                 part, url);
        int rc = system(cmd);
        if (rc != 0) die("download of %s failed (curl exit status %d); run again to resume", url, rc);
    }
    long long got = file_size(part);
    if (expected > 0 && got != expected)
        die("downloaded %lld bytes of %s but expected %lld; run again to resume", got, url, expected);
    remove(path);
    if (rename(part, path) != 0) die("cannot rename %s to %s: %s", part, path, strerror(errno));
    free(part);
    return path;
}

/* ---- --tokenize and --inspect ---------------------------------------------------------- */

static int do_tokenize(const options *o, const char *text) {
    apr_gguf *g = NULL;
    apr_vocab *v = NULL;
    apr_error err;
    if (apr_gguf_open(o->model, &g, &err) != APR_SUCCESS) die_file(o->model, err.message);
    if (apr_vocab_load(g, &v, &err) != APR_SUCCESS) die_file(o->model, err.message);
    size_t len = strlen(text);
    int flags = o->no_parse_special ? 0 : APR_TOKENIZE_PARSE_SPECIAL;
    int64_t cap = (int64_t)len + 8;
    int32_t *ids = (int32_t *)malloc((size_t)cap * sizeof(int32_t));
    int64_t n = apr_tokenize(v, text, len, ids, cap, flags);
    if (n > cap) {
        ids = (int32_t *)realloc(ids, (size_t)n * sizeof(int32_t));
        cap = n;
        n = apr_tokenize(v, text, len, ids, cap, flags);
    }
    if (n < 0 || !ids) die("tokenization failed: %s", apr_result_string((apr_result)n));
    for (int64_t i = 0; i < n; i++) printf(i ? " %d" : "%d", (int)ids[i]);
    printf("\n");
    free(ids);
    apr_vocab_free(v);
    apr_gguf_close(g);
    return 0;
}

static void print_size(char *buf, size_t size, double bytes) {
    if (bytes >= 1024.0 * 1024 * 1024) snprintf(buf, size, "%.2f GiB", bytes / (1024.0 * 1024 * 1024));
    else if (bytes >= 1024.0 * 1024) snprintf(buf, size, "%.2f MiB", bytes / (1024.0 * 1024));
    else if (bytes >= 1024.0) snprintf(buf, size, "%.2f KiB", bytes / 1024.0);
    else snprintf(buf, size, "%.0f B", bytes);
}

static int do_inspect(const options *o, const apr_model_params *mp) {
    apr_gguf *g = NULL;
    apr_error err;
    if (apr_gguf_open(o->model, &g, &err) != APR_SUCCESS) die_file(o->model, err.message);
    int64_t nkv = apr_gguf_n_kv(g), nt = apr_gguf_n_tensors(g);
    printf("file: %s\nGGUF version %u, %lld metadata entries, %lld tensors, %llu bytes, alignment %llu\n\n",
           o->model, (unsigned)apr_gguf_version(g), (long long)nkv, (long long)nt,
           (unsigned long long)apr_gguf_file_size(g), (unsigned long long)apr_gguf_alignment(g));
    printf("metadata:\n");
    static char val[4096];
    for (int64_t i = 0; i < nkv; i++) {
        apr_str k = apr_gguf_key(g, i);
        val[0] = 0;
        apr_gguf_kv_to_string(g, i, val, sizeof val);
        /* long values (chat templates, arrays) on one abbreviated line */
        for (char *p = val; *p; p++) if (*p == '\n' || *p == '\r') *p = ' ';
        if (strlen(val) > 120) strcpy(val + 117, "...");
        printf("  %-44.*s = %s\n", (int)k.len, k.ptr, val);
    }
    printf("\ntensors:\n  %-5s %-40s %-8s %-26s %12s\n", "#", "name", "type", "shape", "size");
    for (int64_t i = 0; i < nt; i++) {
        const apr_gguf_tensor *t = apr_gguf_tensor_at(g, i);
        char shape[96] = "", sz[32];
        size_t off = 0;
        for (int d = 0; d < t->n_dims && off < sizeof shape; d++)
            off += (size_t)snprintf(shape + off, sizeof shape - off, d ? " x %lld" : "%lld", (long long)t->ne[d]);
        print_size(sz, sizeof sz, (double)t->size);
        const char *tn = apr_type_name(t->type);
        printf("  %-5lld %-40.*s %-8s %-26s %12s\n", (long long)i, (int)t->name.len, t->name.ptr,
               tn ? tn : "?", shape, sz);
    }
    apr_gguf_close(g);
    if (nt == 0) {
        printf("\nmodel: none (vocabulary-only file)\n");
        return 0;
    }
    apr_model *model = NULL;
    apr_model_params p = *mp;
    p.cpu_only = true;
    p.n_gpu_layers = 0;
    if (apr_model_load(o->model, &p, &model, &err) != APR_SUCCESS) {
        printf("\nmodel: cannot be loaded: %s\n", err.message);
        return 1;
    }
    char desc[256], sz[32];
    apr_model_desc(model, desc, sizeof desc);
    print_size(sz, sizeof sz, (double)apr_model_size(model));
    const char *tmpl = apr_model_chat_template(model);
    printf("\nmodel: %s\n  architecture %s, %.2f B parameters (%llu), %s of weights\n"
           "  %d layers, embedding %d, vocabulary %d, trained context %d, chat template %s\n",
           desc, apr_model_arch(model), apr_model_n_params(model) / 1e9,
           (unsigned long long)apr_model_n_params(model), sz, apr_model_n_layer(model),
           apr_model_n_embd(model), apr_model_n_vocab(model), apr_model_n_ctx_train(model),
           tmpl ? tmpl : "(none)");
    apr_model_free(model);
    return 0;
}

/* ---- Ctrl-C: the first stops the answer, a second (or one while reading input) exits -- */

static volatile int g_cancel;
static volatile int g_generating;

#if defined(_WIN32)
static BOOL WINAPI on_console_ctrl(DWORD type) {
    if (type != CTRL_C_EVENT && type != CTRL_BREAK_EVENT) return FALSE;
    if (g_generating && !g_cancel) {
        g_cancel = 1;
        return TRUE;
    }
    ExitProcess(130);
    return TRUE;
}
static void install_ctrl_c(void) { SetConsoleCtrlHandler(on_console_ctrl, TRUE); }
#else
static void on_sigint(int sig) {
    (void)sig;
    if (g_generating && !g_cancel) {
        g_cancel = 1;
        return;
    }
    if (write(2, "\n", 1) < 0) {}
    _exit(130);
}
static void install_ctrl_c(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
}
#endif

/* ---- generation callbacks and timing --------------------------------------------------- */

typedef struct turn {
    char *text;          /* what was shown */
    size_t len, cap;
    int32_t *tokens;     /* every token sampled (for the assistant message in the cache) */
    int32_t n_tokens, cap_tokens;
} turn;

static bool on_text(void *user, const char *s, size_t n) {
    turn *t = (turn *)user;
    fwrite(s, 1, n, stdout);
    fflush(stdout);
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->text = (char *)realloc(t->text, t->cap);
        if (!t->text) die("out of memory");
    }
    memcpy(t->text + t->len, s, n);
    t->len += n;
    t->text[t->len] = 0;
    return true;
}

static bool on_token(void *user, int32_t tok) {
    turn *t = (turn *)user;
    if (t->n_tokens == t->cap_tokens) {
        t->cap_tokens = t->cap_tokens ? t->cap_tokens * 2 : 256;
        t->tokens = (int32_t *)realloc(t->tokens, (size_t)t->cap_tokens * sizeof(int32_t));
        if (!t->tokens) die("out of memory");
    }
    t->tokens[t->n_tokens++] = tok;
    return true;
}

typedef struct timing {
    int64_t n_prompt, n_gen;
    double t_prompt, t_gen;
} timing;

static void print_timing(const timing *tm) {
    double pms = tm->t_prompt * 1e3, gms = tm->t_gen * 1e3;
    fprintf(stderr, "\n" PROG ": prompt eval time = %10.2f ms / %5lld tokens (%8.2f ms per token, %9.2f tokens per second)\n",
            pms, (long long)tm->n_prompt, tm->n_prompt ? pms / tm->n_prompt : 0.0,
            tm->t_prompt > 0 ? tm->n_prompt / tm->t_prompt : 0.0);
    fprintf(stderr, PROG ":        eval time = %10.2f ms / %5lld tokens (%8.2f ms per token, %9.2f tokens per second)\n",
            gms, (long long)tm->n_gen, tm->n_gen ? gms / tm->n_gen : 0.0, tm->t_gen > 0 ? tm->n_gen / tm->t_gen : 0.0);
    fprintf(stderr, PROG ":       total time = %10.2f ms / %5lld tokens\n", pms + gms,
            (long long)(tm->n_prompt + tm->n_gen));
}

static void add_timing(timing *tm, const apr_generate_stats *st) {
    tm->n_prompt += st->n_prompt_tokens;
    tm->n_gen += st->n_generated_tokens;
    tm->t_prompt += st->prompt_seconds;
    tm->t_gen += st->generate_seconds;
}

/* ---- interactive input ----------------------------------------------------------------- */

/* Reads one message: a line; a line ending in '\' continues on the next; a line that is
   just """ opens a block closed by another. Returns NULL at EOF with nothing read. */
static char *read_message(bool tty) {
    size_t cap = 1024, n = 0;
    char *msg = (char *)malloc(cap);
    char line[4096];
    bool block = false, any = false;
    msg[0] = 0;
    for (;;) {
        if (!fgets(line, sizeof line, stdin)) {
            if (!any) { free(msg); return NULL; }
            break;
        }
        any = true;
        size_t l = strlen(line);
        bool full_line = l > 0 && line[l - 1] == '\n';
        size_t body = l;
        while (body > 0 && (line[body - 1] == '\n' || line[body - 1] == '\r')) body--;
        bool cont = false;
        if (full_line && body == 3 && !memcmp(line, "\"\"\"", 3)) {
            block = !block;
            if (block) continue;
            break;
        }
        if (!block && full_line && body > 0 && line[body - 1] == '\\') {
            body--;
            cont = true;
        }
        if (n + body + 2 > cap) {
            cap = (n + body + 2) * 2;
            msg = (char *)realloc(msg, cap);
            if (!msg) die("out of memory");
        }
        memcpy(msg + n, line, body);
        n += body;
        if ((cont || block) && full_line) msg[n++] = '\n';
        msg[n] = 0;
        if (!full_line) continue;  /* a longer line than the buffer: keep reading it */
        if (!cont && !block) break;
        if (tty && (cont || block)) { fputs("... ", stdout); fflush(stdout); }
    }
    return msg;
}

/* ---- chat ------------------------------------------------------------------------------ */

typedef struct chat {
    apr_chat_message *msgs;
    int n, cap;
    char *cached;        /* text the KV cache of sequence 0 holds */
} chat;

static void chat_add(chat *c, const char *role, const char *content) {
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->msgs = (apr_chat_message *)realloc(c->msgs, (size_t)c->cap * sizeof *c->msgs);
        if (!c->msgs) die("out of memory");
    }
    c->msgs[c->n].role = role;
    char *copy = (char *)malloc(strlen(content) + 1);
    if (!copy) die("out of memory");
    strcpy(copy, content);
    c->msgs[c->n].content = copy;
    c->n++;
}

static void chat_clear(chat *c, int keep) {
    while (c->n > keep) free((void *)c->msgs[--c->n].content);
    free(c->cached);
    c->cached = NULL;
}

static char *render(const char *tmpl, const chat *c) {
    int64_t need = apr_chat_render(tmpl, c->msgs, c->n, true, NULL, 0);
    if (need < 0) die("cannot render chat template '%s'", tmpl);
    char *buf = (char *)malloc((size_t)need + 1);
    if (!buf) die("out of memory");
    apr_chat_render(tmpl, c->msgs, c->n, true, buf, need + 1);
    return buf;
}

/* One assistant turn for the conversation so far. Reuses the KV cache when the rendered
   conversation extends what the cache holds. */
static apr_stop_reason chat_turn(apr_context *ctx, const char *tmpl, chat *c, apr_generate_params gp,
                                 timing *tm) {
    const apr_vocab *vocab = apr_model_vocab(apr_context_model(ctx));
    char *full = render(tmpl, c);
    size_t cl = c->cached ? strlen(c->cached) : 0;
    bool reuse = cl > 0 && strncmp(full, c->cached, cl) == 0 && full[cl] != 0;
    turn t;
    memset(&t, 0, sizeof t);
    gp.keep_history = reuse;
    gp.on_text = on_text;
    gp.on_token = on_token;
    gp.user = &t;
    gp.cancel = &g_cancel;
    int32_t pos0 = reuse ? apr_seq_pos(ctx, 0) : 0;
    if (g_verbose)
        fprintf(stderr, PROG ": %s the KV cache (%d positions held)\n", reuse ? "extending" : "refilling", pos0);
    apr_generate_stats st;
    g_cancel = 0;
    g_generating = 1;
    apr_result rc = apr_generate(ctx, reuse ? full + cl : full, &gp, &st);
    if (rc == APR_ERROR_CONTEXT_FULL && c->n > 1) {
        /* start over with the system message and the last user message */
        fprintf(stderr, PROG ": context full: the conversation so far is dropped\n");
        int sys = c->msgs[0].role && !strcmp(c->msgs[0].role, "system") ? 1 : 0;
        apr_chat_message last = c->msgs[c->n - 1];
        for (int i = sys; i < c->n - 1; i++) free((void *)c->msgs[i].content);
        c->msgs[sys] = last;
        c->n = sys + 1;
        free(full);
        full = render(tmpl, c);
        gp.keep_history = false;
        reuse = false;
        pos0 = 0;
        rc = apr_generate(ctx, full, &gp, &st);
    }
    g_generating = 0;
    if (g_cancel) fputs("\n", stdout);
    if (rc != APR_SUCCESS) {
        fprintf(stderr, "\n" PROG ": generation failed: %s%s\n", apr_result_string(rc),
                rc == APR_ERROR_CONTEXT_FULL ? " (/clear starts a new conversation)" : "");
        apr_seq_truncate(ctx, 0, 0);
        free(c->cached);
        c->cached = NULL;
        c->n--;  /* forget the unanswered user message */
        free((void *)c->msgs[c->n].content);
        free(full);
        free(t.text);
        free(t.tokens);
        return APR_STOP_NONE;
    }
    add_timing(tm, &st);
    if (st.stop_reason == APR_STOP_CONTEXT_FULL)
        fprintf(stderr, "\n" PROG ": context full (/clear starts a new conversation)\n");
    /* the assistant message is the text of the tokens the cache now holds, so that the
       next rendering starts with exactly what the cache holds */
    int32_t held = apr_seq_pos(ctx, 0) - pos0 - st.n_prompt_tokens;
    if (held < 0) held = 0;
    if (held > t.n_tokens) held = t.n_tokens;
    size_t cap = 256, n = 0;
    char *content = (char *)malloc(cap);
    for (int32_t i = 0; i < held && content; i++) {
        char piece[256];
        int32_t pl = apr_token_to_piece(vocab, t.tokens[i], piece, (int32_t)sizeof piece, true);
        if (pl < 0) pl = 0;
        if (pl > (int32_t)sizeof piece) pl = (int32_t)sizeof piece;
        if (n + (size_t)pl + 1 > cap) content = (char *)realloc(content, cap = (n + (size_t)pl + 1) * 2);
        if (content) memcpy(content + n, piece, (size_t)pl), n += (size_t)pl;
    }
    if (!content) die("out of memory");
    content[n] = 0;
    chat_add(c, "assistant", content);
    size_t fl = strlen(full);
    char *cached = (char *)malloc(fl + n + 1);
    if (!cached) die("out of memory");
    memcpy(cached, full, fl);
    memcpy(cached + fl, content, n + 1);
    free(c->cached);
    c->cached = cached;
    free(content);
    free(full);
    free(t.text);
    free(t.tokens);
    return st.stop_reason;
}

static int run_chat(apr_context *ctx, const options *o, const char *tmpl, apr_generate_params gp,
                    const char *first) {
    chat c;
    memset(&c, 0, sizeof c);
    int keep = 0;
    if (o->system) {
        chat_add(&c, "system", o->system);
        keep = 1;
    }
    bool tty = isatty(fileno(stdin)) != 0;
    timing tm;
    memset(&tm, 0, sizeof tm);
    if (tty || g_verbose) fprintf(stderr, PROG ": chat template %s; /help for commands, Ctrl-C stops an answer\n", tmpl);
    for (bool once = first != NULL;;) {
        char *msg = NULL;
        if (first) {
            msg = (char *)malloc(strlen(first) + 1);
            strcpy(msg, first);
            first = NULL;
        } else {
            if (once && o->single_turn) break;
            if (tty) { fputs("\n> ", stdout); fflush(stdout); }
            msg = read_message(tty);
            if (!msg) break;
        }
        if (!strcmp(msg, "/exit") || !strcmp(msg, "/quit")) { free(msg); break; }
        if (!strcmp(msg, "/help")) {
            printf("/clear  start a new conversation\n/exit   quit\n"
                   "end a line with \\ to continue it; \"\"\" opens and closes a multi-line block\n"
                   "Ctrl-C stops the answer; Ctrl-C again (or at the prompt), or EOF, exits\n");
            free(msg);
            continue;
        }
        if (!strcmp(msg, "/clear")) {
            chat_clear(&c, keep);
            apr_seq_truncate(ctx, 0, 0);
            printf("(new conversation)\n");
            free(msg);
            continue;
        }
        if (msg[0] == 0) { free(msg); continue; }
        chat_add(&c, "user", msg);
        free(msg);
        chat_turn(ctx, tmpl, &c, gp, &tm);
        printf("\n");
        fflush(stdout);
    }
    chat_clear(&c, 0);
    free(c.msgs);
    if (tm.n_prompt + tm.n_gen > 0) print_timing(&tm);
    return 0;
}

/* ---- main ------------------------------------------------------------------------------ */

int main(int argc, char **argv) {
#if defined(_WIN32)
    SetConsoleOutputCP(65001);  /* UTF-8 in and out of the console */
    SetConsoleCP(65001);
#endif
    options o;
    parse_args(argc, argv, &o);
    char *hf_path = NULL;
    if (o.hf) o.model = hf_path = hf_fetch(o.hf);
    if (!o.model) die("no model: pass -m FILE.gguf or -hf USER/REPO[:QUANT] (see " PROG " -h)");
    check_model_file(o.model);

    char *file_text = NULL;
    const char *prompt = o.prompt;
    if (o.file) {
        if (is_directory(o.file)) die("prompt file '%s' is a directory", o.file);
        file_text = read_whole_file(o.file, NULL);
        if (!file_text) die("cannot read prompt file '%s': %s", o.file, strerror(errno));
        prompt = file_text;
    }

    if (o.tokenize) {
        if (!prompt) die("--tokenize needs text: -p TEXT or -f FILE");
        int rc = do_tokenize(&o, prompt);
        fflush(stdout);
        free(file_text);
        free(hf_path);
        return rc;
    }

    if (o.tmpl && apr_chat_render(o.tmpl, NULL, 0, true, NULL, 0) < 0) {
        char known[1024] = "";
        for (const char *const *n = apr_chat_template_names(); *n; n++) {
            if (strlen(known) + strlen(*n) + 3 >= sizeof known) break;
            if (*known) strcat(known, ", ");
            strcat(known, *n);
        }
        die("unknown chat template '%s' (known: %s)", o.tmpl, known);
    }

    apr_model_params mp = apr_model_default_params();
    mp.log_fn = log_cb;
    mp.log_level = (apr_log_level)APR__MIN(APR_LOG_WARN + g_verbose, APR_LOG_DEBUG);
    mp.n_threads = o.n_threads > 0 ? o.n_threads : 0;
    if (o.ngl >= 0) mp.n_gpu_layers = o.ngl;
    if (o.ngl == 0) mp.cpu_only = true;
    if (o.inspect) {
        int rc = do_inspect(&o, &mp);
        fflush(stdout);
        free(file_text);
        free(hf_path);
        return rc;
    }

    {   /* the header first: a file that is not GGUF gets the reader's one-line reason */
        apr_gguf *g = NULL;
        apr_error err;
        if (apr_gguf_open(o.model, &g, &err) != APR_SUCCESS) die_file(o.model, err.message);
        apr_gguf_close(g);
    }
    apr_model *model = NULL;
    apr_error err;
    memset(&err, 0, sizeof err);
    uint64_t t_load = apr__time_ns();
    if (apr_model_load(o.model, &mp, &model, &err) != APR_SUCCESS) die_file(o.model, err.message);
    apr_context_params cp = apr_context_default_params();
    cp.n_ctx = o.n_ctx;
    cp.n_batch = o.n_batch;
    cp.n_threads = o.n_threads > 0 ? o.n_threads : 0;
    cp.kv_type = (apr_kv_type)o.kv_type;
    apr_context *ctx = NULL;
    if (apr_context_create(model, &cp, &ctx, &err) != APR_SUCCESS) die("cannot create a context: %s", err.message);
    {
        char desc[256];
        apr_model_desc(model, desc, sizeof desc);
        const char *be = apr_model_backend(model);
        const char *gpu = apr_model_gpu_name(model);
        fprintf(stderr, PROG ": %s on %s%s%s%s, context %d, loaded in %.2f s\n", desc, be,
                gpu && *gpu ? " (" : "", gpu && *gpu ? gpu : "", gpu && *gpu ? ")" : "",
                apr_context_n_ctx(ctx), (double)(apr__time_ns() - t_load) * 1e-9);
        if (!strcmp(be, "CPU") || g_verbose)
            fprintf(stderr, PROG ": CPU %s, %d threads\n", apr_cpu_simd_name(),
                    o.n_threads > 0 ? o.n_threads : apr_cpu_count());
    }

    apr_generate_params gp = apr_generate_default_params();
    gp.sampling = o.sp;
    if (!o.seed_set) gp.sampling.seed = apr__time_ns() ^ ((uint64_t)(uintptr_t)&gp << 16);
    gp.max_tokens = o.n_predict;
    gp.stop = o.stop;
    gp.n_stop = o.n_stop;
    install_ctrl_c();

    int rc = 0;
    bool conversation = !o.no_cnv && (o.cnv || !prompt);
    if (conversation) {
        const char *tmpl = o.tmpl ? o.tmpl : apr_model_chat_template(model);
        if (!tmpl) {
            tmpl = "chatml";
            fprintf(stderr, PROG ": the model names no chat template I know; using chatml\n");
        }
        rc = run_chat(ctx, &o, tmpl, gp, prompt);
    } else {
        if (!prompt) die("no prompt: -p TEXT or -f FILE (or leave both out to chat)");
        turn t;
        memset(&t, 0, sizeof t);
        gp.on_text = on_text;
        gp.user = &t;
        gp.cancel = &g_cancel;
        apr_generate_stats st;
        g_generating = 1;
        apr_result r = apr_generate(ctx, prompt, &gp, &st);
        g_generating = 0;
        if (isatty(fileno(stdout))) printf("\n");
        fflush(stdout);
        if (r != APR_SUCCESS) {
            const char *why = apr_context_last_error(ctx);
            die("generation failed: %s%s%s", apr_result_string(r), why && *why ? ": " : "", why ? why : "");
        }
        timing tm;
        memset(&tm, 0, sizeof tm);
        add_timing(&tm, &st);
        print_timing(&tm);
        free(t.text);
    }
    apr_context_free(ctx);
    apr_model_free(model);
    free(file_text);
    free(hf_path);
    return rc;
}
