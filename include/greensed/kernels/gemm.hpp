// Matrix products: row-major single-precision GEMM over OpenBLAS, and its plain-loop twin.
// C[M, N] = alpha · op(A)[M, K] · op(B)[K, N] + beta · C, op = transpose when trans_* is true
// (then A is stored [K, M] / B is stored [N, K]). lda/ldb/ldc are row strides as stored.
#pragma once

namespace greensed::kernels {

void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
          const float* b, int ldb, float beta, float* c, int ldc);
void gemm_reference(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a,
                    int lda, const float* b, int ldb, float beta, float* c, int ldc);

// Runs OpenBLAS on one thread while alive, restoring the previous count after. greensed
// parallelises over batch items and channels itself; nesting OpenBLAS threads inside those loops
// would oversubscribe the cores.
class BlasSingleThreadScope {
 public:
  BlasSingleThreadScope();
  ~BlasSingleThreadScope();
  BlasSingleThreadScope(const BlasSingleThreadScope&) = delete;
  BlasSingleThreadScope& operator=(const BlasSingleThreadScope&) = delete;

 private:
  int previous_;
};

}  // namespace greensed::kernels
