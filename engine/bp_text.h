/* bp_text.h: a text corpus as ids, for sequence models (char-rnn, a small
 * GPT): read, its vocabulary, encode and decode, a split by position, and
 * batches of sequences with their targets one step ahead.
 *
 * A corpus is its ids in C memory (4 bytes a character: the fortunes
 * corpus's 2.6 MB of bytes cost 10 MB, no Lua string or table a
 * character), and a batch is written straight into a data set (bp_data.h:
 * B rows of T input ids, and as targets the T ids one step ahead), which
 * net:train_batch and net:evaluate take as they are: a network whose
 * output is T x C reads a row's T targets as the class labels of its T
 * steps (bp_net_label_steps).
 *
 * Tokens are bytes (the default: every file is bytes, and char-rnn reads
 * them so) or, with utf8, UTF-8 characters (a corpus that is not valid
 * UTF-8 is refused, naming the file and the byte). The vocabulary is the
 * distinct tokens in the order of their values (bytes 0..255, code
 * points), ids 1..V in that order, so the same corpus gives the same ids
 * whatever its order of files.
 *
 * The split is by position: the first part of the ids (train) and the
 * rest (validation), as char-rnn splits, so no validation sequence
 * overlaps a training one.
 *
 * Dimensions: n = ids of the corpus (or of a part), V = vocabulary, B =
 * sequences a batch, T = steps a sequence. Every fallible function
 * returns -1 (a constructor: NULL) with a sentence in *e (e may be NULL);
 * nothing here exits, aborts or prints. */
#ifndef BP_TEXT_H
#define BP_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "bp_data.h"
#include "bp_err.h"
#include "bp_rng.h"

typedef struct bp_text bp_text;

/* The parts of a corpus. */
typedef enum bp_text_part { BP_TEXT_TRAIN, BP_TEXT_VAL } bp_text_part;

/* Reads paths[0 .. n_paths-1] in order, each a file, or a directory
 * standing for its regular files whose names have no '.' (Debian's
 * fortunes package's text files, not their .dat indexes), sorted by name
 * (byte order), concatenated. utf8: tokens are UTF-8 characters, else
 * bytes. val in [0, 1): the fraction of the ids, at the end, kept for
 * validation (floor(n (1 - val)) ids train). Errors: a path that cannot
 * be read ("data/x.txt: No such file or directory"), a directory with no
 * such file, an empty corpus ("the corpus is empty (0 bytes)"), invalid
 * UTF-8 ("a.txt: byte 17 is not UTF-8"), more than 2^31 ids. Free with
 * bp_text_free (accepts NULL). */
bp_text *bp_text_load(const char *const *paths, int n_paths, int utf8, double val,
                      bp_err *e);
void bp_text_free(bp_text *t);

/* Facts: V; whether tokens are UTF-8 characters; the ids of a part (or
 * with part -1 of the whole); the whole's ids (n of them). */
int bp_text_vocab(const bp_text *t);
int bp_text_utf8(const bp_text *t);
size_t bp_text_length(const bp_text *t, int part);
const int32_t *bp_text_ids(const bp_text *t);

/* Token id (1..V) as its bytes (1 to 4 of them, *len), in the text's
 * memory; NULL for an id outside 1..V. */
const char *bp_text_token(const bp_text *t, int id, size_t *len);

/* The ids of s (len bytes) into ids (room for len: a token has at least
 * one byte); returns their count, or -1 for a token not in the vocabulary
 * or invalid UTF-8: "the character 'q' at byte 3 is not in the
 * vocabulary" (bytes from 1; a byte outside ASCII as "\xNN"). */
long bp_text_encode(const bp_text *t, const char *s, size_t len, int32_t *ids, bp_err *e);

/* Sequential batches of a part for B sequences of T: the part read as B
 * streams of equal length L = (n - 1) / B ids, one after another, batch k
 * (from 0) taking steps k T .. k T + T - 1 of every stream, so that row b
 * of batch k + 1 continues row b of batch k (what carrying an LSTM's state
 * across batches wants). floor(L / T) of them; 0 when the part is too
 * short for one. */
long bp_text_batches(const bp_text *t, bp_text_part part, int B, int T);

/* Fills d (d->n = B rows, d->d = T inputs, d->k = T targets; inputs of
 * either dtype) with a batch of part: row b's inputs the ids at offset
 * o_b .. o_b + T - 1 of the part, its targets the ids one step ahead. With
 * index < 0 the B offsets are drawn from r, each bp_rng_below(r, n - T)
 * (uniform over the part's n - T starts, row after row); else batch index
 * of bp_text_batches. Errors: a part shorter than one sequence and its
 * target ("the validation part has 40 ids, fewer than a sequence of 50
 * and its target"), index past the last batch ("batch 9 of 8"), a d of
 * another shape. */
int bp_text_batch(const bp_text *t, bp_data *d, bp_text_part part, long index, bp_rng *r,
                  bp_err *e);

#endif
