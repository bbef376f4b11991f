/* glassnet._kernels: the hot loops that NumPy would split into many passes, fused.
 *
 * An optimizer step written with NumPy makes 10-13 passes over the flat parameter,
 * gradient and state buffers (one per ufunc), each reading and writing the whole
 * buffer; on a small network that is a fifth of the training time. Here each rule is
 * one loop that reads every element once and keeps the intermediates in registers.
 * The formulas are those of optimizers.py's docstrings (PyTorch's torch.optim):
 *
 *   every rule first forms  g' = scale * g + l2 * p           (clipping, L2 decay)
 *   sgd:      v <- mu v + g';  d = nesterov ? g' + mu v : v   (d = g' without momentum)
 *             p <- p - lr d
 *   rmsprop:  s <- rho s + (1 - rho) g'^2;  d = g' / (sqrt(s) + eps)
 *             with momentum: u <- mu u + d;  d = u
 *             p <- p - lr d
 *   adam:     p <- decay p                                    (AdamW's decoupled decay)
 *             m <- b1 m + (1 - b1) g';  v <- b2 v + (1 - b2) g'^2
 *             p <- p - step * m / (c2 sqrt(v) + eps)
 *             with step = lr / (1 - b1^t), c2 = 1 / sqrt(1 - b2^t)
 *
 * and the ReLU activation, where NumPy needs two passes and a temporary each way:
 *
 *   relu_forward:   Z <- Z + b (b broadcast over rows);  A = Z if not Z <= 0 else 0
 *   relu_backward:  dZ = dA if A > 0 else 0 * dA
 *
 * (NaN stays NaN in both, as with NumPy's maximum and multiply, so a diverging run is
 * still seen.) And the sliding windows of convolutions and pooling over channels-last
 * images A (n, H, W, C) (a 1-D input is one row, H = 1), whose contiguous runs are only C
 * values long, too short for NumPy's strided copies:
 *
 *   window_gather:       cols[i, oh, ow, kh, kw, :] = A[i, oh sh + kh dh, ow sw + kw dw, :]
 *   window_scatter_add:  A[i, oh sh + kh dh, ow sw + kw dw, :] += cols[i, oh, ow, kh, kw, :]
 *   max_pool_forward:    out[i, oh, ow, c] = max over the window (the first maximum's tap
 *                        kh KW + kw in arg; NaN wins, as in PyTorch)
 *   max_pool_backward:   dA[at the tap in arg] += dout
 *
 * Buffers are C-contiguous float32 or float64 (all of one dtype and, but for b, length),
 * taken through the buffer protocol, so this file needs Python's headers only. The
 * arithmetic is done in the buffers' dtype, operation by operation in the order above
 * (no fused multiply-add contraction: the build passes -ffp-contract=off), so results
 * do not depend on which instruction set the loop was compiled for. On x86-64 with GCC
 * each loop is compiled for AVX-512, AVX2 and baseline x86-64 and the CPU picks one at
 * load time.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MULTIVERSION
#endif

/* -- the loops, once per dtype -------------------------------------------------------- */

