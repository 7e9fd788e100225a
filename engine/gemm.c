/* gemm.c: the float32 products on oneDNN or OpenBLAS (bp_gemm.h says which
 * backend does what).
 *
 * oneDNN's dnnl_sgemm rather than its matmul primitives: on W2's and W3's
 * shapes the two run at the same speed (scripts/bench/NOTES.md), and
 * dnnl_sgemm needs no primitive made and cached per shape, per thread.
 *
 * Debian's oneDNN runs on GCC's OpenMP and takes as many threads as
 * omp_get_max_threads() says, an OpenMP setting of each calling thread. It
 * is set to 1 on each thread's first product: a parallel region of
 * oneDNN's on a machine with other work on it ran W2's products 6 to 16
 * times slower than one thread did (NOTES.md), its threads spinning at
 * barriers for cores that others held; the net's team (bp_team.h) is the
 * one source of threads, and OpenMP never starts one. */
#include <stdio.h>
#include <string.h>

#include <cblas.h>
/* OpenBLAS's header pulls in <complex.h>, whose macro I would rename. */
#undef I

#include "bp_gemm.h"

/* The instruction sets bp_gemm_pin_isa takes, by the names oneDNN's
 * DNNL_MAX_CPU_ISA uses, in lower case (and isa_of's values, in order). */
static const char *const isa_names[] = {"sse41",
                                        "avx",
                                        "avx2",
                                        "avx512_core",
                                        "avx512_core_vnni",
                                        "avx512_core_bf16",
                                        "avx512_core_amx",
                                        "avx2_vnni"};
#define N_ISAS (sizeof isa_names / sizeof isa_names[0])

#ifdef BP_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
/* OpenMP's API, which oneDNN runs on: declared here, as clang has no omp.h
 * without libomp-dev, and the symbol is libgomp's either way. */
void omp_set_num_threads(int n);

static const dnnl_cpu_isa_t isa_of[N_ISAS] = {dnnl_cpu_isa_sse41,
                                              dnnl_cpu_isa_avx,
                                              dnnl_cpu_isa_avx2,
                                              dnnl_cpu_isa_avx512_core,
                                              dnnl_cpu_isa_avx512_core_vnni,
                                              dnnl_cpu_isa_avx512_core_bf16,
                                              dnnl_cpu_isa_avx512_core_amx,
                                              dnnl_cpu_isa_avx2_vnni};

static const char *isa_name(dnnl_cpu_isa_t isa) {
    for (size_t k = 0; k < N_ISAS; k++)
        if (isa_of[k] == isa) return isa_names[k];
    return isa == dnnl_cpu_isa_all ? "all" : "?";
}
#endif

static const char *pinned;

void bp_gemm_single(void) {
#ifdef BP_HAVE_DNNL
    static _Thread_local int single;
    if (!single) {
        omp_set_num_threads(1); /* this thread's setting only */
        single = 1;
    }
#endif
}

void bp_sgemm(int order, int transa, int transb, int M, int N, int K, float alpha,
              const float *A, int lda, const float *B, int ldb, float beta, float *C,
              int ldc) {
#ifdef BP_HAVE_DNNL
    bp_gemm_single();
    if (order == CblasRowMajor &&
        dnnl_sgemm(transa == CblasTrans ? 'T' : 'N', transb == CblasTrans ? 'T' : 'N', M,
                   N, K, alpha, A, lda, B, ldb, beta, C, ldc) == dnnl_success)
        return;
#endif
    cblas_sgemm((enum CBLAS_ORDER)order, (enum CBLAS_TRANSPOSE)transa,
                (enum CBLAS_TRANSPOSE)transb, M, N, K, alpha, A, lda, B, ldb, beta, C,
                ldc);
}

void bp_gemm_backend(char *buf, size_t size, bp_dtype dtype) {
#ifdef BP_HAVE_DNNL
    if (dtype == BP_F32) {
        const dnnl_version_t *v = dnnl_version();
        snprintf(buf, size, "oneDNN %d.%d.%d (dnnl_sgemm, %s%s)", v->major, v->minor,
                 v->patch, isa_name(dnnl_get_effective_cpu_isa()),
                 pinned ? ", pinned" : "");
        return;
    }
#endif
    (void)dtype;
    /* openblas_get_config(): "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY
     * Haswell MAX_THREADS=64"; the version and the kernels are what tell. */
    char version[32] = "";
    sscanf(openblas_get_config(), "OpenBLAS %31s", version);
    snprintf(buf, size, "OpenBLAS %s (%s)", version, openblas_get_corename());
}

int bp_gemm_pin_isa(const char *isa, bp_err *e) {
    size_t k = 0;
    while (k < N_ISAS && strcmp(isa, isa_names[k])) k++;
    if (k == N_ISAS)
        return bp_err_set(e,
                          "unknown instruction set '%s' (expected sse41, avx, avx2, "
                          "avx512_core, avx512_core_vnni, avx512_core_bf16, "
                          "avx512_core_amx or avx2_vnni)",
                          isa);
    if (pinned == isa_names[k]) return 0;
#ifdef BP_HAVE_DNNL
    if (pinned || dnnl_set_max_cpu_isa(isa_of[k]) != dnnl_success)
        return bp_err_set(e,
                          "cannot pin oneDNN's kernels to %s: they are chosen already "
                          "(pin before the first float32 product)",
                          isa);
#endif
    pinned = isa_names[k];
    return 0;
}

const char *bp_gemm_pinned(void) { return pinned; }
