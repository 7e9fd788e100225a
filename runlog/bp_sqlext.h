/* bp_sqlext.h: backprop's SQL functions, for its own connections and, built
 * as bpsql.so, for the stock sqlite3 shell (`.load build/bpsql`).
 *
 * bp_weights(data, shape) is a table-valued function that unpacks a weight
 * snapshot (snapshots.data, snapshots.shape) into one row per parameter:
 *
 *   layer   1-based layer l
 *   neuron  1-based neuron n of that layer
 *   input   1-based input i of the neuron; NULL for a bias
 *   kind    'w' for a weight, 'b' for a bias
 *   name    the lecture's name: 'w211' is w_{2,1,1}, 'b21' is b_{2,1}; when
 *           an index is above 9 the indexes are separated by '_':
 *           'w2_10_3', 'b1_12'
 *   value   the value (REAL; NULL for a NaN, which SQLite cannot hold)
 *   idx     0-based position in the engine's flat order
 *
 * Whether the data is float64 or float32 follows from its length; a shape
 * that is not a list of widths, or whose parameters do not fill the data
 * exactly (however many it claims), is an error naming both. The history
 * of one weight is one SELECT:
 *   SELECT s.step, w.value FROM snapshots s, bp_weights(s.data, s.shape) w
 *   WHERE s.run_id = 7 AND w.name = 'w211' ORDER BY s.step;
 * An equality on name or layer is used to unpack only what it selects. */
#ifndef BP_SQLEXT_H
#define BP_SQLEXT_H

#include <stddef.h>

struct sqlite3;

/* Most widths a shape may list (layers + 1). */
#define BP_SHAPE_MAX 257

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
