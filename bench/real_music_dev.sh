#!/usr/bin/env bash
# bench/real_music_dev.sh: a small labelled collection of REAL music recordings, for evaluating
# music-similarity retrieval (leave-one-out precision, where "relevant" = same label).
#
# What it builds
#   OUT_DIR/<label>/<track>.ogg: 5 labels, 10 to 30 tracks each, every track at least 45 s
#   (over 300 KB with DURATION_TOOL=size, see Needs). A label is one Debian package, i.e. one
#   game's soundtrack, which keeps one style. Sound effects, jingles and anything shorter are
#   left out, and a label keeps at most 30 tracks (the first 30 by file name) so that no label
#   dominates.
#
# Where the recordings come from: these Debian packages (section main), fetched with
# `apt-get download` and unpacked with `dpkg -x` into a temporary folder that is removed.
# No other network access. About 470 MB is downloaded in all.
#   adventure-drascula   drascula-music         Drascula: The Vampire Strikes Back, adventure-game score
#   ambient-hyperrogue   hyperrogue-music       HyperRogue: Shawn Parrotte, Lincoln Domina, Will Savino
#   midi-planetblupi     planetblupi-music-ogg  Planet Blupi: the game's MIDI tunes rendered to Ogg
#   eclectic-hedgewars   hedgewars-data         Hedgewars: one piece per map theme (Data/Music)
#   platformer-supertux  supertux-data          SuperTux: level and world-map music (music/*/)
#
# They are real recordings, the audio files exactly as the games ship them (this script
# generates nothing), under free licences. The licence of the music files, as
# usr/share/doc/<package>/copyright in each package states it:
#   drascula-music:        Drascula-License (Alcachofa Soft's BSD-like freeware licence; DFSG-free)
#   hyperrogue-music:      CC-BY-SA-3.0 (music/hr3-*, hr-domina-*, hr-savino-*)
#   planetblupi-music-ogg: GPL-3+
#   hedgewars-data:        GPL-2 (Data/Music falls under "Files: *")
#   supertux-data:         GPL-2+ ("Files: data/music/*", Marek Moeckel)
# Not used: fretsonfire-songs-muldjord and -sectoid (4 songs each), openclonk-data (8 pieces),
# frozen-bubble-data (3), boswars-data (speech and effects only), pingus-data (tracker modules,
# not recordings), freedroidrpg-data (16 pieces, but its 228 MB would take the download past
# 600 MB).
#
# Usage (from the repository root; `make real-music-eval` runs all three)
#   bash bench/real_music_dev.sh OUT_DIR   # build (or, when already built, just count) the folders
#   .venv/bin/clipret build --from folder --path OUT_DIR
#   .venv/bin/clipret evaluate             # add --per-genre for one line per label
#
# Needs: apt-get and dpkg (run as root on Debian). Durations are read with ffprobe if present,
# else with the `av` or `soundfile` module of $PYTHON (default: the repository's .venv/bin/python
# when it exists, else python3); with none of them, files over 300 KB are kept. DURATION_TOOL=size
# (what `make real-music-eval` sets) always selects by size: 108 tracks, three of them 20-41 s long
# (drascula track29 and track31, supertux forestmap), where durations select 106.
set -euo pipefail
shopt -s inherit_errexit   # errors inside $(...) stop the script too

MIN_SECONDS=45      # shorter files are jingles or sound effects
MIN_BYTES=300000    # used instead of MIN_SECONDS only when no tool can read durations
MIN_TRACKS=10       # a label with fewer is reported
MAX_TRACKS=30       # per label, the first ones by file name

# label | Debian package | folder inside the package that holds its music (searched recursively)
SOURCES=(
  "adventure-drascula|drascula-music|usr/share/scummvm/drascula/audio"
  "ambient-hyperrogue|hyperrogue-music|usr/share/hyperrogue/music"
  "midi-planetblupi|planetblupi-music-ogg|usr/share/planetblupi/music"
  "eclectic-hedgewars|hedgewars-data|usr/share/games/hedgewars/Data/Music"
  "platformer-supertux|supertux-data|usr/share/games/supertux2/music"
)

