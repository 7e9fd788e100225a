/* w1_floor.c: W1's floor, the lecture's 2-3-1 trained by a loop written by
 * hand for exactly this network.
 *
 * The same arithmetic as a training step of the engine: forward (sigmoid
 * hidden layer, identity output), the loss (y - out)^2 / 2, the chain rule
 * back to every weight and bias, and SGD with lr 0.01, on x = (1, 2), y = 3,
 * from the lecture's weights. No generality at all: sizes are constants and
 * every loop can be unrolled, which is what makes it a floor. It prints one
 * line per repetition, "ns_per_step <ns> loss <last loss> w111 <w_{1,1,1}>",
 * so that a caller can take the median and check that the network learnt
 * the same thing as the engine's.
 *
 * Usage: w1_floor [steps [repetitions]]  (default 1000000 and 5) */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double sigmoid(double h) {
    if (h >= 0) return 1.0 / (1.0 + exp(-h));
    double e = exp(h);
    return e / (1.0 + e);
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(int argc, char **argv) {
    long steps = argc > 1 ? atol(argv[1]) : 1000000;
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    for (int r = 0; r < reps; r++) {
        double W1[3][2] = {{0.5, 0.3}, {-0.1, 0.1}, {-0.4, 0.6}};
        double b1[3] = {1, 1, 1}, W2[3] = {-0.23, 0.3, 0.1}, b2 = 1;
        const double x[2] = {1, 2}, y = 3, lr = 0.01;
        double loss = 0;
        double t0 = now();
        for (long s = 0; s < steps; s++) {
            double o1[3], out = b2;
            for (int n = 0; n < 3; n++) {
                o1[n] = sigmoid(b1[n] + W1[n][0] * x[0] + W1[n][1] * x[1]);
                out += W2[n] * o1[n];
            }
            loss = 0.5 * (y - out) * (y - out);
            double dout = -(y - out);
            for (int n = 0; n < 3; n++) {
                double dh = dout * W2[n] * o1[n] * (1.0 - o1[n]);
                W2[n] -= lr * (dout * o1[n]);
                W1[n][0] -= lr * (dh * x[0]);
                W1[n][1] -= lr * (dh * x[1]);
                b1[n] -= lr * dh;
            }
            b2 -= lr * dout;
        }
        double t = now() - t0;
        printf("ns_per_step %.3f loss %.17g w111 %.17g\n", t / steps * 1e9, loss,
               W1[0][0]);
    }
    return 0;
}