#define DEFINE_KERNELS(T, SUFFIX, SQRT)                                                   \
    MULTIVERSION static void sgd_##SUFFIX(                                                \
        T *restrict p, const T *restrict g, T *restrict v, Py_ssize_t n, T lr, T mu,      \
        int nesterov, T scale, T l2)                                                      \
    {                                                                                     \
        if (v == NULL) {                                                                  \
            for (Py_ssize_t i = 0; i < n; i++) {                                          \
                T gi = scale * g[i] + l2 * p[i];                                          \
                p[i] = p[i] - lr * gi;                                                    \
            }                                                                             \
        } else if (nesterov) {                                                            \
            for (Py_ssize_t i = 0; i < n; i++) {                                          \
                T gi = scale * g[i] + l2 * p[i];                                          \
                T vi = mu * v[i] + gi;                                                    \
                v[i] = vi;                                                                \
                p[i] = p[i] - lr * (gi + mu * vi);                                        \
            }                                                                             \
        } else {                                                                          \
            for (Py_ssize_t i = 0; i < n; i++) {                                          \
                T gi = scale * g[i] + l2 * p[i];                                          \
                T vi = mu * v[i] + gi;                                                    \
                v[i] = vi;                                                                \
                p[i] = p[i] - lr * vi;                                                    \
            }                                                                             \
        }                                                                                 \
    }                                                                                     \
                                                                                          \
    MULTIVERSION static void rmsprop_##SUFFIX(                                            \
        T *restrict p, const T *restrict g, T *restrict s, T *restrict u, Py_ssize_t n,   \
        T lr, T rho, T eps, T mu, T scale, T l2)                                          \
    {                                                                                     \
        const T one_minus_rho = (T)1 - rho;                                               \
        if (u == NULL) {                                                                  \
            for (Py_ssize_t i = 0; i < n; i++) {                                          \
                T gi = scale * g[i] + l2 * p[i];                                          \
                T si = rho * s[i] + one_minus_rho * (gi * gi);                            \
                s[i] = si;                                                                \
                p[i] = p[i] - lr * (gi / (SQRT(si) + eps));                               \
            }                                                                             \
        } else {                                                                          \
            for (Py_ssize_t i = 0; i < n; i++) {                                          \
                T gi = scale * g[i] + l2 * p[i];                                          \
                T si = rho * s[i] + one_minus_rho * (gi * gi);                            \
                s[i] = si;                                                                \
                T ui = mu * u[i] + gi / (SQRT(si) + eps);                                 \
                u[i] = ui;                                                                \
                p[i] = p[i] - lr * ui;                                                    \
            }                                                                             \
        }                                                                                 \
    }                                                                                     \
                                                                                          \
    MULTIVERSION static void adam_##SUFFIX(                                               \
        T *restrict p, const T *restrict g, T *restrict m, T *restrict v, Py_ssize_t n,   \
        T step, T b1, T b2, T c2, T eps, T decay, T scale, T l2)                          \
    {                                                                                     \
        const T one_minus_b1 = (T)1 - b1, one_minus_b2 = (T)1 - b2;                       \
        for (Py_ssize_t i = 0; i < n; i++) {                                              \
            T gi = scale * g[i] + l2 * p[i];                                              \
            T mi = b1 * m[i] + one_minus_b1 * gi;                                         \
            T vi = b2 * v[i] + one_minus_b2 * (gi * gi);                                  \
            m[i] = mi;                                                                    \
            v[i] = vi;                                                                    \
            p[i] = decay * p[i] - step * (mi / (c2 * SQRT(vi) + eps));                    \
        }                                                                                 \
    }

#define DEFINE_RELU(T, SUFFIX)                                                            \
    MULTIVERSION static void relu_forward_##SUFFIX(                                       \
        T *restrict Z, const T *restrict b, T *restrict A, Py_ssize_t rows, Py_ssize_t k) \
    {                                                                                     \
        for (Py_ssize_t r = 0; r < rows; r++) {                                           \
            T *restrict z = Z + r * k, *restrict a = A + r * k;                           \
            for (Py_ssize_t j = 0; j < k; j++) {                                          \
                T zj = z[j] + b[j];                                                       \
                z[j] = zj;                                                                \
                a[j] = zj <= (T)0 ? (T)0 : zj;                                            \
            }                                                                             \
        }                                                                                 \
    }                                                                                     \
                                                                                          \
    MULTIVERSION static void relu_backward_##SUFFIX(                                      \
        const T *restrict dA, const T *restrict A, T *restrict dZ, Py_ssize_t n)          \
    {                                                                                     \
        for (Py_ssize_t i = 0; i < n; i++)                                                \
            dZ[i] = A[i] > (T)0 ? dA[i] : (T)0 * dA[i];                                   \
    }

/* The window geometry: input (n, H, W, C), output (OH, OW), kernel (KH, KW), strides and
   dilations (the padding is already in A). */
typedef struct {
    Py_ssize_t n, H, W, C, OH, OW, KH, KW, sh, sw, dh, dw;
} Geometry;

