# session 28, run 252 (H100): bench/cuda/ffnprobe.cu, the FFN of 7B (gate/up + SwiGLU +
# ffn_down, all Q4_K) in one kernel: intermediate groups split between the blocks, partial
# sums reduced per range of rows by the last producer. Built locally (nvcc 13.0 -O3
# -std=c++17 -gencode arch=compute_90a,code=sm_90a, carried in .dev/gpu/mk): ffn_cl2 the
# default (clusters of 2, 8 warps, 2 gate/up rows a warp at once), ffn_cl1 (-DCL=1),
# ffn_pr1 (-DPR=1), ffn_nw16c1 (-DNW=16 -DPR=1 -DCL=1), ffn_pad (-DPAD_KB=120: one block an SM).
G=$PWD/.dev/gpu
nvidia-smi --query-gpu=name --format=csv,noheader
for v in cl2 cl1 pr1 nw16c1 pad; do echo "== ffn_$v"; timeout 60 $G/mk/ffn_$v 28 10; done
echo "== memcheck ffn_cl2 (2 layers)"; timeout 120 compute-sanitizer --tool memcheck $G/mk/ffn_cl2 2 1 2>&1 | tail -4
echo "== again ffn_cl2"; timeout 60 $G/mk/ffn_cl2 28 10 | tail -4
