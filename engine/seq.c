/* seq.c: the kernels of sequences (bp_seq.h), embedding, the LSTM, GRU
 * and RNN, and self-attention, in double and float.
 *
 * Templates compiled here twice (real.h), as conv.c compiles its own:
 * seq_ref.h, the definitions a sum at a time (and the LSTM cell both
 * builds share), and seq_fast.h, the LSTM through matrix products, held to
 * the reference by tests/test_seq.c; seq_fast.h's float build runs the
 * vectorized cell of seq_cell.c (seq_int.h); attn_ref.h and attn_fast.h
 * likewise for attention (after them: they reuse their affine maps and
 * products), held by tests/test_attention.c.
 *
 * Dimensions: B, T, V, D, I, H, G (bp_seq.h). */
#include <math.h>
#include <string.h>

#include <cblas.h>
/* OpenBLAS's header pulls in <complex.h>, whose macro I is nobody's here. */
#undef I

#include "bp_gemm.h"
#include "bp_ops.h"
#include "bp_seq.h"
#include "ops_vec.h"
#include "seq_int.h"

#define BP_REAL_F32 0
#include "real.h"
#include "seq_ref.h"
#include "seq_fast.h"
#include "attn_ref.h"
#include "attn_fast.h"
#undef PREV
#undef BP_REAL_F32

#define BP_REAL_F32 1
#include "real.h"
#include "seq_ref.h"
#include "seq_fast.h"
#include "attn_ref.h"
#include "attn_fast.h"
#undef PREV
#undef BP_REAL_F32