# FFmpeg, and so PyAV, which the indexer decodes with, cannot open these three (their Ogg
# headers fail to parse; libsndfile reads them). Skipped by name so that the collection is the
# same whichever tool measures durations. (supertux's christmas_theme.ogg is kept: FFmpeg
# decodes all of it; only PyAV 18.1 raises, at its last, empty packet.)
UNREADABLE='/hr-savino-(caribbean|ivory|ocean)\.ogg$'

WORK_DIR=""          # the temporary folder for downloads, removed on exit
STAGING_DIRS=()      # label folders being filled, removed on exit unless finished
DURATION_TOOL=${DURATION_TOOL:-}   # ffprobe | av | soundfile | size; empty: the first one found
REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -z ${PYTHON:-} ]]; then
  if [[ -x $REPO_DIR/.venv/bin/python ]]; then PYTHON=$REPO_DIR/.venv/bin/python; else PYTHON=python3; fi
fi
APT_UPDATED=no
DOWNLOADED_BYTES=0

log() { echo "$*" >&2; }

usage() {
  log "usage: $(basename "$0") OUT_DIR"
  log "  Builds OUT_DIR/<label>/<track>.ogg from Debian packages, then prints tracks per label."
  exit 2
}

cleanup() {
  if [[ -n $WORK_DIR ]]; then rm -rf "$WORK_DIR"; fi
  if (( ${#STAGING_DIRS[@]} )); then rm -rf "${STAGING_DIRS[@]}"; fi
}

require_debian_tools() {
  if ! command -v apt-get >/dev/null || ! command -v dpkg >/dev/null; then
    log "ERROR: needs apt-get and dpkg (a Debian system, as root)"
    exit 1
  fi
}

# Prints the first tool found that can read an audio file's duration.
pick_duration_tool() {
  if command -v ffprobe >/dev/null 2>&1; then echo ffprobe
  elif "$PYTHON" -c 'import av' >/dev/null 2>&1; then echo av
  elif "$PYTHON" -c 'import soundfile' >/dev/null 2>&1; then echo soundfile
  else echo size
  fi
}

# Prints FILE's duration in seconds, or nothing when it cannot be read.
duration_seconds() {
  local file=$1
  case $DURATION_TOOL in
    ffprobe)
      ffprobe -v error -show_entries format=duration -of csv=p=0 "$file" 2>/dev/null || true ;;
    av)
      "$PYTHON" - "$file" 2>/dev/null <<'PY' || true
import sys, av
with av.open(sys.argv[1]) as container:
    stream = container.streams.audio[0]
    if container.duration:
        print(container.duration / av.time_base)
    elif stream.duration:
        print(float(stream.duration * stream.time_base))
PY
      ;;
    soundfile)
      "$PYTHON" -c 'import sys, soundfile; print(soundfile.info(sys.argv[1]).duration)' \
        "$file" 2>/dev/null || true ;;
  esac
}

# True when FILE is long enough to be a piece of music rather than a jingle.
is_long_enough() {
  local file=$1 seconds
  if [[ $DURATION_TOOL == size ]]; then
    (( $(stat -c %s "$file") > MIN_BYTES ))
    return
  fi
  seconds=$(duration_seconds "$file")
  [[ $seconds =~ ^[0-9]+(\.[0-9]*)?$ ]] || return 1   # unreadable ("", "N/A")
  awk -v s="$seconds" -v min="$MIN_SECONDS" 'BEGIN { exit !(s >= min) }'
}

# Downloads PACKAGE's .deb into DIR and prints its path. Runs `apt-get update` (once) only
# when the first download fails.
download_deb() {
  local package=$1 dir=$2
  # As root, apt would hand the download to the _apt user, who cannot write into our
  # private temporary folder; keep it as root instead.
  local download=(apt-get download -q -o APT::Sandbox::User=root "$package")
  if ! (cd "$dir" && "${download[@]}" >&2); then
    [[ $APT_UPDATED == no ]] || return 1
    log "apt-get download failed; running apt-get update once, then trying again"
    apt-get update -q >&2
    APT_UPDATED=yes
    (cd "$dir" && "${download[@]}" >&2)
  fi
  ls "$dir/${package}"_*.deb
}

