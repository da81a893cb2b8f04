#include "greensed/features/cache.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "greensed/audio/audio.hpp"
#include "greensed/core/error.hpp"
#include "greensed/core/fs.hpp"

namespace greensed::features {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr char kMagic[8] = {'G', 'S', 'M', 'E', 'L', '0', '0', '1'};
constexpr size_t kHeaderBytes = 32;
constexpr int64_t kFlushEveryClips = 64;
constexpr double kMinFlushIntervalS = 2.0;

struct Header {
  char magic[8];
  uint32_t n_mels;
  uint32_t reserved;
  int64_t n_frames;
  uint64_t settings;
};
static_assert(sizeof(Header) == kHeaderBytes);

uint64_t fnv1a(std::string_view text, uint64_t h = 1469598103934665603ull) {
  for (const unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// size and mtime (ns) of a file; false when it cannot be stat'ed.
bool stat_file(const std::string& path, int64_t* size, int64_t* mtime_ns) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  *size = int64_t(st.st_size);
  *mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return true;
}

}  // namespace

uint64_t CacheSettings::hash() const {
  return fnv1a(text());
}

std::string CacheSettings::text() const {
  return fmt::format("{}; pad_to_samples={}", settings_text(mel), pad_to_samples);
}

int network_input_frames(const core::Config& config, double seconds) {
  if (seconds <= 0.0) seconds = config.data.audio_max_len;
  const CacheSettings s = cache_settings_from(config);
  return int(s.mel.n_frames(int64_t(std::llround(seconds * config.feats.sample_rate))));
}

CacheSettings cache_settings_from(const core::Config& config) {
  CacheSettings s;
  s.mel = mel_settings_from(config.feats);
  s.pad_to_samples = int64_t(std::llround(config.data.audio_max_len * config.feats.sample_rate));
  return s;
}

CachedMel::CachedMel(std::vector<float> values, int n_mels, int64_t n_frames, int64_t n_samples)
    : n_mels_(n_mels), n_frames_(n_frames), n_samples_(n_samples) {
  GREENSED_CHECK(values.size() == size_t(n_mels) * size_t(n_frames),
                 "CachedMel: {} values for [{}, {}]", values.size(), n_mels, n_frames);
  auto owned = std::make_shared<std::vector<float>>(std::move(values));
  data_ = owned->data();
  owner_ = std::move(owned);
}

void copy_frames(const CachedMel& mel, int64_t first_frame, int64_t n_frames, float* out) {
  GREENSED_CHECK(first_frame >= 0 && n_frames >= 0, "copy_frames first {} count {}", first_frame,
                 n_frames);
  const int64_t available = std::clamp<int64_t>(mel.n_frames() - first_frame, 0, n_frames);
  for (int m = 0; m < mel.n_mels(); ++m) {
    const float* src = mel.data() + m * mel.n_frames() + first_frame;
    float* dst = out + m * n_frames;
    std::copy(src, src + available, dst);
    std::fill(dst + available, dst + n_frames, 0.0f);
  }
}

CachedMel compute_clip_mel(const std::string& path, const CacheSettings& settings,
                           const MelExtractor& extractor) {
  auto x = audio::load_mono(path, settings.mel.sample_rate);
  const int64_t n_samples = int64_t(x.size());
  if (n_samples < settings.pad_to_samples) audio::pad_or_crop(x, settings.pad_to_samples);
  const int64_t n_frames = settings.mel.n_frames(int64_t(x.size()));
  std::vector<float> mel(size_t(settings.mel.n_mels) * size_t(n_frames));
  extractor.compute(x, mel);
  return CachedMel(std::move(mel), settings.mel.n_mels, n_frames, n_samples);
}

FeatureCache::FeatureCache(std::string dir, const CacheSettings& settings)
    : dir_(std::move(dir)),
      settings_(settings),
      settings_hash_(settings.hash()),
      extractor_(settings.mel),
      last_flush_s_(now_s()) {
  // Temporary files of a process killed during a write (index or clips) are removed at the next
  // start; those of a process still writing are kept.
  const auto removed = core::remove_orphan_temp_files(dir_, /*recursive=*/true);
  if (!removed.empty()) {
    spdlog::info("[features] removed {} temporary file(s) left by a killed process in {}",
                 removed.size(), dir_);
  }
  load_index();
}

FeatureCache::~FeatureCache() {
  try {
    flush();
  } catch (const std::exception& e) {
    spdlog::error("[features] could not write the cache index in {}: {}", dir_, e.what());
  }
}

std::string FeatureCache::key_of(const std::string& source_path) {
  std::error_code ec;
  auto p = fs::weakly_canonical(fs::absolute(source_path, ec), ec);
  if (ec) return fs::absolute(source_path).lexically_normal().string();
  return p.string();
}

namespace {

// An integer field of an index entry within [lo, hi]; anything else (a string, a float, a number
// out of range) is an InputError, never a float-to-integer conversion out of range.
int64_t index_integer(const json& e, const char* name, int64_t lo, int64_t hi,
                      const std::string& origin, const std::string& key) {
  const auto it = e.find(name);
  if (it == e.end() || !it->is_number_integer()) {
    throw core::InputError(
        fmt::format("{}: entry '{}': '{}' must be an integer", origin, key, name));
  }
  const bool is_unsigned = it->is_number_unsigned();
  const uint64_t u = is_unsigned ? it->get<uint64_t>() : 0;
  const int64_t v =
      is_unsigned ? int64_t(std::min<uint64_t>(u, uint64_t(INT64_MAX))) : it->get<int64_t>();
  if (v < lo || v > hi || (is_unsigned && u > uint64_t(INT64_MAX))) {
    throw core::InputError(
        fmt::format("{}: entry '{}': '{}' must be in [{}, {}]", origin, key, name, lo, hi));
  }
  return v;
}

}  // namespace

std::unordered_map<std::string, CacheIndexEntry> parse_cache_index(std::string_view text,
                                                                   const std::string& origin) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) {
    throw core::InputError(fmt::format("{}: not valid JSON ({})", origin, e.what()));
  }
  if (!doc.is_object() || !doc.contains("format") || doc["format"] != "greensed-feature-cache" ||
      !doc.contains("version") || doc["version"] != 1) {
    throw core::InputError(
        fmt::format("{}: not a greensed feature-cache index (format/version)", origin));
  }
  const auto entries = doc.find("entries");
  if (entries == doc.end() || !entries->is_object()) {
    throw core::InputError(fmt::format("{}: 'entries' must be an object", origin));
  }
  std::unordered_map<std::string, CacheIndexEntry> out;
  for (const auto& [key, e] : entries->items()) {
    if (!e.is_object()) {
      throw core::InputError(fmt::format("{}: entry '{}' must be an object", origin, key));
    }
    CacheIndexEntry entry;
    entry.size = index_integer(e, "size", 0, INT64_MAX, origin, key);
    entry.mtime_ns = index_integer(e, "mtime_ns", INT64_MIN, INT64_MAX, origin, key);
    entry.n_mels = int(index_integer(e, "n_mels", 1, 1 << 16, origin, key));
    entry.n_frames = index_integer(e, "n_frames", 1, int64_t(1) << 40, origin, key);
    entry.n_samples = index_integer(e, "n_samples", 0, int64_t(1) << 48, origin, key);
    const auto settings = e.find("settings");
    const auto file = e.find("file");
    if (settings == e.end() || !settings->is_string() || file == e.end() || !file->is_string()) {
      throw core::InputError(
          fmt::format("{}: entry '{}': 'settings' and 'file' must be strings", origin, key));
    }
    const std::string hex = settings->get<std::string>();
    if (hex.empty() || hex.size() > 16 ||
        hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
      throw core::InputError(fmt::format(
          "{}: entry '{}': 'settings' must be a hexadecimal hash, found '{}'", origin, key, hex));
    }
    entry.settings = std::stoull(hex, nullptr, 16);
    entry.file = file->get<std::string>();
    // Only files the cache itself names: mel/<16 hex>.mel (never a path out of the cache).
    const bool ours =
        entry.file.size() == 4 + 16 + 4 && entry.file.rfind("mel/", 0) == 0 &&
        entry.file.ends_with(".mel") &&
        entry.file.substr(4, 16).find_first_not_of("0123456789abcdef") == std::string::npos;
    if (!ours) {
      throw core::InputError(
          fmt::format("{}: entry '{}': 'file' must be mel/<16 hex digits>.mel, found '{}'", origin,
                      key, entry.file));
    }
    out.emplace(key, std::move(entry));
  }
  return out;
}

