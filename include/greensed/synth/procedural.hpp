// Procedural sound generators for the 10 DESED classes, domestic room tone and non-target events
// (recipes of spec data.md §2.6). Classes are meant to be distinguishable but not trivially: the
// long classes share motor-harmonic or broadband-noise structure, the short ones share inharmonic
// partials or formants, and level never identifies a class (the mixer sets every level through
// loudness and SNR; band-limiting and EQ are randomised per event by the mixer).
#pragma once

#include <span>

#include "greensed/synth/dsp.hpp"

namespace greensed::synth {

struct EventStyle {
  double pitch = 1.0;      // frequency factor, 2^(semitones / 12)
  double stretch = 1.0;    // time factor of the sound's internal rhythm (1 = nominal tempo)
  bool has_onset = true;   // the sound starts inside the clip (spin-up, attack)
  bool has_offset = true;  // the sound ends inside the clip (spin-down, release)
};

// Overwrites `out` (16 kHz) with one event of class `label` (data::kClassNames order), at an
// arbitrary level; the whole buffer is the event.
void render_procedural_event(int label, Noise& noise, const EventStyle& style,
                             std::span<float> out);

// Domestic room tone: pink/brown noise under a drifting low shelf, ventilation rumble, mains hum,
// a fridge compressor switching on and off and distant traffic swells. Overwrites `out`.
void render_room_tone(Noise& noise, std::span<float> out);

// A non-target domestic sound (door knock, keyboard typing, clock ticking, footsteps, thud),
// never one of the 10 classes. Overwrites `out`.
void render_nontarget_event(Noise& noise, std::span<float> out);

}  // namespace greensed::synth
