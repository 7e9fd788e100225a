/* bp_save.h: a network to bytes and back, in a documented, versioned format.
 *
 * A network file holds the architecture and every weight and bias, exactly
 * (float64 values as float64, float32 as float32), and nothing of a
 * training step (gradients, activations): what is needed to use the network
 * or to go on training it. The format, all integers little-endian:
 *
 *   offset  size  field
 *        0     8  magic: 0x89 'B' 'P' 'N' '\r' '\n' 0x1a '\n' (as PNG's, so
 *                 that a text-mode transfer that mangles line ends is seen)
 *        8     4  format version, 1
 *       12     4  dtype: 64 (float64) or 32 (float32)
 *       16     4  inputs, 1 .. 2^24
 *       20     4  L, the number of layers, 1 .. 4096
 *       24  16*L  per layer: outputs (4, 1 .. 2^24), activation (4: the
 *                 bp_act code, 0 identity, 1 sigmoid, 2 tanh, 3 relu,
 *                 4 leaky_relu, 5 softmax, 6 gelu, 7 elu, 8 log_softmax),
 *                 alpha (8, an IEEE double)
 *        .   N*s  the N parameters in the engine's flat order (layer by
 *                 layer, W row by row, then the biases), s = 8 or 4 bytes
 *        .     4  CRC-32 (zlib's) of every byte before it
 *
 * A reader refuses, with a message naming the file: another kind of file, a
 * newer version, a truncated file, trailing bytes, a checksum mismatch, and
 * sizes or codes out of range. Versions are only ever added: a newer
 * backprop reads every older version. */
#ifndef BP_SAVE_H
#define BP_SAVE_H

#include <stddef.h>

#include "bp_err.h"
#include "bp_net.h"

#define BP_SAVE_VERSION 1

/* The file's bytes for net in a buffer from bp_malloc (free with bp_free),
 * its length in *len. Returns -1 if memory runs out. */
int bp_net_encode(const bp_net *net, unsigned char **out, size_t *len, bp_err *e);

/* A network from the bytes of a network file; `name` (a path, or any label)
 * starts every message. Returns NULL with a message if the bytes are not a
 * valid network file of this or an older version. Free with bp_net_free. */
bp_net *bp_net_decode(const unsigned char *buf, size_t len, const char *name, bp_err *e);

/* Writes net to path: to a temporary file beside it first, flushed to disk,
 * then renamed over path, so that a crash leaves the old file or the new one
 * and never half of one. Returns -1 with the system's reason. */
int bp_net_save(const bp_net *net, const char *path, bp_err *e);

/* Reads the network file at path (bp_net_decode's checks). NULL on failure. */
bp_net *bp_net_load(const char *path, bp_err *e);

#endif
