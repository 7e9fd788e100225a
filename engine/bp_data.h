/* bp_data.h: real data sets in C memory, and what a training loop does to them.
 *
 * A bp_data is one matrix of inputs and one of targets, row-major, so that a
 * mini-batch is a pointer into it and goes to a network without a copy; the
 * 60,000 x 784 Fashion-MNIST training set costs its 376 MB of doubles and
 * nothing more (no Lua table per sample), or 188 MB with float32 inputs,
 * which a float32 network takes as they are, or, as its IDX files hold it,
 * 47 MB of bytes standing for either (x8: converted as a batch is
 * gathered). Loaders read CSV files
 * and IDX files (MNIST, Fashion-MNIST), plain or gzip-compressed; the rest
 * shuffles with the engine's seeded generator, splits, scales with statistics
 * fitted on the training part only, and scores predictions.
 *
 * Dimensions: n = samples, d = inputs per sample (columns of x), k = targets
 * per sample (columns of y); in the metrics, as in bp_ops.h, B = batch and
 * O = outputs of the network.
 *
 * Every fallible function returns -1 (a constructor: NULL) with a sentence in
 * *e (e may be NULL); file errors start with the path as given, then the
 * line and column (1-based) where there is one: "iris.csv:14:3: ...".
 * Nothing here exits, aborts or prints. */
#ifndef BP_DATA_H
#define BP_DATA_H

#include "bp_err.h"
#include "bp_rng.h"
#include "bp_types.h"

/* Where Debian's dataset-fashion-mnist package installs its four files. */
#define BP_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/* The one-hot loaders refuse more classes than this: a target column with
 * thousands of distinct values is a regression target, not a class label. */
#define BP_DATA_MAX_CLASSES 1000

typedef struct bp_data {
    int n, d, k;
    /* The inputs' number type: BP_F64 (the default) keeps them in x, BP_F32
     * in x32, at half the memory (Fashion-MNIST's training set: 188 MB), for
     * float32 networks, which compute in float anyway. The other is NULL. */
    bp_dtype dtype;
    double *x;     /* n x d inputs, float64 */
    float *x32;    /* n x d inputs, float32 */
    /* Byte-backed inputs (an IDX file's pixels as the file holds them: a
     * quarter of float32's memory, and of what a shuffled batch's gather
     * reads): input k is table[x8[k]] in the dtype (in float32 data each
     * entry is a float's value), x and x32 are both NULL, and bp_data_row
     * gives NULL. bp_data_materialize turns them into x or x32, the same
     * values; whatever writes rows does that first. NULL: x or x32. */
    unsigned char *x8;
    double *table; /* 256 values, with x8 */
    double *y;     /* n x k targets: one-hot rows when there are labels */
    int *label;    /* n class indexes in 0..n_classes-1, or NULL (regression) */
    int n_classes; /* 0 when label is NULL, else k */
    /* Names, each NULL when unknown; all strings are owned by the data set
     * and freed (with free()) by bp_data_free. */
    char **names;   /* d input column names (CSV header) */
    char *target;   /* the target column's name */
    char **classes; /* n_classes class names; classes[c] is label c */
} bp_data;

/* ------------------------------------------------------------------------ */
/* Making and loading                                                        */

/* A data set of n samples (n >= 0), d >= 1 inputs and k >= 1 targets, all
 * zero. n_classes > 0 also allocates label (all 0) and requires
 * k == n_classes; n_classes == 0 leaves label NULL. No names.
 * Returns NULL on bad sizes or when memory runs out. */
bp_data *bp_data_new(int n, int d, int k, int n_classes, bp_err *e);

/* Frees the data set and everything it owns; accepts NULL. */
void bp_data_free(bp_data *data);

/* Converts the inputs to another number type, in place (to float32: each
 * value rounded to the nearest float). -1 when memory for the new array runs
 * out or t is not a dtype; the data is then unchanged. */
int bp_data_set_dtype(bp_data *data, bp_dtype t, bp_err *e);

/* Row r's inputs where they lie, in the data's dtype (double or float);
 * NULL in byte-backed data (x8), whose rows bp_data_take_rows converts. */
const void *bp_data_row(const bp_data *data, int r);

/* Rows rows[0 .. B-1] (rows NULL: start .. start+B-1) of the inputs, in the
 * data's dtype, into out (B x d): copies, or conversions of byte-backed
 * rows, the values bp_data_get gives. */
void bp_data_take_rows(const bp_data *data, void *out, const int *rows, int start, int B);

/* Byte-backed inputs (x8) into x or x32 of the dtype, the same values, the
 * bytes freed; nothing to do otherwise. -1 when memory runs out (the data
 * unchanged). */
