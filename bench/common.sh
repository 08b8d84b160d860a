#!/usr/bin/env bash
# What bench/run.sh and bench/timing.sh share; both source it.

# Prints a progress line to stderr.
step() { printf '== %s\n' "$*" >&2; }

# Exits unless running as root; $1 says what the benchmark needs root for.
require_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "bench/$(basename "$0") needs root: $1" >&2
    exit 1
  fi
}

# The benchmarks' private PKI: a P-256 CA named $2 and a leaf signed by it for localhost and
# 127.0.0.1 (serverAuth), written into directory $1 as ca.pem, ca-key.pem, cert.pem and
# key.pem. Both sides of every benchmarked handshake verify this chain for real.
write_bench_pki() {
  local dir=$1 ca_name=$2 ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  openssl req -x509 "${ec[@]}" -days 2 -subj "/CN=$ca_name" \
    -keyout "$dir/ca-key.pem" -out "$dir/ca.pem" 2>/dev/null
  openssl req -new "${ec[@]}" -subj /CN=localhost -keyout "$dir/key.pem" -out "$dir/leaf.csr" 2>/dev/null
  printf '%s\n' 'basicConstraints=CA:FALSE' 'keyUsage=digitalSignature' \
    'extendedKeyUsage=serverAuth' 'subjectAltName=DNS:localhost,IP:127.0.0.1' >"$dir/leaf.ext"
  openssl x509 -req -in "$dir/leaf.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca-key.pem" \
    -CAcreateserial -days 2 -extfile "$dir/leaf.ext" -out "$dir/cert.pem" 2>/dev/null
}
