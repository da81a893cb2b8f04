// CRNN checkpoints: safetensors files holding the student and the EMA teacher under the recipe's
// LightningModule names, `sed_student.<state_dict name>` and `sed_teacher.<state_dict name>`
// (e.g. sed_student.cnn.cnn.conv0.weight, sed_teacher.rnn.rnn.weight_hh_l1_reverse), BatchNorm
// running statistics (F32) and num_batches_tracked (I64, shape []) included, so that
// `load_state_dict(strict=True)` of the recipe's model accepts them
// (scripts/check_ckpt_in_torch.py) and DESED_task checkpoints come in through
// scripts/convert_ckpt.py. Other entries (optimiser moments, RNG state, written by `train`) may sit
// beside them under other prefixes; loading a model ignores them.
#pragma once

#include <map>
#include <string>

#include "greensed/model/crnn.hpp"
#include "greensed/model/safetensors.hpp"

namespace greensed::model {

inline constexpr const char* kStudentPrefix = "sed_student.";
inline constexpr const char* kTeacherPrefix = "sed_teacher.";

// Copies every tensor of `model` (its named_tensors(), parameters and buffers) into `file` as
// `<prefix><name>`. Values are copied: `model` may change afterwards.
void add_model_tensors(Safetensors& file, const std::string& prefix, Crnn& model);

// Sets every tensor of `model` from `<prefix><name>` in `file`, strictly (like PyTorch's
// load_state_dict(strict=True)): a missing tensor, a shape or dtype that differs, or a tensor under
// `prefix` that the model does not have throws InputError naming the file and the tensor. `model`
// is left unchanged when it throws.
void load_model_tensors(const Safetensors& file, const std::string& prefix, Crnn& model);

// The student and teacher of a mean-teacher run as one safetensors file (metadata "format": "pt",
// plus `metadata`), written atomically.
void save_models(const std::string& path, Crnn& student, Crnn& teacher,
                 const std::map<std::string, std::string>& metadata = {});

// Reads `path` and loads the models that are not null (e.g. only the teacher for inference).
// Returns the file (its metadata and any other tensors) for the caller.
Safetensors load_models(const std::string& path, Crnn* student, Crnn* teacher);

}  // namespace greensed::model
