/* =====================================================================================
   Tokenizers: the vocabulary from GGUF metadata, SentencePiece-style (SPM) and byte-level
   BPE tokenization, decoding and streaming decoding.

   The algorithms follow llama.cpp's so that token ids match it exactly:
   - special tokens are split out of the text first (longest token text first, each one
     claiming its leftmost non-overlapping occurrences in what is still plain text);
     control tokens only with APR_TOKENIZE_PARSE_SPECIAL, user-defined tokens always;
   - SPM: '▁' for spaces (and one in front of text that starts the input or follows a
     special token), symbols are characters, the adjacent pair whose concatenation is the
     token of highest score is merged first (ties: leftmost), leftovers become byte
     tokens <0xXX>;
   - BPE: the pre-tokenizer of the vocabulary (a list of regexes, each splitting the
     pieces of the previous one) cuts the text into words, each word's bytes become the
     GPT-2 byte characters, and the adjacent pair of lowest merge rank is merged first.
   The regexes are implemented as hand-written scanners over code points (no regex
   engine, no recursion): the ones llama.cpp runs through std::regex over its "collapsed"
   text (one byte per code point, categories as placeholder bytes) are reproduced with
   ECMAScript's leftmost, first-alternative, backtracking semantics worked out per regex.
   Every scanner does work linear in the text.

   Differences from llama.cpp, all on inputs it does not handle well: an invalid UTF-8
   byte is one unit of its own classified as U+FFFD but kept as its byte (llama.cpp's BPE
   replaces it by the bytes of U+FFFD), so tokenization is lossless for any bytes; decoding
   does not apply llama.cpp's "clean spaces" rewriting, so detokenize(tokenize(s)) == s.
   ===================================================================================== */

/* ---- Unicode categories ---------------------------------------------------------------- */

