// One sed_scores_eval score file (metrics/tsv.hpp), as `greensed infer` writes them and
// `greensed evaluate --scores` reads them.
#include "fuzz_util.hpp"
#include "greensed/metrics/tsv.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace greensed;
  fuzz::expect_input_error_only(
      [&] { metrics::parse_score_file(fuzz::as_text(data, size), "fuzz/clip.tsv"); });
  return 0;
}
