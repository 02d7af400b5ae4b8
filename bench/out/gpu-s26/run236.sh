# session 26, run 236 (H100): how long the GPU idles between two decode steps (probe.so:
# rev.so's kernels; run_forward's graph path records CUDA events around cudaGraphLaunch and
# prints, over 1,000 steps, the host's time from one step's launch to the next against the
# graph's time on the GPU). apr-bench tg128 -r 10.
AB_MODELS="0.5b 1.5b 7b" . bench/cuda/ab.sh
ab_models_wait
for s in 0.5b 1.5b 7b; do
  APR_PROBE_STEP=1 APR_CUDA_PATH=$G/probe.so ./apr-bench -m $MD/qwen2.5-$s-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 10 2>&1 | grep -E "PROBE|qwen"
  t "$s tg128 rev" APR_CUDA_PATH=$G/rev.so $(b $s)
done