/* BEGIN GENERATED UNICODE TABLES (tools/gen_unicode.py, Python unicodedata 14.0.0): do not edit */
#define APR__UC_OTHER 0
#define APR__UC_L 1
#define APR__UC_N 2
#define APR__UC_P 3
#define APR__UC_S 4
#define APR__UC_M 5
static const uint8_t apr__ucat_ascii[128] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 3, 3, 3, 4, 3, 3, 3, 3, 3, 3, 4, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 4, 4, 4, 3,
    3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 4, 3,
    4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 4, 3, 4, 0,
};
static const uint32_t apr__ucat_ranges[2205] = {
    0x0000000, 0x000010b, 0x0000124, 0x000012b, 0x000015c, 0x0000163, 0x0000182, 0x00001d3,
    0x00001e4, 0x00001fb, 0x0000209, 0x00002db, 0x00002f4, 0x00002fb, 0x0000304, 0x0000309,
    0x00003db, 0x00003e4, 0x00003eb, 0x00003f4, 0x00003f8, 0x000050b, 0x0000514, 0x000053b,
    0x0000544, 0x0000551, 0x000055b, 0x0000564, 0x0000568, 0x0000574, 0x0000592, 0x00005a4,
    0x00005a9, 0x00005b3, 0x00005c4, 0x00005ca, 0x00005d1, 0x00005db, 0x00005e2, 0x00005fb,
    0x0000601, 0x00006bc, 0x00006c1, 0x00007bc, 0x00007c1, 0x0001614, 0x0001631, 0x0001694,
    0x0001701, 0x000172c, 0x0001761, 0x000176c, 0x0001771, 0x000177c, 0x0001805, 0x0001b81,
    0x0001bac, 0x0001bb1, 0x0001bc0, 0x0001bd1, 0x0001bf3, 0x0001bf9, 0x0001c00, 0x0001c24,
    0x0001c31, 0x0001c3b, 0x0001c41, 0x0001c58, 0x0001c61, 0x0001c68, 0x0001c71, 0x0001d10,
    0x0001d19, 0x0001fb4, 0x0001fb9, 0x0002414, 0x000241d, 0x0002451, 0x0002980, 0x0002989,
    0x0002ab8, 0x0002ac9, 0x0002ad3, 0x0002b01, 0x0002c4b, 0x0002c58, 0x0002c6c, 0x0002c80,
    0x0002c8d, 0x0002df3, 0x0002dfd, 0x0002e03, 0x0002e0d, 0x0002e1b, 0x0002e25, 0x0002e33,
    0x0002e3d, 0x0002e40, 0x0002e81, 0x0002f58, 0x0002f79, 0x0002f9b, 0x0002fa8, 0x0003034,
    0x000304b, 0x000305c, 0x0003063, 0x0003074, 0x0003085, 0x00030db, 0x00030e0, 0x00030eb,
    0x0003101, 0x000325d, 0x0003302, 0x0003353, 0x0003371, 0x0003385, 0x0003389, 0x00036a3,
    0x00036a9, 0x00036b5, 0x00036e8, 0x00036f4, 0x00036fd, 0x0003729, 0x000373d, 0x000374c,
    0x0003755, 0x0003771, 0x0003782, 0x00037d1, 0x00037ec, 0x00037f9, 0x0003803, 0x0003870,
    0x0003881, 0x000388d, 0x0003891, 0x0003985, 0x0003a58, 0x0003a69, 0x0003d35, 0x0003d89,
    0x0003d90, 0x0003e02, 0x0003e51, 0x0003f5d, 0x0003fa1, 0x0003fb4, 0x0003fbb, 0x0003fd1,
    0x0003fd8, 0x0003fed, 0x0003ff4, 0x0004001, 0x00040b5, 0x00040d1, 0x00040dd, 0x0004121,
    0x000412d, 0x0004141, 0x000414d, 0x0004170, 0x0004183, 0x00041f8, 0x0004201, 0x00042cd,
    0x00042e0, 0x00042f3, 0x00042f8, 0x0004301, 0x0004358, 0x0004381, 0x0004444, 0x0004449,
    0x0004478, 0x00044c5, 0x0004501, 0x0004655, 0x0004710, 0x000471d, 0x0004821, 0x00049d5,
    0x00049e9, 0x00049f5, 0x0004a81, 0x0004a8d, 0x0004ac1, 0x0004b15, 0x0004b23, 0x0004b32,
    0x0004b83, 0x0004b89, 0x0004c0d, 0x0004c20, 0x0004c29, 0x0004c68, 0x0004c79, 0x0004c88,
    0x0004c99, 0x0004d48, 0x0004d51, 0x0004d88, 0x0004d91, 0x0004d98, 0x0004db1, 0x0004dd0,
    0x0004de5, 0x0004de9, 0x0004df5, 0x0004e28, 0x0004e3d, 0x0004e48, 0x0004e5d, 0x0004e71,
    0x0004e78, 0x0004ebd, 0x0004ec0, 0x0004ee1, 0x0004ef0, 0x0004ef9, 0x0004f15, 0x0004f20,
    0x0004f32, 0x0004f81, 0x0004f94, 0x0004fa2, 0x0004fd4, 0x0004fe1, 0x0004feb, 0x0004ff5,
    0x0004ff8, 0x000500d, 0x0005020, 0x0005029, 0x0005058, 0x0005079, 0x0005088, 0x0005099,
    0x0005148, 0x0005151, 0x0005188, 0x0005191, 0x00051a0, 0x00051a9, 0x00051b8, 0x00051c1,
    0x00051d0, 0x00051e5, 0x00051e8, 0x00051f5, 0x0005218, 0x000523d, 0x0005248, 0x000525d,
    0x0005270, 0x000528d, 0x0005290, 0x00052c9, 0x00052e8, 0x00052f1, 0x00052f8, 0x0005332,
    0x0005385, 0x0005391, 0x00053ad, 0x00053b3, 0x00053b8, 0x000540d, 0x0005420, 0x0005429,
    0x0005470, 0x0005479, 0x0005490, 0x0005499, 0x0005548, 0x0005551, 0x0005588, 0x0005591,
    0x00055a0, 0x00055a9, 0x00055d0, 0x00055e5, 0x00055e9, 0x00055f5, 0x0005630, 0x000563d,
    0x0005650, 0x000565d, 0x0005670, 0x0005681, 0x0005688, 0x0005701, 0x0005715, 0x0005720,
    0x0005732, 0x0005783, 0x000578c, 0x0005790, 0x00057c9, 0x00057d5, 0x0005800, 0x000580d,
    0x0005820, 0x0005829, 0x0005868, 0x0005879, 0x0005888, 0x0005899, 0x0005948, 0x0005951,
    0x0005988, 0x0005991, 0x00059a0, 0x00059a9, 0x00059d0, 0x00059e5, 0x00059e9, 0x00059f5,
    0x0005a28, 0x0005a3d, 0x0005a48, 0x0005a5d, 0x0005a70, 0x0005aad, 0x0005ac0, 0x0005ae1,
    0x0005af0, 0x0005af9, 0x0005b15, 0x0005b20, 0x0005b32, 0x0005b84, 0x0005b89, 0x0005b92,
    0x0005bc0, 0x0005c15, 0x0005c19, 0x0005c20, 0x0005c29, 0x0005c58, 0x0005c71, 0x0005c88,
    0x0005c91, 0x0005cb0, 0x0005cc9, 0x0005cd8, 0x0005ce1, 0x0005ce8, 0x0005cf1, 0x0005d00,
    0x0005d19, 0x0005d28, 0x0005d41, 0x0005d58, 0x0005d71, 0x0005dd0, 0x0005df5, 0x0005e18,
    0x0005e35, 0x0005e48, 0x0005e55, 0x0005e70, 0x0005e81, 0x0005e88, 0x0005ebd, 0x0005ec0,
    0x0005f32, 0x0005f9c, 0x0005fd8, 0x0006005, 0x0006029, 0x0006068, 0x0006071, 0x0006088,
    0x0006091, 0x0006148, 0x0006151, 0x00061d0, 0x00061e5, 0x00061e9, 0x00061f5, 0x0006228,
    0x0006235, 0x0006248, 0x0006255, 0x0006270, 0x00062ad, 0x00062b8, 0x00062c1, 0x00062d8,
    0x00062e9, 0x00062f0, 0x0006301, 0x0006315, 0x0006320, 0x0006332, 0x0006380, 0x00063bb,
    0x00063c2, 0x00063fc, 0x0006401, 0x000640d, 0x0006423, 0x0006429, 0x0006468, 0x0006471,
    0x0006488, 0x0006491, 0x0006548, 0x0006551, 0x00065a0, 0x00065a9, 0x00065d0, 0x00065e5,
    0x00065e9, 0x00065f5, 0x0006628, 0x0006635, 0x0006648, 0x0006655, 0x0006670, 0x00066ad,
    0x00066b8, 0x00066e9, 0x00066f8, 0x0006701, 0x0006715, 0x0006720, 0x0006732, 0x0006780,
    0x0006789, 0x0006798, 0x0006805, 0x0006821, 0x0006868, 0x0006871, 0x0006888, 0x0006891,
    0x00069dd, 0x00069e9, 0x00069f5, 0x0006a28, 0x0006a35, 0x0006a48, 0x0006a55, 0x0006a71,
    0x0006a7c, 0x0006a80, 0x0006aa1, 0x0006abd, 0x0006ac2, 0x0006af9, 0x0006b15, 0x0006b20,
    0x0006b32, 0x0006bcc, 0x0006bd1, 0x0006c00, 0x0006c0d, 0x0006c20, 0x0006c29, 0x0006cb8,
    0x0006cd1, 0x0006d90, 0x0006d99, 0x0006de0, 0x0006de9, 0x0006df0, 0x0006e01, 0x0006e38,
    0x0006e55, 0x0006e58, 0x0006e7d, 0x0006ea8, 0x0006eb5, 0x0006eb8, 0x0006ec5, 0x0006f00,
    0x0006f32, 0x0006f80, 0x0006f95, 0x0006fa3, 0x0006fa8, 0x0007009, 0x000718d, 0x0007191,
    0x00071a5, 0x00071d8, 0x00071fc, 0x0007201, 0x000723d, 0x000727b, 0x0007282, 0x00072d3,
    0x00072e0, 0x0007409, 0x0007418, 0x0007421, 0x0007428, 0x0007431, 0x0007458, 0x0007461,
    0x0007520, 0x0007529, 0x0007530, 0x0007539, 0x000758d, 0x0007591, 0x00075a5, 0x00075e9,
    0x00075f0, 0x0007601, 0x0007628, 0x0007631, 0x0007638, 0x0007645, 0x0007670, 0x0007682,
    0x00076d0, 0x00076e1, 0x0007700, 0x0007801, 0x000780c, 0x0007823, 0x000789c, 0x00078a3,
    0x00078ac, 0x00078c5, 0x00078d4, 0x0007902, 0x00079a4, 0x00079ad, 0x00079b4, 0x00079bd,
    0x00079c4, 0x00079cd, 0x00079d3, 0x00079f5, 0x0007a01, 0x0007a40, 0x0007a49, 0x0007b68,
    0x0007b8d, 0x0007c2b, 0x0007c35, 0x0007c41, 0x0007c6d, 0x0007cc0, 0x0007ccd, 0x0007de8,
    0x0007df4, 0x0007e35, 0x0007e3c, 0x0007e68, 0x0007e74, 0x0007e83, 0x0007eac, 0x0007ecb,
    0x0007ed8, 0x0008001, 0x000815d, 0x00081f9, 0x0008202, 0x0008253, 0x0008281, 0x00082b5,
    0x00082d1, 0x00082f5, 0x0008309, 0x0008315, 0x0008329, 0x000833d, 0x0008371, 0x000838d,
    0x00083a9, 0x0008415, 0x0008471, 0x000847d, 0x0008482, 0x00084d5, 0x00084f4, 0x0008501,
    0x0008630, 0x0008639, 0x0008640, 0x0008669, 0x0008670, 0x0008681, 0x00087db, 0x00087e1,
    0x0009248, 0x0009251, 0x0009270, 0x0009281, 0x00092b8, 0x00092c1, 0x00092c8, 0x00092d1,
    0x00092f0, 0x0009301, 0x0009448, 0x0009451, 0x0009470, 0x0009481, 0x0009588, 0x0009591,
    0x00095b0, 0x00095c1, 0x00095f8, 0x0009601, 0x0009608, 0x0009611, 0x0009630, 0x0009641,
    0x00096b8, 0x00096c1, 0x0009888, 0x0009891, 0x00098b0, 0x00098c1, 0x0009ad8, 0x0009aed,
    0x0009b03, 0x0009b4a, 0x0009be8, 0x0009c01, 0x0009c84, 0x0009cd0, 0x0009d01, 0x0009fb0,
    0x0009fc1, 0x0009ff0, 0x000a003, 0x000a009, 0x000b36c, 0x000b373, 0x000b379, 0x000b400,
    0x000b409, 0x000b4db, 0x000b4e8, 0x000b501, 0x000b75b, 0x000b772, 0x000b789, 0x000b7c8,
    0x000b801, 0x000b895, 0x000b8b0, 0x000b8f9, 0x000b995, 0x000b9ab, 0x000b9b8, 0x000ba01,
    0x000ba95, 0x000baa0, 0x000bb01, 0x000bb68, 0x000bb71, 0x000bb88, 0x000bb95, 0x000bba0,
    0x000bc01, 0x000bda5, 0x000bea3, 0x000beb9, 0x000bec3, 0x000bedc, 0x000bee1, 0x000beed,
    0x000bef0, 0x000bf02, 0x000bf50, 0x000bf82, 0x000bfd0, 0x000c003, 0x000c05d, 0x000c070,
    0x000c07d, 0x000c082, 0x000c0d0, 0x000c101, 0x000c3c8, 0x000c401, 0x000c42d, 0x000c439,
    0x000c54d, 0x000c551, 0x000c558, 0x000c581, 0x000c7b0, 0x000c801, 0x000c8f8, 0x000c905,
    0x000c960, 0x000c985, 0x000c9e0, 0x000ca04, 0x000ca08, 0x000ca23, 0x000ca32, 0x000ca81,
    0x000cb70, 0x000cb81, 0x000cba8, 0x000cc01, 0x000cd60, 0x000cd81, 0x000ce50, 0x000ce82,
    0x000ced8, 0x000cef4, 0x000d001, 0x000d0bd, 0x000d0e0, 0x000d0f3, 0x000d101, 0x000d2ad,
    0x000d2f8, 0x000d305, 0x000d3e8, 0x000d3fd, 0x000d402, 0x000d450, 0x000d482, 0x000d4d0,
    0x000d503, 0x000d539, 0x000d543, 0x000d570, 0x000d585, 0x000d678, 0x000d805, 0x000d829,
    0x000d9a5, 0x000da29, 0x000da68, 0x000da82, 0x000dad3, 0x000db0c, 0x000db5d, 0x000dba4,
    0x000dbeb, 0x000dbf8, 0x000dc05, 0x000dc19, 0x000dd0d, 0x000dd71, 0x000dd82, 0x000ddd1,
    0x000df35, 0x000dfa0, 0x000dfe3, 0x000e001, 0x000e125, 0x000e1c0, 0x000e1db, 0x000e202,
    0x000e250, 0x000e269, 0x000e282, 0x000e2d1, 0x000e3f3, 0x000e401, 0x000e448, 0x000e481,
    0x000e5d8, 0x000e5e9, 0x000e603, 0x000e640, 0x000e685, 0x000e69b, 0x000e6a5, 0x000e749,
    0x000e76d, 0x000e771, 0x000e7a5, 0x000e7a9, 0x000e7bd, 0x000e7d1, 0x000e7d8, 0x000e801,
    0x000ee05, 0x000f001, 0x000f8b0, 0x000f8c1, 0x000f8f0, 0x000f901, 0x000fa30, 0x000fa41,
    0x000fa70, 0x000fa81, 0x000fac0, 0x000fac9, 0x000fad0, 0x000fad9, 0x000fae0, 0x000fae9,
    0x000faf0, 0x000faf9, 0x000fbf0, 0x000fc01, 0x000fda8, 0x000fdb1, 0x000fdec, 0x000fdf1,
    0x000fdfc, 0x000fe11, 0x000fe28, 0x000fe31, 0x000fe6c, 0x000fe81, 0x000fea0, 0x000feb1,
    0x000fee0, 0x000feec, 0x000ff01, 0x000ff6c, 0x000ff80, 0x000ff91, 0x000ffa8, 0x000ffb1,
    0x000ffec, 0x000fff8, 0x0010083, 0x0010140, 0x0010183, 0x0010224, 0x001022b, 0x0010294,
    0x001029b, 0x00102f8, 0x0010382, 0x0010389, 0x0010390, 0x00103a2, 0x00103d4, 0x00103eb,
    0x00103f9, 0x0010402, 0x0010454, 0x001046b, 0x0010478, 0x0010481, 0x00104e8, 0x0010504,
    0x0010608, 0x0010685, 0x0010788, 0x0010804, 0x0010811, 0x001081c, 0x0010839, 0x0010844,
    0x0010851, 0x00108a4, 0x00108a9, 0x00108b4, 0x00108c9, 0x00108f4, 0x0010921, 0x001092c,
    0x0010931, 0x001093c, 0x0010941, 0x001094c, 0x0010951, 0x0010974, 0x0010979, 0x00109d4,
    0x00109e1, 0x0010a04, 0x0010a29, 0x0010a54, 0x0010a71, 0x0010a7c, 0x0010a82, 0x0010c19,
    0x0010c2a, 0x0010c54, 0x0010c60, 0x0010c84, 0x0011843, 0x0011864, 0x001194b, 0x001195c,
    0x0012138, 0x0012204, 0x0012258, 0x0012302, 0x00124e4, 0x0012752, 0x0012804, 0x0013b43,
    0x0013bb2, 0x0013ca4, 0x0013e2b, 0x0013e3c, 0x0013f33, 0x0013f84, 0x0014c1b, 0x0014ccc,
    0x0014ec3, 0x0014ee4, 0x0014fe3, 0x0014ff4, 0x0015ba0, 0x0015bb4, 0x0015cb0, 0x0015cbc,
    0x0016001, 0x001672c, 0x0016759, 0x001677d, 0x0016791, 0x00167a0, 0x00167cb, 0x00167ea,
    0x00167f3, 0x0016801, 0x0016930, 0x0016939, 0x0016940, 0x0016969, 0x0016970, 0x0016981,
    0x0016b40, 0x0016b79, 0x0016b83, 0x0016b88, 0x0016bfd, 0x0016c01, 0x0016cb8, 0x0016d01,
    0x0016d38, 0x0016d41, 0x0016d78, 0x0016d81, 0x0016db8, 0x0016dc1, 0x0016df8, 0x0016e01,
    0x0016e38, 0x0016e41, 0x0016e78, 0x0016e81, 0x0016eb8, 0x0016ec1, 0x0016ef8, 0x0016f05,
    0x0017003, 0x0017179, 0x0017183, 0x0017284, 0x0017293, 0x00172f0, 0x0017404, 0x00174d0,
    0x00174dc, 0x00177a0, 0x0017804, 0x0017eb0, 0x0017f84, 0x0017fe0, 0x001800b, 0x0018024,
    0x0018029, 0x001803a, 0x0018043, 0x0018094, 0x00180a3, 0x0018104, 0x001810a, 0x0018155,
    0x0018183, 0x0018189, 0x00181b4, 0x00181c2, 0x00181d9, 0x00181eb, 0x00181f4, 0x0018200,
    0x0018209, 0x00184b8, 0x00184cd, 0x00184dc, 0x00184e9, 0x0018503, 0x0018509, 0x00187db,
    0x00187e1, 0x0018800, 0x0018829, 0x0018980, 0x0018989, 0x0018c78, 0x0018c84, 0x0018c92,
    0x0018cb4, 0x0018d01, 0x0018e04, 0x0018f20, 0x0018f81, 0x0019004, 0x00190f8, 0x0019102,
    0x0019154, 0x0019242, 0x0019284, 0x001928a, 0x0019304, 0x0019402, 0x0019454, 0x001958a,
    0x0019604, 0x001a001, 0x0026e04, 0x0027001, 0x0052468, 0x0052484, 0x0052638, 0x0052681,
    0x00527f3, 0x0052801, 0x005306b, 0x0053081, 0x0053102, 0x0053151, 0x0053160, 0x0053201,
    0x005337d, 0x005339b, 0x00533a5, 0x00533f3, 0x00533f9, 0x00534f5, 0x0053501, 0x0053732,
    0x0053785, 0x0053793, 0x00537c0, 0x0053804, 0x00538b9, 0x0053904, 0x0053911, 0x0053c4c,
    0x0053c59, 0x0053e58, 0x0053e81, 0x0053e90, 0x0053e99, 0x0053ea0, 0x0053ea9, 0x0053ed0,
    0x0053f91, 0x0054015, 0x0054019, 0x0054035, 0x0054039, 0x005405d, 0x0054061, 0x005411d,
    0x0054144, 0x0054165, 0x0054168, 0x0054182, 0x00541b4, 0x00541d0, 0x0054201, 0x00543a3,
    0x00543c0, 0x0054405, 0x0054411, 0x00545a5, 0x0054630, 0x0054673, 0x0054682, 0x00546d0,
    0x0054705, 0x0054791, 0x00547c3, 0x00547d9, 0x00547e3, 0x00547e9, 0x00547fd, 0x0054802,
    0x0054851, 0x0054935, 0x0054973, 0x0054981, 0x0054a3d, 0x0054aa0, 0x0054afb, 0x0054b01,
    0x0054be8, 0x0054c05, 0x0054c21, 0x0054d9d, 0x0054e0b, 0x0054e70, 0x0054e79, 0x0054e82,
    0x0054ed0, 0x0054ef3, 0x0054f01, 0x0054f2d, 0x0054f31, 0x0054f82, 0x0054fd1, 0x0054ff8,
    0x0055001, 0x005514d, 0x00551b8, 0x0055201, 0x005521d, 0x0055221, 0x0055265, 0x0055270,
    0x0055282, 0x00552d0, 0x00552e3, 0x0055301, 0x00553bc, 0x00553d1, 0x00553dd, 0x00553f1,
    0x0055585, 0x0055589, 0x0055595, 0x00555a9, 0x00555bd, 0x00555c9, 0x00555f5, 0x0055601,
    0x005560d, 0x0055611, 0x0055618, 0x00556d9, 0x00556f3, 0x0055701, 0x005575d, 0x0055783,
    0x0055791, 0x00557ad, 0x00557b8, 0x0055809, 0x0055838, 0x0055849, 0x0055878, 0x0055889,
    0x00558b8, 0x0055901, 0x0055938, 0x0055941, 0x0055978, 0x0055981, 0x0055adc, 0x0055ae1,
    0x0055b54, 0x0055b60, 0x0055b81, 0x0055f1d, 0x0055f5b, 0x0055f65, 0x0055f70, 0x0055f82,
    0x0055fd0, 0x0056001, 0x006bd20, 0x006bd81, 0x006be38, 0x006be59, 0x006bfe0, 0x007c801,
    0x007d370, 0x007d381, 0x007d6d0, 0x007d801, 0x007d838, 0x007d899, 0x007d8c0, 0x007d8e9,
    0x007d8f5, 0x007d8f9, 0x007d94c, 0x007d951, 0x007d9b8, 0x007d9c1, 0x007d9e8, 0x007d9f1,
    0x007d9f8, 0x007da01, 0x007da10, 0x007da19, 0x007da28, 0x007da31, 0x007dd94, 0x007de18,
    0x007de99, 0x007e9f3, 0x007ea04, 0x007ea81, 0x007ec80, 0x007ec91, 0x007ee40, 0x007ee7c,
    0x007ee80, 0x007ef81, 0x007efe4, 0x007f005, 0x007f083, 0x007f0d0, 0x007f105, 0x007f183,
    0x007f298, 0x007f2a3, 0x007f314, 0x007f31b, 0x007f324, 0x007f338, 0x007f343, 0x007f34c,
    0x007f353, 0x007f360, 0x007f381, 0x007f3a8, 0x007f3b1, 0x007f7e8, 0x007f80b, 0x007f824,
    0x007f82b, 0x007f85c, 0x007f863, 0x007f882, 0x007f8d3, 0x007f8e4, 0x007f8fb, 0x007f909,
    0x007f9db, 0x007f9f4, 0x007f9fb, 0x007fa04, 0x007fa09, 0x007fadb, 0x007fae4, 0x007faeb,
    0x007faf4, 0x007fafb, 0x007fb31, 0x007fdf8, 0x007fe11, 0x007fe40, 0x007fe51, 0x007fe80,
    0x007fe91, 0x007fec0, 0x007fed1, 0x007fee8, 0x007ff04, 0x007ff38, 0x007ff44, 0x007ff78,
    0x007ffe4, 0x007fff0, 0x0080001, 0x0080060, 0x0080069, 0x0080138, 0x0080141, 0x00801d8,
    0x00801e1, 0x00801f0, 0x00801f9, 0x0080270, 0x0080281, 0x00802f0, 0x0080401, 0x00807d8,
    0x0080803, 0x0080818, 0x008083a, 0x00809a0, 0x00809bc, 0x0080a02, 0x0080bcc, 0x0080c52,
    0x0080c64, 0x0080c78, 0x0080c84, 0x0080ce8, 0x0080d04, 0x0080d08, 0x0080e84, 0x0080fed,
    0x0080ff0, 0x0081401, 0x00814e8, 0x0081501, 0x0081688, 0x0081705, 0x008170a, 0x00817e0,
    0x0081801, 0x0081902, 0x0081920, 0x0081969, 0x0081a0a, 0x0081a11, 0x0081a52, 0x0081a58,
    0x0081a81, 0x0081bb5, 0x0081bd8, 0x0081c01, 0x0081cf0, 0x0081cfb, 0x0081d01, 0x0081e20,
    0x0081e41, 0x0081e83, 0x0081e8a, 0x0081eb0, 0x0082001, 0x00824f0, 0x0082502, 0x0082550,
    0x0082581, 0x00826a0, 0x00826c1, 0x00827e0, 0x0082801, 0x0082940, 0x0082981, 0x0082b20,
    0x0082b7b, 0x0082b81, 0x0082bd8, 0x0082be1, 0x0082c58, 0x0082c61, 0x0082c98, 0x0082ca1,
    0x0082cb0, 0x0082cb9, 0x0082d10, 0x0082d19, 0x0082d90, 0x0082d99, 0x0082dd0, 0x0082dd9,
    0x0082de8, 0x0083001, 0x00839b8, 0x0083a01, 0x0083ab0, 0x0083b01, 0x0083b40, 0x0083c01,
    0x0083c30, 0x0083c39, 0x0083d88, 0x0083d91, 0x0083dd8, 0x0084001, 0x0084030, 0x0084041,
    0x0084048, 0x0084051, 0x00841b0, 0x00841b9, 0x00841c8, 0x00841e1, 0x00841e8, 0x00841f9,
    0x00842b0, 0x00842bb, 0x00842c2, 0x0084301, 0x00843bc, 0x00843ca, 0x0084401, 0x00844f8,
    0x008453a, 0x0084580, 0x0084701, 0x0084798, 0x00847a1, 0x00847b0, 0x00847da, 0x0084801,
    0x00848b2, 0x00848e0, 0x00848fb, 0x0084901, 0x00849d0, 0x00849fb, 0x0084a00, 0x0084c01,
    0x0084dc0, 0x0084de2, 0x0084df1, 0x0084e02, 0x0084e80, 0x0084e92, 0x0085001, 0x008500d,
    0x0085020, 0x008502d, 0x0085038, 0x0085065, 0x0085081, 0x00850a0, 0x00850a9, 0x00850c0,
    0x00850c9, 0x00851b0, 0x00851c5, 0x00851d8, 0x00851fd, 0x0085202, 0x0085248, 0x0085283,
    0x00852c8, 0x0085301, 0x00853ea, 0x00853fb, 0x0085401, 0x00854ea, 0x0085500, 0x0085601,
    0x0085644, 0x0085649, 0x008572d, 0x0085738, 0x008575a, 0x0085783, 0x00857b8, 0x0085801,
    0x00859b0, 0x00859cb, 0x0085a01, 0x0085ab0, 0x0085ac2, 0x0085b01, 0x0085b98, 0x0085bc2,
    0x0085c01, 0x0085c90, 0x0085ccb, 0x0085ce8, 0x0085d4a, 0x0085d80, 0x0086001, 0x0086248,
    0x0086401, 0x0086598, 0x0086601, 0x0086798, 0x00867d2, 0x0086801, 0x0086925, 0x0086940,
    0x0086982, 0x00869d0, 0x0087302, 0x00873f8, 0x0087401, 0x0087550, 0x008755d, 0x008756b,
    0x0087570, 0x0087581, 0x0087590, 0x0087801, 0x00878ea, 0x0087939, 0x0087940, 0x0087981,
    0x0087a35, 0x0087a8a, 0x0087aab, 0x0087ad0, 0x0087b81, 0x0087c15, 0x0087c33, 0x0087c50,
    0x0087d81, 0x0087e2a, 0x0087e60, 0x0087f01, 0x0087fb8, 0x0088005, 0x0088019, 0x00881c5,
    0x008823b, 0x0088270, 0x0088292, 0x0088385, 0x0088389, 0x008839d, 0x00883a9, 0x00883b0,
    0x00883fd, 0x0088419, 0x0088585, 0x00885db, 0x00885e8, 0x00885f3, 0x0088615, 0x0088618,
    0x0088681, 0x0088748, 0x0088782, 0x00887d0, 0x0088805, 0x0088819, 0x008893d, 0x00889a8,
    0x00889b2, 0x0088a03, 0x0088a21, 0x0088a2d, 0x0088a39, 0x0088a40, 0x0088a81, 0x0088b9d,
    0x0088ba3, 0x0088bb1, 0x0088bb8, 0x0088c05, 0x0088c19, 0x0088d9d, 0x0088e09, 0x0088e2b,
    0x0088e4d, 0x0088e6b, 0x0088e75, 0x0088e82, 0x0088ed1, 0x0088edb, 0x0088ee1, 0x0088eeb,
    0x0088f00, 0x0088f0a, 0x0088fa8, 0x0089001, 0x0089090, 0x0089099, 0x0089165, 0x00891c3,
    0x00891f5, 0x00891f8, 0x0089401, 0x0089438, 0x0089441, 0x0089448, 0x0089451, 0x0089470,
    0x0089479, 0x00894f0, 0x00894f9, 0x008954b, 0x0089550, 0x0089581, 0x00896fd, 0x0089758,
    0x0089782, 0x00897d0, 0x0089805, 0x0089820, 0x0089829, 0x0089868, 0x0089879, 0x0089888,
    0x0089899, 0x0089948, 0x0089951, 0x0089988, 0x0089991, 0x00899a0, 0x00899a9, 0x00899d0,
    0x00899dd, 0x00899e9, 0x00899f5, 0x0089a28, 0x0089a3d, 0x0089a48, 0x0089a5d, 0x0089a70,
    0x0089a81, 0x0089a88, 0x0089abd, 0x0089ac0, 0x0089ae9, 0x0089b15, 0x0089b20, 0x0089b35,
    0x0089b68, 0x0089b85, 0x0089ba8, 0x008a001, 0x008a1ad, 0x008a239, 0x008a25b, 0x008a282,
    0x008a2d3, 0x008a2e0, 0x008a2eb, 0x008a2f5, 0x008a2f9, 0x008a310, 0x008a401, 0x008a585,
    0x008a621, 0x008a633, 0x008a639, 0x008a640, 0x008a682, 0x008a6d0, 0x008ac01, 0x008ad7d,
    0x008adb0, 0x008adc5, 0x008ae0b, 0x008aec1, 0x008aee5, 0x008aef0, 0x008b001, 0x008b185,
    0x008b20b, 0x008b221, 0x008b228, 0x008b282, 0x008b2d0, 0x008b303, 0x008b368, 0x008b401,
    0x008b55d, 0x008b5c1, 0x008b5cb, 0x008b5d0, 0x008b602, 0x008b650, 0x008b801, 0x008b8d8,
    0x008b8ed, 0x008b960, 0x008b982, 0x008b9e3, 0x008b9fc, 0x008ba01, 0x008ba38, 0x008c001,
    0x008c165, 0x008c1db, 0x008c1e0, 0x008c501, 0x008c702, 0x008c798, 0x008c7f9, 0x008c838,
    0x008c849, 0x008c850, 0x008c861, 0x008c8a0, 0x008c8a9, 0x008c8b8, 0x008c8c1, 0x008c985,
    0x008c9b0, 0x008c9bd, 0x008c9c8, 0x008c9dd, 0x008c9f9, 0x008ca05, 0x008ca09, 0x008ca15,
    0x008ca23, 0x008ca38, 0x008ca82, 0x008cad0, 0x008cd01, 0x008cd40, 0x008cd51, 0x008ce8d,
    0x008cec0, 0x008ced5, 0x008cf09, 0x008cf13, 0x008cf19, 0x008cf25, 0x008cf28, 0x008d001,
    0x008d00d, 0x008d059, 0x008d19d, 0x008d1d1, 0x008d1dd, 0x008d1fb, 0x008d23d, 0x008d240,
    0x008d281, 0x008d28d, 0x008d2e1, 0x008d455, 0x008d4d3, 0x008d4e9, 0x008d4f3, 0x008d518,
    0x008d581, 0x008d7c8, 0x008e001, 0x008e048, 0x008e051, 0x008e17d, 0x008e1b8, 0x008e1c5,
    0x008e201, 0x008e20b, 0x008e230, 0x008e282, 0x008e368, 0x008e383, 0x008e391, 0x008e480,
    0x008e495, 0x008e540, 0x008e54d, 0x008e5b8, 0x008e801, 0x008e838, 0x008e841, 0x008e850,
    0x008e859, 0x008e98d, 0x008e9b8, 0x008e9d5, 0x008e9d8, 0x008e9e5, 0x008e9f0, 0x008e9fd,
    0x008ea31, 0x008ea3d, 0x008ea40, 0x008ea82, 0x008ead0, 0x008eb01, 0x008eb30, 0x008eb39,
    0x008eb48, 0x008eb51, 0x008ec55, 0x008ec78, 0x008ec85, 0x008ec90, 0x008ec9d, 0x008ecc1,
    0x008ecc8, 0x008ed02, 0x008ed50, 0x008f701, 0x008f79d, 0x008f7bb, 0x008f7c8, 0x008fd81,
    0x008fd88, 0x008fe02, 0x008feac, 0x008ff90, 0x008fffb, 0x0090001, 0x0091cd0, 0x0092002,
    0x0092378, 0x0092383, 0x00923a8, 0x0092401, 0x0092a20, 0x0097c81, 0x0097f8b, 0x0097f98,
    0x0098001, 0x009a178, 0x00a2001, 0x00a3238, 0x00b4001, 0x00b51c8, 0x00b5201, 0x00b52f8,
    0x00b5302, 0x00b5350, 0x00b5373, 0x00b5381, 0x00b55f8, 0x00b5602, 0x00b5650, 0x00b5681,
    0x00b5770, 0x00b5785, 0x00b57ab, 0x00b57b0, 0x00b5801, 0x00b5985, 0x00b59bb, 0x00b59e4,
    0x00b5a01, 0x00b5a23, 0x00b5a2c, 0x00b5a30, 0x00b5a82, 0x00b5ad0, 0x00b5ada, 0x00b5b10,
    0x00b5b19, 0x00b5bc0, 0x00b5be9, 0x00b5c80, 0x00b7201, 0x00b7402, 0x00b74bb, 0x00b74d8,
    0x00b7801, 0x00b7a58, 0x00b7a7d, 0x00b7a81, 0x00b7a8d, 0x00b7c40, 0x00b7c7d, 0x00b7c99,
    0x00b7d00, 0x00b7f01, 0x00b7f13, 0x00b7f19, 0x00b7f25, 0x00b7f28, 0x00b7f85, 0x00b7f90,
    0x00b8001, 0x00c3fc0, 0x00c4001, 0x00c66b0, 0x00c6801, 0x00c6848, 0x00d7f81, 0x00d7fa0,
    0x00d7fa9, 0x00d7fe0, 0x00d7fe9, 0x00d7ff8, 0x00d8001, 0x00d8918, 0x00d8a81, 0x00d8a98,
    0x00d8b21, 0x00d8b40, 0x00d8b81, 0x00d97e0, 0x00de001, 0x00de358, 0x00de381, 0x00de3e8,
    0x00de401, 0x00de448, 0x00de481, 0x00de4d0, 0x00de4e4, 0x00de4ed, 0x00de4fb, 0x00de500,
    0x00e7805, 0x00e7970, 0x00e7985, 0x00e7a38, 0x00e7a84, 0x00e7e20, 0x00e8004, 0x00e87b0,
    0x00e8804, 0x00e8938, 0x00e894c, 0x00e8b2d, 0x00e8b54, 0x00e8b6d, 0x00e8b98, 0x00e8bdd,
    0x00e8c1c, 0x00e8c2d, 0x00e8c64, 0x00e8d55, 0x00e8d74, 0x00e8f58, 0x00e9004, 0x00e9215,
    0x00e922c, 0x00e9230, 0x00e9702, 0x00e97a0, 0x00e9804, 0x00e9ab8, 0x00e9b02, 0x00e9bc8,
    0x00ea001, 0x00ea2a8, 0x00ea2b1, 0x00ea4e8, 0x00ea4f1, 0x00ea500, 0x00ea511, 0x00ea518,
    0x00ea529, 0x00ea538, 0x00ea549, 0x00ea568, 0x00ea571, 0x00ea5d0, 0x00ea5d9, 0x00ea5e0,
    0x00ea5e9, 0x00ea620, 0x00ea629, 0x00ea830, 0x00ea839, 0x00ea858, 0x00ea869, 0x00ea8a8,
    0x00ea8b1, 0x00ea8e8, 0x00ea8f1, 0x00ea9d0, 0x00ea9d9, 0x00ea9f8, 0x00eaa01, 0x00eaa28,
    0x00eaa31, 0x00eaa38, 0x00eaa51, 0x00eaa88, 0x00eaa91, 0x00eb530, 0x00eb541, 0x00eb60c,
    0x00eb611, 0x00eb6dc, 0x00eb6e1, 0x00eb7dc, 0x00eb7e1, 0x00eb8ac, 0x00eb8b1, 0x00eb9ac,
    0x00eb9b1, 0x00eba7c, 0x00eba81, 0x00ebb7c, 0x00ebb81, 0x00ebc4c, 0x00ebc51, 0x00ebd4c,
    0x00ebd51, 0x00ebe1c, 0x00ebe21, 0x00ebe60, 0x00ebe72, 0x00ec004, 0x00ed005, 0x00ed1bc,
    0x00ed1dd, 0x00ed36c, 0x00ed3ad, 0x00ed3b4, 0x00ed425, 0x00ed42c, 0x00ed43b, 0x00ed460,
    0x00ed4dd, 0x00ed500, 0x00ed50d, 0x00ed580, 0x00ef801, 0x00ef8f8, 0x00f0005, 0x00f0038,
    0x00f0045, 0x00f00c8, 0x00f00dd, 0x00f0110, 0x00f011d, 0x00f0128, 0x00f0135, 0x00f0158,
    0x00f0801, 0x00f0968, 0x00f0985, 0x00f09b9, 0x00f09f0, 0x00f0a02, 0x00f0a50, 0x00f0a71,
    0x00f0a7c, 0x00f0a80, 0x00f1481, 0x00f1575, 0x00f1578, 0x00f1601, 0x00f1765, 0x00f1782,
    0x00f17d0, 0x00f17fc, 0x00f1800, 0x00f3f01, 0x00f3f38, 0x00f3f41, 0x00f3f60, 0x00f3f69,
    0x00f3f78, 0x00f3f81, 0x00f3ff8, 0x00f4001, 0x00f4628, 0x00f463a, 0x00f4685, 0x00f46b8,
    0x00f4801, 0x00f4a25, 0x00f4a59, 0x00f4a60, 0x00f4a82, 0x00f4ad0, 0x00f4af3, 0x00f4b00,
    0x00f638a, 0x00f6564, 0x00f656a, 0x00f6584, 0x00f658a, 0x00f65a8, 0x00f680a, 0x00f6974,
    0x00f697a, 0x00f69f0, 0x00f7001, 0x00f7020, 0x00f7029, 0x00f7100, 0x00f7109, 0x00f7118,
    0x00f7121, 0x00f7128, 0x00f7139, 0x00f7140, 0x00f7149, 0x00f7198, 0x00f71a1, 0x00f71c0,
    0x00f71c9, 0x00f71d0, 0x00f71d9, 0x00f71e0, 0x00f7211, 0x00f7218, 0x00f7239, 0x00f7240,
    0x00f7249, 0x00f7250, 0x00f7259, 0x00f7260, 0x00f7269, 0x00f7280, 0x00f7289, 0x00f7298,
    0x00f72a1, 0x00f72a8, 0x00f72b9, 0x00f72c0, 0x00f72c9, 0x00f72d0, 0x00f72d9, 0x00f72e0,
    0x00f72e9, 0x00f72f0, 0x00f72f9, 0x00f7300, 0x00f7309, 0x00f7318, 0x00f7321, 0x00f7328,
    0x00f7339, 0x00f7358, 0x00f7361, 0x00f7398, 0x00f73a1, 0x00f73c0, 0x00f73c9, 0x00f73e8,
    0x00f73f1, 0x00f73f8, 0x00f7401, 0x00f7450, 0x00f7459, 0x00f74e0, 0x00f7509, 0x00f7520,
    0x00f7529, 0x00f7550, 0x00f7559, 0x00f75e0, 0x00f7784, 0x00f7790, 0x00f8004, 0x00f8160,
    0x00f8184, 0x00f84a0, 0x00f8504, 0x00f8578, 0x00f858c, 0x00f8600, 0x00f860c, 0x00f8680,
    0x00f868c, 0x00f87b0, 0x00f8802, 0x00f886c, 0x00f8d70, 0x00f8f34, 0x00f9018, 0x00f9084,
    0x00f91e0, 0x00f9204, 0x00f9248, 0x00f9284, 0x00f9290, 0x00f9304, 0x00f9330, 0x00f9804,
    0x00fb6c0, 0x00fb6ec, 0x00fb768, 0x00fb784, 0x00fb7e8, 0x00fb804, 0x00fbba0, 0x00fbc04,
    0x00fbec8, 0x00fbf04, 0x00fbf60, 0x00fbf84, 0x00fbf88, 0x00fc004, 0x00fc060, 0x00fc084,
    0x00fc240, 0x00fc284, 0x00fc2d0, 0x00fc304, 0x00fc440, 0x00fc484, 0x00fc570, 0x00fc584,
    0x00fc590, 0x00fc804, 0x00fd2a0, 0x00fd304, 0x00fd370, 0x00fd384, 0x00fd3a8, 0x00fd3c4,
    0x00fd3e8, 0x00fd404, 0x00fd438, 0x00fd484, 0x00fd568, 0x00fd584, 0x00fd5d8, 0x00fd604,
    0x00fd630, 0x00fd684, 0x00fd6d0, 0x00fd704, 0x00fd740, 0x00fd784, 0x00fd7b8, 0x00fd804,
    0x00fdc98, 0x00fdca4, 0x00fde58, 0x00fdf82, 0x00fdfd0, 0x0100001, 0x0153700, 0x0153801,
    0x015b9c8, 0x015ba01, 0x015c0f0, 0x015c101, 0x0167510, 0x0167581, 0x0175f08, 0x017c001,
    0x017d0f0, 0x0180001, 0x0189a58, 0x0700805, 0x0700f80,
};
static const uint32_t apr__uws_list[25] = {
    0x0009, 0x000a, 0x000b, 0x000c, 0x000d, 0x0020, 0x0085, 0x00a0, 0x1680, 0x2000,
    0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a,
    0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
};
static const uint32_t apr__deepseek_llm_letters[84][2] = {
    {0x00041, 0x0005a}, {0x00061, 0x0007a}, {0x000b5, 0x000b5}, {0x000c0, 0x000d6},
    {0x000d8, 0x000f6}, {0x000f8, 0x001ba}, {0x001bc, 0x001bf}, {0x001c4, 0x00293},
    {0x00295, 0x002af}, {0x00370, 0x00373}, {0x00376, 0x00377}, {0x0037b, 0x0037d},
    {0x0037f, 0x0037f}, {0x00386, 0x00386}, {0x00388, 0x0038a}, {0x0038c, 0x0038c},
    {0x0038e, 0x003a1}, {0x003a3, 0x003f5}, {0x003f7, 0x00481}, {0x0048a, 0x0052f},
    {0x00531, 0x00556}, {0x010a0, 0x010c5}, {0x013a0, 0x013f5}, {0x013f8, 0x013fd},
    {0x01c90, 0x01cba}, {0x01cbd, 0x01cbf}, {0x01d00, 0x01d2b}, {0x01d6b, 0x01d77},
    {0x01d79, 0x01d9a}, {0x01e00, 0x01f15}, {0x01f18, 0x01f1d}, {0x01f20, 0x01f45},
    {0x01f48, 0x01f4d}, {0x01f50, 0x01f57}, {0x01f59, 0x01f59}, {0x01f5b, 0x01f5b},
    {0x01f5d, 0x01f5d}, {0x01f5f, 0x01f7d}, {0x01f80, 0x01fb4}, {0x01fb6, 0x01fbc},
    {0x01fbe, 0x01fbe}, {0x01fc2, 0x01fc4}, {0x01fc6, 0x01fcc}, {0x01fd0, 0x01fd3},
    {0x01fd6, 0x01fdb}, {0x01fe0, 0x01fec}, {0x01ff2, 0x01ff4}, {0x01ff6, 0x01ffc},
    {0x02102, 0x02102}, {0x02107, 0x02107}, {0x0210a, 0x02113}, {0x02115, 0x02115},
    {0x02119, 0x0211d}, {0x02124, 0x02124}, {0x02126, 0x02126}, {0x02128, 0x02128},
    {0x0212a, 0x0212d}, {0x0212f, 0x02134}, {0x02139, 0x02139}, {0x0213c, 0x0213f},
    {0x02145, 0x02149}, {0x0214e, 0x0214e}, {0x02183, 0x02184}, {0x02c00, 0x02c7b},
    {0x02c7e, 0x02ce4}, {0x02ceb, 0x02cee}, {0x02cf2, 0x02cf3}, {0x0a640, 0x0a66d},
    {0x0a680, 0x0a69b}, {0x0a722, 0x0a76f}, {0x0a771, 0x0a787}, {0x0a78b, 0x0a78e},
    {0x0ab70, 0x0abbf}, {0x0fb00, 0x0fb06}, {0x0fb13, 0x0fb17}, {0x0ff21, 0x0ff3a},
    {0x0ff41, 0x0ff5a}, {0x10400, 0x1044f}, {0x104b0, 0x104d3}, {0x104d8, 0x104fb},
    {0x10c80, 0x10cb2}, {0x10cc0, 0x10cf2}, {0x118a0, 0x118df}, {0x1e900, 0x1e943},
};
/* END GENERATED UNICODE TABLES */

