/* bp_save.h: a network to bytes and back, in a documented, versioned format.
 *
 * A network file holds the architecture and every weight and bias, exactly
 * (float64 values as float64, float32 as float32), and a graph's buffers
 * (batch norm's running statistics), but nothing of a training step
 * (gradients, activations): what is needed to use the network or to go on
 * training it. A stack of dense layers is written as version 1 (which every
 * older backprop reads), a graph of modules as version 2, a graph with a
 * module written in Lua as version 3. All integers little-endian. Version 1:
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
 * Version 2, a graph (bp_graph.h): what each bp_graph_add was given, then
 * the values.
 *
 *   offset  size  field
 *        0     8  magic, as version 1's
 *        8     4  format version, 2
 *       12     4  dtype: 64 or 32
 *       16     8  the file's length in bytes, the CRC included
 *       24     4  M, the number of nodes, 1 .. 65536 (the input among them)
 *       28     4  the output node's id (0 .. M-1)
 *       32     8  P, the number of values
 *       40     .  M nodes in the order of their ids (the order of the adds),
 *                 each: op (4, the bp_op code: BP_OP_TABLE's row, from 0),
 *                 the name's length n (4, 1 .. 48) and its n bytes, the
 *                 number of inputs k (4, 0 .. 64) and their ids (4 each),
 *                 then 96 bytes of options (bp_node_opts): ndim, shape[0..3],
 *                 in, out, no_bias, act (4 each, signed), alpha, p, eps,
 *                 momentum (8 each, IEEE doubles), kh, kw, sh, sw, ph, pw,
 *                 layers (4 each, signed); an attention's record (an op
 *                 that came after these options were laid out) then has
 *                 12 bytes more: heads, causal, block (4 each, signed).
 *                 A file without attention is byte for byte what it was,
 *                 and a reader older than the op refuses its code.
 *        .     4  the note's length n (0 .. 2^20), then its n bytes: the
 *                 net's note (bp_net.h), a host's, which the engine keeps
 *                 and never reads (the Lua module's tree of modules)
 *        .   P*s  every tensor of bp_net_param_list in its order, buffers
 *                 included (weights, biases, running_mean, running_var,
 *                 num_batches_tracked), each row-major, s = 8 or 4 bytes
 *        .     4  CRC-32 of every byte before it
 *
 * Version 3: version 2 with modules computed by a host (op host, a module
 * written in Lua: bp_graph.h's bp_host). It is written only for a graph
 * that has one, so every other file stays readable by older backprops. Its
 * layout is version 2's, with "format version, 3", and each host node's
 * record followed, after its options, by:
 *
 *        4  the definition's name length n (1 .. 48) and its n bytes
 *           (bp_host's def: the name the host registered it under)
 *        4  the number of its tensors t (0 .. 8), then each: the name's
 *           length m (4, 1 .. 15) and its m bytes (without "NODE."), ndim
 *           (4, 1 .. 4), shape (4 x 4, the unused dimensions 0)
 *
 * Its output shape is the options' ndim and shape (0: the input's), and its
 * tensors' values are among the others, in bp_net_param_list's order.
 *
 * Loading a version 2 or 3 file replays the adds (initial values drawn from
 * no generator) and finishes the graph, so its architecture is held to
 * every check a script's is; then it sets the values. A host node's
 * callbacks cannot be in a file: the loader asks the caller's bp_save_hosts
 * for them by the definition's name, and refuses a file whose definition
 * it does not give, or gives with other tensors (names or shapes) than the
 * file's, naming the module and the tensor. A host node made without a
 * definition name cannot be saved: bp_net_encode refuses it, naming it.
 *
 * A reader refuses, with a message naming the file: another kind of file, a
 * newer version, a truncated file, trailing bytes, a checksum mismatch, and
 * sizes or codes out of range (a version 2 file's modules with the message
 * of the bad construction). Versions are only ever added: a newer backprop
 * reads every older version. */
#ifndef BP_SAVE_H
#define BP_SAVE_H

#include <stddef.h>

#include "bp_err.h"
#include "bp_graph.h"
#include "bp_net.h"

#define BP_SAVE_VERSION 3

/* The file's bytes for net in a buffer from bp_malloc (free with bp_free),
 * its length in *len: version 1 for a stack, 2 for a graph, 3 for a graph
 * with a host node. Returns -1 if memory runs out, or for a host node
 * without a definition name. */
int bp_net_encode(const bp_net *net, unsigned char **out, size_t *len, bp_err *e);

/* Where a loader gets a host node's callbacks: resolve fills *h (ctx,
 * forward, backward, release, n_params and each parameter's name, ndim and
 * shape; def and init are ignored) for the node named module, whose
 * definition is named def, in a network of dtype, and returns 0; or -1
 * with a message in *e (an unknown definition), which the load returns
 * after the file's name. file holds the tensors the file gives the node
 * (n_params, each one's name, ndim and shape), for a host that keeps
 * several definitions under one name (one per shape) to choose by; the
 * loader holds *h's to them either way. It owns the context from then on
 * (it calls release when the node is freed, or at once when the file is
 * refused after all). */
typedef struct bp_save_hosts {
    void *ctx;
    int (*resolve)(void *ctx, const char *def, const char *module, bp_dtype dtype,
                   const bp_host *file, bp_host *h, bp_err *e);
} bp_save_hosts;

/* A network from the bytes of a network file; `name` (a path, or any label)
 * starts every message. Returns NULL with a message if the bytes are not a
 * valid network file of this or an older version. Free with bp_net_free.
 * bp_net_decode_hosts takes the host nodes' callbacks from hosts (NULL:
 * a file with a host node is refused, naming it). */
bp_net *bp_net_decode(const unsigned char *buf, size_t len, const char *name, bp_err *e);
bp_net *bp_net_decode_hosts(const unsigned char *buf, size_t len, const char *name,
                            const bp_save_hosts *hosts, bp_err *e);

/* Writes net to path: to a temporary file beside it first, flushed to disk,
 * then renamed over path, so that a crash leaves the old file or the new one
 * and never half of one. Returns -1 with the system's reason. */
int bp_net_save(const bp_net *net, const char *path, bp_err *e);

/* Reads the network file at path (bp_net_decode's checks; _hosts:
 * bp_net_decode_hosts'). NULL on failure. */
bp_net *bp_net_load(const char *path, bp_err *e);
bp_net *bp_net_load_hosts(const char *path, const bp_save_hosts *hosts, bp_err *e);

#endif
