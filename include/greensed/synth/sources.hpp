// The optional library of real recordings (made by scripts/fetch_debian_sounds.sh):
// DIR/foreground/<Class>/*.{wav,ogg,oga,flac} and DIR/background/*. Files are decoded with
// libsndfile, mixed to mono and resampled to 16 kHz with libsoxr when loaded.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "greensed/data/labels.hpp"
#include "greensed/synth/dsp.hpp"
#include "greensed/synth/procedural.hpp"

namespace greensed::synth {

struct SourceLibrary {
  std::array<std::vector<std::vector<float>>, data::kNumClasses> foreground;  // 16 kHz mono
  std::vector<std::vector<float>> background;
  bool empty() const;
};

// Loads DIR; a missing DIR or sub-folder gives an empty part (the generator then stays
// procedural). Unreadable files are InputErrors naming the file.
SourceLibrary load_source_library(const std::string& dir);

// Decodes one audio file to 16 kHz mono float.
std::vector<float> read_audio_16k_mono(const std::string& path);

// Renders a real recording of the class into `out`: pitch shifted by style.pitch and time
// stretched by style.stretch (OLA stretch + varispeed), a random crop when longer, and when shorter
// a cross-faded loop (sustained classes) or repetitions separated by short silences (the others).
void render_real_event(const std::vector<float>& recording, int label, Noise& noise,
                       const EventStyle& style, std::span<float> out);

}  // namespace greensed::synth