static int apr__ucat(uint32_t cp) {
    if (cp < 128) return apr__ucat_ascii[cp];
    if (cp >= 0x110000) return APR__UC_OTHER;
    size_t lo = 0, hi = APR__ARRAY_LEN(apr__ucat_ranges);
    while (hi - lo > 1) { /* last range whose start is <= cp */
        size_t mid = lo + (hi - lo) / 2;
        if ((apr__ucat_ranges[mid] >> 3) <= cp) lo = mid; else hi = mid;
    }
    return (int)(apr__ucat_ranges[lo] & 7);
}

static bool apr__uws(uint32_t cp) {
    if (cp < 128) return (cp >= 9 && cp <= 13) || cp == 32;
    for (size_t i = 0; i < APR__ARRAY_LEN(apr__uws_list); i++)
        if (apr__uws_list[i] == cp) return true;
    return false;
}

static bool apr__in_ranges(const uint32_t (*r)[2], size_t n, uint32_t cp) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < r[mid][0]) hi = mid;
        else if (cp > r[mid][1]) lo = mid + 1;
        else return true;
    }
    return false;
}

/* Per-unit flags the scanners test. VALID marks a unit inside the current piece, so a
   position past the end reads as 0 (llama.cpp's "out of range" code point). */
#define APR__UF_L 1
#define APR__UF_N 2
#define APR__UF_P 4
#define APR__UF_S 8
#define APR__UF_M 16
#define APR__UF_W 32
#define APR__UF_VALID 64