#define DEFINE_WINDOWS(T, SUFFIX)                                                         \
    static void window_gather_##SUFFIX(const T *restrict A, T *restrict cols, Geometry g) \
    {                                                                                     \
        const Py_ssize_t C = g.C;                                                         \
        T *restrict out = cols;                                                           \
        for (Py_ssize_t i = 0; i < g.n; i++)                                              \
            for (Py_ssize_t oh = 0; oh < g.OH; oh++)                                      \
                for (Py_ssize_t ow = 0; ow < g.OW; ow++)                                  \
                    for (Py_ssize_t kh = 0; kh < g.KH; kh++) {                            \
                        const T *row = A + ((i * g.H + oh * g.sh + kh * g.dh) * g.W       \
                                            + ow * g.sw) * C;                             \
                        if (g.dw == 1) { /* the row's taps are one contiguous run */      \
                            const Py_ssize_t run = g.KW * C;                              \
                            if (run >= 16)                                                \
                                memcpy(out, row, run * sizeof(T));                        \
                            else if (run >= 8) { /* two overlapping fixed-size copies */  \
                                memcpy(out, row, 8 * sizeof(T));                          \
                                memcpy(out + run - 8, row + run - 8, 8 * sizeof(T));      \
                            } else if (run >= 4) {                                        \
                                memcpy(out, row, 4 * sizeof(T));                          \
                                memcpy(out + run - 4, row + run - 4, 4 * sizeof(T));      \
                            } else                                                        \
                                for (Py_ssize_t j = 0; j < run; j++) out[j] = row[j];     \
                            out += run;                                                   \
                            continue;                                                     \
                        }                                                                 \
                        for (Py_ssize_t kw = 0; kw < g.KW; kw++, out += C)                \
                            memcpy(out, row + kw * g.dw * C, C * sizeof(T));              \
                    }                                                                     \
    }                                                                                     \
                                                                                          \
    MULTIVERSION static void window_scatter_add_##SUFFIX(                                 \
        const T *restrict cols, T *restrict A, Geometry g)                                \
    {                                                                                     \
        const Py_ssize_t C = g.C;                                                         \
        const T *restrict in = cols;                                                      \
        for (Py_ssize_t i = 0; i < g.n; i++)                                              \
            for (Py_ssize_t oh = 0; oh < g.OH; oh++)                                      \
                for (Py_ssize_t ow = 0; ow < g.OW; ow++)                                  \
                    for (Py_ssize_t kh = 0; kh < g.KH; kh++) {                            \
                        T *row = A + ((i * g.H + oh * g.sh + kh * g.dh) * g.W             \
                                      + ow * g.sw) * C;                                   \
                        if (g.dw == 1) { /* one contiguous run, as in the gather */       \
                            const Py_ssize_t run = g.KW * C;                              \
                            for (Py_ssize_t j = 0; j < run; j++) row[j] += in[j];         \
                            in += run;                                                    \
                            continue;                                                     \
                        }                                                                 \
                        for (Py_ssize_t kw = 0; kw < g.KW; kw++, in += C) {               \
                            T *restrict a = row + kw * g.dw * C;                          \
                            for (Py_ssize_t c = 0; c < C; c++) a[c] += in[c];             \
                        }                                                                 \
                    }                                                                     \
    }                                                                                     \
                                                                                          \
    MULTIVERSION static void max_pool_forward_##SUFFIX(                                   \
        const T *restrict A, T *restrict out, int *restrict arg, Geometry g)              \
    {                                                                                     \
        const Py_ssize_t C = g.C;                                                         \
        for (Py_ssize_t i = 0; i < g.n; i++)                                              \
            for (Py_ssize_t oh = 0; oh < g.OH; oh++)                                      \
                for (Py_ssize_t ow = 0; ow < g.OW; ow++, out += C, arg += C) {            \
                    const T *first = A + ((i * g.H + oh * g.sh) * g.W + ow * g.sw) * C;   \
                    for (Py_ssize_t c = 0; c < C; c++) { out[c] = first[c]; arg[c] = 0; } \
                    for (Py_ssize_t kh = 0; kh < g.KH; kh++)                              \
                        for (Py_ssize_t kw = 0; kw < g.KW; kw++) {                        \
                            if (kh == 0 && kw == 0) continue;                             \
                            const T *a = first + (kh * g.W + kw) * C;                     \
                            const int tap = (int)(kh * g.KW + kw);                        \
                            for (Py_ssize_t c = 0; c < C; c++) {                          \
                                T best = out[c], v = a[c];                                \
                                if (best == best && (v > best || v != v)) {               \
                                    out[c] = v;                                           \
                                    arg[c] = tap;                                         \
                                }                                                         \
                            }                                                             \
                        }                                                                 \
                }                                                                         \
    }                                                                                     \
                                                                                          \
    static void max_pool_backward_##SUFFIX(                                               \
        const T *restrict dout, const int *restrict arg, T *restrict dA, Geometry g)      \
    {                                                                                     \
        const Py_ssize_t C = g.C;                                                         \
        for (Py_ssize_t i = 0; i < g.n; i++)                                              \
            for (Py_ssize_t oh = 0; oh < g.OH; oh++)                                      \
                for (Py_ssize_t ow = 0; ow < g.OW; ow++, dout += C, arg += C) {           \
                    T *first = dA + ((i * g.H + oh * g.sh) * g.W + ow * g.sw) * C;        \
                    for (Py_ssize_t c = 0; c < C; c++) {                                  \
                        const Py_ssize_t kh = arg[c] / g.KW, kw = arg[c] % g.KW;          \
                        first[(kh * g.W + kw) * C + c] += dout[c];                        \
                    }                                                                     \
                }                                                                         \
    }

