// CPU feature detection and BLAS/thread set-up.
//
// Debian's OpenBLAS 0.3.21 is built with DYNAMIC_ARCH and picks its kernels when the library is
// loaded. It does not know recent CPU generations (Sapphire Rapids, some Zen parts) and then falls
// back to generic kernels that are about 6x slower. Because the choice is made at load time, the
// only reliable fix from inside the program is to set OPENBLAS_CORETYPE and re-execute ourselves
// before any GEMM runs; `ensure_openblas_coretype` does exactly that unless the user set it.
#pragma once

#include <string>

namespace greensed::core {

struct CpuInfo {
  std::string vendor;      // "GenuineIntel", "AuthenticAMD", ...
  std::string model_name;  // from /proc/cpuinfo, or the CPUID brand string
  int family = 0;
  int model = 0;
  bool avx2 = false;
  bool fma = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512dq = false;
  bool avx512_bf16 = false;
  int n_logical_cpus = 1;  // CPUs this process may run on (affinity mask)
};

CpuInfo detect_cpu();

// The OpenBLAS core type whose kernels suit this CPU ("Cooperlake", "SkylakeX", "Haswell", "Zen"),
// or "" when OpenBLAS's own detection should be trusted.
std::string openblas_coretype_for(const CpuInfo& cpu);

// If OPENBLAS_CORETYPE is unset and a better core type is known, sets it and re-executes the
// current program with the same arguments (never returns on success). Sets GREENSED_REEXEC=1 so
// a failing exec cannot loop. Call first thing in main().
void ensure_openblas_coretype(int argc, char** argv);

// What OpenBLAS ended up with, for the log: core name and thread count.
struct BlasStatus {
  std::string core;
  int n_threads = 1;
  bool coretype_from_user = false;  // OPENBLAS_CORETYPE was set before greensed started
};
BlasStatus blas_status();

// Sets the thread count of OpenBLAS (and of greensed's own parallel loops). 0 = one per CPU.
void set_num_threads(int n_threads);
int num_threads();

}  // namespace greensed::core
