/* Compiled (not run) by `make compile-check` as C99 and C++ with gcc and clang, with
   APR_STATIC in two translation units linked together, and with APR_NO_SIMD/THREADS. */
#ifndef CHECK_SECOND_UNIT
#define APR_IMPLEMENTATION
#endif
#include "apr.h"
#ifdef CHECK_SECOND_UNIT
#define APR_IMPLEMENTATION
#include "apr.h"
const char *second_unit_version(void) { return apr_version(); }
#else
#include <stdio.h>
#if defined(APR_STATIC)
const char *second_unit_version(void);
#endif
int main(void) {
    apr_model_params mp = apr_model_default_params();
    (void)mp;
#if defined(APR_STATIC)
    printf("APR_STATIC: two units, versions %s and %s\n", apr_version(), second_unit_version());
#else
    printf("%s\n", apr_version());
#endif
    return 0;
}
#endif
