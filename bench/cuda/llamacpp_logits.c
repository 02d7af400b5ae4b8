/* bench/cuda/llamacpp_logits.c - llama.cpp's logits for bench/cuda/xcheck.c: a fixed sequence of
   random token ids decoded one at a time (batch 1, positions 0, 1, ...), every step's logits
   written to a file, so that apr's CPU and GPU can be compared with llama.cpp's CPU and CUDA
   backends on the same GGUF file, and with each other, in one table.

   Built against a llama.cpp source tree (not part of apr; see bench/cuda/llamacpp_xcheck.sh,
   which builds it with CMake and links the `llama` target).
   usage: llamacpp_logits model.gguf n_gpu_layers out.bin [steps]
   out.bin: int32 n_vocab, int32 steps, int32 tokens[steps], float logits[steps][n_vocab].
   The token ids come from the same generator as xcheck.c's (seed 12345). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "llama.h"

static unsigned rng = 12345;
static int random_token(int n_vocab) {
    rng = rng * 1103515245u + 12345u;
    return (int)((rng >> 8) % (unsigned)n_vocab);
}

static void quiet_log(enum ggml_log_level level, const char *text, void *user) {
    (void)user;
    if (level >= GGML_LOG_LEVEL_WARN) fputs(text, stderr);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s model.gguf n_gpu_layers out.bin [steps]\n", argv[0]);
        return 2;
    }
    const int n_gpu_layers = atoi(argv[2]);
    const int steps = argc > 4 ? atoi(argv[4]) : 40;
    if (steps < 1 || steps > 4096) { fprintf(stderr, "steps must be 1..4096\n"); return 2; }

    llama_log_set(quiet_log, NULL);
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = n_gpu_layers;
    struct llama_model *model = llama_model_load_from_file(argv[1], mp);
    if (!model) { fprintf(stderr, "cannot load %s\n", argv[1]); return 1; }
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (uint32_t)(steps < 64 ? 64 : steps + 16);
    cp.n_batch = cp.n_ubatch = 32;
    cp.n_threads = cp.n_threads_batch = 2;
    cp.type_k = cp.type_v = GGML_TYPE_F16;            /* apr's default KV cache is F16 too */
    cp.op_offload = n_gpu_layers > 0;                 /* the CPU column: nothing on a GPU */
    struct llama_context *ctx = llama_init_from_model(model, cp);
    if (!ctx) { fprintf(stderr, "cannot create a context\n"); return 1; }
    const int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));

    FILE *out = fopen(argv[3], "wb");
    if (!out) { fprintf(stderr, "cannot write %s\n", argv[3]); return 1; }
    int *tokens = malloc(sizeof(int) * (size_t)steps);
    for (int i = 0; i < steps; i++) tokens[i] = random_token(n_vocab);
    fwrite(&n_vocab, 4, 1, out);
    fwrite(&steps, 4, 1, out);
    fwrite(tokens, 4, (size_t)steps, out);
    for (int i = 0; i < steps; i++) {
        llama_token t = tokens[i];
        if (llama_decode(ctx, llama_batch_get_one(&t, 1)) != 0) { fprintf(stderr, "decode failed at %d\n", i); return 1; }
        const float *logits = llama_get_logits_ith(ctx, -1);
        fwrite(logits, sizeof(float), (size_t)n_vocab, out);
    }
    fclose(out);
    free(tokens);
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    printf("%s: %d steps, %d logits each, n_gpu_layers %d -> %s\n", argv[1], steps, n_vocab, n_gpu_layers, argv[3]);
    return 0;
}
