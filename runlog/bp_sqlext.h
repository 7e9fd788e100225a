/* bp_sqlext.h: backprop's SQL functions, for its own connections and, built
 * as bpsql.so, for the stock sqlite3 shell (`.load build/bpsql`).
 *
 * bp_weights(data, shape) is a table-valued function that unpacks a weight
 * snapshot (snapshots.data, snapshots.shape) into one row per value. A
 * stack of dense layers' snapshot has a shape of widths ('2,3,1'); a
 * graph's (a network of modules) lists its tensors, one a line,
 * "NAME:DIMS" with DIMS the sizes joined by 'x' and empty for a single
 * number ("conv1.weight:8x1x3x3", "bn1.num_batches_tracked:"), in the order
 * of the values. The columns:
 *
 *   param   the tensor's name as net:param takes it: 'conv1.weight',
 *           'bn1.running_mean'; a stack's 'l.weight' and 'l.bias'
 *   i1..i4  the value's 1-based index along each dimension of its tensor
 *           (NULL past its dimensions): a weight's row then column, a
 *           convolution's out channel, in channel, row, column
 *   name    the value's own name: in a stack the lecture's, 'w211' is
 *           w_{2,1,1}, 'b21' is b_{2,1}, with '_' between indexes when one
 *           is above 9 ('w2_10_3', 'b1_12'); in a graph the tensor's with
 *           its indexes, 'conv1.weight[1,1,2,2]' (a single number: the
 *           tensor's name alone)
 *   layer, neuron, input   a stack's l, n and i (input NULL for a bias);
 *           NULL in a graph
 *   kind    a stack's 'w' (a weight) or 'b' (a bias); in a graph what
 *           follows the module's name: 'weight', 'bias', 'running_mean',
 *           'running_var', 'num_batches_tracked', ...
 *   value   the value (REAL; NULL for a NaN, which SQLite cannot hold)
 *   idx     0-based position in the snapshot's flat order
 *
 * Whether the data is float64 or float32 follows from its length; a shape
 * that is neither form, or whose values do not fill the data exactly
 * (however many it claims), is an error naming both. The history of one
 * weight is one SELECT:
 *   SELECT s.step, w.value FROM snapshots s, bp_weights(s.data, s.shape) w
 *   WHERE s.run_id = 7 AND w.name = 'w211' ORDER BY s.step;
 * An equality on param, name or layer is used to unpack only what it
 * selects. */
#ifndef BP_SQLEXT_H
#define BP_SQLEXT_H

#include <stddef.h>

struct sqlite3;

/* Most widths a shape may list (layers + 1). */
#define BP_SHAPE_MAX 257

/* Most dimensions of a tensor in a graph's shape. */
#define BP_TENSOR_MAX_DIMS 4

/* A tensor of a graph's shape text: its name (name_len bytes at name, a
 * pointer into the text), dimensions, and place among the values. */
typedef struct bp_tensor_info {
    const char *name;
    int name_len, ndim, dims[BP_TENSOR_MAX_DIMS];
    size_t off, count;
} bp_tensor_info;

/* Whether a shape text is a graph's tensor list (it has a ':'). */
int bp_shape_is_tensors(const char *text);

/* The lines of a graph's shape text, an upper bound of its tensors. */
int bp_tensors_count(const char *text);

/* Parses a graph's shape text into t (room for max), each tensor's off and
 * count from the ones before, the total into *values. Returns the number
 * of tensors (>= 1), or -1 if the text is not such a list (an empty name,
 * a size < 1 or above 2^30, more than BP_TENSOR_MAX_DIMS sizes, more than
 * max lines) or its values would overflow a size_t as float64 bytes. */
int bp_tensors_parse(const char *text, bp_tensor_info *t, int max, size_t *values);

/* Registers bp_weights on db. Returns an SQLite result code (0 = SQLITE_OK). */
int bp_sqlext_register(struct sqlite3 *db);

/* Parses a shape "784,128,64,10" into sizes (at most max entries, each
 * >= 1). Returns the number of entries (>= 2), or -1 if the text is not such
 * a list. */
int bp_shape_parse(const char *text, int *sizes, int max);

/* The number of parameters of a network of n widths sizes[0 .. n-1] (each
 * >= 1): the sum of sizes[l] * (sizes[l-1] + 1), into *count. Returns 0, or
 * -1 (*count untouched) when the count, or its size in bytes as float64,
 * does not fit in a size_t: a shape read from a database or from SQL can
 * claim anything, and a wrapped count would pass a length check. */
int bp_shape_params(size_t *count, const int *sizes, int n);

/* Reads n values of width bytes each (8: float64, 4: float32; no other),
 * stored little-endian as snapshots.data holds them, into v (room for n) as
 * doubles, exactly. */
void bp_weights_decode(double *v, const unsigned char *data, size_t width, size_t n);

#endif