static uint8_t apr__uflags(uint32_t cp) {
    static const uint8_t cat_bit[6] = {0, APR__UF_L, APR__UF_N, APR__UF_P, APR__UF_S, APR__UF_M};
    uint8_t f = (uint8_t)(APR__UF_VALID | cat_bit[apr__ucat(cp)]);
    if (apr__uws(cp)) f |= APR__UF_W;
    return f;
}

/* ---- UTF-8 ------------------------------------------------------------------------------- */

/* Length of the valid UTF-8 character at s[0..n) and its code point; an invalid or
   truncated sequence gives 1 byte and U+FFFD, so every byte string splits into units and
   every byte survives. */
static int apr__utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned c = s[0];
    *cp = 0xFFFD;
    if (c < 0x80) { *cp = c; return 1; }
    if (c < 0xC2 || c > 0xF4) return 1;
    int len = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (n < (size_t)len) return 1;
    unsigned c1 = s[1];
    if ((c1 & 0xC0) != 0x80) return 1;
    if (c == 0xE0 && c1 < 0xA0) return 1; /* overlong */
    if (c == 0xED && c1 > 0x9F) return 1; /* surrogate */
    if (c == 0xF0 && c1 < 0x90) return 1; /* overlong */
    if (c == 0xF4 && c1 > 0x8F) return 1; /* > U+10FFFF */
    for (int i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 1;
    uint32_t v = len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (int i = 1; i < len; i++) v = (v << 6) | (s[i] & 0x3F);
    *cp = v;
    return len;
}

static int apr__utf8_encode(uint32_t cp, char *out) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xC0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12)); out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18)); out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Number of bytes at the end of s[0..n) that start a valid UTF-8 character still missing
   its last bytes (0..3): what a streaming decoder must hold back. */
static int apr__utf8_incomplete_tail(const unsigned char *s, size_t n) {
    for (int j = 1; j <= 3 && (size_t)j <= n; j++) {
        unsigned c = s[n - (size_t)j];
        if ((c & 0xC0) == 0x80) continue;
        if (c < 0xC2 || c > 0xF4) return 0;
        int len = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        if (j >= len) return 0;
        if (j >= 2) {
            unsigned c1 = s[n - (size_t)j + 1];
            if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F) ||
                (c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 > 0x8F)) return 0;
        }
        return j;
    }
    return 0;
}

/* GPT-2's byte-to-unicode map: printable Latin-1 bytes stand for themselves, the other 68
   bytes for U+0100.. in byte order, so every byte is a visible character. */
static uint32_t apr__gpt2_byte_cp(int b) {
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE) return (uint32_t)b;
    int k = 0;
    for (int i = 0; i < b; i++)
        if (!((i >= 0x21 && i <= 0x7E) || (i >= 0xA1 && i <= 0xAC) || i >= 0xAE)) k++;
    return 256u + (uint32_t)k;
}

/* ---- the vocabulary ------------------------------------------------------------------------ */

/* token types (tokenizer.ggml.token_type, = llama.cpp's llama_token_type) */
#define APR__TT_UNDEFINED 0
#define APR__TT_NORMAL 1
#define APR__TT_UNKNOWN 2
#define APR__TT_CONTROL 3
#define APR__TT_USER_DEFINED 4
#define APR__TT_UNUSED 5
#define APR__TT_BYTE 6

/* pre-tokenizer stages: each regex of llama.cpp's list for a pre-tokenizer type */
enum {
    APR__ST_END = 0,
    APR__ST_GPT2,         /* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S) (llama.cpp's custom code) */
    APR__ST_LLAMA3,       /* (?i:'s|..)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
    APR__ST_QWEN2,        /* the same with \p{N} instead of \p{N}{1,3} */
    APR__ST_CRLF,         /* [\r\n] */
    APR__ST_WS_LETTERS,   /* \s?\p{L}+ */
    APR__ST_WS_PUNCT,     /* \s?\p{P}+ */
    APR__ST_CJK,          /* [一-龥ࠀ-一가-퟿]+ */
    APR__ST_DIGIT,        /* \p{N} */
    APR__ST_DIGITS,       /* \p{N}+ */
    APR__ST_DSLLM_LETTERS,/* \s?[A-Za-zµÀ-ÖØ-öø-ƺ...]+ (deepseek-llm's letter class) */
    APR__ST_DSLLM_PUNCT,  /* \s?[!-/:-~！-／：-～‘-‟　-。]+ */
    APR__ST_WS_END,       /* \s+$ */
    APR__ST_PUNCT_RUN,    /* [\p{P}\$\+<=>\^~\|]+ */
    APR__ST_PUNCT_RUN_BT, /* [\p{P}\$\+<=>\^~\|`]+ (falcon) */
    APR__ST_DIGIT3        /* [0-9][0-9][0-9] */
};

typedef struct apr__pre_def {
    const char *names; /* '|'-separated names of tokenizer.ggml.pre */
    unsigned char stages[8];
    bool ignore_merges; /* a word that is a whole token is taken as is (Llama 3) */
    bool add_bos;
} apr__pre_def;

static const apr__pre_def apr__pre_defs[] = {
    {"default", {APR__ST_PUNCT_RUN, APR__ST_GPT2, APR__ST_DIGITS, APR__ST_DIGIT3, 0, 0, 0, 0}, false, false},
    {"llama3|llama-v3|llama-bpe|falcon3", {APR__ST_LLAMA3, 0, 0, 0, 0, 0, 0, 0}, true, true},
    {"dbrx|smaug-bpe|chatglm-bpe", {APR__ST_LLAMA3, 0, 0, 0, 0, 0, 0, 0}, false, false},
    {"qwen2|deepseek-r1-qwen|stablelm2|megrez", {APR__ST_QWEN2, 0, 0, 0, 0, 0, 0, 0}, false, false},
    {"gpt-2|phi-2|mpt|olmo|jais|roberta-bpe|gigachat|jina-es|jina-de|jina-v1-en|jina-v2-es|jina-v2-de|jina-v2-code",
     {APR__ST_GPT2, 0, 0, 0, 0, 0, 0, 0}, false, false},
    {"deepseek-llm", {APR__ST_CRLF, APR__ST_DSLLM_LETTERS, APR__ST_DSLLM_PUNCT, APR__ST_WS_END, APR__ST_CJK,
                      APR__ST_DIGITS, 0, 0}, false, false},
    {"deepseek-coder", {APR__ST_CRLF, APR__ST_WS_LETTERS, APR__ST_WS_PUNCT, APR__ST_CJK, APR__ST_DIGIT, 0, 0, 0},
     false, false},
    {"falcon", {APR__ST_PUNCT_RUN_BT, APR__ST_GPT2, APR__ST_DIGIT3, 0, 0, 0, 0, 0}, false, false},
    {"starcoder|refact|command-r|smollm|codeshell|exaone|minerva-7b", {APR__ST_DIGIT, APR__ST_GPT2, 0, 0, 0, 0, 0, 0},
     false, false},
};

static bool apr__name_in_list(const char *list, const char *name, size_t n) {
    const char *p = list;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && memcmp(p, name, n) == 0) return true;
        if (!bar) break;
        p = bar + 1;
    }
    return false;
}

typedef struct apr__trie_node {
    int32_t child;   /* first child, -1 if none */
    int32_t sibling; /* next child of the same parent, -1 if none */
    int32_t rank;    /* index into special[] of the token ending here, -1 if none */
    unsigned char byte;
} apr__trie_node;

struct apr_vocab {
    apr_vocab_kind kind;
    int32_t n_tokens;
    char *text;          /* every token's text, back to back */
    uint32_t *text_off;  /* token i is text[text_off[i] .. text_off[i+1]) */
    float *scores;
    uint8_t *type;       /* APR__TT_* */
    uint8_t *eog;        /* 1 if the token ends generation */
    int16_t *byte_val;   /* SPM byte tokens <0xXX>: the byte; else -1 */
    uint32_t max_token_len;
    /* token text -> id: open addressing, -1 empty */
    int32_t *hash;
    uint32_t hash_mask;
    /* BPE merges: (left id, right id) -> rank and merged token */
    uint64_t *merge_key; /* UINT64_MAX empty */
    int32_t *merge_rank, *merge_result;
    uint64_t merge_mask;
    int32_t byte_token[256]; /* the token of a single byte (SPM <0xXX>, BPE byte char) */
    int16_t cp_byte[324];    /* BPE: code point of a byte char -> byte, -1 */
    int32_t bos, eos, eot, eom, unk, pad;
    bool add_bos, add_eos, add_space_prefix, ignore_merges;
    bool spm_split_words; /* no token has '▁' after another character */
    unsigned char stages[8];
    char pre_name[64];
    /* special tokens (control, user-defined, unknown), longest text first, in a trie */
    int32_t *special;
    int32_t n_special;
    apr__trie_node *trie;
    int32_t n_trie;
    int32_t trie_root[256];
};

#define APR__FNV_INIT 1469598103934665603ull

