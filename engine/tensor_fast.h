/* tensor_fast.h: the fast paths of tensor.c's element loops, for tensors
 * whose numbers are all of one dtype (the case of every layer a script
 * writes). A template, compiled twice by tensor.c (real.h).
 *
 * The reference loops of tensor.c read and write every number through
 * bp_tensor_get/set, a call and a dtype test per element, and test the
 * operator inside the loop. These take both out of the loop, and nothing
 * else: each computes what its reference computes, to the bit.
 *   - + - * / and sqrt in float are the double operation rounded once to
 *     float (double carries more than twice float's digits, so rounding
 *     twice cannot differ from rounding once), so they are written in
 *     REAL and vectorise;
 *   - exp, log, tanh and the sigmoid go through double, as the reference;
 *   - sums and means accumulate in double in the reference's order.
 * tests/lua/test_tensor.lua (test_fast_paths_equal_reference) pins each
 * against its reference, which a tensor of the other dtype among the
 * operands selects.
 *
 * n a tensor's element count; k a broadcast row's length (k divides n);
 * outer x len x inner the reduced tensor's view, len the reduced size. */

/* out[i] = a[i] op s, for n elements; out may be a. s stays a double, as
 * the reference has it (0.1 rounded to float first would give other
 * products), so here the operation is double's, rounded on store. */
static void SFX(scalar_fast)(REAL *out, const REAL *a, char op, double s, size_t n) {
    switch (op) {
    case '+': for (size_t i = 0; i < n; i++) out[i] = (REAL)(a[i] + s); break;
    case '-': for (size_t i = 0; i < n; i++) out[i] = (REAL)(a[i] - s); break;
    case '*': for (size_t i = 0; i < n; i++) out[i] = (REAL)(a[i] * s); break;
    default: for (size_t i = 0; i < n; i++) out[i] = (REAL)(a[i] / s); break;
    }
}

/* out[i] = a[i] op b[i % k]; out may be a or b (then k = n). */
static void SFX(binary_fast)(REAL *out, const REAL *a, char op, const REAL *b, size_t n,
                             size_t k) {
    if (k == 1) {
        SFX(scalar_fast)(out, a, op, b[0], n);
        return;
    }
    for (size_t r = 0; r < n; r += k) {
        REAL *o = out + r;
        const REAL *x = a + r;
        switch (op) {
        case '+': for (size_t j = 0; j < k; j++) o[j] = x[j] + b[j]; break;
        case '-': for (size_t j = 0; j < k; j++) o[j] = x[j] - b[j]; break;
        case '*': for (size_t j = 0; j < k; j++) o[j] = x[j] * b[j]; break;
        default: for (size_t j = 0; j < k; j++) o[j] = x[j] / b[j]; break;
        }
    }
}

/* out = f(a) element-wise, f's formula as fn_eval writes it. */
static void SFX(apply_fast)(REAL *out, const REAL *a, bp_tensor_fn f, size_t n) {
    switch (f) {
    case BP_TFN_EXP: for (size_t i = 0; i < n; i++) out[i] = (REAL)exp(a[i]); break;
    case BP_TFN_LOG: for (size_t i = 0; i < n; i++) out[i] = (REAL)log(a[i]); break;
    case BP_TFN_TANH: for (size_t i = 0; i < n; i++) out[i] = (REAL)tanh(a[i]); break;
    case BP_TFN_SIGMOID:
        for (size_t i = 0; i < n; i++) out[i] = (REAL)(1.0 / (1.0 + exp(-(double)a[i])));
        break;
    case BP_TFN_RELU: for (size_t i = 0; i < n; i++) out[i] = a[i] > 0 ? a[i] : 0; break;
    case BP_TFN_SQRT: for (size_t i = 0; i < n; i++) out[i] = (REAL)sqrt(a[i]); break;
    case BP_TFN_ABS: for (size_t i = 0; i < n; i++) out[i] = (REAL)fabs(a[i]); break;
    default: for (size_t i = 0; i < n; i++) out[i] = (REAL)((a[i] > 0) - (a[i] < 0)); break;
    }
}

/* out = clamp(a, lo, hi); lo and hi as the reference rounds them on store. */
static void SFX(clamp_fast)(REAL *out, const REAL *a, double lo, double hi, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double x = a[i];
        out[i] = (REAL)(x < lo ? lo : x > hi ? hi : x);
    }
}

/* The reduction of a {outer, len, inner} along len, into out {outer,
 * inner}: acc over l in the reference's order, in double, for a block of
 * up to 256 columns j at a time (so the inner loop runs along memory). */
static void SFX(reduce_fast)(REAL *out, const REAL *a, char op, size_t outer, size_t len,
                             size_t inner) {
    if (inner == 1) { /* along memory (a whole tensor's sum): one accumulator */
        for (size_t o = 0; o < outer; o++) {
            const REAL *x = a + o * len;
            double acc = x[0];
            if (op == 'x')
                for (size_t l = 1; l < len; l++) acc = x[l] > acc ? x[l] : acc;
            else
                for (size_t l = 1; l < len; l++) acc += x[l];
            out[o] = (REAL)(op == 'm' ? acc / (double)len : acc);
        }
        return;
    }
    double acc[256];
    for (size_t o = 0; o < outer; o++)
        for (size_t j0 = 0; j0 < inner; j0 += 256) {
            const size_t m = inner - j0 < 256 ? inner - j0 : 256;
            const REAL *x = a + o * len * inner + j0;
            for (size_t j = 0; j < m; j++) acc[j] = x[j];
            for (size_t l = 1; l < len; l++) {
                const REAL *row = x + l * inner;
                if (op == 'x')
                    for (size_t j = 0; j < m; j++) acc[j] = row[j] > acc[j] ? row[j] : acc[j];
                else
                    for (size_t j = 0; j < m; j++) acc[j] += row[j];
            }
            REAL *dst = out + o * inner + j0;
            for (size_t j = 0; j < m; j++)
                dst[j] = (REAL)(op == 'm' ? acc[j] / (double)len : acc[j]);
        }
}

/* out {N, M} = the transpose of a {M, N}. */
static void SFX(transpose_fast)(REAL *out, const REAL *a, size_t M, size_t N) {
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) out[j * M + i] = a[i * N + j];
}
