#include "greensed/metrics/sed_scores.hpp"