static int apr__hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static uint64_t apr__fnv(uint64_t h, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static const char *apr__tok_text(const apr_vocab *v, int32_t id, size_t *len) {
    *len = v->text_off[id + 1] - v->text_off[id];
    return v->text + v->text_off[id];
}

static bool apr__is_spm_space(const char *p) { return memcmp(p, "\xe2\x96\x81", 3) == 0; }

/* Token whose text is a followed by b (either may be empty), or -1. */
static int32_t apr__vocab_lookup2(const apr_vocab *v, const char *a, size_t na, const char *b, size_t nb) {
    size_t n = na + nb;
    if (n == 0 || n > v->max_token_len) return -1;
    uint64_t h = apr__fnv(apr__fnv(APR__FNV_INIT, a, na), b, nb);
    for (uint64_t i = h & v->hash_mask;; i = (i + 1) & v->hash_mask) {
        int32_t id = v->hash[i];
        if (id < 0) return -1;
        size_t tl;
        const char *t = apr__tok_text(v, id, &tl);
        if (tl == n && memcmp(t, a, na) == 0 && memcmp(t + na, b, nb) == 0) return id;
    }
}

static int32_t apr__vocab_lookup(const apr_vocab *v, const char *s, size_t n) {
    return apr__vocab_lookup2(v, s, n, "", 0);
}

static uint64_t apr__merge_slot(uint64_t key, uint64_t mask) {
    return ((key * 0x9E3779B97F4A7C15ull) >> 20) & mask;
}

/* rank of merging tokens l and r, or -1; *result gets the merged token (-1 if the merged
   text is not a token) */
static int32_t apr__merge_find(const apr_vocab *v, int32_t l, int32_t r, int32_t *result) {
    if (!v->merge_key || l < 0 || r < 0) return -1;
    uint64_t key = ((uint64_t)(uint32_t)l << 32) | (uint32_t)r;
    for (uint64_t i = apr__merge_slot(key, v->merge_mask);; i = (i + 1) & v->merge_mask) {
        if (v->merge_key[i] == UINT64_MAX) return -1;
        if (v->merge_key[i] == key) {
            *result = v->merge_result[i];
            return v->merge_rank[i];
        }
    }
}

APR__IMPL void apr_vocab_free(apr_vocab *v) {
    if (!v) return;
    APR_FREE(v->text);
    APR_FREE(v->text_off);
    APR_FREE(v->scores);
    APR_FREE(v->type);
    APR_FREE(v->eog);
    APR_FREE(v->byte_val);
    APR_FREE(v->hash);
    APR_FREE(v->merge_key);
    APR_FREE(v->merge_rank);
    APR_FREE(v->merge_result);
    APR_FREE(v->special);
    APR_FREE(v->trie);
    APR_FREE(v);
}

/* A special token id key: absent leaves *id; -1 / 0xFFFFFFFF (how converters write
   "none") gives -1; anything else outside the vocabulary is an error. */
static apr_result apr__vocab_read_id(const apr_gguf *g, const char *key, int32_t n, int32_t *id,
                                     apr_error *err) {
    int64_t k = apr_gguf_find_key(g, key);
    if (k < 0) return APR_SUCCESS;
    int64_t s;
    uint64_t u;
    if (apr_gguf_get_i64(g, key, &s)) {
        if (s == -1 || s == 0xFFFFFFFFll) { *id = -1; return APR_SUCCESS; }
        if (s < 0 || s >= n)
            return apr__fail(err, APR_ERROR_INVALID_FILE, "%s = %lld is outside the vocabulary of %d tokens",
                             key, (long long)s, (int)n);
        *id = (int32_t)s;
        return APR_SUCCESS;
    }
    if (apr_gguf_get_u64(g, key, &u)) {
        if (u == UINT64_MAX) { *id = -1; return APR_SUCCESS; }
        return apr__fail(err, APR_ERROR_INVALID_FILE, "%s = %llu is outside the vocabulary of %d tokens", key,
                         (unsigned long long)u, (int)n);
    }
    return apr__fail(err, APR_ERROR_INVALID_FILE, "%s is not an integer", key);
}

static apr_result apr__vocab_read_bool(const apr_gguf *g, const char *key, bool *out, apr_error *err) {
    if (apr_gguf_find_key(g, key) < 0) return APR_SUCCESS;
    if (!apr_gguf_get_bool(g, key, out))
        return apr__fail(err, APR_ERROR_INVALID_FILE, "%s is not a bool", key);
    return APR_SUCCESS;
}

/* The first token of `names` present in the vocabulary, or -1. */
static int32_t apr__vocab_find_any(const apr_vocab *v, const char *const *names, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int32_t id = apr__vocab_lookup(v, names[i], strlen(names[i]));
        if (id >= 0) return id;
    }
    return -1;
}

static int apr__special_cmp(const void *a, const void *b, const apr_vocab *v) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    uint32_t lx = v->text_off[x + 1] - v->text_off[x], ly = v->text_off[y + 1] - v->text_off[y];
    if (lx != ly) return lx > ly ? -1 : 1;
    return x < y ? -1 : x > y ? 1 : 0;
}

/* Special tokens ordered longest first (ties: lower id), and a byte trie over their texts
   so that the text is scanned once whatever their number. */
static apr_result apr__vocab_build_specials(apr_vocab *v, apr_error *err) {
    int32_t n = 0;
    uint64_t bytes = 0;
    for (int32_t i = 0; i < v->n_tokens; i++) {
        int t = v->type[i];
        if ((t == APR__TT_CONTROL || t == APR__TT_USER_DEFINED || t == APR__TT_UNKNOWN) &&
            v->text_off[i + 1] > v->text_off[i]) {
            n++;
            bytes += v->text_off[i + 1] - v->text_off[i];
        }
    }
    for (int i = 0; i < 256; i++) v->trie_root[i] = -1;
    if (n == 0) return APR_SUCCESS;
    if (bytes > INT32_MAX) return apr__fail(err, APR_ERROR_INVALID_FILE, "special tokens too long");
    v->special = (int32_t *)APR_MALLOC((size_t)n * sizeof(int32_t));
    v->trie = (apr__trie_node *)APR_MALLOC((size_t)bytes * sizeof(apr__trie_node));
    if (!v->special || !v->trie) return apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory (special tokens)");
    n = 0;
    for (int32_t i = 0; i < v->n_tokens; i++) {
        int t = v->type[i];
        if ((t == APR__TT_CONTROL || t == APR__TT_USER_DEFINED || t == APR__TT_UNKNOWN) &&
            v->text_off[i + 1] > v->text_off[i])
            v->special[n++] = i;
    }
    v->n_special = n;
    /* insertion sort would be quadratic for vocabularies with many added tokens: a merge
       sort on a scratch copy */
    int32_t *tmp = (int32_t *)APR_MALLOC((size_t)n * sizeof(int32_t));
    if (!tmp) return apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory (special tokens)");
    for (int32_t width = 1; width < n; width *= 2) {
        for (int32_t lo = 0; lo < n; lo += 2 * width) {
            int32_t mid = APR__MIN(lo + width, n), hi = APR__MIN(lo + 2 * width, n);
            int32_t a = lo, b = mid, k = lo;
            while (a < mid && b < hi)
                tmp[k++] = apr__special_cmp(&v->special[b], &v->special[a], v) < 0 ? v->special[b++] : v->special[a++];
            while (a < mid) tmp[k++] = v->special[a++];
            while (b < hi) tmp[k++] = v->special[b++];
        }
        memcpy(v->special, tmp, (size_t)n * sizeof(int32_t));
    }
    APR_FREE(tmp);
    for (int32_t r = 0; r < n; r++) {
        size_t len;
        const unsigned char *s = (const unsigned char *)apr__tok_text(v, v->special[r], &len);
        int32_t *slot = &v->trie_root[s[0]];
        int32_t node = -1;
        for (size_t j = 0; j < len; j++) {
            if (j > 0) {
                slot = &v->trie[node].child;
                while (*slot >= 0 && v->trie[*slot].byte != s[j]) slot = &v->trie[*slot].sibling;
            }
            if (*slot < 0) {
                apr__trie_node *nd = &v->trie[v->n_trie];
                nd->child = nd->sibling = nd->rank = -1;
                nd->byte = s[j];
                *slot = v->n_trie++;
            }
            node = *slot;
        }
        if (v->trie[node].rank < 0) v->trie[node].rank = r; /* a duplicate text: the first wins */
    }
    return APR_SUCCESS;
}