int bp_data_materialize(bp_data *data, bp_err *e);

/* Input k of the n x d matrix (row k / d, column k % d), as a double. */
double bp_data_get(const bp_data *data, size_t k);

/* Loads a CSV file: a header row of column names, then one sample per line.
 * `target` names the target column (NULL: the last column); every other
 * column is an input and must be numeric. `delim` separates cells (',', ';',
 * '\t', ...). Cells may be "double-quoted" ("" inside is a quote) but not span
 * lines; blanks around a cell are trimmed; CRLF line ends and a UTF-8 byte
 * order mark are accepted, empty lines skipped (line numbers still count
 * them). Numbers are read by strtod, in the C locale's notation ("1.5", not
 * "1,5") as long as the program has not called setlocale.
 *
 * classify = 0: the target must be numeric; y is n x 1, label NULL.
 * classify = 1: the target is a class label, numeric or text (iris.csv's
 * "setosa"). Classes are numbered in sorted order, which does not depend on
 * the order of the rows: numerically when every label is an integer (so
 * 1, 2, 10 and not "1", "10", "2"), else by byte-wise string order. classes[]
 * keeps their names (integers as written by "%lld"), y is their one-hot.
 *
 * Errors name the file, and the line and column of the cell at fault:
 *   "data.csv: empty file"                 "data.csv: no data rows"
 *   "data.csv:7: ragged row: 3 cells, header has 5"
 *   "data.csv:5:2: missing value"          (an empty cell)
 *   "data.csv:5:2: missing value 'NA'"     (NA, N/A, NaN, null or ?, in an
 *                                           input or a numeric target)
 *   "data.csv:14:3: non-numeric cell 'abc'"
 *   "data.csv:14:3: not a finite number '1e999'" (or inf)
 *   "data.csv: no column named 'species' (columns: a, b, c)"
 * and also: a file that cannot be opened or is not text, an unterminated
 * quote, a duplicated target name, no input column, too many classes. */
bp_data *bp_data_load_csv(const char *path, const char *target, char delim, int classify,
                          bp_err *e);

/* Loads an IDX pair, the MNIST format: an images file (magic 0x00000803,
 * n x rows x cols unsigned bytes) and a labels file (magic 0x00000801, n
 * bytes). Either may be gzip-compressed or plain: zlib tells them apart by
 * their first bytes, not by their names. The inputs hold the raw pixel
 * values 0..255 in the given dtype, d = rows * cols, row by row, kept as
 * the file's bytes (x8, with the table of their values); scale them with a
 * scaler (for the
 * usual /255: bp_scaler_fixed(d, 0, 255)). n_classes > 0 fixes the number of
 * classes (10 for MNIST, so that a file lacking some digit still gives
 * 10-wide one-hot rows); 0 means the largest label + 1. classes[] are "0",
 * "1", .... Errors: a wrong magic, a bad size, truncation ("a.gz: truncated:
 * expected 47040000 bytes of pixels, got 1234"), different image and label
 * counts, a label >= n_classes, more data than the header announces, a
 * gzip stream that ends early ("a.gz: truncated: the gzip stream ends
 * early"), corrupt gzip data ("a.gz: corrupt gzip data (incorrect data
 * check)"). */
bp_data *bp_data_load_idx(const char *images_path, const char *labels_path, int n_classes,
                          bp_dtype dtype, bp_err *e);

/* Loads Fashion-MNIST, train = 1: the 60,000 training images, train = 0: the
 * 10,000 test images, with inputs of the given dtype (the pixel values are
 * whole numbers, exact in either), from dir (NULL: BP_FASHION_MNIST_DIR), where the files
 * are {train,t10k}-{images-idx3,labels-idx1}-ubyte, each with or without .gz.
 * n_classes is 10 and classes[] are the article names ("T-shirt/top",
 * "Trouser", ..., "Ankle boot"). Returns NULL when the files are missing
 * (saying which package provides them) or as bp_data_load_idx. */
bp_data *bp_data_fashion_mnist(const char *dir, int train, bp_dtype dtype, bp_err *e);

/* ------------------------------------------------------------------------ */
/* Preparing                                                                 */

/* A new data set with copies of rows start .. start+count-1 (count >= 0) and
 * of all names. NULL if the range is not inside 0..n or memory runs out. */
bp_data *bp_data_slice(const bp_data *data, int start, int count, bp_err *e);

/* Shuffles the rows in place (x, y and label together) by Fisher-Yates:
 * for i = n-1 down to 1, swap row i with row bp_rng_below(r, i + 1). The same
 * generator state gives the same order on every machine. Returns -1 only
 * when memory for one row runs out (the data is then unchanged). */