DEFINE_RELU(float, f32)
DEFINE_RELU(double, f64)
DEFINE_WINDOWS(float, f32)
DEFINE_WINDOWS(double, f64)
DEFINE_KERNELS(float, f32, sqrtf)
DEFINE_KERNELS(double, f64, sqrt)

/* -- taking the buffers ----------------------------------------------------------------- */

/* The buffers of one call: the first (e.g. p, written), then the others (read or written). */
typedef struct {
    Py_buffer views[4];
    int taken;
    Py_ssize_t n;
    char dtype;        /* 'f' or 'd' */
    const char *first; /* the name of the first buffer, which the others must match */
} Buffers;

static void release(Buffers *b)
{
    for (int k = 0; k < b->taken; k++) PyBuffer_Release(&b->views[k]);
    b->taken = 0;
}

/* The dtype code of a buffer's format ('f', 'd'), or 0 for anything else. */
static char float_code(const Py_buffer *view)
{
    const char *f = view->format ? view->format : "B";
    if (*f == '@' || *f == '=' || (PY_LITTLE_ENDIAN && *f == '<')) f++; /* native order */
    if (strcmp(f, "f") == 0 && view->itemsize == sizeof(float)) return 'f';
    if (strcmp(f, "d") == 0 && view->itemsize == sizeof(double)) return 'd';
    return 0;
}

/* Take `obj` (None allowed only if `optional`) into the next view; NULL pointer for None. */
static int take(Buffers *b, PyObject *obj, const char *name, int writable, int optional,
                void **data)
{
    *data = NULL;
    if (obj == Py_None && optional) return 0;
    Py_buffer *view = &b->views[b->taken];
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) {
        PyErr_Format(PyExc_TypeError,
                     "%s must be a C-contiguous%s float32 or float64 array, got %R.", name,
                     writable ? ", writable" : "", (PyObject *)Py_TYPE(obj));
        return -1;
    }
    b->taken++;
    char code = float_code(view);
    Py_ssize_t n = view->len / (view->itemsize ? view->itemsize : 1);
    if (code == 0) {
        PyErr_Format(PyExc_TypeError, "%s must hold float32 or float64 values, got format '%s'.",
                     name, view->format ? view->format : "B");
        return -1;
    }
    if (b->taken == 1) {
        b->dtype = code;
        b->n = n;
        b->first = name;
    } else if (code != b->dtype || n != b->n) {
        PyErr_Format(PyExc_ValueError,
                     "%s must have the dtype and size of %s (%zd values of %s), "
                     "got %zd values of %s.", name, b->first, b->n,
                     b->dtype == 'f' ? "float32" : "float64", n,
                     code == 'f' ? "float32" : "float64");
        return -1;
    }
    *data = view->buf;
    return 0;
}

/* -- the Python functions ------------------------------------------------------------- */