APR__IMPL apr_result apr_vocab_load(const apr_gguf *g, apr_vocab **out, apr_error *err) {
    if (!out) return apr__fail(err, APR_ERROR_INVALID_ARGUMENT, "apr_vocab_load: out is NULL");
    *out = NULL;
    if (!g) return apr__fail(err, APR_ERROR_INVALID_ARGUMENT, "apr_vocab_load: gguf is NULL");
    apr_result rc = APR_SUCCESS;
    apr_str model;
    if (apr_gguf_find_key(g, "tokenizer.ggml.model") < 0)
        return apr__fail(err, APR_ERROR_INVALID_FILE, "tokenizer.ggml.model is missing: no vocabulary");
    if (!apr_gguf_get_str(g, "tokenizer.ggml.model", &model))
        return apr__fail(err, APR_ERROR_INVALID_FILE, "tokenizer.ggml.model is not a string");
    apr_vocab_kind kind;
    if (model.len == 5 && memcmp(model.ptr, "llama", 5) == 0) kind = APR_VOCAB_SPM;
    else if (model.len == 4 && memcmp(model.ptr, "gpt2", 4) == 0) kind = APR_VOCAB_BPE;
    else
        return apr__fail(err, APR_ERROR_UNSUPPORTED, "tokenizer.ggml.model '%.*s' is not supported (llama, gpt2)",
                         (int)APR__MIN(model.len, 64), model.ptr);

    int64_t kt = apr_gguf_find_key(g, "tokenizer.ggml.tokens");
    apr_gguf_value_type et;
    uint64_t count;
    const void *data;
    if (kt < 0) return apr__fail(err, APR_ERROR_INVALID_FILE, "tokenizer.ggml.tokens is missing");
    if (!apr_gguf_kv_arr(g, kt, &et, &count, &data) || et != APR_GGUF_STRING)
        return apr__fail(err, APR_ERROR_INVALID_FILE, "tokenizer.ggml.tokens is not an array of strings");
    if (count == 0 || count > (uint64_t)INT32_MAX - 1)
        return apr__fail(err, APR_ERROR_INVALID_FILE, "tokenizer.ggml.tokens has %llu entries",
                         (unsigned long long)count);
    int32_t n = (int32_t)count;

    apr_vocab *v = (apr_vocab *)apr__calloc(1, sizeof(apr_vocab));
    if (!v) return apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory (vocabulary)");
    v->kind = kind;
    v->n_tokens = n;
    v->bos = v->eos = v->eot = v->eom = v->unk = v->pad = -1;

    /* token texts, copied so that the vocabulary does not depend on the file staying open */
    uint64_t total = 0, hsize = 1;
    for (int32_t i = 0; i < n; i++) total += apr_gguf_kv_arr_str(g, kt, (uint64_t)i).len;
    if (total >= UINT32_MAX) {
        rc = apr__fail(err, APR_ERROR_INVALID_FILE, "tokenizer.ggml.tokens: %llu bytes of text is too much",
                       (unsigned long long)total);
        goto fail;
    }
    v->text = (char *)APR_MALLOC((size_t)total + 1);
    v->text_off = (uint32_t *)APR_MALLOC(((size_t)n + 1) * sizeof(uint32_t));
    v->scores = (float *)apr__calloc((size_t)n, sizeof(float));
    v->type = (uint8_t *)APR_MALLOC((size_t)n);
    v->eog = (uint8_t *)apr__calloc((size_t)n, 1);
    v->byte_val = (int16_t *)APR_MALLOC((size_t)n * sizeof(int16_t));
    while (hsize < (uint64_t)n * 2) hsize *= 2;
    v->hash = (int32_t *)APR_MALLOC((size_t)hsize * sizeof(int32_t));
    if (!v->text || !v->text_off || !v->scores || !v->type || !v->eog || !v->byte_val || !v->hash) {
        rc = apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory (vocabulary of %d tokens)", (int)n);
        goto fail;
    }
    {
        uint32_t off = 0;
        for (int32_t i = 0; i < n; i++) {
            apr_str s = apr_gguf_kv_arr_str(g, kt, (uint64_t)i);
            v->text_off[i] = off;
            if (s.len) memcpy(v->text + off, s.ptr, (size_t)s.len);
            off += (uint32_t)s.len;
            if (s.len > v->max_token_len) v->max_token_len = (uint32_t)s.len;
            v->type[i] = APR__TT_NORMAL;
            v->byte_val[i] = -1;
        }
        v->text_off[n] = off;
        v->text[off] = 0;
    }

    /* scores: float32, one per token */
    {
        int64_t k = apr_gguf_find_key(g, "tokenizer.ggml.scores");
        if (k >= 0) {
            if (!apr_gguf_kv_arr(g, k, &et, &count, &data) || et != APR_GGUF_FLOAT32 || count != (uint64_t)n) {
                rc = apr__fail(err, APR_ERROR_INVALID_FILE,
                               "tokenizer.ggml.scores must be an array of %d float32 values", (int)n);
                goto fail;
            }
            memcpy(v->scores, data, (size_t)n * sizeof(float));
        }
    }
    /* token types: int32 (or uint32), one per token, values 0..6 */
    {
        int64_t k = apr_gguf_find_key(g, "tokenizer.ggml.token_type");
        if (k >= 0) {
            if (!apr_gguf_kv_arr(g, k, &et, &count, &data) || (et != APR_GGUF_INT32 && et != APR_GGUF_UINT32) ||
                count != (uint64_t)n) {
                rc = apr__fail(err, APR_ERROR_INVALID_FILE,
                               "tokenizer.ggml.token_type must be an array of %d int32 values", (int)n);
                goto fail;
            }
            for (int32_t i = 0; i < n; i++) {
                uint32_t t;
                memcpy(&t, (const char *)data + (size_t)i * 4, 4);
                if (t > APR__TT_BYTE) {
                    rc = apr__fail(err, APR_ERROR_INVALID_FILE, "tokenizer.ggml.token_type[%d] = %d is not a token type",
                                   (int)i, (int)(int32_t)t);
                    goto fail;
                }
                v->type[i] = (uint8_t)t;
            }
        }
    }

    /* text -> id; on duplicate texts the last token wins (as llama.cpp's map) */
    for (uint64_t i = 0; i < hsize; i++) v->hash[i] = -1;
    v->hash_mask = (uint32_t)(hsize - 1);
    for (int32_t i = 0; i < n; i++) {
        size_t len;
        const char *s = apr__tok_text(v, i, &len);
        if (len == 0) continue;
        uint64_t h = apr__fnv(APR__FNV_INIT, s, len);
        for (uint64_t j = h & v->hash_mask;; j = (j + 1) & v->hash_mask) {
            int32_t id = v->hash[j];
            if (id < 0) { v->hash[j] = i; break; }
            size_t l2;
            const char *s2 = apr__tok_text(v, id, &l2);
            if (l2 == len && memcmp(s2, s, len) == 0) { v->hash[j] = i; break; }
        }
    }

    /* defaults as llama.cpp, then the pre-tokenizer */
    if (kind == APR_VOCAB_SPM) {
        v->bos = n > 1 ? 1 : -1;
        v->eos = n > 2 ? 2 : -1;
        v->unk = 0;
        v->add_bos = true;
        v->add_space_prefix = true;
        snprintf(v->pre_name, sizeof v->pre_name, "default");
        apr_str pre;
        if (apr_gguf_get_str(g, "tokenizer.ggml.pre", &pre))
            snprintf(v->pre_name, sizeof v->pre_name, "%.*s", (int)APR__MIN(pre.len, 63), pre.ptr);
    } else {
        apr_str pre;
        pre.ptr = "default";
        pre.len = 7;
        if (apr_gguf_find_key(g, "tokenizer.ggml.pre") >= 0 && !apr_gguf_get_str(g, "tokenizer.ggml.pre", &pre)) {
            rc = apr__fail(err, APR_ERROR_INVALID_FILE, "tokenizer.ggml.pre is not a string");
            goto fail;
        }
        const apr__pre_def *def = NULL;
        for (size_t i = 0; i < APR__ARRAY_LEN(apr__pre_defs) && !def; i++)
            if (apr__name_in_list(apr__pre_defs[i].names, pre.ptr, (size_t)pre.len)) def = &apr__pre_defs[i];
        if (!def) {
            rc = apr__fail(err, APR_ERROR_UNSUPPORTED, "tokenizer.ggml.pre '%.*s' is not a pre-tokenizer apr knows",
                           (int)APR__MIN(pre.len, 64), pre.ptr);
            goto fail;
        }
        memcpy(v->stages, def->stages, sizeof v->stages);
        v->ignore_merges = def->ignore_merges;
        v->add_bos = def->add_bos;
        snprintf(v->pre_name, sizeof v->pre_name, "%.*s", (int)APR__MIN(pre.len, 63), pre.ptr);
    }

    if ((rc = apr__vocab_read_id(g, "tokenizer.ggml.bos_token_id", n, &v->bos, err)) != APR_SUCCESS ||
        (rc = apr__vocab_read_id(g, "tokenizer.ggml.eos_token_id", n, &v->eos, err)) != APR_SUCCESS ||
        (rc = apr__vocab_read_id(g, "tokenizer.ggml.eot_token_id", n, &v->eot, err)) != APR_SUCCESS ||
        (rc = apr__vocab_read_id(g, "tokenizer.ggml.eom_token_id", n, &v->eom, err)) != APR_SUCCESS ||
        (rc = apr__vocab_read_id(g, "tokenizer.ggml.unknown_token_id", n, &v->unk, err)) != APR_SUCCESS ||
        (rc = apr__vocab_read_id(g, "tokenizer.ggml.padding_token_id", n, &v->pad, err)) != APR_SUCCESS ||
        (rc = apr__vocab_read_bool(g, "tokenizer.ggml.add_bos_token", &v->add_bos, err)) != APR_SUCCESS ||
        (rc = apr__vocab_read_bool(g, "tokenizer.ggml.add_eos_token", &v->add_eos, err)) != APR_SUCCESS ||
        (rc = apr__vocab_read_bool(g, "tokenizer.ggml.add_space_prefix", &v->add_space_prefix, err)) != APR_SUCCESS)
        goto fail;

    /* single-byte tokens */
    for (int b = 0; b < 256; b++) {
        char s[8];
        int32_t id;
        if (kind == APR_VOCAB_SPM) {
            snprintf(s, sizeof s, "<0x%02X>", b);
            id = apr__vocab_lookup(v, s, 6);
            if (id < 0) { s[0] = (char)b; id = apr__vocab_lookup(v, s, 1); }
        } else {
            int k = apr__utf8_encode(apr__gpt2_byte_cp(b), s);
            id = apr__vocab_lookup(v, s, (size_t)k);
        }
        v->byte_token[b] = id;
    }
    for (int i = 0; i < 324; i++) v->cp_byte[i] = -1;
    for (int b = 0; b < 256; b++) v->cp_byte[apr__gpt2_byte_cp(b)] = (int16_t)b;
    for (int32_t i = 0; i < n; i++) {
        size_t len;
        const char *s = apr__tok_text(v, i, &len);
        if (v->type[i] == APR__TT_BYTE && len == 6 && memcmp(s, "<0x", 3) == 0 && s[5] == '>') {
            int hi = apr__hex_digit(s[3]), lo = apr__hex_digit(s[4]);
            if (hi >= 0 && lo >= 0) v->byte_val[i] = (int16_t)(hi * 16 + lo);
        }
    }

    if (kind == APR_VOCAB_SPM) {
        v->spm_split_words = true;
        for (int32_t i = 0; i < n && v->spm_split_words; i++) {
            size_t len;
            const char *t = apr__tok_text(v, i, &len);
            for (size_t j = 1; j + 3 <= len; j++) {
                if (apr__is_spm_space(t + j) && !(j >= 3 && apr__is_spm_space(t + j - 3))) {
                    v->spm_split_words = false;
                    break;
                }
            }
        }
    }

    /* BPE merges "left right", rank = position; both sides must be tokens */
    if (kind == APR_VOCAB_BPE) {
        int64_t km = apr_gguf_find_key(g, "tokenizer.ggml.merges");
        if (km < 0) { rc = apr__fail(err, APR_ERROR_INVALID_FILE, "tokenizer.ggml.merges is missing"); goto fail; }
        if (!apr_gguf_kv_arr(g, km, &et, &count, &data) || et != APR_GGUF_STRING) {
            rc = apr__fail(err, APR_ERROR_INVALID_FILE, "tokenizer.ggml.merges is not an array of strings");
            goto fail;
        }
        if (count > (uint64_t)INT32_MAX / 2) {
            rc = apr__fail(err, APR_ERROR_INVALID_FILE, "tokenizer.ggml.merges has %llu entries", (unsigned long long)count);
            goto fail;
        }
        uint64_t msize = 16;
        while (msize < count * 2) msize *= 2;
        v->merge_key = (uint64_t *)APR_MALLOC((size_t)msize * sizeof(uint64_t));
        v->merge_rank = (int32_t *)APR_MALLOC((size_t)msize * sizeof(int32_t));
        v->merge_result = (int32_t *)APR_MALLOC((size_t)msize * sizeof(int32_t));
        if (!v->merge_key || !v->merge_rank || !v->merge_result) {
            rc = apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory (merges)");
            goto fail;
        }
        for (uint64_t i = 0; i < msize; i++) v->merge_key[i] = UINT64_MAX;
        v->merge_mask = msize - 1;
        for (uint64_t i = 0; i < count; i++) {
            apr_str s = apr_gguf_kv_arr_str(g, km, i);
            const char *sp = s.len > 1 ? (const char *)memchr(s.ptr + 1, ' ', (size_t)s.len - 1) : NULL;
            if (!sp) {
                rc = apr__fail(err, APR_ERROR_INVALID_FILE, "tokenizer.ggml.merges[%llu] is not two tokens separated by a space",
                               (unsigned long long)i);
                goto fail;
            }
            size_t na = (size_t)(sp - s.ptr), nb = (size_t)s.len - na - 1;
            int32_t l = apr__vocab_lookup(v, s.ptr, na), r = apr__vocab_lookup(v, sp + 1, nb);
            if (l < 0 || r < 0) {
                rc = apr__fail(err, APR_ERROR_INVALID_FILE, "tokenizer.ggml.merges[%llu] '%.*s' names a token that is not in the vocabulary",
                               (unsigned long long)i, (int)APR__MIN(s.len, 64), s.ptr);
                goto fail;
            }
            uint64_t key = ((uint64_t)(uint32_t)l << 32) | (uint32_t)r;
            for (uint64_t j = apr__merge_slot(key, v->merge_mask);; j = (j + 1) & v->merge_mask) {
                if (v->merge_key[j] == key) break; /* a repeated merge keeps its first rank */
                if (v->merge_key[j] == UINT64_MAX) {
                    v->merge_key[j] = key;
                    v->merge_rank[j] = (int32_t)i;
                    v->merge_result[j] = apr__vocab_lookup2(v, s.ptr, na, sp + 1, nb);
                    break;
                }
            }
        }
    }

    /* End-of-turn, FIM and end-of-generation tokens found by their text, as llama.cpp does
       (converters do not always write the ids); such tokens are control tokens. */
    {
        static const char *const eot_names[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                                                "<EOT>", "<\357\275\234end\342\226\201of\342\226\201sentence\357\275\234>"};
        static const char *const eom_names[] = {"<|eom_id|>"};
        static const char *const fim_pre[] = {"<|fim_prefix|>", "<fim-prefix>", "<\357\275\234fim\342\226\201begin\357\275\234>", "<PRE>"};
        static const char *const fim_suf[] = {"<|fim_suffix|>", "<fim-suffix>", "<\357\275\234fim\342\226\201hole\357\275\234>", "<SUF>"};
        static const char *const fim_mid[] = {"<|fim_middle|>", "<fim-middle>", "<\357\275\234fim\342\226\201end\357\275\234>", "<MID>"};
        static const char *const fim_pad[] = {"<|fim_pad|>", "<fim-pad>", "<PAD>"};
        static const char *const fim_rep[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>"};
        static const char *const fim_sep[] = {"<|file_sep|>"};
        static const char *const eog_names[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
                                                "<|endoftext|>", "<|eom_id|>", "<EOT>"};
        static const char *const eog_if_control[] = {"<|end_of_text|>", "</s>"};
        int32_t id;
        if (v->eot < 0 && (id = apr__vocab_find_any(v, eot_names, APR__ARRAY_LEN(eot_names))) >= 0) {
            v->eot = id;
            v->type[id] = APR__TT_CONTROL;
        }
        if (v->eom < 0 && (id = apr__vocab_find_any(v, eom_names, 1)) >= 0) {
            v->eom = id;
            v->type[id] = APR__TT_CONTROL;
        }
        const char *const *fims[6] = {fim_pre, fim_suf, fim_mid, fim_pad, fim_rep, fim_sep};
        const size_t nfims[6] = {APR__ARRAY_LEN(fim_pre), APR__ARRAY_LEN(fim_suf), APR__ARRAY_LEN(fim_mid),
                                 APR__ARRAY_LEN(fim_pad), APR__ARRAY_LEN(fim_rep), APR__ARRAY_LEN(fim_sep)};
        for (int f = 0; f < 6; f++) {
            if ((id = apr__vocab_find_any(v, fims[f], nfims[f])) >= 0) {
                v->type[id] = APR__TT_CONTROL;
                if (f >= 3) v->eog[id] = 1; /* pad, repo and file separator end generation */
            }
        }
        for (size_t i = 0; i < APR__ARRAY_LEN(eog_names); i++) {
            if ((id = apr__vocab_lookup(v, eog_names[i], strlen(eog_names[i]))) >= 0) {
                v->eog[id] = 1;
                v->type[id] = APR__TT_CONTROL;
            }
        }
        for (size_t i = 0; i < APR__ARRAY_LEN(eog_if_control); i++) {
            id = apr__vocab_lookup(v, eog_if_control[i], strlen(eog_if_control[i]));
            if (id >= 0 && v->type[id] == APR__TT_CONTROL) v->eog[id] = 1;
        }
        if (v->eos >= 0) v->eog[v->eos] = 1;
        if (v->eot >= 0) v->eog[v->eot] = 1;
        if (v->eom >= 0) v->eog[v->eom] = 1;
    }

    if ((rc = apr__vocab_build_specials(v, err)) != APR_SUCCESS) goto fail;
    *out = v;
    return APR_SUCCESS;
fail:
    apr_vocab_free(v);
    return rc;
}

APR__IMPL int32_t apr_vocab_n_tokens(const apr_vocab *v) { return v ? v->n_tokens : 0; }
APR__IMPL apr_vocab_kind apr_vocab_type(const apr_vocab *v) { return v ? v->kind : APR_VOCAB_NONE; }
APR__IMPL const char *apr_vocab_pre_name(const apr_vocab *v) { return v ? v->pre_name : ""; }
APR__IMPL int32_t apr_vocab_bos(const apr_vocab *v) { return v ? v->bos : -1; }
APR__IMPL int32_t apr_vocab_eos(const apr_vocab *v) { return v ? v->eos : -1; }
APR__IMPL int32_t apr_vocab_eot(const apr_vocab *v) { return v ? v->eot : -1; }
APR__IMPL bool apr_vocab_add_bos(const apr_vocab *v) { return v && v->add_bos && v->bos >= 0; }

APR__IMPL bool apr_vocab_is_eog(const apr_vocab *v, int32_t token) {
    return v && token >= 0 && token < v->n_tokens && v->eog[token];
}

APR__IMPL bool apr_vocab_is_control(const apr_vocab *v, int32_t token) {
    return v && token >= 0 && token < v->n_tokens && v->type[token] == APR__TT_CONTROL;
}

APR__IMPL apr_str apr_vocab_token_text(const apr_vocab *v, int32_t token) {
    apr_str s;
    s.ptr = "";
    s.len = 0;
    if (v && token >= 0 && token < v->n_tokens) {
        size_t len;
        s.ptr = apr__tok_text(v, token, &len);
        s.len = len;
    }
    return s;
}

APR__IMPL int32_t apr_vocab_max_piece(const apr_vocab *v) {
    /* a piece is never longer than its token's text + 1, the stream adds up to 3 held bytes */
    return v ? (int32_t)APR__MIN((uint64_t)v->max_token_len + 4, (uint64_t)INT32_MAX) : 0;
}

APR__IMPL int32_t apr_vocab_find(const apr_vocab *v, const char *text) {
    if (!v || !text) return -1;
    return apr__vocab_lookup(v, text, strlen(text));
}

/* ---- tokenization: scratch space ----------------------------------------------------------- */

typedef struct apr__sym {
    uint32_t start, n; /* bytes of the symbol in the word / escaped text; n = 0 once merged away */
    int32_t prev, next;
    int32_t id;        /* BPE: its token (-1 if none) */
} apr__sym;

/* A candidate merge of symbol `left` with the one after it. key = priority << 32 | left,
   lower first (SPM: descending score, BPE: ascending rank; ties: leftmost). It is stale
   once either symbol changed, which shows as a different total size (a symbol only
   grows, by absorbing its right neighbour). */
typedef struct apr__bigram {
    uint64_t key;
    uint32_t size;
    int32_t id;        /* the merged token */
} apr__bigram;

typedef struct apr__tok_scratch {
    uint32_t *cp, *off;   /* units (characters) of the current fragment */
    uint8_t *fl;
    size_t cap_units;
    uint32_t *pa, *pb;    /* pieces, [begin, end) unit pairs, ping-pong */
    size_t cap_pieces;
    apr__sym *sym;
    size_t cap_sym;
    apr__bigram *heap;
    size_t n_heap, cap_heap;
    char *buf;
    size_t cap_buf;
    int32_t *out;
    int64_t max, n;
    bool oom;
} apr__tok_scratch;

/* Grow *p to hold need elements; false (and s->oom) on failure. */
static bool apr__tok_grow(apr__tok_scratch *s, void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    if (c > SIZE_MAX / elem) { s->oom = true; return false; }
    void *q = APR_REALLOC(*p, c * elem);
    if (!q) { s->oom = true; return false; }
    *p = q;
    *cap = c;
    return true;
}

static void apr__tok_scratch_free(apr__tok_scratch *s) {
    APR_FREE(s->cp); APR_FREE(s->off); APR_FREE(s->fl);
    APR_FREE(s->pa); APR_FREE(s->pb);
    APR_FREE(s->sym); APR_FREE(s->heap); APR_FREE(s->buf);
}

static void apr__tok_emit(apr__tok_scratch *s, int32_t id) {
    if (s->n < s->max) s->out[s->n] = id;
    s->n++;
}

static bool apr__bigram_before(const apr__bigram *a, const apr__bigram *b) { return a->key < b->key; }

/* float score -> 32-bit key, higher score = lower key */
static uint32_t apr__score_key(float f) {
    uint32_t u = apr__f32_to_bits(f);
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    return ~u;
}

static void apr__heap_push(apr__tok_scratch *s, const apr__bigram *b) {
    if (!apr__tok_grow(s, (void **)&s->heap, &s->cap_heap, s->n_heap + 1, sizeof(apr__bigram))) return;
    size_t i = s->n_heap++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!apr__bigram_before(b, &s->heap[parent])) break;
        s->heap[i] = s->heap[parent];
        i = parent;
    }
    s->heap[i] = *b;
}

