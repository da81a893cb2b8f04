// Kill points for the fault-injection tests (tests/train/test_faults.cpp), used only by them:
// with GREENSED_TEST_KILL_AT="<point>@<n>" in the environment, the n-th arrival at `point` sends
// SIGKILL to the process, as a power cut or `kill -9` would at that moment. Unset (always, outside
// those tests), fault_point costs one load of a flag. The points:
//   "mid-write <file name>"      write_file_atomic, half of the temporary file written
//   "before-rename <file name>"  write_file_atomic, the temporary file complete, before rename(2)
//   "step"                       after each optimiser step (mid-epoch)
//   "validation"                 when an epoch's validation starts
#pragma once

#include <string_view>

namespace greensed::core {

void fault_point(std::string_view point, std::string_view detail = {});

}  // namespace greensed::core