void FeatureCache::load_index() {
  const std::string path = dir_ + "/index.json";
  std::error_code ec;
  if (!fs::exists(path, ec)) return;
  try {
    entries_ = parse_cache_index(core::read_file(path), path);
  } catch (const core::InputError& e) {
    spdlog::warn("[features] unreadable cache index ({}); every clip will be recomputed", e.what());
    entries_.clear();
  }
}

const FeatureCache::Entry* FeatureCache::fresh_entry(const std::string& key, int64_t size,
                                                     int64_t mtime_ns) const {
  const auto it = entries_.find(key);
  if (it == entries_.end()) return nullptr;
  const Entry& e = it->second;
  if (e.size != size || e.mtime_ns != mtime_ns || e.settings != settings_hash_) return nullptr;
  return &e;
}

bool FeatureCache::is_fresh(const std::string& source_path) const {
  int64_t size = 0, mtime_ns = 0;
  if (!stat_file(source_path, &size, &mtime_ns)) return false;
  const std::string key = key_of(source_path);
  std::shared_lock lock(mutex_);
  const Entry* e = fresh_entry(key, size, mtime_ns);
  if (!e) return false;
  int64_t file_size = 0, file_mtime = 0;
  return stat_file(dir_ + "/" + e->file, &file_size, &file_mtime) &&
         file_size == int64_t(kHeaderBytes + 4 * size_t(e->n_mels) * size_t(e->n_frames));
}

