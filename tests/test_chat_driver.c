/* tests/test_chat_driver.c - runs ./apr-chat as a subprocess: flags and errors,
   --tokenize, --inspect, one-shot greedy generation, stop strings, piped chat, and -hf
   against a small HTTP server (with Range support) that this test runs on 127.0.0.1.
   POSIX only (CI runs the suite on Linux). */
#define APR_IMPLEMENTATION
#include "apr.h"
#include "test.h"
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <strings.h>
#include <unistd.h>

static char g_dir[256];
static char *g_out, *g_err;

/* Runs `env... ./apr-chat args` with stdin from in_text (or /dev/null); returns the exit
   status and leaves stdout/stderr in g_out/g_err. */
static int run(const char *env, const char *args, const char *in_text) {
    char cmd[8192], in_path[512], out_path[512], err_path[512];
    snprintf(in_path, sizeof in_path, "%s/stdin", g_dir);
    snprintf(out_path, sizeof out_path, "%s/stdout", g_dir);
    snprintf(err_path, sizeof err_path, "%s/stderr", g_dir);
    FILE *f = fopen(in_path, "wb");
    if (f) {
        if (in_text) fputs(in_text, f);
        fclose(f);
    }
    snprintf(cmd, sizeof cmd, "%s ./apr-chat %s <%s >%s 2>%s", env ? env : "", args, in_path, out_path,
             err_path);
    int st = system(cmd);
    free(g_out);
    free(g_err);
    g_out = (char *)test_read_file(out_path, NULL);
    g_err = (char *)test_read_file(err_path, NULL);
    if (!g_out) g_out = (char *)calloc(1, 1);
    if (!g_err) g_err = (char *)calloc(1, 1);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* the error contract: exit status 1 and exactly one line on stderr, nothing on stdout */
static void expect_error(const char *args, const char *needle) {
    int rc = run(NULL, args, NULL);
    CHECK(rc == 1, "%s: exit %d", args, rc);
    CHECK(count_lines(g_err) == 1 && strncmp(g_err, "apr-chat: ", 10) == 0, "%s: stderr [%s]", args, g_err);
    CHECK(!needle || strstr(g_err, needle), "%s: stderr [%s] lacks '%s'", args, g_err, needle);
    CHECK(g_out[0] == 0, "%s: stdout [%s]", args, g_out);
}

/* ---- a tiny Hugging Face look-alike ----------------------------------------------------- */

static int srv_fd = -1, srv_port;
static char *srv_file;
static size_t srv_size;
static volatile int srv_range_gets, srv_file_gets, srv_api_gets;

static void srv_send(int c, const void *p, size_t n) {
    const char *s = (const char *)p;
    while (n > 0) {
        ssize_t w = send(c, s, n, 0);
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

static void srv_handle(int c) {
    char req[8192];
    size_t n = 0;
    while (n < sizeof req - 1) {
        ssize_t r = recv(c, req + n, sizeof req - 1 - n, 0);
        if (r <= 0) return;
        n += (size_t)r;
        req[n] = 0;
        if (strstr(req, "\r\n\r\n")) break;
    }
    char method[16] = "", path[1024] = "";
    if (sscanf(req, "%15s %1023s", method, path) != 2) return;
    bool head = strcmp(method, "HEAD") == 0;
    long long start = -1;
    for (char *l = strstr(req, "\r\n"); l && l[2]; l = strstr(l + 2, "\r\n"))
        if (strncasecmp(l + 2, "Range: bytes=", 13) == 0) start = atoll(l + 15);
    char hdr[1024];
    if (strcmp(path, "/api/models/test/tiny-GGUF") == 0) {
        static const char body[] =
            "{\"id\":\"test/tiny-GGUF\",\"siblings\":[{\"rfilename\":\".gitattributes\"},"
            "{\"rfilename\":\"README.md\"},{\"rfilename\":\"tiny-Q8_0.gguf\"},{\"rfilename\":\"tiny-F32.gguf\"}]}";
        srv_api_gets++;
        int h = snprintf(hdr, sizeof hdr, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         "Content-Length: %d\r\nConnection: close\r\n\r\n", (int)strlen(body));
        srv_send(c, hdr, (size_t)h);
        if (!head) srv_send(c, body, strlen(body));
    } else if (strcmp(path, "/test/tiny-GGUF/resolve/main/tiny-F32.gguf") == 0) {
        /* as the Hub: a redirect that carries the size, then the file elsewhere */
        int h = snprintf(hdr, sizeof hdr, "HTTP/1.1 302 Found\r\nLocation: /cdn/tiny-F32.gguf\r\n"
                         "X-Linked-Size: %lld\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                         (long long)srv_size);
        srv_send(c, hdr, (size_t)h);
    } else if (strcmp(path, "/cdn/tiny-F32.gguf") == 0) {
        int h;
        if (start >= (long long)srv_size) {
            h = snprintf(hdr, sizeof hdr, "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */%lld\r\n"
                         "Content-Length: 0\r\nConnection: close\r\n\r\n", (long long)srv_size);
            srv_send(c, hdr, (size_t)h);
            return;
        }
        if (start < 0) start = 0;
        if (!head) srv_file_gets++;
        if (start > 0 && !head) srv_range_gets++;
        if (start > 0)
            h = snprintf(hdr, sizeof hdr, "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes %lld-%lld/%lld\r\n"
                         "Content-Length: %lld\r\nConnection: close\r\n\r\n", start, (long long)srv_size - 1,
                         (long long)srv_size, (long long)srv_size - start);
        else
            h = snprintf(hdr, sizeof hdr, "HTTP/1.1 200 OK\r\nContent-Length: %lld\r\nConnection: close\r\n\r\n",
                         (long long)srv_size);
        srv_send(c, hdr, (size_t)h);
        if (!head) srv_send(c, srv_file + start, srv_size - (size_t)start);
    } else {
        static const char nf[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        srv_send(c, nf, strlen(nf));
    }
}

static void srv_loop(void *arg) {
    (void)arg;
    for (;;) {
        int c = accept(srv_fd, NULL, NULL);
        if (c < 0) return;
        srv_handle(c);
        shutdown(c, SHUT_WR);
        close(c);
    }
}

static bool srv_start(void) {
    srv_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (srv_fd < 0) return false;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t al = sizeof a;
    if (bind(srv_fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(srv_fd, 16) != 0 ||
        getsockname(srv_fd, (struct sockaddr *)&a, &al) != 0)
        return false;
    srv_port = ntohs(a.sin_port);
    apr__thread t;
    return apr__thread_create(&t, srv_loop, NULL);
}

static bool files_equal(const char *a, const char *b) {
    size_t na = 0, nb = 0;
    char *x = (char *)test_read_file(a, &na), *y = (char *)test_read_file(b, &nb);
    bool eq = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return eq;
}

/* Starts apr-chat with a pipe as stdin and a file as stdout; returns the pid. */
static pid_t spawn_chat(const char *args, int *in_fd, const char *out_path) {
    int fds[2];
    if (pipe(fds) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[0], 0);
        close(fds[0]);
        close(fds[1]);
        FILE *o = freopen(out_path, "wb", stdout);
        FILE *e = freopen("/dev/null", "wb", stderr);
        (void)o;
        (void)e;
        char cmd[4096];
        snprintf(cmd, sizeof cmd, "exec ./apr-chat %s", args);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(fds[0]);
    *in_fd = fds[1];
    return pid;
}

static long file_len(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* waits up to ms for the file to grow past n bytes */
static bool wait_output(const char *path, long n, int ms) {
    for (int i = 0; i < ms / 10; i++) {
        if (file_len(path) > n) return true;
        usleep(10000);
    }
    return false;
}

static int wait_exit(pid_t pid, int ms) {
    int st = 0;
    for (int i = 0; i < ms / 10; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    mkdir("tests/tmp", 0755);
    snprintf(g_dir, sizeof g_dir, "tests/tmp/chat_driver_%d", (int)getpid());
    mkdir(g_dir, 0755);
    char stories[1024], qwen_vocab[1024];  /* test_shared's buffers are reused */
    snprintf(stories, sizeof stories, "%s", test_shared("data/models/stories260K.gguf"));
    snprintf(qwen_vocab, sizeof qwen_vocab, "%s", test_shared("data/vocab/ggml-vocab-qwen2.gguf"));
    char args[4096];

    TEST("the program exists");
    if (access("./apr-chat", X_OK) != 0 && system("make -s apr-chat >/dev/null 2>&1") != 0) {}
    if (access("./apr-chat", X_OK) != 0) {
        CHECK(0, "./apr-chat not built (make apr-chat)");
        return test_finish();
    }

    TEST("-h");
    {
        int rc = run(NULL, "-h", NULL);
        CHECK(rc == 0 && strstr(g_out, "--temp") && strstr(g_out, "-ngl") && strstr(g_out, "--tokenize") &&
              strstr(g_out, "-hf"), "rc %d, usage [%.200s]", rc, g_out);
    }

    TEST("errors: one line, exit 1");
    expect_error("--bogus", "unknown option");
    expect_error("-m", "needs a value");
    snprintf(args, sizeof args, "-m %s -n abc", stories);
    expect_error(args, "invalid value");
    snprintf(args, sizeof args, "-m %s --top-p 2", stories);
    expect_error(args, "--top-p");
    expect_error("-p hello", "no model");
    expect_error("-m tests/tmp/does-not-exist.gguf -p x", "does-not-exist.gguf");
    expect_error("-m tests -p x", "directory");
    {
        char path[512];
        snprintf(path, sizeof path, "%s/not-gguf.gguf", g_dir);
        FILE *f = fopen(path, "wb");
        fputs("this is not a GGUF file at all, just text\n", f);
        fclose(f);
        snprintf(args, sizeof args, "-m %s -p x", path);
        expect_error(args, "not-gguf.gguf");
        snprintf(path, sizeof path, "%s/empty.gguf", g_dir);
        f = fopen(path, "wb");
        fclose(f);
        snprintf(args, sizeof args, "-m %s -p x", path);
        expect_error(args, "empty.gguf");
    }
    {   /* stories260K patched: an architecture apr does not run, a type apr does not load */
        size_t n = 0;
        unsigned char *d = (unsigned char *)test_read_file(stories, &n);
        const char *key = "general.architecture";
        unsigned char *k = d ? (unsigned char *)memmem(d, n, key, strlen(key)) : NULL;
        const char *tn = "token_embd.weight";
        unsigned char *t = d ? (unsigned char *)memmem(d, n, tn, strlen(tn)) : NULL;
        CHECK(k && t && memcmp(k + strlen(key) + 12, "llama", 5) == 0, "stories260K layout");
        if (k && t) {
            char path[512];
            memcpy(k + strlen(key) + 12, "bloom", 5);
            snprintf(path, sizeof path, "%s/arch.gguf", g_dir);
            FILE *f = fopen(path, "wb");
            fwrite(d, 1, n, f);
            fclose(f);
            snprintf(args, sizeof args, "-m %s -p x", path);
            expect_error(args, "bloom");
            memcpy(k + strlen(key) + 12, "llama", 5);
            unsigned char *type = t + strlen(tn) + 4 + 16;  /* n_dims, ne[0], ne[1], type */
            type[0] = 39;                                   /* MXFP4 */
            snprintf(path, sizeof path, "%s/type.gguf", g_dir);
            f = fopen(path, "wb");
            fwrite(d, 1, n, f);
            fclose(f);
            snprintf(args, sizeof args, "-m %s -p x", path);
            expect_error(args, "token_embd.weight");
        }
        free(d);
    }
    snprintf(args, sizeof args, "-m %s -f tests/tmp/no-such-prompt.txt", stories);
    expect_error(args, "no-such-prompt.txt");
    snprintf(args, sizeof args, "-m %s --chat-template nonsense", stories);
    expect_error(args, "nonsense");
    snprintf(args, sizeof args, "-m %s -hf a/b", stories);
    expect_error(args, "not both");

    TEST("--tokenize on a vocabulary-only file");
    {
        snprintf(args, sizeof args, "-m %s --tokenize -p ' Hello, world!'", qwen_vocab);
        int rc = run(NULL, args, NULL);
        CHECK(rc == 0 && strcmp(g_out, "21927 11 1879 0\n") == 0, "rc %d out [%s] err [%s]", rc, g_out, g_err);
        snprintf(args, sizeof args, "-m %s --tokenize -p '<|im_start|>user\nHello'", qwen_vocab);
        rc = run(NULL, args, NULL);
        CHECK(rc == 0 && strcmp(g_out, "151644 872 198 9707\n") == 0, "special parsed: [%s]", g_out);
        snprintf(args, sizeof args, "-m %s --tokenize --no-parse-special -p '<|im_start|>user'", qwen_vocab);
        rc = run(NULL, args, NULL);
        CHECK(rc == 0 && strncmp(g_out, "151644", 6) != 0 && count_lines(g_out) == 1, "not parsed: [%s]", g_out);
        /* the reference vectors, through -f */
        size_t ni = 0;
        char *inp = (char *)test_read_file(test_shared("data/vocab/ggml-vocab-qwen2.gguf.inp"), &ni);
        char *outp = (char *)test_read_file(test_shared("data/vocab/ggml-vocab-qwen2.gguf.out"), NULL);
        CHECK(inp && outp, "reference vectors");
        int cases = 0, bad = 0;
        const char *sep = "\n__ggml_vocab_test__\n";
        char *p = inp, *o = outp;
        while (inp && outp && *p && cases < 12) {
            char *e = strstr(p, sep);
            char *oe = strchr(o, '\n');
            if (!e || !oe) break;
            char path[512];
            snprintf(path, sizeof path, "%s/text.txt", g_dir);
            FILE *f = fopen(path, "wb");
            fwrite(p, 1, (size_t)(e - p), f);
            fclose(f);
            snprintf(args, sizeof args, "-m %s --tokenize --no-parse-special -f %s", qwen_vocab, path);
            run(NULL, args, NULL);
            size_t want = (size_t)(oe - o);
            char *got = g_out;
            while (*got == ' ') got++;
            size_t gl = strlen(got);
            while (gl && (got[gl - 1] == '\n' || got[gl - 1] == ' ')) gl--;
            const char *w = o;
            while (*w == ' ' && w < oe) w++, want--;
            while (want && w[want - 1] == ' ') want--;
            if (gl != want || memcmp(got, w, want) != 0) {
                bad++;
                fprintf(stderr, "    case %d: got [%.*s] want [%.*s]\n", cases, (int)gl, got, (int)want, w);
            }
            cases++;
            p = e + strlen(sep);
            o = oe + 1;
        }
        CHECK(cases >= 12 && bad == 0, "%d of %d reference texts differ", bad, cases);
        free(inp);
        free(outp);
        expect_error("--tokenize -p x", "no model");
        snprintf(args, sizeof args, "-m %s --tokenize", qwen_vocab);
        expect_error(args, "--tokenize");
    }

    TEST("--inspect");
    {
        snprintf(args, sizeof args, "-m %s --inspect", stories);
        int rc = run(NULL, args, NULL);
        CHECK(rc == 0, "rc %d err [%s]", rc, g_err);
        CHECK(strstr(g_out, "general.architecture") && strstr(g_out, "llama") &&
              strstr(g_out, "tokenizer.ggml.tokens"), "metadata listed");
        CHECK(strstr(g_out, "token_embd.weight") && strstr(g_out, "blk.4.ffn_down.weight") &&
              strstr(g_out, "F32"), "tensor table");
        CHECK(strstr(g_out, "\nmodel: ") != NULL, "model summary");
        const char *arr = strstr(g_out, "tokenizer.ggml.tokens");
        const char *eol = arr ? strchr(arr, '\n') : NULL;
        CHECK(arr && eol && eol - arr < 200, "long arrays abbreviated");
        snprintf(args, sizeof args, "-m %s --inspect", qwen_vocab);
        rc = run(NULL, args, NULL);
        CHECK(rc == 0 && strstr(g_out, "tokenizer.ggml.model") && strstr(g_out, "vocabulary-only"),
              "vocabulary-only file: rc %d", rc);
    }

    TEST("the model's own chat template is recognised");
    {
        /* stories260K plus the TinyLlama chat template in tokenizer.chat_template */
        char path[512];
        snprintf(path, sizeof path, "%s/with-template.gguf", g_dir);
        apr_gguf *g = NULL;
        apr_gguf_writer *w = NULL;
        bool ok = apr_gguf_open(stories, &g, NULL) == APR_SUCCESS && apr_gguf_writer_create(&w, NULL) == APR_SUCCESS;
        for (int64_t i = 0; ok && i < apr_gguf_n_kv(g); i++) ok = apr_gguf_writer_copy_kv(w, g, i) == APR_SUCCESS;
        ok = ok && apr_gguf_writer_add_str(w, "tokenizer.chat_template",
                                           "{% for message in messages %}{% if message['role'] == 'user' %}"
                                           "{{ '<|user|>\n' + message['content'] + eos_token }}{% endif %}{% endfor %}"
                                           "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}") == APR_SUCCESS;
        for (int64_t i = 0; ok && i < apr_gguf_n_tensors(g); i++) {
            const apr_gguf_tensor *t = apr_gguf_tensor_at(g, i);
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
            ok = apr_gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne) == APR_SUCCESS;
        }
        ok = ok && apr_gguf_writer_begin_file(w, path, NULL) == APR_SUCCESS;
        for (int64_t i = 0; ok && i < apr_gguf_n_tensors(g); i++) {
            const apr_gguf_tensor *t = apr_gguf_tensor_at(g, i);
            ok = apr_gguf_writer_write_tensor_data(w, t->data, (size_t)t->size) == APR_SUCCESS;
        }
        ok = ok && apr_gguf_writer_finish(w, NULL) == APR_SUCCESS;
        apr_gguf_writer_free(w);
        apr_gguf_close(g);
        CHECK(ok, "wrote %s", path);
        snprintf(args, sizeof args, "-m %s --inspect", path);
        int rc = run(NULL, args, NULL);
        CHECK(rc == 0 && strstr(g_out, "chat template tinyllama"), "inspect: rc %d [%.300s]", rc,
              strstr(g_out, "\nmodel:") ? strstr(g_out, "\nmodel:") : g_out);
        snprintf(args, sizeof args, "-m %s --temp 0 -n 4 -v", path);
        rc = run(NULL, args, "Hi\n");
        CHECK(rc == 0 && strstr(g_err, "chat template tinyllama"), "chat uses it: [%s]", g_err);
    }

    /* the expected greedy continuation: llama2.c's run.c output (first space dropped) */
    char *greedy = (char *)test_read_file(test_shared("data/models/stories260K.greedy200.txt"), NULL);
    TEST("one-shot greedy generation");
    {
        snprintf(args, sizeof args, "-m %s -p '' -n 200 --temp 0 -t 1", stories);
        int rc = run(NULL, args, NULL);
        CHECK(rc == 0, "rc %d err [%s]", rc, g_err);
        CHECK(greedy && g_out[0] == ' ' && strcmp(g_out + 1, greedy) == 0, "stdout [%s]", g_out);
        CHECK(strstr(g_err, "tokens per second") != NULL, "timing on stderr [%s]", g_err);
        snprintf(args, sizeof args, "-m %s -p 'Once upon a time' -n 30 --temp 0", stories);
        rc = run(NULL, args, NULL);
        char joined[4096];
        snprintf(joined, sizeof joined, "Once upon a time%s", g_out);
        CHECK(rc == 0 && strlen(g_out) > 40 && greedy && strncmp(joined, greedy, strlen(joined)) == 0,
              "continuation [%s]", g_out);
        snprintf(args, sizeof args, "-m %s -p '' -n 200 --temp 0 -r Lily -r 'no such stop'", stories);
        rc = run(NULL, args, NULL);
        CHECK(rc == 0 && strcmp(g_out, " Once upon a time, there was a little girl named ") == 0,
              "stop string: [%s]", g_out);
        snprintf(args, sizeof args, "-m %s -p '' -n 5 --temp 0.8 -s 7", stories);
        rc = run(NULL, args, NULL);
        char first[1024];
        snprintf(first, sizeof first, "%s", g_out);
        rc |= run(NULL, args, NULL);
        CHECK(rc == 0 && strcmp(first, g_out) == 0 && g_out[0], "same seed, same text [%s] [%s]", first, g_out);
    }

    TEST("chat over a pipe");
    {
        snprintf(args, sizeof args, "-m %s --temp 0 -n 8 --chat-template chatml -sys 'Be brief.'", stories);
        int rc = run(NULL, args, "Hello\n/clear\nline one \\\nline two\n\"\"\"\nblock\n\"\"\"\n/exit\nnot reached\n");
        CHECK(rc == 0, "rc %d err [%s]", rc, g_err);
        CHECK(strstr(g_out, "(new conversation)") != NULL, "stdout [%s]", g_out);
        CHECK(count_lines(g_out) >= 4, "answers printed [%s]", g_out);
        rc = run(NULL, args, "");
        CHECK(rc == 0, "EOF exits cleanly: %d", rc);
    }

    TEST("Ctrl-C stops the answer, not the program; twice exits");
    {
        char out_path[512];
        snprintf(out_path, sizeof out_path, "%s/ctrlc.out", g_dir);
        snprintf(args, sizeof args, "-m %s -n -1 -c 4096 --temp 0 -t 1 --chat-template chatml", stories);
        int in_fd = -1;
        pid_t pid = spawn_chat(args, &in_fd, out_path);
        CHECK(pid > 0, "spawned");
        if (pid > 0) {
            CHECK(write(in_fd, "Hello\n", 6) == 6, "write");
            bool started = wait_output(out_path, 20, 10000);
            kill(pid, SIGINT);
            usleep(300000);
            int st = 0;
            CHECK(started && waitpid(pid, &st, WNOHANG) == 0, "still running after one Ctrl-C");
            long len1 = file_len(out_path);
            usleep(300000);
            CHECK(file_len(out_path) == len1, "the answer stopped (%ld -> %ld bytes)", len1, file_len(out_path));
            CHECK(write(in_fd, "/exit\n", 6) == 6, "write");
            close(in_fd);
            int rc = wait_exit(pid, 10000);
            CHECK(rc == 0, "/exit after a stopped answer: exit %d", rc);
        }
        pid = spawn_chat(args, &in_fd, out_path);
        if (pid > 0) {
            CHECK(write(in_fd, "Hello\n", 6) == 6, "write");
            bool started = wait_output(out_path, 20, 10000);
            kill(pid, SIGINT);
            /* Two SIGINTs sent while the child is not scheduled (a busy machine) would be
               delivered as one: send the second once the first has stopped the answer. */
            long last = -1;
            for (int i = 0; i < 50 && file_len(out_path) != last; i++) {
                last = file_len(out_path);
                usleep(200000);
            }
            kill(pid, SIGINT);
            int rc = wait_exit(pid, 10000);
            CHECK(started && rc == 130, "second Ctrl-C exits 130: %d", rc);
            close(in_fd);
        }
    }

    TEST("-hf download with resume, cache, errors");
    {
        srv_file = (char *)test_read_file(stories, &srv_size);
        bool up = srv_file && srv_start();
        CHECK(up, "server started");
        if (up) {
            char env[1024], cached[1024], part[1100];
            snprintf(env, sizeof env, "HF_ENDPOINT=http://127.0.0.1:%d APR_CACHE=%s/cache", srv_port, g_dir);
            snprintf(cached, sizeof cached, "%s/cache/test/tiny-GGUF/tiny-F32.gguf", g_dir);
            snprintf(part, sizeof part, "%s.part", cached);
            /* a partial download left by an interrupted run */
            char dirs[1024];
            snprintf(dirs, sizeof dirs, "%s/cache", g_dir);
            mkdir(dirs, 0755);
            snprintf(dirs, sizeof dirs, "%s/cache/test", g_dir);
            mkdir(dirs, 0755);
            snprintf(dirs, sizeof dirs, "%s/cache/test/tiny-GGUF", g_dir);
            mkdir(dirs, 0755);
            FILE *f = fopen(part, "wb");
            fwrite(srv_file, 1, srv_size / 3, f);
            fclose(f);
            int rc = run(env, "-hf test/tiny-GGUF:f32 -p '' -n 200 --temp 0", NULL);
            CHECK(rc == 0, "rc %d err [%s]", rc, g_err);
            CHECK(files_equal(cached, stories), "downloaded file equals the original");
            CHECK(access(part, F_OK) != 0, "partial file renamed");
            CHECK(srv_range_gets == 1, "resumed with a Range request (%d)", srv_range_gets);
            CHECK(greedy && g_out[0] == ' ' && strcmp(g_out + 1, greedy) == 0, "generates from it [%.80s]", g_out);
            int gets = srv_file_gets;
            rc = run(env, "-hf test/tiny-GGUF:F32 -p '' -n 3 --temp 0", NULL);
            CHECK(rc == 0 && srv_file_gets == gets, "second run uses the cache (%d GETs)", srv_file_gets - gets);
            remove(cached);
            rc = run(env, "-hf test/tiny-GGUF:F32 --tokenize -p 'Once upon a time'", NULL);
            CHECK(rc == 0 && files_equal(cached, stories) && srv_range_gets == 1, "fresh download: rc %d", rc);
            CHECK(strcmp(g_out, "403 407 261 378\n") == 0, "tokens [%s]", g_out);

            int before = srv_api_gets;
            rc = run(env, "-hf test/tiny-GGUF:Q2_K -p x", NULL);
            CHECK(rc == 1 && count_lines(g_err) == 1 && strstr(g_err, "Q2_K") && srv_api_gets == before + 1,
                  "no matching quant: rc %d [%s]", rc, g_err);
            rc = run(env, "-hf test/missing-repo -p x", NULL);
            CHECK(rc == 1 && count_lines(g_err) == 1, "missing repo: rc %d [%s]", rc, g_err);
            rc = run(env, "-hf 'bad;name/x' -p x", NULL);
            CHECK(rc == 1 && count_lines(g_err) == 1, "unsafe name refused: rc %d [%s]", rc, g_err);
        }
        /* nothing listens on port 9 of the loopback: the offline message */
        char env[1024];
        snprintf(env, sizeof env, "HF_ENDPOINT=http://127.0.0.1:9 APR_CACHE=%s/cache2", g_dir);
        int rc = run(env, "-hf test/tiny-GGUF -p x", NULL);
        CHECK(rc == 1 && count_lines(g_err) == 1 && strstr(g_err, "-m"), "offline: rc %d [%s]", rc, g_err);
    }
    TEST("tools/chat.sh (make chat)");
    {
        char cmd[4096], out_path[512], err_path[512];
        snprintf(out_path, sizeof out_path, "%s/sh.out", g_dir);
        snprintf(err_path, sizeof err_path, "%s/sh.err", g_dir);
        snprintf(cmd, sizeof cmd, "HF_ENDPOINT=http://127.0.0.1:9 APR_CACHE=%s/cache3 tools/chat.sh </dev/null >%s 2>%s",
                 g_dir, out_path, err_path);
        int st = system(cmd);
        char *err = (char *)test_read_file(err_path, NULL);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1 && err && count_lines(err) == 1 && strstr(err, "MODEL="),
              "offline: one line naming MODEL=: [%s]", err ? err : "");
        free(err);
        snprintf(cmd, sizeof cmd, "printf 'Hi\n/exit\n' | MODEL=%s ARGS='--temp 0 -n 4' tools/chat.sh >%s 2>%s",
                 stories, out_path, err_path);
        st = system(cmd);
        char *out = (char *)test_read_file(out_path, NULL);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && out && out[0], "MODEL=file chats: [%s]", out ? out : "");
        free(out);
    }
    free(greedy);
    free(g_out);
    free(g_err);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return test_finish();
}
