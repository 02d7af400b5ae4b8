# session 28, run 253 (H100): ffnprobe with its phases timed alone (gateup: k_gateup's chain;
# down-nr / down: k_down's, without / with the last producer's reduction), two more
# reductions (fused-gb: a grid-wide barrier, then each block adds a slice of rows; fused-at:
# atomicAdd into x) and %globaltimer stamps of the fused kernel. Built as run 252 (ffn_cl2,
# ffn_pr1: -DPR=1).
G=$PWD/.dev/gpu
nvidia-smi --query-gpu=name --format=csv,noheader
for v in cl2 pr1; do echo "== ffn_$v"; timeout 60 $G/mk/ffn_$v 28 10; done
