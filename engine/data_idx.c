/* data_idx.c: IDX files (MNIST's format) into a data set, and Debian's
 * Fashion-MNIST found by name (bp_data_load_idx, bp_data_fashion_mnist).
 *
 * IDX files go through zlib's gzread, which also reads uncompressed files,
 * so a file's first bytes decide, not its name. What a header announces is
 * checked against the file's size before anything is allocated, and a
 * half-decompressed file is refused, naming the file and what is missing.
 *
 * Dimensions: n = images, d = rows x cols pixels, k = classes. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "bp_alloc.h"
#include "bp_data.h"
#include "bp_util.h"
#include "data_int.h"

#define IDX_IMAGES 0x00000803u /* unsigned bytes, 3 dimensions */
#define IDX_LABELS 0x00000801u /* unsigned bytes, 1 dimension */
#define IDX_CHUNK (1u << 20)
/* Deflate's best ratio: a 258-byte match from a code of a few bits is
 * 1032 to 1, so no gzip file holds more than 1032 times its own size. */
#define GZIP_MAX_RATIO 1032

static uint32_t be32(const unsigned char *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Opens a regular file for gzread (which also reads a plain one); its size
 * in *size. */
static gzFile open_idx(const char *path, size_t *size, bp_err *e) {
    const char *kind;
    int fd = bp_open_regular(path, size, &kind);
    if (fd < 0) {
        if (kind) bp_err_set(e, "%s: not a regular file (%s)", path, kind);
        else bp_err_set(e, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    gzFile f = gzdopen(fd, "rb");
    if (!f) {
        close(fd);
        bp_err_set(e, "%s: cannot open: out of memory", path);
    }
    return f;
}

/* Reads up to len bytes: returns how many, fewer only where the data ends
 * (a short plain file, or a gzip stream cut off), or -1 with a message when
 * the gzip data is corrupt or the read fails. */
static long long read_bytes(gzFile f, unsigned char *buf, size_t len, const char *path,
                            bp_err *e) {
    size_t got = 0;
    while (got < len) {
        size_t want = len - got < IDX_CHUNK ? len - got : IDX_CHUNK;
        int r = gzread(f, buf + got, (unsigned)want);
        if (r < 0) {
            int code;
            const char *msg = gzerror(f, &code);
            if (code == Z_ERRNO)
                return bp_err_set(e, "%s: read error: %s", path, strerror(errno));
            /* zlib writes "<fd:N>: what" (gzdopen's name for the file); the
             * path is ours. */
            const char *colon = strncmp(msg, "<fd:", 4) == 0 ? strstr(msg, ">: ") : NULL;
            if (colon) msg = colon + 3;
            return bp_err_set(e, "%s: corrupt gzip data (%s)", path, msg);
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    return (long long)got;
}

/* Reads an IDX header of `size` bytes with the given magic. */
static int read_header(gzFile f, unsigned char *h, size_t size, uint32_t magic,
                       const char *what, const char *path, bp_err *e) {
    long long got = read_bytes(f, h, size, path, e);
    if (got < 0) return -1;
    if (got >= 4 && be32(h) != magic)
        return bp_err_set(e, "%s: not an IDX %s file (magic 0x%08x, want 0x%08x)", path,
                          what, (unsigned)be32(h), (unsigned)magic);
    if ((size_t)got < size)
        return bp_err_set(e, "%s: truncated: expected %zu bytes of header, got %lld",
                          path, size, got);
    return 0;
}

/* What follows a header, as its messages name it: `count` bytes of `what`
 * ("pixels"), which are n `items` ("images"). */
typedef struct idx_part {
    gzFile f;
    const char *path;
    size_t size;  /* the file's */
    size_t head;  /* its header's bytes */
    size_t count; /* the bytes the header announces after it */
    uint32_t n;
    const char *what, *items;
} idx_part;

/* Whether the file can hold what its header announces, before anything is
 * allocated for it. A plain file must have exactly that many bytes after
 * the header (more or fewer is refused with the message reading it would
 * give). A gzip stream's length is known only once it is read, but it
 * cannot be more than GZIP_MAX_RATIO times the file's. */
static int idx_fits(const idx_part *p, bp_err *e) {
    if (gzdirect(p->f)) {
        size_t have = p->size > p->head ? p->size - p->head : 0;
        if (have < p->count)
            return bp_err_set(e, "%s: truncated: expected %zu bytes of %s, got %zu",
                              p->path, p->count, p->what, have);
        if (have > p->count)
            return bp_err_set(e, "%s: more data after the %u %s its header announces",
                              p->path, (unsigned)p->n, p->items);
        return 0;
    }
    size_t most;
    if (!bp_size_mul(&most, p->size, GZIP_MAX_RATIO) && p->count > most)
        return bp_err_set(e,
                          "%s: the header announces %zu bytes of %s, more than a gzip "
                          "file of %zu bytes can hold",
                          p->path, p->count, p->what, p->size);
    return 0;
}

/* After the items the header announced the file must end: more data means
 * the header does not describe the file. Corrupt gzip trailers (a wrong
 * checksum) also surface here, on the read that reaches them. */
static int expect_end(const idx_part *p, bp_err *e) {
    unsigned char extra;
    long long got = read_bytes(p->f, &extra, 1, p->path, e);
    if (got < 0) return -1;
    if (got > 0)
        return bp_err_set(e, "%s: more data after the %u %s its header announces",
                          p->path, (unsigned)p->n, p->items);
    /* Every item was there but the gzip stream stops before its checksum:
     * zlib returns the data and marks the end as premature. */
    int code;
    gzerror(p->f, &code);
    if (code == Z_BUF_ERROR)
        return bp_err_set(e, "%s: truncated: the gzip stream ends early", p->path);
    return 0;
}

/* The part's bytes, in a buffer from bp_malloc; the file must end after
 * them. A plain file's size was checked (idx_fits): its buffer is made
 * whole at once. A gzip stream's
 * grows, doubling from a chunk, only as far as the stream goes, so that a
 * header announcing more than the stream holds costs what it holds; the
 * read stops where the stream ends short. NULL with a message. */
static unsigned char *idx_read(const idx_part *p, unsigned char *chunk, bp_err *e) {
    size_t cap = gzdirect(p->f) || p->count < IDX_CHUNK ? p->count : IDX_CHUNK, done = 0;
    unsigned char *buf = bp_malloc(cap ? cap : 1);
    if (!buf) goto oom;
    if (cap == p->count) dt_advise_rows(buf, cap); /* before its pages are touched */
    while (done < p->count) {
        size_t want = p->count - done < IDX_CHUNK ? p->count - done : IDX_CHUNK;
        long long got = read_bytes(p->f, chunk, want, p->path, e);
        if (got < 0) goto fail;
        if (done + (size_t)got > cap) {
            cap = cap * 2 < p->count ? cap * 2 : p->count;
            unsigned char *grown = bp_realloc(buf, cap);
            if (!grown) goto oom;
            buf = grown;
        }
        memcpy(buf + done, chunk, (size_t)got);
        done += (size_t)got;
        if ((size_t)got < want) {
            bp_err_set(e, "%s: truncated: expected %zu bytes of %s, got %zu", p->path,
                       p->count, p->what, done);
            goto fail;
        }
    }
    if (expect_end(p, e) < 0) goto fail;
    return buf;
oom:
    bp_err_set(e, "out of memory loading %s", p->path);
fail:
    bp_free(buf);
    return NULL;
}

/* An IDX pair being read: the two files and what their headers say. */
typedef struct idx {
    idx_part img, lab;
    uint32_t rows, cols; /* each image's size */
} idx;

/* Opens both files and reads their headers: n images of rows x cols bytes,
 * and as many labels; each file must be able to hold them. */
static int idx_open(idx *f, bp_err *e) {
    unsigned char hi[16], hl[8];
    idx_part *im = &f->img, *lb = &f->lab;
    if (!(im->f = open_idx(im->path, &im->size, e))) return -1;
    if (read_header(im->f, hi, sizeof hi, IDX_IMAGES, "image", im->path, e) < 0)
        return -1;
    im->n = be32(hi + 4), f->rows = be32(hi + 8), f->cols = be32(hi + 12);
    if (im->n == 0 || im->n > INT32_MAX)
        return bp_err_set(e, "%s: bad image count %u", im->path, (unsigned)im->n);
    if (f->rows == 0 || f->cols == 0 || (uint64_t)f->rows * f->cols > INT32_MAX)
        return bp_err_set(e, "%s: bad image size %u x %u", im->path, (unsigned)f->rows,
                          (unsigned)f->cols);
    im->head = sizeof hi;
    if (bp_size_mul3(&im->count, im->n, f->rows, f->cols))
        return bp_err_set(e, "%s: %u images of %u x %u are too many", im->path,
                          (unsigned)im->n, (unsigned)f->rows, (unsigned)f->cols);
    if (idx_fits(im, e) < 0) return -1;
    if (!(lb->f = open_idx(lb->path, &lb->size, e))) return -1;
    if (read_header(lb->f, hl, sizeof hl, IDX_LABELS, "label", lb->path, e) < 0)
        return -1;
    lb->n = be32(hl + 4);
    if (lb->n != im->n)
        return bp_err_set(e, "%s has %u images but %s has %u labels", im->path,
                          (unsigned)im->n, lb->path, (unsigned)lb->n);
    lb->head = sizeof hl;
    lb->count = lb->n;
    return idx_fits(lb, e);
}

/* Checks the n labels, each below n_classes (0: any byte); returns the
 * number of classes, n_classes or the largest label + 1, or -1 with a
 * message. */
static int idx_check_labels(const idx_part *p, const unsigned char *lab, int n_classes,
                            bp_err *e) {
    int C = n_classes;
    for (uint32_t r = 0; r < p->n; r++) {
        if (n_classes > 0 && lab[r] >= n_classes)
            return bp_err_set(e, "%s: label %d at index %u is outside 0..%d", p->path,
                              lab[r], (unsigned)r, n_classes - 1);
        if (n_classes == 0 && lab[r] + 1 > C) C = lab[r] + 1;
    }
    return C;
}

/* Classes named by their numbers, "0", "1", ..., labels from lab, one-hot
 * targets. */
static int idx_classes(bp_data *data, const unsigned char *lab) {
    if (!(data->classes = bp_calloc((size_t)data->n_classes, sizeof(char *)))) return -1;
    for (int c = 0; c < data->n_classes; c++) {
        char num[16];
        snprintf(num, sizeof num, "%d", c);
        if (!(data->classes[c] = dt_dup_str(num))) return -1;
    }
    for (int r = 0; r < data->n; r++) data->label[r] = lab[r];
    bp_data_onehot(data, NULL);
    return 0;
}

/* Labels first: they are small and decide the width of y. The pixels are
 * read straight into the inputs' array and kept as bytes (x8): a float
 * array is made only when something writes rows (bp_data_materialize). */
bp_data *bp_data_load_idx(const char *images_path, const char *labels_path, int n_classes,
                          bp_dtype dtype, bp_err *e) {
    idx f = {.img = {.path = images_path, .what = "pixels", .items = "images"},
             .lab = {.path = labels_path, .what = "labels", .items = "labels"}};
    unsigned char *lab = NULL, *chunk = NULL;
    void *x = NULL;
    bp_data *data = NULL;
    if (n_classes < 0 || n_classes > BP_DATA_MAX_CLASSES) {
        bp_err_set(e, "the number of classes must be in 0..%d (got %d)",
                   BP_DATA_MAX_CLASSES, n_classes);
        return NULL;
    }
    if ((unsigned)dtype >= BP_DTYPE_COUNT) {
        bp_err_set(e, "unknown dtype %d", (int)dtype);
        return NULL;
    }
    if (idx_open(&f, e) < 0) goto fail;
    if (!(chunk = bp_malloc(IDX_CHUNK))) goto oom;
    if (!(lab = idx_read(&f.lab, chunk, e))) goto fail;
    int C = idx_check_labels(&f.lab, lab, n_classes, e);
    if (C < 0) goto fail;
    if (!(x = idx_read(&f.img, chunk, e))) goto fail;
    int d = (int)(f.rows * f.cols);
    if (!(data = dt_make_codes((int)f.img.n, d, C, C, dtype, x, e))) goto fail;
    x = NULL; /* the data set's now */
    if (idx_classes(data, lab) < 0) goto oom;
    bp_free(chunk);
    bp_free(lab);
    gzclose(f.img.f);
    gzclose(f.lab.f);
    return data;
oom:
    bp_err_set(e, "out of memory loading %s", f.img.path);
fail:
    bp_free(x);
    bp_free(chunk);
    bp_free(lab);
    bp_data_free(data);
    if (f.img.f) gzclose(f.img.f);
    if (f.lab.f) gzclose(f.lab.f);
    return NULL;
}

static const char *fashion_classes[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

/* dir/stem.gz if it exists, else dir/stem if that does; -1 when neither. */
static int find_file(char *path, size_t size, const char *dir, const char *stem) {
    for (int gz = 1; gz >= 0; gz--) {
        snprintf(path, size, "%s/%s%s", dir, stem, gz ? ".gz" : "");
        FILE *f = fopen(path, "rb");
        if (f) {
            fclose(f);
            return 0;
        }
    }
    return -1;
}

bp_data *bp_data_fashion_mnist(const char *dir, int train, bp_dtype dtype, bp_err *e) {
    if (!dir) dir = BP_FASHION_MNIST_DIR;
    const char *part = train ? "train" : "t10k";
    char stem[64], images[4096], labels[4096];
    snprintf(stem, sizeof stem, "%s-images-idx3-ubyte", part);
    if (find_file(images, sizeof images, dir, stem) < 0) {
        bp_err_set(e,
                   "no Fashion-MNIST in %s (no %s[.gz]): install Debian's "
                   "dataset-fashion-mnist or give the directory of the files",
                   dir, stem);
        return NULL;
    }
    snprintf(stem, sizeof stem, "%s-labels-idx1-ubyte", part);
    if (find_file(labels, sizeof labels, dir, stem) < 0) {
        bp_err_set(e, "no Fashion-MNIST labels in %s (no %s[.gz])", dir, stem);
        return NULL;
    }
    bp_data *data = bp_data_load_idx(images, labels, 10, dtype, e);
    if (!data) return NULL;
    for (int c = 0; c < 10; c++) {
        char *name = dt_dup_str(fashion_classes[c]);
        if (!name) {
            bp_data_free(data);
            bp_err_set(e, "out of memory");
            return NULL;
        }
        bp_free(data->classes[c]);
        data->classes[c] = name;
    }
    return data;
}