static PyObject *py_sgd(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *po, *go, *vo;
    double lr, mu, scale, l2;
    int nesterov;
    if (!PyArg_ParseTuple(args, "OOOddpdd:sgd", &po, &go, &vo, &lr, &mu, &nesterov, &scale, &l2))
        return NULL;
    Buffers b = {.taken = 0};
    void *p, *g, *v;
    if (take(&b, po, "params", 1, 0, &p) || take(&b, go, "grads", 0, 0, &g)
        || take(&b, vo, "velocity", 1, 1, &v)) {
        release(&b);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    if (b.dtype == 'f')
        sgd_f32(p, g, v, b.n, (float)lr, (float)mu, nesterov, (float)scale, (float)l2);
    else
        sgd_f64(p, g, v, b.n, lr, mu, nesterov, scale, l2);
    Py_END_ALLOW_THREADS
    release(&b);
    Py_RETURN_NONE;
}

static PyObject *py_rmsprop(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *po, *go, *so, *uo;
    double lr, rho, eps, mu, scale, l2;
    if (!PyArg_ParseTuple(args, "OOOOdddddd:rmsprop", &po, &go, &so, &uo, &lr, &rho, &eps, &mu,
                          &scale, &l2))
        return NULL;
    Buffers b = {.taken = 0};
    void *p, *g, *s, *u;
    if (take(&b, po, "params", 1, 0, &p) || take(&b, go, "grads", 0, 0, &g)
        || take(&b, so, "square_avg", 1, 0, &s) || take(&b, uo, "momentum_buffer", 1, 1, &u)) {
        release(&b);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    if (b.dtype == 'f')
        rmsprop_f32(p, g, s, u, b.n, (float)lr, (float)rho, (float)eps, (float)mu, (float)scale,
                    (float)l2);
    else
        rmsprop_f64(p, g, s, u, b.n, lr, rho, eps, mu, scale, l2);
    Py_END_ALLOW_THREADS
    release(&b);
    Py_RETURN_NONE;
}

static PyObject *py_adam(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *po, *go, *mo, *vo;
    double step, b1, b2, c2, eps, decay, scale, l2;
    if (!PyArg_ParseTuple(args, "OOOOdddddddd:adam", &po, &go, &mo, &vo, &step, &b1, &b2, &c2,
                          &eps, &decay, &scale, &l2))
        return NULL;
    Buffers b = {.taken = 0};
    void *p, *g, *m, *v;
    if (take(&b, po, "params", 1, 0, &p) || take(&b, go, "grads", 0, 0, &g)
        || take(&b, mo, "m", 1, 0, &m) || take(&b, vo, "v", 1, 0, &v)) {
        release(&b);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    if (b.dtype == 'f')
        adam_f32(p, g, m, v, b.n, (float)step, (float)b1, (float)b2, (float)c2, (float)eps,
                 (float)decay, (float)scale, (float)l2);
    else
        adam_f64(p, g, m, v, b.n, step, b1, b2, c2, eps, decay, scale, l2);
    Py_END_ALLOW_THREADS
    release(&b);
    Py_RETURN_NONE;
}

static PyObject *py_relu_forward(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *zo, *bo, *ao;
    if (!PyArg_ParseTuple(args, "OOO:relu_forward", &zo, &bo, &ao)) return NULL;
    Buffers b = {.taken = 0}, bias = {.taken = 0};
    void *Z, *A, *bb;
    if (take(&b, zo, "Z", 1, 0, &Z) || take(&b, ao, "out", 1, 0, &A)
        || take(&bias, bo, "b", 0, 0, &bb)) {
        release(&b);
        release(&bias);
        return NULL;
    }
    Py_ssize_t k = bias.n;
    const Py_buffer *zv = &b.views[0];
    Py_ssize_t columns = zv->ndim > 0 ? zv->shape[zv->ndim - 1] : 1;
    if (bias.dtype != b.dtype || k != columns || k == 0) {
        PyErr_Format(PyExc_ValueError, "b must have the dtype of Z and one value per column "
                     "of Z, got %zd values for Z of %zd values.", k, b.n);
        release(&b);
        release(&bias);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    if (b.dtype == 'f')
        relu_forward_f32(Z, bb, A, b.n / k, k);
    else
        relu_forward_f64(Z, bb, A, b.n / k, k);
    Py_END_ALLOW_THREADS
    release(&b);
    release(&bias);
    Py_RETURN_NONE;
}

static PyObject *py_relu_backward(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *dao, *ao, *dzo;
    if (!PyArg_ParseTuple(args, "OOO:relu_backward", &dao, &ao, &dzo)) return NULL;
    Buffers b = {.taken = 0};
    void *dA, *A, *dZ;
    if (take(&b, dzo, "out", 1, 0, &dZ) || take(&b, dao, "dA", 0, 0, &dA)
        || take(&b, ao, "A", 0, 0, &A)) {
        release(&b);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    if (b.dtype == 'f')
        relu_backward_f32(dA, A, dZ, b.n);
    else
        relu_backward_f64(dA, A, dZ, b.n);
    Py_END_ALLOW_THREADS
    release(&b);
    Py_RETURN_NONE;
}

/* A C-contiguous float32/float64 (or int32, for `ints`) buffer of exactly `count` values. */
static int take_sized(Py_buffer *view, PyObject *obj, const char *name, int writable,
                      Py_ssize_t count, char dtype, int ints)
{
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) {
        PyErr_Format(PyExc_TypeError, "%s must be a C-contiguous%s array, got %R.", name,
                     writable ? ", writable" : "", (PyObject *)Py_TYPE(obj));
        return -1;
    }
    const char *f = view->format ? view->format : "B";
    if (*f == '@' || *f == '=' || (PY_LITTLE_ENDIAN && *f == '<')) f++;
    int ok = ints ? (strcmp(f, "i") == 0 && view->itemsize == sizeof(int))
                  : float_code(view) == dtype;
    if (!ok || view->len / view->itemsize != count) {
        PyErr_Format(PyExc_ValueError, "%s must hold %zd values of %s.", name, count,
                     ints ? "int32" : (dtype == 'f' ? "float32" : "float64"));
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* window_*(A, B, [arg,] n, H, W, C, OH, OW, KH, KW, sh, sw, dh, dw): A is the image side
   (n, H, W, C), B the window side. `mode`: 0 gather, 1 scatter-add, 2 max forward, 3 max
   backward. */
static PyObject *windows(PyObject *args, int mode, const char *fmt)
{
    PyObject *ao, *bo, *io = NULL;
    Geometry g;
    int parsed = mode >= 2
        ? PyArg_ParseTuple(args, fmt, &ao, &bo, &io, &g.n, &g.H, &g.W, &g.C, &g.OH, &g.OW,
                           &g.KH, &g.KW, &g.sh, &g.sw, &g.dh, &g.dw)
        : PyArg_ParseTuple(args, fmt, &ao, &bo, &g.n, &g.H, &g.W, &g.C, &g.OH, &g.OW, &g.KH,
                           &g.KW, &g.sh, &g.sw, &g.dh, &g.dw);
    if (!parsed) return NULL;
    if (g.n < 0 || g.C < 1 || g.OH < 1 || g.OW < 1 || g.KH < 1 || g.KW < 1 || g.sh < 1
        || g.sw < 1 || g.dh < 1 || g.dw < 1 || (g.OH - 1) * g.sh + (g.KH - 1) * g.dh >= g.H
        || (g.OW - 1) * g.sw + (g.KW - 1) * g.dw >= g.W) {
        PyErr_SetString(PyExc_ValueError, "the window geometry does not fit the image.");
        return NULL;
    }
    Py_buffer av, bv, iv;
    if (PyObject_GetBuffer(ao, &av, PyBUF_FORMAT) < 0) return NULL;
    char dtype = float_code(&av);
    PyBuffer_Release(&av);
    if (dtype == 0) {
        PyErr_SetString(PyExc_TypeError, "the image must hold float32 or float64 values.");
        return NULL;
    }
    Py_ssize_t image = g.n * g.H * g.W * g.C, out = g.n * g.OH * g.OW * g.C;
    Py_ssize_t window = mode >= 2 ? out : out * g.KH * g.KW;
    int writes_image = mode == 1 || mode == 3;
    if (take_sized(&av, ao, "image", writes_image, image, dtype, 0)) return NULL;
    if (take_sized(&bv, bo, "windows", !writes_image, window, dtype, 0)) {
        PyBuffer_Release(&av);
        return NULL;
    }
    if (mode >= 2 && take_sized(&iv, io, "arg", mode == 2, out, dtype, 1)) {
        PyBuffer_Release(&av);
        PyBuffer_Release(&bv);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    if (dtype == 'f') {
        if (mode == 0) window_gather_f32(av.buf, bv.buf, g);
        else if (mode == 1) window_scatter_add_f32(bv.buf, av.buf, g);
        else if (mode == 2) max_pool_forward_f32(av.buf, bv.buf, iv.buf, g);
        else max_pool_backward_f32(bv.buf, iv.buf, av.buf, g);
    } else {
        if (mode == 0) window_gather_f64(av.buf, bv.buf, g);
        else if (mode == 1) window_scatter_add_f64(bv.buf, av.buf, g);
        else if (mode == 2) max_pool_forward_f64(av.buf, bv.buf, iv.buf, g);
        else max_pool_backward_f64(bv.buf, iv.buf, av.buf, g);
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&av);
    PyBuffer_Release(&bv);
    if (mode >= 2) PyBuffer_Release(&iv);
    Py_RETURN_NONE;
}

static PyObject *py_window_gather(PyObject *Py_UNUSED(self), PyObject *args)
{
    return windows(args, 0, "OOnnnnnnnnnnnn:window_gather");
}

static PyObject *py_window_scatter_add(PyObject *Py_UNUSED(self), PyObject *args)
{
    return windows(args, 1, "OOnnnnnnnnnnnn:window_scatter_add");
}

static PyObject *py_max_pool_forward(PyObject *Py_UNUSED(self), PyObject *args)
{
    return windows(args, 2, "OOOnnnnnnnnnnnn:max_pool_forward");
}

static PyObject *py_max_pool_backward(PyObject *Py_UNUSED(self), PyObject *args)
{
    return windows(args, 3, "OOOnnnnnnnnnnnn:max_pool_backward");
}

static PyMethodDef methods[] = {
    {"window_gather", py_window_gather, METH_VARARGS,
     "window_gather(A, cols, n, H, W, C, OH, OW, KH, KW, sh, sw, dh, dw): im2col."},
    {"window_scatter_add", py_window_scatter_add, METH_VARARGS,
     "window_scatter_add(dA, dcols, n, H, W, C, OH, OW, KH, KW, sh, sw, dh, dw): col2im, "
     "adding into dA."},
    {"max_pool_forward", py_max_pool_forward, METH_VARARGS,
     "max_pool_forward(A, out, arg, n, H, W, C, OH, OW, KH, KW, sh, sw, 1, 1): the max of "
     "each window and its first tap."},
    {"max_pool_backward", py_max_pool_backward, METH_VARARGS,
     "max_pool_backward(dA, dout, arg, n, H, W, C, OH, OW, KH, KW, sh, sw, 1, 1): dout added "
     "at each window's tap."},
    {"relu_forward", py_relu_forward, METH_VARARGS,
     "relu_forward(Z, b, out): Z += b (per column), out = max(Z, 0), in one pass."},
    {"relu_backward", py_relu_backward, METH_VARARGS,
     "relu_backward(dA, A, out): out = dA where A > 0, else 0 (NaN kept)."},
    {"sgd", py_sgd, METH_VARARGS,
     "sgd(p, g, velocity_or_None, lr, momentum, nesterov, scale, l2): one SGD step, in place."},
    {"rmsprop", py_rmsprop, METH_VARARGS,
     "rmsprop(p, g, square_avg, momentum_buffer_or_None, lr, rho, eps, momentum, scale, l2): "
     "one RMSprop step, in place."},
    {"adam", py_adam, METH_VARARGS,
     "adam(p, g, m, v, step, b1, b2, c2, eps, decay, scale, l2): one Adam(W) step, in place."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "glassnet.backend._kernels",
    "Fused optimizer update rules, ReLU and sliding-window loops on float32/float64 buffers "
    "(see _kernels.c).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&module); }
