/* lowp_amx.c - the reduced-precision layer products on AMX tiles
 * (tdpbf16ps, tdpbusd); lowp.c has the layouts, the driver and the choice.
 *
 * Why: one tdpbf16ps multiplies a 16 x 32 bf16 block of inputs by a 32 x 16
 * block of weights (16 x 16 x 32 products) in about the time AVX-512 takes
 * for a few of its 16 x 2 vdpbf16ps; at batch 128 bf16 on AVX-512 was slower
 * than float32 on the same CPU, and at batch 1 a tile of one row still reads
 * the weights at the speed of tile loads.
 *
 * The panels need no new layout: lowp.c's 16 outputs x 16 words of one
 * panel block (one word = two bf16 or four int8 inputs of one output) are
 * exactly the B operand of both instructions (16 rows of 64 bytes), and a
 * row of layer inputs in words is a row of the A operand; lowp.c pads both
 * to a multiple of 16 words, so every step is a whole tile. A layer is: per
 * block of up to 16 input rows and up to 4 panels (64 outputs), C tiles 0-3
 * zeroed, then per 16 words an A tile (4) and each panel's B tile (6, 7 in
 * turn). The whole product is written to C (not added to it).
 *
 * Arithmetic: int8 sums are exact integers, so results equal the other
 * variants' bit for bit. bf16 products are exact in float32 as for
 * vdpbf16ps, but a tile adds each word's two products in another order
 * (low half first) and sums 16 words per row per instruction, so results
 * differ from the portable reference by float32 rounding only (the tests
 * bound it); denormals are flushed as vdpbf16ps does.
 *
 * Chosen only when cpuid says the CPU has AMX-TILE and the type's AMX
 * instruction, XCR0 says the OS enabled tile state, and Linux granted this
 * process the tile data (arch_prctl ARCH_REQ_XCOMP_PERM, asked once); else
 * the AVX-512 variant (or lower) runs. Each layer call loads its tile
 * configuration and releases the tiles at its end, so threads need no
 * set-up and a thread switched out between calls saves no tile data.
 */
#include "internal.h"

#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__)
#include <cpuid.h>
#include <immintrin.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NR            MLP_PACKED_NR
#define TILE_ROWS     16     /* rows of an A or C tile, 16-word steps of K */
#define GROUP         4      /* panels per block: C tiles 0-3 */
#define ARCH_GET_PERM 0x1022 /* arch_prctl: ARCH_GET_XCOMP_PERM */
#define ARCH_REQ_PERM 0x1023 /* arch_prctl: ARCH_REQ_XCOMP_PERM */
#define XTILEDATA     18     /* the XSAVE feature of the tile registers */
#define TARGET        __attribute__((target("amx-tile,amx-bf16,amx-int8")))

/* cpuid leaf 7 EDX: AMX-BF16 bit 22, AMX-TILE 24, AMX-INT8 25. */
enum { AMX_BF16 = 1u << 22, AMX_TILE = 1u << 24, AMX_INT8 = 1u << 25 };
static unsigned amx_edx; /* leaf 7 EDX when the OS and Linux let us use tiles, else 0 */
static pthread_once_t asked = PTHREAD_ONCE_INIT;

static void ask_for_tiles(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE)) return;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d & AMX_TILE)) return;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & (3u << 17)) != (3u << 17)) return; /* XTILECFG and XTILEDATA enabled */
    unsigned long perm = 0;
    if (syscall(SYS_arch_prctl, ARCH_REQ_PERM, XTILEDATA) != 0) return;
    if (syscall(SYS_arch_prctl, ARCH_GET_PERM, &perm) != 0 || !(perm & (1ul << XTILEDATA))) return;
    amx_edx = d;
}

/* The AVX-512 variant's support too: its convert and finish steps run here. */
static int bf16_supported(void) {
    pthread_once(&asked, ask_for_tiles);
    return (amx_edx & AMX_BF16) && mlp_bf16_kernel_avx512.supported();
}

static int int8_supported(void) {
    pthread_once(&asked, ask_for_tiles);
    return (amx_edx & AMX_INT8) && mlp_int8_kernel_avx512.supported();
}

/* ldtilecfg's 64 bytes, palette 1. */
typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} __attribute__((aligned(64))) tile_config;

/* C tiles 0-3 and A tile 4 of `rows` rows, B tiles 6-7 of 16 (all 64 bytes
 * wide: lowp.c pads every row of words to a multiple of 16). */
TARGET static void configure(int rows) {
    tile_config cfg = {.palette = 1};
    for (int t = 0; t < 8; t++)
        if (t != 5) cfg.rows[t] = (uint8_t)(t < 5 ? rows : TILE_ROWS), cfg.colsb[t] = 64;
    /* Not _tile_loadconfig: gcc 12's names only the first 8 bytes as read,
     * and the stores of the rest were dropped as dead. */
    __asm__ volatile("ldtilecfg %0" : : "m"(cfg));
}

