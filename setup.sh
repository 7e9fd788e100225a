#!/bin/sh
# setup.sh: the README's first command. On Debian 12, installs the Debian
# packages backprop needs that are missing (apt-get, as root or through
# sudo; libdnnl-dev makes the float32 products, which fall back to OpenBLAS
# in a build without it), builds into build/, and runs the lecture's network.
set -eu
cd "$(dirname "$0")"

PACKAGES="gcc cmake make pkg-config lua5.4 liblua5.4-dev libsqlite3-dev sqlite3
lua-unit libopenblas-dev zlib1g-dev parallel dataset-fashion-mnist
libplplot-dev plplot-driver-cairo fonts-dejavu-core libedit-dev libdnnl-dev
libmicrohttpd-dev libjs-chart.js fortunes"
# `backprop ui`: libmicrohttpd its HTTP server, libjs-chart.js its charts
# (embedded in the program at build time); fortunes the text corpus of
# scripts/char_rnn.lua (its files without an extension). Chromium, for its browser test
# alone, is installed by .ci/run, not here; without it that test is skipped.
# Installing and packaging (cmake/install.cmake, .ci/install-check): groff
# for the manual pages' test, bash-completion for the completion's, luarocks
# for the rockspec, dpkg-dev and file for CPack's Debian package.
PACKAGES="$PACKAGES groff-base bash-completion luarocks dpkg-dev file"

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup: installing$missing"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
./build/backprop run scripts/seed_example.lua
