/* real.h: one number type for the kernel templates, and the tables'
 * formulas (bp_ops.h) in that type.
 *
 * The kernels are written once and compiled twice, for double and for
 * float, so that a fix made to one type is made to both. A .c file sets
 * BP_REAL_F32 to 0 (double, names as written) or 1 (float, names ending in
 * _f32), includes this, then its templates (*_real.h, ops_ref.h,
 * ops_fast.h); then again with the other value. Everything here is
 * undefined first, so that it can be included once per type.
 *
 * What it defines:
 *   REAL     the type; SFX(name), the name of a function for it;
 *   EXP, EXPM1, LOG, TANH, ERF: its functions of math.h; GEMM: its
 *            product, with cblas's arguments (bp_sgemm for float:
 *            bp_gemm.h);
 *   BCE_EPS  how close to 0 and 1 bce lets a probability come (float's
 *            epsilon is 1.2e-7: 1 - 1e-12 would round to 1 and log(1 - p)
 *            to -inf, so float clamps at 1e-7);
 * and the rows of the tables of bp_ops.h as inline functions whose bodies
 * are the rows' formulas: for an activation NAME
 *   SFX(act_f_NAME)(v, a) and SFX(act_df_NAME)(d, h, o, a),
 * for a loss NAME
 *   SFX(loss_p_NAME)(out), SFX(loss_term_NAME)(y, p, a),
 *   SFX(loss_grad_NAME)(y, p, B, O, a) and SFX(loss_div_NAME)(l, O).
 * Inlined, they are the formula written in place, so the kernels expand
 * them inside their loops. */
#undef REAL
#undef SFX
#undef GEMM
#undef EXP
#undef LOG
#undef TANH
#undef ERF
#undef EXPM1
#undef BCE_EPS
#undef SIGMOID
#undef NORM_CDF
#undef NORM_PDF
#undef CLAMP_P
#undef HUBER_TERM
#undef HUBER_GRAD

#if BP_REAL_F32
#define REAL float
#define SFX(name) name##_f32
#define GEMM bp_sgemm
#define EXP expf
#define LOG logf
#define TANH tanhf
#define ERF erff
#define EXPM1 expm1f
#define BCE_EPS 1e-7f
#else
#define REAL double
#define SFX(name) name
#define GEMM cblas_dgemm
#define EXP exp
#define LOG log
#define TANH tanh
#define ERF erf
#define EXPM1 expm1
#define BCE_EPS 1e-12
#endif

/* The logistic function 1 / (1 + exp(-v)), written two ways so that exp
 * never overflows for large |v|. */
static inline REAL SFX(sigmoid)(REAL v) {
    if (v >= 0) return 1 / (1 + EXP(-v));
    REAL e = EXP(v);
    return e / (1 + e);
}
#define SIGMOID SFX(sigmoid)

/* The standard normal distribution's CDF Phi(v) = (1 + erf(v / sqrt 2)) / 2
 * and density phi(v) = exp(-v^2 / 2) / sqrt(2 pi), for gelu's row; written as
 * PyTorch's exact gelu computes them, in the type (constants rounded once
 * to it), so that a float network stays in float. */
static inline REAL SFX(norm_cdf)(REAL v) {
    return (REAL)0.5 * (1 + ERF(v * (REAL)0.70710678118654752440));
}
static inline REAL SFX(norm_pdf)(REAL v) {
    return (REAL)0.39894228040143267794 * EXP((REAL)-0.5 * v * v);
}
#define NORM_CDF SFX(norm_cdf)
#define NORM_PDF SFX(norm_pdf)

/* The rows of the activation table as functions (softmax's ROW has its own
 * in ops_ref.h). Every row gets every argument; (void) keeps the ones its
 * formula does not use from being warned about. */
#define ACT_FUNCTIONS(N, name, f, df)                                    \
    static inline REAL SFX(act_f_##N)(REAL v, REAL a) {                  \
        (void)a;                                                         \
        return f;                                                        \
    }                                                                    \
    static inline REAL SFX(act_df_##N)(REAL d, REAL h, REAL o, REAL a) { \
        (void)h, (void)o, (void)a;                                       \
        return df;                                                       \
    }
#define ACT_NO_FUNCTIONS(N, name, f, df)
BP_ACT_TABLE(ACT_FUNCTIONS, ACT_NO_FUNCTIONS)
#undef ACT_FUNCTIONS
#undef ACT_NO_FUNCTIONS

/* A kernel's switch over the activations: CASE(N, name, f, df) is the code
 * of an elementwise row (a loop of its own), ROW_CASE that of a row
 * function's. */
#ifndef ACT_SWITCH
#define ACT_SWITCH(act, CASE, ROW_CASE) \
    switch (act) {                      \
        BP_ACT_TABLE(CASE, ROW_CASE)    \
        default: break;                 \
    }
#endif

/* A probability kept from 0 and 1 for bce (BP_LOSS_TABLE). */
static inline REAL SFX(clamp_p)(REAL p) {
    return p < BCE_EPS ? BCE_EPS : p > 1 - BCE_EPS ? 1 - BCE_EPS : p;
}
#define CLAMP_P SFX(clamp_p)

/* huber's term and gradient (before the mean) of a difference d = p - y
 * with delta a: PyTorch's HuberLoss, 0.5 d^2 within a of 0, a (|d| - a/2)
 * beyond, whose derivative is d clamped to [-a, a]. */
static inline double SFX(huber_term)(REAL d, double a) {
    double m = fabs(d);
    return m < a ? 0.5 * d * d : a * (m - 0.5 * a);
}
static inline double SFX(huber_grad)(REAL d, double a) {
    return d <= -a ? -a : d >= a ? a : d;
}
#define HUBER_TERM SFX(huber_term)
#define HUBER_GRAD SFX(huber_grad)

/* The rows of the loss table as functions (softmax_ce's ROW has its own in
 * ops_ref.h). A sample's loss is the terms' sum, in double, divided by div:
 * loss_div returns that quotient. a is the loss's parameter (bp_crit_param),
 * which a row without one ignores. */
#define LOSS_FUNCTIONS(N, name, p_of_out, term, grad, div, ...)                       \
    static inline REAL SFX(loss_p_##N)(REAL out) { return p_of_out; }                 \
    static inline double SFX(loss_term_##N)(REAL y, REAL p, double a) {               \
        (void)a;                                                                      \
        return term;                                                                  \
    }                                                                                 \
    static inline double SFX(loss_grad_##N)(REAL y, REAL p, int B, int O, double a) { \
        (void)p, (void)B, (void)O, (void)a;                                           \
        return grad;                                                                  \
    }                                                                                 \
    static inline double SFX(loss_div_##N)(double l, int O) {                         \
        (void)O;                                                                      \
        return l / (div);                                                             \
    }
#define LOSS_NO_FUNCTIONS(N, name, loss_row, grad_row, ...)
BP_LOSS_TABLE(LOSS_FUNCTIONS, LOSS_NO_FUNCTIONS)
#undef LOSS_FUNCTIONS
#undef LOSS_NO_FUNCTIONS

/* A kernel's switch over the losses, as ACT_SWITCH; DEFAULT is the
 * statement for a value outside the table. */
#ifndef LOSS_SWITCH
#define LOSS_SWITCH(loss, CASE, ROW_CASE, DEFAULT) \
    switch (loss) {                                \
        BP_LOSS_TABLE(CASE, ROW_CASE)              \
        default: DEFAULT;                          \
    }
#endif
