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
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <cblas.h>
/* OpenBLAS's header pulls in <complex.h>, whose macro I would rename. */
#undef I

#include "bp_alloc.h"
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

#ifdef BP_HAVE_DNNL
/* bp_sgemm_bias's primitives: oneDNN matmuls with the bias as their bias
 * input, so that no pass writes the bias rows before the product (and the
 * product is made with beta 0). A thread's own cache (matmuls of the shapes
 * it was last asked for, each with its memories and scratchpad, on the
 * thread's own engine and stream), made on its first call of a shape and
 * freed when the thread ends: no allocation per step after the first. */
#define MM_ENTRIES 8

typedef struct mm_entry {
    int M, N, K;
    unsigned long used; /* the cache's call count when last used */
    dnnl_primitive_t p;
    dnnl_memory_t a, w, b, c, pad;
} mm_entry;

typedef struct mm_cache {
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    unsigned long calls;
    mm_entry e[MM_ENTRIES];
} mm_cache;

static pthread_key_t mm_key;
static pthread_once_t mm_once = PTHREAD_ONCE_INIT;
static int mm_key_ok;

static void mm_entry_free(mm_entry *en) {
    dnnl_memory_t *m[] = {&en->a, &en->w, &en->b, &en->c, &en->pad};
    for (size_t k = 0; k < sizeof m / sizeof m[0]; k++)
        if (*m[k]) dnnl_memory_destroy(*m[k]);
    if (en->p) dnnl_primitive_destroy(en->p);
    memset(en, 0, sizeof *en);
}

static void mm_cache_free(void *v) {
    mm_cache *c = v;
    if (!c) return;
    for (int k = 0; k < MM_ENTRIES; k++) mm_entry_free(&c->e[k]);
    if (c->stream) dnnl_stream_destroy(c->stream);
    if (c->eng) dnnl_engine_destroy(c->eng);
    bp_free(c);
}

static void mm_key_make(void) { mm_key_ok = !pthread_key_create(&mm_key, mm_cache_free); }

/* The calling thread's cache, made on its first call; NULL on failure. */
static mm_cache *mm_cache_of(void) {
    pthread_once(&mm_once, mm_key_make);
    if (!mm_key_ok) return NULL;
    mm_cache *c = pthread_getspecific(mm_key);
    if (c) return c;
    c = bp_calloc(1, sizeof *c);
    if (!c) return NULL;
    if (dnnl_engine_create(&c->eng, dnnl_cpu, 0) ||
        dnnl_stream_create(&c->stream, c->eng, dnnl_stream_default_flags) ||
        pthread_setspecific(mm_key, c)) {
        mm_cache_free(c);
        return NULL;
    }
    return c;
}

/* en's matmul for C (M x N) = A (M x K) W^T + b, W row-major N x K (oneDNN's
 * K x N weights in layout ba), with its memories (handles set per call) and
 * scratchpad; -1 if oneDNN cannot. */
static int mm_entry_init(mm_entry *en, dnnl_engine_t eng, int M, int N, int K) {
    dnnl_memory_desc_t ad, wd, bd, cd;
    dnnl_dims_t da = {M, K}, dw = {K, N}, db = {1, N}, dc = {M, N};
    dnnl_matmul_desc_t md;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    int rc = -1;
    if (dnnl_memory_desc_init_by_tag(&ad, 2, da, dnnl_f32, dnnl_ab) ||
        dnnl_memory_desc_init_by_tag(&wd, 2, dw, dnnl_f32, dnnl_ba) ||
        dnnl_memory_desc_init_by_tag(&bd, 2, db, dnnl_f32, dnnl_ab) ||
        dnnl_memory_desc_init_by_tag(&cd, 2, dc, dnnl_f32, dnnl_ab) ||
        dnnl_matmul_desc_init(&md, &ad, &wd, &bd, &cd) || dnnl_primitive_attr_create(&attr) ||
        dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) ||
        dnnl_primitive_desc_create(&pd, &md, attr, eng, NULL))
        goto end;
    const dnnl_memory_desc_t *pad = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    if ((pad && dnnl_memory_desc_get_size(pad) &&
         dnnl_memory_create(&en->pad, pad, eng, DNNL_MEMORY_ALLOCATE)) ||
        dnnl_memory_create(&en->a, &ad, eng, DNNL_MEMORY_NONE) ||
        dnnl_memory_create(&en->w, &wd, eng, DNNL_MEMORY_NONE) ||
        dnnl_memory_create(&en->b, &bd, eng, DNNL_MEMORY_NONE) ||
        dnnl_memory_create(&en->c, &cd, eng, DNNL_MEMORY_NONE) ||
        dnnl_primitive_create(&en->p, pd))
        goto end;
    en->M = M, en->N = N, en->K = K;
    rc = 0;
end:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (rc) mm_entry_free(en);
    return rc;
}

/* c's entry for the shape, made if new in place of the least recently
 * used; NULL when oneDNN cannot. */
static mm_entry *mm_entry_for(mm_cache *c, int M, int N, int K) {
    mm_entry *en = &c->e[0];
    c->calls++;
    for (int k = 0; k < MM_ENTRIES; k++)
        if (c->e[k].p && c->e[k].M == M && c->e[k].N == N && c->e[k].K == K) {
            c->e[k].used = c->calls;
            return &c->e[k];
        }
    for (int k = 1; k < MM_ENTRIES; k++)
        if (c->e[k].used < en->used) en = &c->e[k];
    mm_entry_free(en);
    if (mm_entry_init(en, c->eng, M, N, K)) return NULL;
    en->used = c->calls;
    return en;
}
#endif

int bp_sgemm_bias(float *C, const float *A, const float *W, const float *b, int M, int N,
                  int K) {
#ifdef BP_HAVE_DNNL
    bp_gemm_single();
    mm_cache *c = mm_cache_of();
    mm_entry *en = c ? mm_entry_for(c, M, N, K) : NULL;
    if (!en || dnnl_memory_set_data_handle(en->a, (void *)A) ||
        dnnl_memory_set_data_handle(en->w, (void *)W) ||
        dnnl_memory_set_data_handle(en->b, (void *)b) ||
        dnnl_memory_set_data_handle(en->c, C))
        return -1;
    dnnl_exec_arg_t a[5] = {{DNNL_ARG_SRC, en->a},
                            {DNNL_ARG_WEIGHTS, en->w},
                            {DNNL_ARG_BIAS, en->b},
                            {DNNL_ARG_DST, en->c},
                            {DNNL_ARG_SCRATCHPAD, en->pad}};
    return dnnl_primitive_execute(en->p, c->stream, en->pad ? 5 : 4, a) ||
                   dnnl_stream_wait(c->stream)
               ? -1
               : 0;
#else
    (void)C, (void)A, (void)W, (void)b, (void)M, (void)N, (void)K;
    return -1;
#endif
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
