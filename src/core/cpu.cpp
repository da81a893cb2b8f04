#include "greensed/core/cpu.hpp"

#include <cpuid.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <vector>

extern "C" {
// From OpenBLAS's cblas.h; declared here so core does not need cblas.h's macros.
char* openblas_get_corename(void);
int openblas_get_num_threads(void);
void openblas_set_num_threads(int);
}

namespace greensed::core {
namespace {

std::atomic<int> g_num_threads{0};

bool cpuid_leaf(unsigned leaf, unsigned subleaf, unsigned regs[4]) {
  return __get_cpuid_count(leaf, subleaf, &regs[0], &regs[1], &regs[2], &regs[3]) != 0;
}

bool os_saves_avx512_state() {
  unsigned regs[4];
  if (!cpuid_leaf(1, 0, regs) || !(regs[2] & (1u << 27))) return false;  // OSXSAVE
  unsigned lo, hi;
  __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (lo & 0xE6) == 0xE6;  // XMM, YMM, opmask, ZMM_Hi256, Hi16_ZMM
}

}  // namespace

CpuInfo detect_cpu() {
  CpuInfo cpu;
  unsigned regs[4] = {0, 0, 0, 0};
  if (cpuid_leaf(0, 0, regs)) {
    char vendor[13] = {};
    std::memcpy(vendor + 0, &regs[1], 4);
    std::memcpy(vendor + 4, &regs[3], 4);
    std::memcpy(vendor + 8, &regs[2], 4);
    cpu.vendor = vendor;
  }
  if (cpuid_leaf(1, 0, regs)) {
    const unsigned base_family = (regs[0] >> 8) & 0xF;
    const unsigned ext_family = (regs[0] >> 20) & 0xFF;
    const unsigned base_model = (regs[0] >> 4) & 0xF;
    const unsigned ext_model = (regs[0] >> 16) & 0xF;
    cpu.family = int(base_family == 0xF ? base_family + ext_family : base_family);
    cpu.model =
        int(base_family == 0x6 || base_family == 0xF ? (ext_model << 4) + base_model : base_model);
    cpu.fma = regs[2] & (1u << 12);
  }
  const bool avx512_os = os_saves_avx512_state();
  if (cpuid_leaf(7, 0, regs)) {
    cpu.avx2 = regs[1] & (1u << 5);
    cpu.avx512f = avx512_os && (regs[1] & (1u << 16));
    cpu.avx512dq = avx512_os && (regs[1] & (1u << 17));
    cpu.avx512bw = avx512_os && (regs[1] & (1u << 30));
    cpu.avx512vl = avx512_os && (regs[1] & (1u << 31));
  }
  if (cpuid_leaf(7, 1, regs)) cpu.avx512_bf16 = avx512_os && (regs[0] & (1u << 5));

  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) cpu.model_name = line.substr(colon + 2);
      break;
    }
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  cpu.n_logical_cpus = sched_getaffinity(0, sizeof(set), &set) == 0
                           ? CPU_COUNT(&set)
                           : int(sysconf(_SC_NPROCESSORS_ONLN));
  if (cpu.n_logical_cpus < 1) cpu.n_logical_cpus = 1;
  return cpu;
}

std::string openblas_coretype_for(const CpuInfo& cpu) {
  const bool avx512 = cpu.avx512f && cpu.avx512bw && cpu.avx512vl && cpu.avx512dq;
  if (avx512 && cpu.avx512_bf16) return "Cooperlake";
  if (avx512) return "SkylakeX";
  if (cpu.avx2 && cpu.fma) return cpu.vendor == "AuthenticAMD" ? "Zen" : "Haswell";
  return "";
}

void ensure_openblas_coretype(int /*argc*/, char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) {
    if (std::getenv("GREENSED_REEXEC") == nullptr) setenv("GREENSED_CORETYPE_FROM_USER", "1", 1);
    return;
  }
  if (std::getenv("GREENSED_REEXEC") != nullptr) return;  // exec failed earlier; do not loop
  const std::string coretype = openblas_coretype_for(detect_cpu());
  if (coretype.empty()) return;
  setenv("OPENBLAS_CORETYPE", coretype.c_str(), 1);
  setenv("GREENSED_REEXEC", "1", 1);
  execv("/proc/self/exe", argv);
  // exec failed (no /proc?): carry on with OpenBLAS's own choice; blas_status() shows it.
  unsetenv("OPENBLAS_CORETYPE");
}

BlasStatus blas_status() {
  BlasStatus status;
  const char* name = openblas_get_corename();
  status.core = name != nullptr ? name : "unknown";
  status.n_threads = openblas_get_num_threads();
  status.coretype_from_user = std::getenv("GREENSED_CORETYPE_FROM_USER") != nullptr;
  return status;
}

void set_num_threads(int n_threads) {
  if (n_threads <= 0) n_threads = detect_cpu().n_logical_cpus;
  g_num_threads = n_threads;
  openblas_set_num_threads(n_threads);
}

int num_threads() {
  const int n = g_num_threads.load();
  return n > 0 ? n : detect_cpu().n_logical_cpus;
}

}  // namespace greensed::core