#define DP(int8, cc, aa, bb)                                                                       \
    do {                                                                                           \
        if (int8)                                                                                  \
            _tile_dpbusd(cc, aa, bb);                                                              \
        else                                                                                       \
            _tile_dpbf16ps(cc, aa, bb);                                                            \
    } while (0)

/* The configured rows of c (stride ldc 4-byte elements, g <= 4 panels of 16
 * columns) = x (stride ldx words) times g panels from w (panel stride
 * pstride words) over nw words (a multiple of 16): per step one A tile and
 * each panel's B tile (6 and 7 in turn) into its C tile. `int8` picks the
 * instruction. (Two A tiles by two panels, which reads each B tile for 32
 * rows, measured no faster at batch 128 on this Xeon: reading the weights
 * is not what bounds it there.) */
TARGET __attribute__((always_inline)) static inline void block(int int8, char *c, int ldc,
                                                               const uint32_t *x, int ldx,
                                                               const uint32_t *w, size_t pstride,
                                                               int nw, int g) {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int k = 0; k < nw; k += TILE_ROWS) {
        const uint32_t *wk = w + (size_t)k * NR;
        _tile_loadd(4, x + k, 4 * ldx);
        _tile_loadd(6, wk, 64);
        DP(int8, 0, 4, 6);
        if (g > 1) {
            _tile_loadd(7, wk + pstride, 64);
            DP(int8, 1, 4, 7);
        }
        if (g > 2) {
            _tile_loadd(6, wk + 2 * pstride, 64);
            DP(int8, 2, 4, 6);
        }
        if (g > 3) {
            _tile_loadd(7, wk + 3 * pstride, 64);
            DP(int8, 3, 4, 7);
        }
    }
    _tile_stored(0, c, 4 * ldc);
    if (g > 1) _tile_stored(1, c + 4 * NR, 4 * ldc);
    if (g > 2) _tile_stored(2, c + 8 * NR, 4 * ldc);
    if (g > 3) _tile_stored(3, c + 12 * NR, 4 * ldc);
}

/* c (B rows, stride ldc) = x (B rows, stride ldx words) times every panel of
 * w over nw words, for O outputs (c's columns up to the padded width), by
 * blocks of 16 rows (the last one narrower) and 4 panels. */
TARGET __attribute__((always_inline)) static inline void gemm(int int8, void *c, int ldc,
                                                              const uint32_t *x, int ldx,
                                                              const uint32_t *w, int B, int nw,
                                                              int O) {
    int panels = (O + NR - 1) / NR, configured = 0;
    size_t pstride = (size_t)NR * nw;
    for (int r = 0; r < B; r += TILE_ROWS) {
        int rows = B - r < TILE_ROWS ? B - r : TILE_ROWS;
        if (rows != configured) configure(rows), configured = rows;
        for (int p = 0; p < panels; p += GROUP)
            block(int8, (char *)c + 4 * ((size_t)r * ldc + (size_t)p * NR), ldc,
                  x + (size_t)r * ldx, ldx, w + (size_t)p * pstride, pstride, nw,
                  panels - p < GROUP ? panels - p : GROUP);
    }
    _tile_release();
}

TARGET static void bf16_gemm(float *c, int ldc, const uint32_t *x, int ldx, const uint32_t *w,
                             int B, int nw, int O) {
    gemm(0, c, ldc, x, ldx, w, B, nw, O);
}

TARGET static void int8_gemm(int32_t *c, int ldc, const uint32_t *x, int ldx, const uint32_t *w,
                             int B, int nw, int O) {
    gemm(1, c, ldc, x, ldx, w, B, nw, O);
}

#else /* no AMX intrinsics or no Linux tile permission here: never chosen */

static int bf16_supported(void) {
    return 0;
}
static int int8_supported(void) {
    return 0;
}
static void bf16_gemm(float *c, int ldc, const uint32_t *x, int ldx, const uint32_t *w, int B,
                      int nw, int O) {
    (void)c, (void)ldc, (void)x, (void)ldx, (void)w, (void)B, (void)nw, (void)O;
}
static void int8_gemm(int32_t *c, int ldc, const uint32_t *x, int ldx, const uint32_t *w, int B,
                      int nw, int O) {
    (void)c, (void)ldc, (void)x, (void)ldx, (void)w, (void)B, (void)nw, (void)O;
}
#endif

const mlp_bf16_kernel mlp_bf16_kernel_amx = {.name = "amx-bf16",
                                             .option = "amx",
                                             .supported = bf16_supported,
                                             .gemm = bf16_gemm,
                                             .convert = mlp_lowp_avx512_round_rows,
                                             .finish = mlp_lowp_avx512_finish_bf16};
const mlp_int8_kernel mlp_int8_kernel_amx = {.name = "amx-int8",
                                             .option = "amx",
                                             .supported = int8_supported,
                                             .gemm = int8_gemm,
                                             .convert = mlp_lowp_avx512_quantize_rows,
                                             .finish = mlp_lowp_avx512_finish_int8};
