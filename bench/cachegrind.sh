#!/usr/bin/env bash
# Validates the energy model's traffic estimate against a cache simulator:
# runs each benchmark kernel once under `valgrind --tool=cachegrind`, with
# the simulated L1 and last-level cache set to a target profile's sizes
# (default: x86_64-avx512, this machine's class), and prints the model's
# predicted DRAM bytes (`pj energy`) next to the simulated last-level
# misses x line size, unoptimized (-O0) and optimized.
#
# Only the kernel is simulated: collection is on inside
# `pj_rt_parallel_for` (every stage runs under one, on one thread). That
# needs --toggle-collect, which valgrind 3.19's cachegrind tool lacks, so
# the simulation runs under callgrind, which uses the same cache simulator.
# Usage: bench/cachegrind.sh [kernel | FILE.pj ...]   (needs valgrind and python3)
# A FILE.pj runs at its `// bench:` sizes (or SIZE=...). QUANTIZE=bf16 (or
# int8, int16, auto) simulates the quantized kernel against the model's
# quantized estimate, the optimized one only.
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${PROFILE:-x86_64-avx512}"
toml="compiler/src/target/profiles/$profile.toml"
read -r line l1 llc < <(python3 -c "
import tomllib,sys
c=tomllib.load(open('$toml','rb'))['cache']
print(c['line_bytes'], c['l1_bytes'], c['llc_bytes'])")
# associativities that make the set counts powers of two, as cachegrind needs
assoc() { python3 -c "
size,line=$1,$2
for a in range(16,0,-1):
    s=size//(a*line)
    if s*a*line==size and s&(s-1)==0: print(a); break
else: print(0)"; }
l1a=$(assoc "$l1" "$line"); lla=$(assoc "$llc" "$line")
if [ "$l1a" = 0 ] || [ "$lla" = 0 ]; then
  echo "cachegrind cannot simulate $profile's caches ($l1, $llc bytes)" >&2; exit 1
fi
cargo build --release -q
pj=target/release/pj
declare -A sizes=(
  [chain]="N=16777216" [blur]="H=2048,W=2048" [valid_blur]="H=2048,W=2048"
  [unsharp]="H=2048,W=2048" [softmax]="N=4096,C=1024" [layernorm]="N=4096,C=1024"
  [conv2d]="H=1024,W=1024,R=5,S=5" [matmul]="M=256,K=1024,N=1024" [qdot]="M=512,K=512,N=512"
)
kernels=("$@")
[ ${#kernels[@]} -eq 0 ] && kernels=(chain blur valid_blur unsharp softmax layernorm conv2d matmul qdot)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "profile $profile: L1 $l1 B ($l1a-way), LL $llc B ($lla-way), $line-byte lines"
echo
echo "| kernel | sizes | level | predicted DRAM (MB) | simulated LL misses x line (MB) | predicted / simulated |"
echo "|---|---|---|---|---|---|"
quant=(); levels=(0 2)
if [ -n "${QUANTIZE:-}" ]; then quant=(--quantize "$QUANTIZE"); levels=(2); fi
for k in "${kernels[@]}"; do
  if [[ "$k" == *.pj ]]; then file="$k"; s="${SIZE:-}"; else file="examples/$k.pj"; s="${sizes[$k]}"; fi
  size=(); [ -n "$s" ] && size=(--size "$s")
  "$pj" energy "$file" "${size[@]}" "${quant[@]}" --target "$profile" --json > "$out/model.json" 2> /dev/null
  for o in "${levels[@]}"; do
    valgrind --tool=callgrind --cache-sim=yes \
      --I1=32768,8,64 --D1="$l1,$l1a,$line" --LL="$llc,$lla,$line" \
      --toggle-collect=pj_rt_parallel_for \
      --callgrind-out-file="$out/cg.out" \
      "$pj" bench "$file" "${size[@]}" "${quant[@]}" --threads 1 --once -O "$o" \
      > /dev/null 2> "$out/cg.err"
    python3 - "$out/model.json" "$out/cg.out" "$k" "${s:-bench line}" "$o" "$line" "${QUANTIZE:-}" <<'PY'
import json, sys
model, cg, k, s, o, line, q = sys.argv[1:]
m = json.load(open(model))[0]
pred = m["unoptimized" if o == "0" else "quantized" if q else "optimized"]["total"]["dram_fill_bytes"]
events, totals = None, None
for l in open(cg):
    if l.startswith("events:"): events = l.split()[1:]
    if l.startswith("summary:"): totals = [int(x) for x in l.split()[1:]]
d = dict(zip(events, totals))
sim = (d.get("DLmr", 0) + d.get("DLmw", 0)) * int(line)
level = "-O0" if o == "0" else f"--quantize {q}" if q else "optimized"
print(f"| {k} | {s} | {level} | {pred/1e6:.1f} | {sim/1e6:.1f} | {pred/max(sim,1):.2f} |")
PY
  done
done
