# run 187's build: bench/cuda/stamps.py's copy of apr_cuda.cu (at 9ba31cb), the entry stamp of
# the k_mvs kernels replaced by 1 + %smid. python3 run187-smid.py IN.cu OUT.cu
import sys
s = open(sys.argv[1]).read()
a = "#define ST_EXIT(st) \\"
assert s.count(a) == 1
s = s.replace(a, """#define ST_SMID(st) \\
    if ((st) && threadIdx.x == 0) { \\
        unsigned smid_; \\
        asm volatile("mov.u32 %0, %%smid;" : "=r"(smid_)); \\
        (st)[4 * (blockIdx.y * gridDim.x + blockIdx.x)] = 1 + smid_; \\
    }
""" + a)
assert s.count("    ST_AT(J.st, 0)\n") == 3
s = s.replace("    ST_AT(J.st, 0)\n", "    ST_SMID(J.st)\n")
open(sys.argv[2], 'w').write(s)