static apr__bigram apr__heap_pop(apr__tok_scratch *s) {
    apr__bigram top = s->heap[0];
    apr__bigram last = s->heap[--s->n_heap];
    size_t i = 0, n = s->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && apr__bigram_before(&s->heap[c + 1], &s->heap[c])) c++;
        if (!apr__bigram_before(&s->heap[c], &last)) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n > 0) s->heap[i] = last;
    return top;
}

/* ---- SPM ---------------------------------------------------------------------------------- */

static void apr__spm_try_bigram(const apr_vocab *v, apr__tok_scratch *s, int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const apr__sym *a = &s->sym[l], *b = &s->sym[r];
    int32_t id = apr__vocab_lookup(v, s->buf + a->start, (size_t)a->n + b->n);
    if (id < 0) return;
    apr__bigram bg;
    bg.key = ((uint64_t)apr__score_key(v->scores[id]) << 32) | (uint32_t)l;
    bg.size = a->n + b->n;
    bg.id = id;
    apr__heap_push(s, &bg);
}

/* Merge the symbols of buf[b..e) as llama.cpp's llm_tokenizer_spm and emit the tokens. */
static void apr__spm_segment(const apr_vocab *v, apr__tok_scratch *s, size_t b, size_t e) {
    if (!apr__tok_grow(s, (void **)&s->sym, &s->cap_sym, e - b, sizeof(apr__sym))) return;
    int32_t ns = 0;
    for (size_t i = b; i < e;) {
        uint32_t cp;
        int k = apr__utf8_decode((const unsigned char *)s->buf + i, e - i, &cp);
        apr__sym *y = &s->sym[ns];
        y->start = (uint32_t)i;
        y->n = (uint32_t)k;
        y->prev = ns - 1;
        y->next = ns + 1;
        y->id = -1;
        ns++;
        i += (size_t)k;
    }
    s->sym[ns - 1].next = -1;
    s->n_heap = 0;
    for (int32_t i = 1; i < ns; i++) apr__spm_try_bigram(v, s, i - 1, i);
    while (s->n_heap > 0 && !s->oom) {
        apr__bigram bg = apr__heap_pop(s);
        int32_t left = (int32_t)(uint32_t)bg.key;
        apr__sym *a = &s->sym[left];
        if (a->n == 0 || a->next < 0) continue;
        apr__sym *c = &s->sym[a->next];
        if (a->n + c->n != bg.size) continue;
        a->n += c->n;
        c->n = 0;
        a->next = c->next;
        if (c->next >= 0) s->sym[c->next].prev = left;
        apr__spm_try_bigram(v, s, a->prev, left);
        apr__spm_try_bigram(v, s, left, a->next);
    }
    for (int32_t i = 0; i != -1; i = s->sym[i].next) {
        const apr__sym *y = &s->sym[i];
        int32_t id = apr__vocab_lookup(v, s->buf + y->start, y->n);
        if (id >= 0) { apr__tok_emit(s, id); continue; }
        for (uint32_t j = 0; j < y->n; j++) { /* byte fallback */
            int32_t bt = v->byte_token[(unsigned char)s->buf[y->start + j]];
            if (bt < 0) bt = v->unk;
            if (bt >= 0) apr__tok_emit(s, bt);
        }
    }
}

static void apr__spm_fragment(const apr_vocab *v, apr__tok_scratch *s, const char *text, size_t len, bool prefix) {
    /* escape: ' ' -> U+2581 '▁', with one in front when asked */
    if (!apr__tok_grow(s, (void **)&s->buf, &s->cap_buf, (len + 1) * 3, 1)) return;
    size_t m = 0;
    if (prefix) { memcpy(s->buf, "\xe2\x96\x81", 3); m = 3; }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') { memcpy(s->buf + m, "\xe2\x96\x81", 3); m += 3; }
        else s->buf[m++] = text[i];
    }
    if (m == 0) return;
    /* Where no token has a '▁' right after another character (checked at load), no merge
       can join what precedes such a '▁' to it: the words are merged one at a time, which
       gives the same tokens as one queue over the whole text, with a small queue. */
    size_t seg = 0;
    if (v->spm_split_words) {
        for (size_t p = 1; p + 3 <= m; p++) {
            if ((unsigned char)s->buf[p] != 0xE2 || !apr__is_spm_space(s->buf + p)) continue;
            if (p >= 3 && apr__is_spm_space(s->buf + p - 3)) continue;
            apr__spm_segment(v, s, seg, p);
            seg = p;
        }
    }
    apr__spm_segment(v, s, seg, m);
}

/* ---- BPE pre-tokenizers ------------------------------------------------------------------------ */

static uint8_t apr__pf(const apr__tok_scratch *s, size_t i, size_t e) { return i < e ? s->fl[i] : 0; }
static uint32_t apr__pc(const apr__tok_scratch *s, size_t i, size_t e) { return i < e ? s->cp[i] : 0xFFFFFFFFu; }

/* not \s, \p{L} or \p{N}, and inside the piece */
static bool apr__pf_other(uint8_t f) {
    return (f & APR__UF_VALID) && !(f & (APR__UF_W | APR__UF_L | APR__UF_N));
}

static bool apr__is_crlf(uint32_t c) { return c == '\r' || c == '\n'; }

/* 's|'t|'re|'ve|'m|'ll|'d (ASCII case-insensitive when icase): end of the match or p */
static size_t apr__pre_contraction(const apr__tok_scratch *s, size_t p, size_t e, bool icase) {
    if (apr__pc(s, p, e) != '\'' || p + 1 >= e) return p;
    uint32_t c1 = apr__pc(s, p + 1, e);
    if (icase && c1 >= 'A' && c1 <= 'Z') c1 += 32;
    if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return p + 2;
    if (p + 2 >= e) return p;
    uint32_t c2 = apr__pc(s, p + 2, e);
    if (icase && c2 >= 'A' && c2 <= 'Z') c2 += 32;
    if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return p + 3;
    return p;
}

/* GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S), with a
   lone whitespace character that matches nothing taken as its own piece. */
static size_t apr__pre_gpt2(const apr__tok_scratch *s, size_t p, size_t e) {
    size_t q = apr__pre_contraction(s, p, e, false);
    if (q > p) return q;
    uint32_t c = apr__pc(s, p, e);
    uint8_t f2 = c == ' ' ? apr__pf(s, p + 1, e) : apr__pf(s, p, e);
    size_t i = p + (c == ' ');
    if (f2 & APR__UF_L) { while (apr__pf(s, i, e) & APR__UF_L) i++; return i; }
    if (f2 & APR__UF_N) { while (apr__pf(s, i, e) & APR__UF_N) i++; return i; }
    if (apr__pf_other(f2)) { while (apr__pf_other(apr__pf(s, i, e))) i++; return i; }
    size_t k = 0;
    while (apr__pf(s, p + k, e) & APR__UF_W) k++;
    if (k > 1 && p + k < e) return p + k - 1; /* \s+(?!\S): leave the last one to the next word */
    if (k > 0) return p + k;
    return p + 1;
}

/* Llama 3 (max_digits 3) and Qwen2 (1):
   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max}| ?[^\s\p{L}\p{N}]+[\r\n]*|
   \s*[\r\n]+|\s+(?!\S)|\s+ */
static size_t apr__pre_llama3(const apr__tok_scratch *s, size_t p, size_t e, size_t max_digits) {
    size_t q = apr__pre_contraction(s, p, e, true);
    if (q > p) return q;
    uint32_t c = apr__pc(s, p, e);
    uint8_t f = apr__pf(s, p, e);
    if (!(apr__is_crlf(c) || (f & APR__UF_N)) && ((f & APR__UF_L) || (apr__pf(s, p + 1, e) & APR__UF_L))) {
        size_t i = p + 1;
        while (apr__pf(s, i, e) & APR__UF_L) i++;
        return i;
    }
    if (f & APR__UF_N) {
        size_t i = p + 1;
        while (i - p < max_digits && (apr__pf(s, i, e) & APR__UF_N)) i++;
        return i;
    }
    uint8_t f2 = c == ' ' ? apr__pf(s, p + 1, e) : f;
    if (!(f2 & (APR__UF_W | APR__UF_L | APR__UF_N)) && (f & APR__UF_VALID)) {
        size_t i = p + (c == ' ');
        while (apr__pf_other(apr__pf(s, i, e))) i++;
        while (apr__is_crlf(apr__pc(s, i, e))) i++;
        return i;
    }
    size_t k = 0, last_crlf = 0;
    while (apr__pf(s, p + k, e) & APR__UF_W) {
        if (apr__is_crlf(apr__pc(s, p + k, e))) last_crlf = p + k + 1;
        k++;
    }
    if (last_crlf > 0) return last_crlf;   /* \s*[\r\n]+ */
    if (k > 1 && p + k < e) return p + k - 1; /* \s+(?!\S) */
    if (k > 0) return p + k;               /* \s+ */
    return p + 1;
}

static bool apr__is_cjk(uint32_t c, uint8_t f) { /* [一-龥ࠀ-一가-퟿], whitespace excluded */
    return ((c >= 0x0800 && c <= 0x9FA5) || (c >= 0xAC00 && c <= 0xD7FF)) && !(f & APR__UF_W);
}

static bool apr__is_dsllm_punct(uint32_t c, uint8_t f) { /* [!-/:-~！-／：-～‘-‟　-。] */
    return ((c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x7E) || (c >= 0xFF01 && c <= 0xFF0F) ||
            (c >= 0xFF1A && c <= 0xFF5E) || (c >= 0x2018 && c <= 0x201F) || (c >= 0x3000 && c <= 0x3002)) &&
           !(f & APR__UF_W);
}

static bool apr__is_dsllm_letter(uint32_t c) {
    return apr__in_ranges(apr__deepseek_llm_letters, APR__ARRAY_LEN(apr__deepseek_llm_letters), c);
}

static bool apr__is_punct_run(uint32_t c, uint8_t f) { /* [\p{P}\$\+<=>\^~\|] */
    return (f & APR__UF_P) || c == '$' || c == '+' || c == '<' || c == '=' || c == '>' || c == '^' || c == '~' ||
           c == '|';
}

/* \s?X+ where X never matches whitespace: end of the match or p */
#define APR__WS_OPT_RUN(COND_AT)                                                   \
    do {                                                                           \
        size_t i_ = p;                                                             \
        if ((apr__pf(s, p, e) & APR__UF_W) && p + 1 < e && (COND_AT(p + 1))) i_++; \
        if (i_ < e && (COND_AT(i_))) {                                             \
            while (i_ < e && (COND_AT(i_))) i_++;                                  \
            return i_;                                                             \
        }                                                                          \
        return p;                                                                  \
    } while (0)

/* The anchored match of one stage's regex at unit p of the piece ending at e: the end of
   the match, or p if none starts here. */
static size_t apr__pre_match(int stage, const apr__tok_scratch *s, size_t p, size_t e) {
#define APR__AT_L(i) (s->fl[i] & APR__UF_L)
#define APR__AT_P(i) (s->fl[i] & APR__UF_P)
#define APR__AT_DSL(i) (!(s->fl[i] & APR__UF_W) && apr__is_dsllm_letter(s->cp[i]))
#define APR__AT_DSP(i) apr__is_dsllm_punct(s->cp[i], s->fl[i])
    switch (stage) {
    case APR__ST_GPT2: return apr__pre_gpt2(s, p, e);
    case APR__ST_LLAMA3: return apr__pre_llama3(s, p, e, 3);
    case APR__ST_QWEN2: return apr__pre_llama3(s, p, e, 1);
    case APR__ST_CRLF: return apr__is_crlf(s->cp[p]) ? p + 1 : p;
    case APR__ST_WS_LETTERS: APR__WS_OPT_RUN(APR__AT_L);
    case APR__ST_WS_PUNCT: APR__WS_OPT_RUN(APR__AT_P);
    case APR__ST_DSLLM_LETTERS: APR__WS_OPT_RUN(APR__AT_DSL);
    case APR__ST_DSLLM_PUNCT: APR__WS_OPT_RUN(APR__AT_DSP);
    case APR__ST_CJK: {
        size_t i = p;
        while (i < e && apr__is_cjk(s->cp[i], s->fl[i])) i++;
        return i;
    }
    case APR__ST_DIGIT: return (s->fl[p] & APR__UF_N) ? p + 1 : p;
    case APR__ST_DIGITS: {
        size_t i = p;
        while (i < e && (s->fl[i] & APR__UF_N)) i++;
        return i;
    }
    case APR__ST_PUNCT_RUN: {
        size_t i = p;
        while (i < e && apr__is_punct_run(s->cp[i], s->fl[i])) i++;
        return i;
    }
    case APR__ST_PUNCT_RUN_BT: {
        size_t i = p;
        while (i < e && (apr__is_punct_run(s->cp[i], s->fl[i]) || s->cp[i] == '`')) i++;
        return i;
    }
    case APR__ST_DIGIT3: {
        for (size_t i = p; i < p + 3; i++)
            if (i >= e || s->cp[i] < '0' || s->cp[i] > '9') return p;
        return p + 3;
    }
    default: return p;
    }
#undef APR__AT_L
#undef APR__AT_P
#undef APR__AT_DSL
#undef APR__AT_DSP
}

/* Split every piece by one stage: matches and the text between them become pieces, as
   llama.cpp's std::regex iteration does. */
static size_t apr__pre_stage(apr__tok_scratch *s, int stage, size_t n_pieces) {
    size_t m = 0;
    for (size_t k = 0; k < n_pieces; k++) {
        size_t b = s->pa[2 * k], e = s->pa[2 * k + 1];
        if (stage == APR__ST_WS_END) { /* \s+$: the trailing whitespace of the piece */
            size_t t = e;
            while (t > b && (s->fl[t - 1] & APR__UF_W)) t--;
            if (b < t) { s->pb[2 * m] = (uint32_t)b; s->pb[2 * m + 1] = (uint32_t)t; m++; }
            if (t < e) { s->pb[2 * m] = (uint32_t)t; s->pb[2 * m + 1] = (uint32_t)e; m++; }
            continue;
        }
        size_t p = b, gap = b;
        while (p < e) {
            size_t q = apr__pre_match(stage, s, p, e);
            if (q > p) {
                if (gap < p) { s->pb[2 * m] = (uint32_t)gap; s->pb[2 * m + 1] = (uint32_t)p; m++; }
                s->pb[2 * m] = (uint32_t)p;
                s->pb[2 * m + 1] = (uint32_t)q;
                m++;
                p = gap = q;
            } else {
                p++;
            }
        }
        if (gap < e) { s->pb[2 * m] = (uint32_t)gap; s->pb[2 * m + 1] = (uint32_t)e; m++; }
    }
    uint32_t *t = s->pa;
    s->pa = s->pb;
    s->pb = t;
    return m;
}

/* ---- BPE ---------------------------------------------------------------------------------- */

static void apr__bpe_try_bigram(const apr_vocab *v, apr__tok_scratch *s, int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    int32_t result;
    int32_t rank = apr__merge_find(v, s->sym[l].id, s->sym[r].id, &result);
    if (rank < 0) return;
    apr__bigram bg;
    bg.key = ((uint64_t)(uint32_t)rank << 32) | (uint32_t)l;
    bg.size = s->sym[l].n + s->sym[r].n;
    bg.id = result;
    apr__heap_push(s, &bg);
}

