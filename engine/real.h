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
 *   EXP, LOG, TANH: its functions of math.h; GEMM: its cblas product;
 *   BCE_EPS  how close to 0 and 1 bce lets a probability come (float's
 *            epsilon is 1.2e-7: 1 - 1e-12 would round to 1 and log(1 - p)
 *            to -inf, so float clamps at 1e-7);
 * and for each row of BP_ACT_TABLE an activation NAME, as inline functions
 *   SFX(act_f_NAME)(v, a) and SFX(act_df_NAME)(d, h, o, a),
 * whose bodies are the row's formulas. Inlined, they are the formula
 * written in place, so the kernels expand them inside their loops. */
#undef REAL
#undef SFX
#undef GEMM
#undef EXP
#undef LOG
#undef TANH
#undef BCE_EPS
#undef SIGMOID

#if BP_REAL_F32
#define REAL float
#define SFX(name) name##_f32
#define GEMM cblas_sgemm
#define EXP expf
#define LOG logf
#define TANH tanhf
#define BCE_EPS 1e-7f
#else
#define REAL double
#define SFX(name) name
#define GEMM cblas_dgemm
#define EXP exp
#define LOG log
#define TANH tanh
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
