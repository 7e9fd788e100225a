/* bp_plot.h: `backprop plot`, pictures of the run log drawn with PLplot.
 *
 *   backprop plot RUN... [--metric NAME] [--log-x] [--log-y] [--title TEXT]
 *                 [--size WxH] [--db PATH] -o FILE
 *       Metric NAME (default loss) against the step, a curve per run,
 *       overlaid. A run's legend entry is "run ID NAME (key=value ...)" with
 *       the parameters that differ between the runs (all of them for one
 *       run), its status unless completed, and what was not drawn; the
 *       parameters every run shares make a last entry, "all: key=value ...".
 *   backprop plot --sweep ID --param KEY [--log-x] [--log-y] [--title TEXT]
 *                 [--size WxH] [--db PATH] -o FILE
 *       The objective of each trial of a sweep against its parameter KEY:
 *       completed trials as points (joined, in KEY's order, when KEY is the
 *       only parameter swept), pruned trials apart with their objective when
 *       stopped, the best trial (by the sweep's direction) starred. A text
 *       (or bool) parameter gets a column per value.
 *
 * FILE's extension picks the format: .png (pixels) or .svg (vectors, WxH
 * points); --size defaults to 800x500, each side 200 to 10000. The title and
 * the legend's lines are also in the file, as the SVG's <title> and <desc>
 * and as PNG iTXt chunks "Title" and "Description" (cairo draws letters as
 * outlines, so they are not in the picture's data otherwise).
 *
 * What cannot be drawn is left out and counted in the legend ("2 NaN/inf
 * not drawn"): NaN and infinities, and on a log axis values <= 0. A curve is
 * broken where a value is left out. The legend goes in the corner where it
 * hides the fewest points.
 *
 * The database (--db, else $BACKPROP_DB, else results/runs.db) is opened
 * read only. FILE is written only once the picture is complete (a temporary
 * file beside it, renamed): an error leaves no file, and leaves an existing
 * FILE as it was. PLplot never ends the process, reads stdin or prints: its
 * failures become this command's error. PLplot's state is global: one plot
 * at a time, from one thread. */
#ifndef BP_PLOT_H
#define BP_PLOT_H

#include <stdio.h>

/* Runs the command; argv holds the arguments after "plot". Returns the exit
 * status: 0 once FILE is written (nothing is printed), or 1 after printing
 * one line "backprop: <what went wrong>" to err. Nothing is written to out
 * (the picture goes to FILE). */
int bp_plot_main(int argc, char **argv, FILE *out, FILE *err);

#endif