std::optional<CachedMel> FeatureCache::lookup(const std::string& source_path) const {
  int64_t size = 0, mtime_ns = 0;
  if (!stat_file(source_path, &size, &mtime_ns)) return std::nullopt;
  const std::string key = key_of(source_path);
  Entry entry;
  {
    std::shared_lock lock(mutex_);
    const Entry* e = fresh_entry(key, size, mtime_ns);
    if (!e) return std::nullopt;
    entry = *e;
  }
  const std::string path = dir_ + "/" + entry.file;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  const size_t n_bytes = kHeaderBytes + 4 * size_t(entry.n_mels) * size_t(entry.n_frames);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || size_t(st.st_size) != n_bytes) {
    ::close(fd);
    return std::nullopt;
  }
  void* map = ::mmap(nullptr, n_bytes, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) return std::nullopt;
  std::shared_ptr<const void> owner(
      map, [n_bytes](const void* p) { ::munmap(const_cast<void*>(p), n_bytes); });
  Header h;
  std::memcpy(&h, map, sizeof h);
  if (std::memcmp(h.magic, kMagic, 8) != 0 || int(h.n_mels) != entry.n_mels ||
      h.n_frames != entry.n_frames || h.settings != settings_hash_) {
    return std::nullopt;
  }
  CachedMel mel;
  mel.owner_ = std::move(owner);
  mel.data_ = reinterpret_cast<const float*>(static_cast<const char*>(map) + kHeaderBytes);
  mel.n_mels_ = entry.n_mels;
  mel.n_frames_ = entry.n_frames;
  mel.n_samples_ = entry.n_samples;
  ++n_hits_;
  return mel;
}

CachedMel FeatureCache::compute_and_store(const std::string& source_path) {
  // Stat before decoding: if the file changes meanwhile, the entry is stale and recomputed later.
  int64_t size = 0, mtime_ns = 0;
  if (!stat_file(source_path, &size, &mtime_ns)) {
    throw core::InputError(
        fmt::format("{}: cannot read audio: {}", source_path, std::strerror(errno)));
  }
  CachedMel mel = compute_clip_mel(source_path, settings_, extractor_);
  const std::string key = key_of(source_path);
  Entry entry;
  entry.size = size;
  entry.mtime_ns = mtime_ns;
  entry.settings = settings_hash_;
  entry.file = fmt::format("mel/{:016x}.mel", fnv1a(key, settings_hash_));
  entry.n_mels = mel.n_mels();
  entry.n_frames = mel.n_frames();
  entry.n_samples = mel.n_samples();

  Header h{};
  std::memcpy(h.magic, kMagic, 8);
  h.n_mels = uint32_t(entry.n_mels);
  h.n_frames = entry.n_frames;
  h.settings = settings_hash_;
  std::string bytes(kHeaderBytes + mel.values().size_bytes(), '\0');
  std::memcpy(bytes.data(), &h, kHeaderBytes);
  std::memcpy(bytes.data() + kHeaderBytes, mel.data(), mel.values().size_bytes());
  // A clip can be recomputed: atomic (never half a file after a kill), no fsync per clip.
  core::write_file_atomic(dir_ + "/" + entry.file, bytes, core::Durability::kNoFsync);
  {
    std::unique_lock lock(mutex_);
    entries_[key] = std::move(entry);
    ++n_unflushed_;
  }
  ++n_computed_;
  maybe_flush();
  return mel;
}

CachedMel FeatureCache::get(const std::string& source_path) {
  if (auto mel = lookup(source_path)) return std::move(*mel);
  return compute_and_store(source_path);
}

size_t FeatureCache::n_entries() const {
  std::shared_lock lock(mutex_);
  return entries_.size();
}

void FeatureCache::maybe_flush() {
  {
    std::shared_lock lock(mutex_);
    if (n_unflushed_ < kFlushEveryClips || now_s() - last_flush_s_ < kMinFlushIntervalS) return;
  }
  // Another thread already flushing: it will write our entry too, or the next flush will.
  std::unique_lock flush_lock(flush_mutex_, std::try_to_lock);
  if (!flush_lock.owns_lock()) return;
  flush_locked();
}

void FeatureCache::flush() {
  std::lock_guard flush_lock(flush_mutex_);
  flush_locked();
}

void FeatureCache::flush_locked() {
  json doc;
  {
    std::unique_lock lock(mutex_);
    if (n_unflushed_ == 0) return;
    doc["format"] = "greensed-feature-cache";
    doc["version"] = 1;
    doc["settings"] = {{fmt::format("{:016x}", settings_hash_), settings_.text()}};
    json entries = json::object();
    for (const auto& [key, e] : entries_) {
      entries[key] = {{"size", e.size},
                      {"mtime_ns", e.mtime_ns},
                      {"settings", fmt::format("{:016x}", e.settings)},
                      {"file", e.file},
                      {"n_mels", e.n_mels},
                      {"n_frames", e.n_frames},
                      {"n_samples", e.n_samples}};
    }
    doc["entries"] = std::move(entries);
    n_unflushed_ = 0;
    last_flush_s_ = now_s();
  }
  try {
    core::write_file_atomic(dir_ + "/index.json", doc.dump(1));
  } catch (...) {
    std::unique_lock lock(mutex_);
    ++n_unflushed_;  // try again next time
    throw;
  }
}

}  // namespace greensed::features
