/* plot_file.c: the picture written to its file, with its words.
 *
 * cairo draws letters as outlines, in SVG too, so the words of a picture
 * are not in its file. The title and the legend's lines are added as the
 * SVG's <title> and <desc>, and as PNG iTXt chunks "Title" and
 * "Description", for search, screen readers and tests. The file is written
 * beside its place and renamed over it once complete: an error never leaves
 * half a picture, nor spoils the file that was there. */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "bp_cli.h"
#include "plot_int.h"

/* The legend's lines, one per line, as the picture's description (the
 * faint raw points behind a smoothed curve have none). */
static char *description(const figure *f) {
    size_t n = 1;
    for (int k = 0; k < f->ns; k++)
        if (f->s[k].legend && f->s[k].label) n += strlen(f->s[k].label) + 1;
    char *d = malloc(n), *p = d;
    if (!d) return NULL;
    for (int k = 0; k < f->ns; k++)
        if (f->s[k].legend && f->s[k].label)
            p += sprintf(p, "%s%s", p != d ? "\n" : "", f->s[k].label);
    *p = '\0';
    return d;
}

static void xml_text(FILE *m, const char *s) {
    for (; *s; s++) {
        if (*s == '&') fputs("&amp;", m);
        else if (*s == '<') fputs("&lt;", m);
        else if (*s == '>') fputs("&gt;", m);
        else fputc(*s, m);
    }
}

/* An iTXt chunk (UTF-8 text): keyword, no compression, no language. */
static void png_itxt(FILE *m, const char *key, const char *text) {
    size_t kn = strlen(key), tn = strlen(text), n = kn + 5 + tn;
    unsigned char head[8] = {(unsigned char)(n >> 24),
                             (unsigned char)(n >> 16),
                             (unsigned char)(n >> 8),
                             (unsigned char)n,
                             'i',
                             'T',
                             'X',
                             't'};
    const unsigned char zeros[5] = {0, 0, 0, 0, 0}; /* \0, flag, method, "", "" */
    fwrite(head, 1, 8, m);
    fwrite(key, 1, kn, m);
    fwrite(zeros, 1, 5, m);
    fwrite(text, 1, tn, m);
    uLong crc = crc32(0L, head + 4, 4);
    crc = crc32(crc, (const Bytef *)key, (uInt)kn);
    crc = crc32(crc, zeros, 5);
    crc = crc32(crc, (const Bytef *)text, (uInt)tn);
    unsigned char c[4] = {(unsigned char)(crc >> 24), (unsigned char)(crc >> 16),
                          (unsigned char)(crc >> 8), (unsigned char)crc};
    fwrite(c, 1, 4, m);
}

/* Writes the picture to path with its title and description added: after
 * the SVG's opening tag, or after the PNG's IHDR chunk (33 bytes in). The
 * bytes go to path.PID.tmp first, renamed over path once complete. */
int plot_write_picture(const options *o, const figure *f, const bytes *img, FILE *err) {
    char *desc = description(f),
         *tmp = plot_format("%s.%ld.tmp", o->output, (long)getpid());
    if (!desc || !tmp) {
        free(desc), free(tmp);
        return bp_cli_fail(err, "out of memory");
    }
    FILE *m = fopen(tmp, "wb");
    if (!m) {
        int rc = bp_cli_fail(err, "%s: cannot write (%s)", o->output, strerror(errno));
        free(desc), free(tmp);
        return rc;
    }
    size_t head = 0;
    if (o->svg) {
        const unsigned char *svg = memmem(img->p, img->n, "<svg", 4);
        const unsigned char *end =
            svg ? memchr(svg, '>', img->n - (size_t)(svg - img->p)) : NULL;
        head = end ? (size_t)(end - img->p) + 1 : 0;
        fwrite(img->p, 1, head, m);
        if (head) {
            fputs("\n<title>", m);
            xml_text(m, f->title);
            fputs("</title>\n<desc>", m);
            xml_text(m, desc);
            fputs("</desc>", m);
        }
    } else if (img->n > 33 && !memcmp(img->p + 12, "IHDR", 4)) {
        head = 33;
        fwrite(img->p, 1, head, m);
        png_itxt(m, "Title", f->title);
        png_itxt(m, "Description", desc);
    }
    fwrite(img->p + head, 1, img->n - head, m);
    int bad = ferror(m);
    bad |= fclose(m) != 0;
    int rc = 0;
    if (bad || rename(tmp, o->output) != 0) {
        rc = bp_cli_fail(err, "%s: cannot write (%s)", o->output, strerror(errno));
        remove(tmp);
    }
    free(desc), free(tmp);
    return rc;
}
