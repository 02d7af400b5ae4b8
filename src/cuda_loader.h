/* ====================================================================================
   CUDA loader: finds libapr_cuda (the plugin built from apr_cuda.cu), resolves its one
   entry point and checks the plugin ABI. apr never links CUDA: when anything here fails
   the model runs on the CPU and the log says why, once, at INFO level.
   ==================================================================================== */

#if defined(_WIN32)
#define APR__CUDA_LIB_NAME "apr_cuda.dll"
#elif defined(__APPLE__)
#define APR__CUDA_LIB_NAME "libapr_cuda.dylib"
#else
#define APR__CUDA_LIB_NAME "libapr_cuda.so"
#endif

/* Open one candidate and check it. Returns 1 on success, 0 if the file could not be
   opened (try the next place), -1 if it opened but is unusable (stop: a library that is
   found but broken should be reported, not silently skipped for another copy). */
static int apr__cuda_try(const char *path, const apr__logger *log, void **lib,
                         const apr_backend_vtable **vt, char *why, size_t why_size) {
    void *h = apr__dl_open(path);
    if (!h) {
        snprintf(why, why_size, "cannot open %s", path);
        return 0;
    }
    apr_backend_entry_fn entry = NULL;
    void *sym = apr__dl_sym(h, APR_CUDA_ENTRY_NAME);
    /* object pointer -> function pointer: the only portable spelling is a memcpy */
    memcpy(&entry, &sym, sizeof entry < sizeof sym ? sizeof entry : sizeof sym);
    if (!sym || !entry) {
        snprintf(why, why_size, "%s has no symbol %s", path, APR_CUDA_ENTRY_NAME);
        apr__dl_close(h);
        return -1;
    }
    const apr_backend_vtable *v = entry(APR_BACKEND_ABI);
    if (!v || v->abi_version != APR_BACKEND_ABI) {
        snprintf(why, why_size, "%s speaks plugin ABI %u, apr needs %u", path,
                 v ? (unsigned)v->abi_version : 0u, (unsigned)APR_BACKEND_ABI);
        apr__dl_close(h);
        return -1;
    }
    if (!v->model_load || !v->model_free || !v->context_create || !v->context_free ||
        !v->forward) {
        snprintf(why, why_size, "%s has an incomplete backend table", path);
        apr__dl_close(h);
        return -1;
    }
    (void)log;
    *lib = h;
    *vt = v;
    return 1;
}

/* Search order: explicit_path, $APR_CUDA_PATH, beside the executable, the system's
   library path. An explicit path or $APR_CUDA_PATH that fails ends the search (the user
   asked for that file). */
static bool apr__cuda_plugin_open(const char *explicit_path, const apr__logger *log,
                                  void **lib, const apr_backend_vtable **vt) {
    char why[1200];
    char path[1100];
    int r = 0;
    *lib = NULL;
    *vt = NULL;
    why[0] = 0;
    const char *env = getenv("APR_CUDA_PATH");
    if (explicit_path && *explicit_path) {
        r = apr__cuda_try(explicit_path, log, lib, vt, why, sizeof why);
        if (r == 0) r = -1;
    } else if (env && *env) {
        r = apr__cuda_try(env, log, lib, vt, why, sizeof why);
        if (r == 0) {
            snprintf(why, sizeof why, "cannot open APR_CUDA_PATH=%s", env);
            r = -1;
        }
    } else {
        char dir[1024];
        apr__exe_dir(dir, sizeof dir);
        if (dir[0]) {
            snprintf(path, sizeof path, "%s%s", dir, APR__CUDA_LIB_NAME);
            r = apr__cuda_try(path, log, lib, vt, why, sizeof why);
        }
        if (r == 0) {
            r = apr__cuda_try(APR__CUDA_LIB_NAME, log, lib, vt, why, sizeof why);
            if (r == 0) snprintf(why, sizeof why, "%s not found", APR__CUDA_LIB_NAME);
        }
    }
    if (r == 1) {
        apr__log(log, APR_LOG_DEBUG, "CUDA backend plugin loaded (%s)", (*vt)->name ? (*vt)->name : "?");
        return true;
    }
    apr__log(log, APR_LOG_INFO, "CUDA backend not available (%s): using the CPU", why);
    *lib = NULL;
    *vt = NULL;
    return false;
}

static void apr__cuda_plugin_close(void *lib) { apr__dl_close(lib); }