static void apr__bpe_word(const apr_vocab *v, apr__tok_scratch *s, const unsigned char *w, size_t n) {
    if (n == 0) return;
    if (v->ignore_merges) {
        if (!apr__tok_grow(s, (void **)&s->buf, &s->cap_buf, n * 2, 1)) return;
        size_t m = 0;
        for (size_t i = 0; i < n; i++) m += (size_t)apr__utf8_encode(apr__gpt2_byte_cp(w[i]), s->buf + m);
        int32_t id = apr__vocab_lookup(v, s->buf, m);
        if (id >= 0) { apr__tok_emit(s, id); return; }
    }
    if (n == 1) {
        if (v->byte_token[w[0]] >= 0) apr__tok_emit(s, v->byte_token[w[0]]);
        return;
    }
    if (!apr__tok_grow(s, (void **)&s->sym, &s->cap_sym, n, sizeof(apr__sym))) return;
    for (size_t i = 0; i < n; i++) {
        apr__sym *y = &s->sym[i];
        y->start = (uint32_t)i;
        y->n = 1;
        y->prev = (int32_t)i - 1;
        y->next = i + 1 < n ? (int32_t)i + 1 : -1;
        y->id = v->byte_token[w[i]];
    }
    s->n_heap = 0;
    for (size_t i = 1; i < n; i++) apr__bpe_try_bigram(v, s, (int32_t)i - 1, (int32_t)i);
    while (s->n_heap > 0 && !s->oom) {
        apr__bigram bg = apr__heap_pop(s);
        int32_t left = (int32_t)(uint32_t)bg.key;
        apr__sym *a = &s->sym[left];
        if (a->n == 0 || a->next < 0) continue;
        apr__sym *b = &s->sym[a->next];
        if (a->n + b->n != bg.size) continue;
        a->n += b->n;
        a->id = bg.id;
        b->n = 0;
        a->next = b->next;
        if (b->next >= 0) s->sym[b->next].prev = left;
        apr__bpe_try_bigram(v, s, a->prev, left);
        apr__bpe_try_bigram(v, s, left, a->next);
    }
    for (int32_t i = 0; i != -1; i = s->sym[i].next) {
        const apr__sym *y = &s->sym[i];
        if (y->id >= 0) { apr__tok_emit(s, y->id); continue; }
        for (uint32_t j = 0; j < y->n; j++) { /* merged text that is not a token: its bytes */
            int32_t bt = v->byte_token[w[y->start + j]];
            if (bt >= 0) apr__tok_emit(s, bt);
        }
    }
}

static void apr__bpe_fragment(const apr_vocab *v, apr__tok_scratch *s, const char *text, size_t len) {
    if (len == 0) return;
    size_t cap = s->cap_units;
    if (!apr__tok_grow(s, (void **)&s->cp, &cap, len + 1, sizeof(uint32_t))) return;
    cap = s->cap_units;
    if (!apr__tok_grow(s, (void **)&s->off, &cap, len + 1, sizeof(uint32_t))) return;
    cap = s->cap_units;
    if (!apr__tok_grow(s, (void **)&s->fl, &cap, len + 1, 1)) return;
    s->cap_units = cap;
    size_t nu = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int k = apr__utf8_decode((const unsigned char *)text + i, len - i, &cp);
        s->cp[nu] = cp;
        s->off[nu] = (uint32_t)i;
        s->fl[nu] = apr__uflags(cp);
        nu++;
        i += (size_t)k;
    }
    s->off[nu] = (uint32_t)len;
    cap = s->cap_pieces;
    if (!apr__tok_grow(s, (void **)&s->pa, &cap, 2 * (nu + 1), sizeof(uint32_t))) return;
    cap = s->cap_pieces;
    if (!apr__tok_grow(s, (void **)&s->pb, &cap, 2 * (nu + 1), sizeof(uint32_t))) return;
    s->cap_pieces = cap;
    size_t np = 1;
    s->pa[0] = 0;
    s->pa[1] = (uint32_t)nu;
    for (int k = 0; k < 8 && v->stages[k] != APR__ST_END; k++) np = apr__pre_stage(s, v->stages[k], np);
    for (size_t k = 0; k < np && !s->oom; k++) {
        size_t b = s->off[s->pa[2 * k]], e = s->off[s->pa[2 * k + 1]];
        apr__bpe_word(v, s, (const unsigned char *)text + b, e - b);
    }
}

/* ---- special tokens, then the whole input ------------------------------------------------------ */

static int apr__u64_cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

/* Calls back for each fragment: plain text (token -1) or a special token. Candidates are
   every occurrence of every allowed special token; taken in the order (token rank,
   position), one is accepted where none of its bytes is already claimed, which is what
   llama.cpp's repeated splitting of the fragment list gives. */
static void apr__tok_fragments(const apr_vocab *v, apr__tok_scratch *s, const char *text, size_t len, bool parse_special,
                               void (*fn)(const apr_vocab *, apr__tok_scratch *, const char *, size_t, int32_t, void *),
                               void *user) {
    uint64_t *cand = NULL;
    size_t n_cand = 0, cap_cand = 0;
    if (v->n_special > 0) {
        for (size_t p = 0; p < len && !s->oom; p++) {
            int32_t node = v->trie_root[(unsigned char)text[p]];
            size_t q = p + 1;
            while (node >= 0) {
                int32_t r = v->trie[node].rank;
                if (r >= 0 && (parse_special || v->type[v->special[r]] == APR__TT_USER_DEFINED)) {
                    if (!apr__tok_grow(s, (void **)&cand, &cap_cand, n_cand + 1, sizeof(uint64_t))) break;
                    cand[n_cand++] = ((uint64_t)(uint32_t)r << 32) | (uint64_t)p;
                }
                if (q >= len) break;
                int32_t c = v->trie[node].child;
                while (c >= 0 && v->trie[c].byte != (unsigned char)text[q]) c = v->trie[c].sibling;
                node = c;
                q++;
            }
        }
    }
    if (n_cand == 0 || s->oom) {
        APR_FREE(cand);
        if (!s->oom) fn(v, s, text, len, -1, user);
        return;
    }
    uint8_t *claimed = (uint8_t *)apr__calloc(len, 1);
    if (!claimed) { s->oom = true; APR_FREE(cand); return; }
    qsort(cand, n_cand, sizeof(uint64_t), apr__u64_cmp);
    size_t n_acc = 0;
    for (size_t i = 0; i < n_cand; i++) {
        int32_t r = (int32_t)(cand[i] >> 32);
        size_t p = (size_t)(cand[i] & 0xFFFFFFFFu), tl;
        apr__tok_text(v, v->special[r], &tl);
        bool free_ = true;
        for (size_t j = 0; j < tl && free_; j++) free_ = !claimed[p + j];
        if (!free_) continue;
        memset(claimed + p, 1, tl);
        cand[n_acc++] = ((uint64_t)p << 32) | (uint32_t)r; /* accepted, now keyed by position */
    }
    qsort(cand, n_acc, sizeof(uint64_t), apr__u64_cmp);
    size_t cur = 0;
    for (size_t i = 0; i < n_acc && !s->oom; i++) {
        size_t p = (size_t)(cand[i] >> 32), tl;
        int32_t id = v->special[(int32_t)(cand[i] & 0xFFFFFFFFu)];
        apr__tok_text(v, id, &tl);
        if (p > cur) fn(v, s, text + cur, p - cur, -1, user);
        fn(v, s, text + p, tl, id, user);
        cur = p + tl;
    }
    if (cur < len && !s->oom) fn(v, s, text + cur, len - cur, -1, user);
    APR_FREE(claimed);
    APR_FREE(cand);
}

static void apr__tok_fragment_cb(const apr_vocab *v, apr__tok_scratch *s, const char *text, size_t len, int32_t token,
                                 void *user) {
    bool *prev_special = (bool *)user;
    if (token >= 0) {
        apr__tok_emit(s, token);
        *prev_special = true;
    } else if (v->kind == APR_VOCAB_SPM) {
        apr__spm_fragment(v, s, text, len, v->add_space_prefix && *prev_special);
        *prev_special = false;
    } else {
        apr__bpe_fragment(v, s, text, len);
        *prev_special = false;
    }
}

APR__IMPL int64_t apr_tokenize(const apr_vocab *v, const char *text, size_t len, int32_t *out, int64_t max_tokens,
                               int flags) {
    if (!v || (!text && len) || max_tokens < 0 || (max_tokens > 0 && !out)) return APR_ERROR_INVALID_ARGUMENT;
    if (len > ((size_t)1 << 29)) return APR_ERROR_INVALID_ARGUMENT; /* 512 MiB: offsets stay 32-bit */
    apr__tok_scratch s;
    memset(&s, 0, sizeof s);
    s.out = out;
    s.max = max_tokens;
    bool add_special = (flags & APR_TOKENIZE_ADD_BOS) != 0;
    if (add_special && v->add_bos && v->bos >= 0) apr__tok_emit(&s, v->bos);
    bool prev_special = true; /* SPM: text at the start gets the leading '▁' */
    if (len > 0)
        apr__tok_fragments(v, &s, text, len, (flags & APR_TOKENIZE_PARSE_SPECIAL) != 0, apr__tok_fragment_cb,
                           &prev_special);
    if (add_special && v->add_eos && v->eos >= 0) apr__tok_emit(&s, v->eos);
    apr__tok_scratch_free(&s);
    if (s.oom) return APR_ERROR_OUT_OF_MEMORY;
    return s.n;
}

/* ---- decoding ----------------------------------------------------------------------------------- */

/* The bytes of a token (at most cap written), returns the full length, which is never
   more than the token text's length + 1. */
static size_t apr__piece(const apr_vocab *v, int32_t token, bool special, char *dst, size_t cap) {
    if (!v || token < 0 || token >= v->n_tokens) return 0;
    int t = v->type[token];
    size_t len, n = 0;
    const char *s = apr__tok_text(v, token, &len);
    if (t == APR__TT_CONTROL || t == APR__TT_UNKNOWN) {
        if (!special) return 0;
        if (cap) memcpy(dst, s, APR__MIN(len, cap));
        return len;
    }
    if (t == APR__TT_USER_DEFINED) {
        if (cap) memcpy(dst, s, APR__MIN(len, cap));
        return len;
    }
    if (t == APR__TT_UNDEFINED || t == APR__TT_UNUSED) return 0;
    if (v->kind == APR_VOCAB_SPM) {
        if (t == APR__TT_BYTE && v->byte_val[token] >= 0) {
            if (cap) dst[0] = (char)v->byte_val[token];
            return 1;
        }
        for (size_t i = 0; i < len;) {
            char c = s[i];
            if (i + 3 <= len && memcmp(s + i, "\xe2\x96\x81", 3) == 0) { c = ' '; i += 3; }
            else i++;
            if (n < cap) dst[n] = c;
            n++;
        }
        return n;
    }
    for (size_t i = 0; i < len;) { /* BPE: byte characters back to bytes */
        uint32_t cp;
        int k = apr__utf8_decode((const unsigned char *)s + i, len - i, &cp);
        if (k > 1 || cp < 0x80) {
            if (cp < 324 && v->cp_byte[cp] >= 0) {
                if (n < cap) dst[n] = (char)v->cp_byte[cp];
                n++;
                i += (size_t)k;
                continue;
            }
        }
        for (int j = 0; j < k; j++, n++)
            if (n < cap) dst[n] = s[i + (size_t)j];
        i += (size_t)k;
    }
    return n;
}

APR__IMPL int32_t apr_token_to_piece(const apr_vocab *v, int32_t token, char *buf, int32_t size, bool render_special) {
    if (size < 0 || (!buf && size > 0)) return 0;
    size_t n = apr__piece(v, token, render_special, buf, (size_t)size);
    return (int32_t)APR__MIN(n, (size_t)INT32_MAX);
}

APR__IMPL int64_t apr_detokenize(const apr_vocab *v, const int32_t *tokens, int64_t n, char *buf, int64_t size,
                                 bool render_special) {
    if (!v || (!tokens && n > 0) || (!buf && size > 0) || size < 0) return 0;
    bool strip = v->add_space_prefix; /* the first text loses the space SPM put in front */
    int64_t total = 0;
    char local[256];
    char *tmp = local;
    size_t cap = sizeof local;
    for (int64_t i = 0; i < n; i++) {
        size_t need = apr__piece(v, tokens[i], render_special, NULL, 0);
        if (need == 0) continue;
        if (need > cap) {
            if (tmp != local) APR_FREE(tmp);
            tmp = (char *)APR_MALLOC(need);
            cap = need;
            if (!tmp) return APR_ERROR_OUT_OF_MEMORY;
        }
        apr__piece(v, tokens[i], render_special, tmp, cap);
        const char *p = tmp;
        if (strip) {
            if (p[0] == ' ') { p++; need--; }
            strip = false;
        }
        for (size_t j = 0; j < need; j++, total++)
            if (total < size) buf[total] = p[j];
    }
    if (tmp != local) APR_FREE(tmp);
    if (total < size) buf[total] = 0;
    return total;
}

APR__IMPL void apr_detok_stream_init(apr_detok_stream *s, const apr_vocab *v, bool render_special) {
    if (!s) return;
    memset(s, 0, sizeof *s);
    s->vocab = v;
    s->render_special = render_special;
    s->at_start = v && v->add_space_prefix;
    s->n_pending = 0;
}

/* Copy the n bytes of src into buf (size bytes), cut at a character boundary if they do
   not fit. */
static int32_t apr__stream_out(const unsigned char *src, size_t n, char *buf, int32_t size) {
    size_t cap = size > 0 ? (size_t)size : 0;
    if (n > cap) {
        n = cap;
        while (n > 0 && (src[n] & 0xC0) == 0x80) n--; /* src[n] exists: n < the original n */
    }
    if (n) memcpy(buf, src, n);
    return (int32_t)n;
}

APR__IMPL int32_t apr_detok_stream_push(apr_detok_stream *s, int32_t token, char *buf, int32_t size) {
    if (!s || !s->vocab || (!buf && size > 0)) return 0;
    const apr_vocab *v = s->vocab;
    size_t need = apr__piece(v, token, s->render_special, NULL, 0);
    if (need == 0) return 0;
    unsigned char local[512];
    unsigned char *data = local;
    size_t total = (size_t)s->n_pending + need;
    if (total > sizeof local) {
        data = (unsigned char *)APR_MALLOC(total);
        if (!data) return 0;
    }
    memcpy(data, s->pending, (size_t)s->n_pending);
    unsigned char *piece = data + s->n_pending;
    apr__piece(v, token, s->render_special, (char *)piece, need);
    if (s->at_start) {
        if (piece[0] == ' ') {
            memmove(piece, piece + 1, need - 1);
            total--;
        }
        s->at_start = false;
    }
    int hold = apr__utf8_incomplete_tail(data, total);
    int32_t n = apr__stream_out(data, total - (size_t)hold, buf, size);
    memcpy(s->pending, data + total - (size_t)hold, (size_t)hold);
    s->n_pending = hold;
    if (data != local) APR_FREE(data);
    return n;
}

APR__IMPL int32_t apr_detok_stream_flush(apr_detok_stream *s, char *buf, int32_t size) {
    if (!s || s->n_pending == 0) return 0;
    s->n_pending = 0;
    return apr__stream_out((const unsigned char *)"\xef\xbf\xbd", 3, buf, size);
}
