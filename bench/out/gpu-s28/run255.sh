# session 28, run 255 (H100): review. ffnprobe.cu after its check's reference-only sums were
# moved out of the loop over forms (default build, carried as .dev/gpu/mk/ffn_review): the
# checks and figures as run 253's cl2 build.
G=$PWD/.dev/gpu
nvidia-smi --query-gpu=name --format=csv,noheader
timeout 60 $G/mk/ffn_review 28 10 | grep -E "check|read|fused|split"
