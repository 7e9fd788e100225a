/* bp_gemm.h: the library that makes each number type's matrix products.
 *
 * Which backend does what:
 *   float64  OpenBLAS (cblas_dgemm, called by the kernels directly), always:
 *            the reference paths and the lecture's figures keep their bits.
 *   float32  bp_sgemm below: oneDNN's dnnl_sgemm in a build with oneDNN
 *            (CMake's BP_DNNL, on by default where libdnnl-dev is found),
 *            OpenBLAS's cblas_sgemm otherwise.
 *
 * oneDNN runs single-threaded on every thread that calls it: a step is
 * split between the net's own team of threads (bp_team.h), each member
 * making its own rows' products, and oneDNN's OpenMP never starts a thread
 * of its own, so no more threads are busy than the team has members
 * (scripts/bench/NOTES.md has the figures behind this). The same thread
 * count gives the same bits.
 *
 * oneDNN picks its kernels by the processor (AVX-512 here, AVX2 on an older
 * machine), and kernels of different widths sum in different orders:
 * bp_gemm_pin_isa pins the family, so that machines give the same bits. */
#ifndef BP_GEMM_H
#define BP_GEMM_H

#include <stddef.h>

#include "bp_err.h"
#include "bp_types.h"

/* C = alpha op(A) op(B) + beta C in float32, with cblas_sgemm's arguments
 * and meaning (order, transa and transb are CBLAS's enum values, passed as
 * int so that this header needs no cblas.h). Row-major products go to
 * oneDNN where the build has it; anything else, or a call oneDNN refuses
 * (out of memory for its buffers), to OpenBLAS. */
void bp_sgemm(int order, int transa, int transb, int M, int N, int K, float alpha,
              const float *A, int lda, const float *B, int ldb, float beta, float *C,
              int ldc);

/* C (M x N, row-major) = A (M x K) W^T + b, W row-major N x K and b N
 * values: a linear layer's forward as one oneDNN matmul with b as its bias
 * input, instead of the bias copied into C's rows and a product with beta
 * 1 (one pass over C fewer). 0 when done; -1 when not (a build without
 * oneDNN, or oneDNN refused): then nothing is written, and the caller makes
 * it the other way. The primitive of each shape is made on the calling
 * thread's first call of it and kept (a few shapes a thread), so the same
 * shape gives the same bits; they are not bp_sgemm's bits. Held to the
 * plain loops by tests/test_ops.c, test_dense_reference. */
int bp_sgemm_bias(float *C, const float *A, const float *W, const float *b, int M, int N,
                  int K);
/* Sets oneDNN's OpenMP to one thread on the calling thread, once per
 * thread: before any oneDNN call (bp_sgemm, conv_dnnl.c's primitives), so
 * that oneDNN never starts threads of its own. Nothing without oneDNN. */
void bp_gemm_single(void);

/* Writes into buf (size bytes, truncated, always terminated) which library
 * makes dtype's products, with its version and kernels, as `backprop
 * --version` prints it: "OpenBLAS 0.3.21 (Haswell)" or "oneDNN 2.6.3
 * (dnnl_sgemm, avx512_core)". Asks oneDNN which kernels it uses, which
 * fixes them: bp_gemm_pin_isa fails after this. */
void bp_gemm_backend(char *buf, size_t size, bp_dtype dtype);

/* Pins oneDNN's kernels to the instruction set isa or below it, for the
 * rest of the process: "sse41", "avx", "avx2" (what every x86-64 machine of
 * the last decade has), "avx512_core", "avx512_core_vnni",
 * "avx512_core_bf16", "avx512_core_amx" or "avx2_vnni", the names of
 * oneDNN's DNNL_MAX_CPU_ISA. 0 on success (again for the same isa); -1 and
 * a message if isa is none of those, or if oneDNN has chosen already (a
 * float32 product was made, bp_gemm_backend asked, or another isa was
 * pinned). In a build without oneDNN it checks the name and does nothing
 * else: float32 products go to OpenBLAS, whose kernels OPENBLAS_CORETYPE
 * pins. */
int bp_gemm_pin_isa(const char *isa, bp_err *e);

/* The instruction set bp_gemm_pin_isa pinned, or NULL. */
const char *bp_gemm_pinned(void);

#endif