int bp_data_shuffle(bp_data *data, bp_rng *r, bp_err *e);

/* Splits into three new data sets, in the present row order (shuffle first):
 * the first round(frac_train * n) rows, the next round(frac_val * n) (fewer
 * if the two roundings add up to more than n), and the rest as test. The
 * parts are disjoint, cover every row and may be empty (n = 0). Needs
 * 0 <= frac_train, 0 <= frac_val, frac_train + frac_val <= 1.
 * On failure returns -1 and sets all three to NULL; free them with
 * bp_data_free. The parts are copies: free the whole once split when memory
 * is tight (Fashion-MNIST's training set is 376 MB). */
int bp_data_split(const bp_data *data, double frac_train, double frac_val,
                  bp_data **train, bp_data **val, bp_data **test, bp_err *e);

/* The mini-batch of rows start .. start+size-1, cut short at the end of the
 * data: pointers into data (no copy, valid until the data is shuffled or
 * freed) through x, y and label, each of which may be NULL when not wanted
 * (*label is NULL without labels; *x is NULL in float32 data, whose rows
 * bp_data_row gives, and in byte-backed data). Returns the number of rows, 0 when start
 * is outside 0..n-1 or size < 1. An epoch: shuffle, then
 *   for (int s = 0; (B = bp_data_batch(data, s, 32, &x, &y, NULL)) > 0; s += B) */
int bp_data_batch(const bp_data *data, int start, int size, const double **x,
                  const double **y, const int **label);

/* Rewrites y as the one-hot rows of label. -1 if there are no labels or a
 * label lies outside 0..n_classes-1 (y is unchanged then). */
int bp_data_onehot(bp_data *data, bp_err *e);

/* Scaling of the inputs, column by column: x' = (x - shift) / scale.
 *   standard: shift = mean, scale = standard deviation (divided by n, as
 *             scikit-learn does); a constant column gets scale 1.
 *   minmax:   shift = min, scale = max - min, so the fitted data spans [0, 1];
 *             a constant column gets scale 1.
 *   fixed:    the same shift and scale for every column (pixels: 0, 255).
 * Statistics and the scaling itself are computed in double for both dtypes
 * (float32 inputs are rounded once, after). Fit on the training part only,
 * then apply the same scaler to the training, validation and test parts:
 * the model must not see test statistics. Only x is scaled, never y. */
typedef enum bp_scale {
    BP_SCALE_STANDARD,
    BP_SCALE_MINMAX,
    BP_SCALE_FIXED,
    BP_SCALE_COUNT
} bp_scale;

typedef struct bp_scaler {
    bp_scale kind;
    int d;
    double *shift, *scale; /* d each */
} bp_scaler;

/* Names as scripts write them ("standard", "minmax", "fixed"), and back;
 * parse returns -1 for an unknown name. */
const char *bp_scale_name(bp_scale s);
int bp_scale_parse(const char *name);

/* Fits a standard or minmax scaler to train's inputs. NULL if train has no
 * rows, kind is not one of those two, or memory runs out. */
bp_scaler *bp_scaler_fit(const bp_data *train, bp_scale kind, bp_err *e);

/* A fixed scaler for d columns. NULL unless d >= 1 and shift and scale are
 * finite with scale != 0. */
bp_scaler *bp_scaler_fixed(int d, double shift, double scale, bp_err *e);

/* Scales data's inputs in place. -1 if the widths differ (data unchanged).
 * Byte-backed data stays so under a scaler whose shift and scale are the
 * same for every column (fixed): its table is scaled, the same formula on
 * the same values; any other makes it float-backed first
 * (bp_data_materialize; -1 also when memory for that runs out). */
int bp_scaler_apply(const bp_scaler *s, bp_data *data, bp_err *e);

/* Frees the scaler; accepts NULL. */
void bp_scaler_free(bp_scaler *s);

/* ------------------------------------------------------------------------ */
/* Metrics on a batch of network outputs out (B x O) against labels (B)      */

/* Index of the largest of v[0..O-1]; the first one on a tie. */
int bp_argmax(const double *v, int O);

/* Fraction of the B rows whose argmax equals the label; 0 when B < 1. */
double bp_accuracy(const double *out, const int *label, int B, int O);

/* ADDS each row to the O x O confusion matrix m: m[label * O + argmax] += 1
 * (row = true class, column = predicted), so that batches accumulate; zero m
 * first. Rows whose label is outside 0..O-1 are skipped. */
void bp_confusion(int *m, const double *out, const int *label, int B, int O);

#endif
