#!/usr/bin/env bash
# Builds the optional real-sound library of `greensed synth` from Debian packages (spec data.md
# Part 2): downloads the packages listed in scripts/debian_sound_sources.tsv with `apt-get
# download`, unpacks them with `dpkg-deb -x` (nothing is installed), extracts the listed files
# (GCompris Qt .rcc members included) and converts them to 16 kHz mono 16-bit WAV with sox:
#   DIR/foreground/<Class>/*.wav   DIR/background/*.wav   DIR/MANIFEST.tsv (package, version,
#   source path, licence of every file).
# Then set `synth.sources_dir: DIR`. The audio is GPL/CC-BY(-SA)/LGPL/FAL/GFDL: never commit it.
#
# usage: scripts/fetch_debian_sounds.sh DIR [--minimal | --all] [--max-per-entry N]
#   default    the spec's recommended packages (~530 MB download)
#   --minimal  small packages only (~140 MB): alarms, dog, cat, dishes, water, speech, noise
#   --all      every package in the table (~1.1 GB)
# Needs apt-get, dpkg-deb, sox and /usr/bin/python3 (standard library only).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
table="$here/debian_sound_sources.tsv"
[ $# -ge 1 ] || { sed -n '2,16p' "$0"; exit 2; }
out="$1"; shift
mode=recommended
max_per_entry=300
while [ $# -gt 0 ]; do
  case "$1" in
    --minimal) mode=minimal ;;
    --all) mode=all ;;
    --max-per-entry) max_per_entry="$2"; shift ;;
    *) echo "fetch_debian_sounds.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
  shift
done
for tool in apt-get dpkg-deb sox /usr/bin/python3; do
  command -v "$tool" >/dev/null || { echo "fetch_debian_sounds.sh: '$tool' is missing (apt-get install sox?)" >&2; exit 2; }
done

recommended="tuxpaint-stamps-default gcompris-qt-data sound-theme-freedesktop supertux-data
fillets-ng-data lomiri-sounds asterisk-core-sounds-en-wav alsa-utils pingus-data lincity-ng-data"
minimal="sound-theme-freedesktop alsa-utils pingus-data gcompris-qt-data asterisk-core-sounds-en-wav
lomiri-sounds tuxpaint-data oxygen-sounds heroes-sound-effects tuxtype-data"
all=$(awk -F'\t' 'NR > 1 && ($2 == "fg" || $2 == "bg") {print $3}' "$table" | sort -u)
case "$mode" in
  recommended) packages="$recommended" ;;
  minimal) packages="$minimal" ;;
  all) packages="$all" ;;
esac

work="$out/.debs"
mkdir -p "$work/root"
(
  cd "$work"
  for p in $packages; do
    ls "${p}"_*.deb >/dev/null 2>&1 || apt-get download "$p"
  done
)
for deb in "$work"/*.deb; do
  name=$(basename "$deb"); pkg=${name%%_*}
  [ -d "$work/root/$pkg" ] || dpkg-deb -x "$deb" "$work/root/$pkg"
done

/usr/bin/python3 - "$table" "$work" "$out" "$max_per_entry" "$packages" <<'PY'
import glob, os, struct, subprocess, sys, zlib

table, work, out, max_per_entry, packages = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5].split()

def rcc_members(path):
    """Qt resource file: 'qres', version, tree/data/names offsets; 14-byte (v1) or 22-byte nodes."""
    b = open(path, "rb").read()
    if b[:4] != b"qres":
        return {}
    version, tree, data, names = struct.unpack(">IIII", b[4:20])
    node = 22 if version >= 2 else 14
    def name_at(off):
        n = struct.unpack(">H", b[names + off:names + off + 2])[0]
        return b[names + off + 6:names + off + 6 + 2 * n].decode("utf-16-be")
    files = {}
    def walk(i, prefix):
        base = tree + i * node
        name_off, flags = struct.unpack(">IH", b[base:base + 6])
        name = name_at(name_off) if i else ""
        if flags & 2:
            count, first = struct.unpack(">II", b[base + 6:base + 14])
            for c in range(first, first + count):
                walk(c, prefix + name + "/" if i else "")
        else:
            off = struct.unpack(">I", b[base + 10:base + 14])[0]
            size = struct.unpack(">I", b[data + off:data + off + 4])[0]
            blob = b[data + off + 4:data + off + 4 + size]
            if flags & 1:
                blob = zlib.decompress(blob[4:])
            elif flags & 4:
                return  # zstd members are not needed by the table
            files[prefix + name] = blob
    walk(0, "")
    return files

def version_of(pkg):
    for deb in glob.glob(os.path.join(work, pkg + "_*.deb")):
        return os.path.basename(deb).split("_")[1]
    return "?"

def convert(src, dst):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    r = subprocess.run(["sox", src, "-r", "16000", "-c", "1", "-b", "16", dst],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return r.returncode == 0

rows = [l.rstrip("\n").split("\t") for l in open(table, encoding="utf-8")][1:]
manifest = ["file\tclass\tpackage\tversion\tsource_path\tlicense"]
rcc_cache = {}
counts = {}
tmp = os.path.join(work, "tmp")
os.makedirs(tmp, exist_ok=True)
for row in rows:
    cls, role, pkg, path, lic = row[0], row[1], row[2], row[3], row[4]
    if role not in ("fg", "bg") or pkg not in packages:
        continue
    root = os.path.join(work, "root", pkg)
    dest_dir = os.path.join(out, "background") if role == "bg" else os.path.join(out, "foreground", cls)
    sources = []  # (label for the file name, readable path)
    if "!" in path:
        rcc, member = path.split("!", 1)
        rcc_path = root + rcc
        if rcc_path not in rcc_cache:
            rcc_cache[rcc_path] = rcc_members(rcc_path) if os.path.exists(rcc_path) else {}
        blob = rcc_cache[rcc_path].get(member) or rcc_cache[rcc_path].get(":/" + member)
        if blob is None:
            print(f"[fetch] {pkg}: {path} not found", file=sys.stderr)
            continue
        local = os.path.join(tmp, member.replace("/", "_"))
        open(local, "wb").write(blob)
        sources.append((member, local))
    elif path.endswith("/"):
        files = sorted(glob.glob(root + path + "**/*", recursive=True))
        files = [f for f in files if f.lower().endswith((".wav", ".ogg", ".oga", ".flac"))
                 and "/silence/" not in f]
        sources += [(f[len(root):], f) for f in files[:max_per_entry]]
    elif "*" in path:
        files = sorted(glob.glob(root + path, recursive=True))[:max_per_entry]
        sources += [(f[len(root):], f) for f in files]
    elif os.path.exists(root + path):
        sources.append((path, root + path))
    else:
        print(f"[fetch] {pkg}: {path} not found", file=sys.stderr)
    for label, src in sources:
        stem = pkg + "__" + label.strip("/").replace("/", "_").replace(" ", "_")
        stem = os.path.splitext(stem)[0] + ".wav"
        dst = os.path.join(dest_dir, stem)
        if convert(src, dst):
            counts[cls] = counts.get(cls, 0) + 1
            manifest.append("\t".join([os.path.relpath(dst, out), cls, pkg, version_of(pkg), label, lic]))
open(os.path.join(out, "MANIFEST.tsv"), "w", encoding="utf-8").write("\n".join(manifest) + "\n")
for cls in sorted(counts):
    print(f"[fetch] {cls}: {counts[cls]} files")
PY
echo "[fetch] library in $out (set synth.sources_dir: $out); the .debs stay in $work"