# Lists the audio files under DIR as "file name<TAB>path" lines, sorted by file name.
list_audio() {
  find "$1" -type f \( -iname '*.ogg' -o -iname '*.opus' -o -iname '*.flac' \
    -o -iname '*.mp3' -o -iname '*.wav' \) -printf '%f\t%p\n' | LC_ALL=C sort
}

# Copies into DEST the first MAX_TRACKS long-enough audio files under SRC (by file name);
# prints how many it copied.
copy_tracks() {
  local src=$1 dest=$2 name path kept=0
  while IFS=$'\t' read -r name path; do
    (( kept < MAX_TRACKS )) || break
    if [[ $path =~ $UNREADABLE ]]; then
      log "  skip $name: FFmpeg cannot open it"
    elif ! is_long_enough "$path"; then
      log "  skip $name: too short (or unreadable)"
    else
      [[ ! -e $dest/$name ]] || name="$(basename "$(dirname "$path")")-$name"
      cp "$path" "$dest/$name"
      kept=$((kept + 1))
    fi
  done < <(list_audio "$src")
  echo "$kept"
}

# Downloads PACKAGE, unpacks it, and fills OUT_DIR/LABEL with the music under MUSIC_DIR.
build_label() {
  local out_dir=$1 label=$2 package=$3 music_dir=$4
  local pkg_dir="$WORK_DIR/$package" deb staging kept
  log "== $label: $package"
  mkdir -p "$pkg_dir"
  deb=$(download_deb "$package" "$WORK_DIR")
  DOWNLOADED_BYTES=$((DOWNLOADED_BYTES + $(stat -c %s "$deb")))
  dpkg -x "$deb" "$pkg_dir"
  rm -f "$deb"
  if [[ ! -d $pkg_dir/$music_dir ]]; then
    log "ERROR: $package has no $music_dir (has the package changed?)"
    exit 1
  fi
  # Fill a hidden folder beside the result, then rename it: an interrupted run leaves no
  # half-filled label behind (the indexer ignores hidden folders; cleanup removes it).
  staging=$(mktemp -d "$out_dir/.building-$label.XXXXXX")
  STAGING_DIRS+=("$staging")
  kept=$(copy_tracks "$pkg_dir/$music_dir" "$staging")
  chmod 755 "$staging"
  mv "$staging" "$out_dir/$label"
  rm -rf "$pkg_dir"
  log "  kept $kept tracks"
  if (( kept < MIN_TRACKS )); then
    log "WARNING: $label has only $kept tracks (wanted at least $MIN_TRACKS)"
  fi
}

# Prints the number of audio files in each label folder, and the total.
print_counts() {
  local out_dir=$1 source label count total=0
  echo "tracks per label in $out_dir:"
  for source in "${SOURCES[@]}"; do
    label=${source%%|*}
    count=0
    if [[ -d $out_dir/$label ]]; then
      count=$(list_audio "$out_dir/$label" | wc -l)
    fi
    printf '  %-22s %3d\n' "$label" "$count"
    total=$((total + count))
  done
  printf '  %-22s %3d\n' total "$total"
}

main() {
  [[ $# -eq 1 && -n $1 ]] || usage
  local out_dir=$1 source label package music_dir
  mkdir -p "$out_dir"
  out_dir=$(cd "$out_dir" && pwd)
  trap cleanup EXIT
  trap 'exit 130' INT TERM   # so that an interrupted run cleans up too
  for source in "${SOURCES[@]}"; do
    IFS='|' read -r label package music_dir <<<"$source"
    if [[ -d $out_dir/$label ]]; then
      continue   # built by an earlier run
    fi
    if [[ -z $WORK_DIR ]]; then
      require_debian_tools
      WORK_DIR=$(mktemp -d)
      case ${DURATION_TOOL:=$(pick_duration_tool)} in
        ffprobe|av|soundfile|size) ;;
        *) log "ERROR: DURATION_TOOL must be ffprobe, av, soundfile or size"; exit 2 ;;
      esac
      log "durations read with: $DURATION_TOOL"
    fi
    build_label "$out_dir" "$label" "$package" "$music_dir"
  done
  if [[ -n $WORK_DIR ]]; then
    log "downloaded $(( DOWNLOADED_BYTES / 1000000 )) MB"
  fi
  print_counts "$out_dir"
}

main "$@"
