#!/usr/bin/env bash
# Builds what the Windows cross build needs into PREFIX (default build-win/deps), once:
#   - libzmq (4.3.4 on bookworm), static, from Debian's source package (apt-get source zeromq3);
#   - PCRE2, static, from Debian's source package (apt-get source pcre2);
#   - libcurl, static, HTTP only, TLS through Windows' own Schannel, from Debian's source
#     package (apt-get source curl): the fleet lock's client;
#   - GoogleTest from /usr/src/googletest (Debian's libgtest-dev);
#   - PREFIX/include-ho: symlinks to just the header-only libraries (nlohmann, CLI11, cppzmq,
#     spdlog, fmt), so that /usr/include never lands on the mingw include path.
# Needs: g++-mingw-w64-x86-64-posix, cmake, ninja, and a deb-src entry for apt-get source.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PREFIX=$(mkdir -p "${1:-$ROOT/build-win/deps}" && cd "${1:-$ROOT/build-win/deps}" && pwd)
WORK="$PREFIX/../deps-build"
TOOLCHAIN="$ROOT/cmake/windows/mingw-w64-x86_64.cmake"
JOBS=$(nproc 2>/dev/null || echo 2)
export QC_WIN_PREFIX="$PREFIX"
mkdir -p "$WORK"

# The unpacked source of Debian package $1 in $WORK (any Debian revision of it: a pinned
# revision would break on the day a point release replaces it), fetched when missing.
debian_source() {
  local src
  src=$(ls -d "$WORK/$1"-*/ 2>/dev/null | head -n 1 || true)
  if [ -z "$src" ]; then
    (cd "$WORK" && apt-get source -qq "$1") >&2 || {
      echo "build-deps.sh: apt-get source $1 failed; add a deb-src entry (see WINDOWS.md in the README's Windows section)" >&2
      exit 1
    }
    src=$(ls -d "$WORK/$1"-*/ | head -n 1)
  fi
  echo "$src"
}

if [ ! -f "$PREFIX/lib/libzmq.a" ]; then
  src=$(debian_source zeromq3)  # the source of the libzmq3-dev the native build uses
  cmake -S "$src" -B "$WORK/zmq" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$TOOLCHAIN" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$PREFIX" -DCMAKE_UNITY_BUILD=ON \
    -DBUILD_SHARED=OFF -DBUILD_STATIC=ON -DBUILD_TESTS=OFF -DZMQ_BUILD_TESTS=OFF -DWITH_DOCS=OFF \
    -DWITH_LIBSODIUM=OFF -DENABLE_CURVE=OFF -DENABLE_DRAFTS=OFF -DZMQ_HAVE_IPC=OFF -DENABLE_WS=OFF \
    -DWITH_LIBBSD=OFF -DENABLE_CPACK=OFF -DWITH_PERF_TOOL=OFF >/dev/null
  cmake --build "$WORK/zmq" -j "$JOBS"
  cmake --install "$WORK/zmq" >/dev/null
  # The static archive is installed as libzmq-v*-mt-s-*.a; give it a plain name as well.
  for a in "$PREFIX"/lib/libzmq*.a; do [ -f "$PREFIX/lib/libzmq.a" ] || cp "$a" "$PREFIX/lib/libzmq.a"; done
fi

if [ ! -f "$PREFIX/lib/libpcre2-8.a" ] && [ ! -f "$PREFIX/lib/libpcre2-8-static.a" ]; then
  src=$(debian_source pcre2)  # PCRE2 for --scan and --match, as Debian's libpcre2-dev
  cmake -S "$src" -B "$WORK/pcre2" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$TOOLCHAIN" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$PREFIX" -DBUILD_SHARED_LIBS=OFF \
    -DBUILD_STATIC_LIBS=ON -DPCRE2_BUILD_PCRE2GREP=OFF -DPCRE2_BUILD_TESTS=OFF -DPCRE2_SUPPORT_JIT=OFF \
    -DPCRE2_BUILD_PCRE2_16=OFF -DPCRE2_BUILD_PCRE2_32=OFF >/dev/null
  cmake --build "$WORK/pcre2" -j "$JOBS"
  cmake --install "$WORK/pcre2" >/dev/null
fi

if [ ! -f "$PREFIX/lib/libcurl.a" ]; then
  src=$(debian_source curl)  # the source of the libcurl4-openssl-dev the native build uses
  cmake -S "$src" -B "$WORK/curl" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$TOOLCHAIN" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$PREFIX" -DBUILD_SHARED_LIBS=OFF \
    -DBUILD_CURL_EXE=OFF -DBUILD_TESTING=OFF -DHTTP_ONLY=ON -DCURL_USE_SCHANNEL=ON -DCURL_USE_OPENSSL=OFF \
    -DCURL_USE_LIBPSL=OFF -DCURL_USE_LIBSSH2=OFF -DUSE_LIBIDN2=OFF -DCURL_ZLIB=OFF -DUSE_NGHTTP2=OFF \
    -DENABLE_MANUAL=OFF -DCURL_DISABLE_LDAP=ON -DENABLE_UNICODE=ON >/dev/null
  cmake --build "$WORK/curl" -j "$JOBS"
  cmake --install "$WORK/curl" >/dev/null
fi

if [ ! -f "$PREFIX/lib/libgtest.a" ]; then
  cmake -S /usr/src/googletest -B "$WORK/gtest" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$TOOLCHAIN" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$PREFIX" -DBUILD_GMOCK=OFF >/dev/null
  cmake --build "$WORK/gtest" -j "$JOBS"
  cmake --install "$WORK/gtest" >/dev/null
fi

HO="$PREFIX/include-ho"
mkdir -p "$HO"
for item in nlohmann CLI spdlog fmt zmq.hpp zmq_addon.hpp; do
  ln -sfn "/usr/include/$item" "$HO/$item"
done
echo "build-deps.sh: dependencies ready in $PREFIX"
