/* ====================================================================================
   Chat templates
   A model's tokenizer.chat_template is a Jinja program; apr never runs it. Instead the
   family is recognised by substrings only that family's templates contain (the same
   fingerprints llama.cpp uses), and each family is rendered by a few lines of C that
   produce the bytes the Jinja template would for plain system/user/assistant turns.
   ==================================================================================== */

typedef enum apr__chat_family {
    APR__CHAT_CHATML = 0,
    APR__CHAT_QWEN2,
    APR__CHAT_LLAMA3,
    APR__CHAT_LLAMA2,
    APR__CHAT_LLAMA2_SYS,
    APR__CHAT_LLAMA2_SYS_BOS,
    APR__CHAT_LLAMA2_SYS_STRIP,
    APR__CHAT_MISTRAL_V1,
    APR__CHAT_MISTRAL_V3,
    APR__CHAT_MISTRAL_V3_TEKKEN,
    APR__CHAT_MISTRAL_V7,
    APR__CHAT_MISTRAL_V7_TEKKEN,
    APR__CHAT_ZEPHYR,
    APR__CHAT_TINYLLAMA,
    APR__CHAT_GEMMA,
    APR__CHAT_PHI3,
    APR__CHAT_PHI4,
    APR__CHAT_FALCON3,
    APR__CHAT_DEEPSEEK,
    APR__CHAT_DEEPSEEK2,
    APR__CHAT_DEEPSEEK3,
    APR__CHAT_VICUNA,
    APR__CHAT_VICUNA_ORCA,
    APR__CHAT_OPENCHAT,
    APR__CHAT_COMMAND_R,
    APR__CHAT_MONARCH,
    APR__CHAT_COUNT
} apr__chat_family;

/* Canonical names in family order, then aliases (accepted by apr_chat_render). */
static const char *const apr__chat_names[] = {
    "chatml", "qwen2", "llama3", "llama2", "llama2-sys", "llama2-sys-bos",
    "llama2-sys-strip", "mistral-v1", "mistral-v3", "mistral-v3-tekken", "mistral-v7",
    "mistral-v7-tekken", "zephyr", "tinyllama", "gemma", "phi3", "phi4", "falcon3", "deepseek",
    "deepseek2", "deepseek3", "vicuna", "vicuna-orca", "openchat", "command-r", "monarch",
    /* aliases */
    "mistral", "deepseek-coder", "qwen", NULL
};
static const int apr__chat_alias_family[] = {
    APR__CHAT_MISTRAL_V3, APR__CHAT_DEEPSEEK, APR__CHAT_QWEN2
};

static int apr__chat_family_of_name(const char *name) {
    if (!name) return -1;
    for (int i = 0; apr__chat_names[i]; i++) {
        if (strcmp(apr__chat_names[i], name) == 0)
            return i < APR__CHAT_COUNT ? i : apr__chat_alias_family[i - APR__CHAT_COUNT];
    }
    return -1;
}

APR__IMPL const char *const *apr_chat_template_names(void) { return apr__chat_names; }

/* The default system prompt of Qwen2.5 (and Qwen2.5-Coder) Instruct templates, used when
   the conversation has none. */
#define APR__QWEN25_SYSTEM "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."

static int apr__chat_detect_family(const char *t) {
#define APR__HAS(s) (strstr(t, (s)) != NULL)
    if (APR__HAS("<|im_start|>")) {
        if (APR__HAS("<|im_sep|>")) return APR__CHAT_PHI4;
        if (APR__HAS("<end_of_utterance>")) return -1; /* SmolVLM: not ChatML */
        return APR__HAS("You are Qwen, created by Alibaba Cloud") ? APR__CHAT_QWEN2
                                                                  : APR__CHAT_CHATML;
    }
    if (strncmp(t, "mistral", 7) == 0 || APR__HAS("[INST]")) {
        if (APR__HAS("[SYSTEM_PROMPT]")) return APR__CHAT_MISTRAL_V7;
        if (APR__HAS("' [INST] ' + system_message") || APR__HAS("[AVAILABLE_TOOLS]")) {
            if (APR__HAS(" [INST]")) return APR__CHAT_MISTRAL_V1;
            if (APR__HAS("\"[INST]\"")) return APR__CHAT_MISTRAL_V3_TEKKEN;
            return APR__CHAT_MISTRAL_V3;
        }
        if (APR__HAS("content.strip()")) return APR__CHAT_LLAMA2_SYS_STRIP;
        if (APR__HAS("bos_token + '[INST]")) return APR__CHAT_LLAMA2_SYS_BOS;
        if (APR__HAS("<<SYS>>")) return APR__CHAT_LLAMA2_SYS;
        return APR__CHAT_LLAMA2;
    }
    if (APR__HAS("<|assistant|>") && APR__HAS("<|end|>")) return APR__CHAT_PHI3;
    if (APR__HAS("<|user|>") && APR__HAS("<|endoftext|>")) return APR__CHAT_ZEPHYR;
    /* TinyLlama-1.1B-Chat and zephyr-7b: the zephyr layout closed by eos_token (</s>) */
    if (APR__HAS("<|user|>") && APR__HAS("<|assistant|>") && APR__HAS("eos_token"))
        return APR__CHAT_TINYLLAMA;
    if (APR__HAS("<|user|>") && APR__HAS("<|assistant|>") && APR__HAS("</s>"))
        return APR__CHAT_FALCON3;
    if (APR__HAS("bos_token + message['role']")) return APR__CHAT_MONARCH;
    if (APR__HAS("<start_of_turn>")) return APR__CHAT_GEMMA;
    if (APR__HAS("GPT4 Correct ")) return APR__CHAT_OPENCHAT;
    if (APR__HAS("USER: ") && APR__HAS("ASSISTANT: "))
        return APR__HAS("SYSTEM: ") ? APR__CHAT_VICUNA_ORCA : APR__CHAT_VICUNA;
    if (APR__HAS("### Instruction:") && APR__HAS("<|EOT|>")) return APR__CHAT_DEEPSEEK;
    if (APR__HAS("<|START_OF_TURN_TOKEN|>") && APR__HAS("<|USER_TOKEN|>"))
        return APR__CHAT_COMMAND_R;
    if (APR__HAS("<|start_header_id|>") && APR__HAS("<|end_header_id|>"))
        return APR__CHAT_LLAMA3;
    if (APR__HAS("'Assistant: ' + message['content'] + eos_token")) return APR__CHAT_DEEPSEEK2;
    /* U+FF5C FULLWIDTH VERTICAL LINE and U+2581 in DeepSeek-V3 / R1 special tokens */
    if (APR__HAS("<\xEF\xBD\x9C" "Assistant\xEF\xBD\x9C>") &&
        APR__HAS("<\xEF\xBD\x9C" "User\xEF\xBD\x9C>"))
        return APR__CHAT_DEEPSEEK3;
    return -1;
#undef APR__HAS
}

APR__IMPL const char *apr_chat_template_detect(const char *jinja_template) {
    if (!jinja_template) return NULL;
    int f = apr__chat_family_of_name(jinja_template);  /* a bare name is accepted too */
    if (f < 0) f = apr__chat_detect_family(jinja_template);
    return f < 0 ? NULL : apr__chat_names[f];
}

/* ---- rendering: an appender that counts what it could not store ---------------------- */

typedef struct apr__sbuf {
    char *buf;
    int64_t size;  /* capacity of buf */
    int64_t len;   /* bytes produced so far (may exceed size) */
} apr__sbuf;

static void apr__sb_putn(apr__sbuf *sb, const char *s, size_t n) {
    if (sb->len < sb->size) {
        int64_t room = sb->size - sb->len;
        memcpy(sb->buf + sb->len, s, (size_t)APR__MIN((int64_t)n, room));
    }
    sb->len += (int64_t)n;
}
static void apr__sb_puts(apr__sbuf *sb, const char *s) { apr__sb_putn(sb, s, strlen(s)); }

static bool apr__chat_isspace(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}
/* Python's str.strip() on ASCII whitespace, as the Jinja templates use it. */
static void apr__sb_put_trimmed(apr__sbuf *sb, const char *s) {
    size_t b = 0, e = strlen(s);
    while (b < e && apr__chat_isspace(s[b])) b++;
    while (e > b && apr__chat_isspace(s[e - 1])) e--;
    apr__sb_putn(sb, s + b, e - b);
}

APR__IMPL int64_t apr_chat_render(const char *name, const apr_chat_message *messages,
                                  int64_t n_messages, bool add_assistant, char *buf,
                                  int64_t size) {
    int f = apr__chat_family_of_name(name);
    if (f < 0) return APR_ERROR_NOT_FOUND;
    if (n_messages < 0 || (n_messages > 0 && !messages) || size < 0 || (size > 0 && !buf))
        return APR_ERROR_INVALID_ARGUMENT;
    apr__sbuf sbv;
    apr__sbuf *sb = &sbv;
    sb->buf = buf;
    sb->size = size;
    sb->len = 0;
#define APR__ROLE(i) (messages[i].role ? messages[i].role : "")
#define APR__TEXT(i) (messages[i].content ? messages[i].content : "")
#define APR__IS(i, r) (strcmp(APR__ROLE(i), (r)) == 0)
    switch (f) {
    case APR__CHAT_CHATML:
    case APR__CHAT_QWEN2:
        if (f == APR__CHAT_QWEN2 && (n_messages == 0 || !APR__IS(0, "system")))
            apr__sb_puts(sb, "<|im_start|>system\n" APR__QWEN25_SYSTEM "<|im_end|>\n");
        for (int64_t i = 0; i < n_messages; i++) {
            apr__sb_puts(sb, "<|im_start|>");
            apr__sb_puts(sb, APR__ROLE(i));
            apr__sb_puts(sb, "\n");
            apr__sb_puts(sb, APR__TEXT(i));
            apr__sb_puts(sb, "<|im_end|>\n");
        }
        if (add_assistant) apr__sb_puts(sb, "<|im_start|>assistant\n");
        break;
    case APR__CHAT_LLAMA3:
        for (int64_t i = 0; i < n_messages; i++) {
            apr__sb_puts(sb, "<|start_header_id|>");
            apr__sb_puts(sb, APR__ROLE(i));
            apr__sb_puts(sb, "<|end_header_id|>\n\n");
            apr__sb_put_trimmed(sb, APR__TEXT(i));
            apr__sb_puts(sb, "<|eot_id|>");
        }
        if (add_assistant) apr__sb_puts(sb, "<|start_header_id|>assistant<|end_header_id|>\n\n");
        break;
    case APR__CHAT_LLAMA2:
    case APR__CHAT_LLAMA2_SYS:
    case APR__CHAT_LLAMA2_SYS_BOS:
    case APR__CHAT_LLAMA2_SYS_STRIP: {
        /* The first [INST] follows the BOS the tokenizer adds; later turns may carry their
           own <s> (the -bos variant). The assistant turn needs no opener. */
        bool inside = true;
        apr__sb_puts(sb, "[INST] ");
        for (int64_t i = 0; i < n_messages; i++) {
            if (!inside) {
                inside = true;
                apr__sb_puts(sb, f == APR__CHAT_LLAMA2_SYS_BOS ? "<s>[INST] " : "[INST] ");
            }
            if (APR__IS(i, "system")) {
                if (f != APR__CHAT_LLAMA2) apr__sb_puts(sb, "<<SYS>>\n");
                if (f == APR__CHAT_LLAMA2_SYS_STRIP) apr__sb_put_trimmed(sb, APR__TEXT(i));
                else apr__sb_puts(sb, APR__TEXT(i));
                apr__sb_puts(sb, f != APR__CHAT_LLAMA2 ? "\n<</SYS>>\n\n" : "\n");
            } else if (APR__IS(i, "user")) {
                if (f == APR__CHAT_LLAMA2_SYS_STRIP) apr__sb_put_trimmed(sb, APR__TEXT(i));
                else apr__sb_puts(sb, APR__TEXT(i));
                apr__sb_puts(sb, " [/INST]");
            } else {
                if (f == APR__CHAT_LLAMA2_SYS_STRIP) apr__sb_put_trimmed(sb, APR__TEXT(i));
                else apr__sb_puts(sb, APR__TEXT(i));
                apr__sb_puts(sb, "</s>");
                inside = false;
            }
        }
        break;
    }
    case APR__CHAT_MISTRAL_V1:
    case APR__CHAT_MISTRAL_V3:
    case APR__CHAT_MISTRAL_V3_TEKKEN: {
        const char *lead = f == APR__CHAT_MISTRAL_V1 ? " " : "";
        const char *trail = f == APR__CHAT_MISTRAL_V3_TEKKEN ? "" : " ";
        bool inside = false;
        for (int64_t i = 0; i < n_messages; i++) {
            if (!inside) {
                apr__sb_puts(sb, lead);
                apr__sb_puts(sb, "[INST]");
                apr__sb_puts(sb, trail);
                inside = true;
            }
            if (APR__IS(i, "system")) {
                apr__sb_puts(sb, APR__TEXT(i));
                apr__sb_puts(sb, "\n\n");
            } else if (APR__IS(i, "user")) {
                apr__sb_puts(sb, APR__TEXT(i));
                apr__sb_puts(sb, lead);
                apr__sb_puts(sb, "[/INST]");
            } else {
                apr__sb_puts(sb, trail);
                if (f == APR__CHAT_MISTRAL_V3) apr__sb_put_trimmed(sb, APR__TEXT(i));
                else apr__sb_puts(sb, APR__TEXT(i));
                apr__sb_puts(sb, "</s>");
                inside = false;
            }
        }
        break;
    }
    case APR__CHAT_MISTRAL_V7:
    case APR__CHAT_MISTRAL_V7_TEKKEN: {
        const char *sp = f == APR__CHAT_MISTRAL_V7 ? " " : "";
        for (int64_t i = 0; i < n_messages; i++) {
            if (APR__IS(i, "system")) {
                apr__sb_puts(sb, "[SYSTEM_PROMPT]");
                apr__sb_puts(sb, sp);
                apr__sb_puts(sb, APR__TEXT(i));
                apr__sb_puts(sb, "[/SYSTEM_PROMPT]");
            } else if (APR__IS(i, "user")) {
                apr__sb_puts(sb, "[INST]");
                apr__sb_puts(sb, sp);
                apr__sb_puts(sb, APR__TEXT(i));
                apr__sb_puts(sb, "[/INST]");
            } else {
                apr__sb_puts(sb, sp);
                apr__sb_puts(sb, APR__TEXT(i));
                apr__sb_puts(sb, "</s>");
            }
        }
        break;
    }
    case APR__CHAT_ZEPHYR:
    case APR__CHAT_TINYLLAMA:
        for (int64_t i = 0; i < n_messages; i++) {
            apr__sb_puts(sb, "<|");
            apr__sb_puts(sb, APR__ROLE(i));
            apr__sb_puts(sb, "|>\n");
            apr__sb_puts(sb, APR__TEXT(i));
            apr__sb_puts(sb, f == APR__CHAT_ZEPHYR ? "<|endoftext|>\n" : "</s>\n");
        }
        if (add_assistant) apr__sb_puts(sb, "<|assistant|>\n");
        break;
    case APR__CHAT_GEMMA: {
        /* Gemma has no system role: the system text opens the next user turn. */
        int64_t pending_sys = -1;
        for (int64_t i = 0; i < n_messages; i++) {
            if (APR__IS(i, "system")) {
                pending_sys = i;
                continue;
            }
            bool model = APR__IS(i, "assistant");
            apr__sb_puts(sb, "<start_of_turn>");
            apr__sb_puts(sb, model ? "model" : APR__ROLE(i));
            apr__sb_puts(sb, "\n");
            if (pending_sys >= 0 && !model) {
                apr__sb_put_trimmed(sb, APR__TEXT(pending_sys));
                apr__sb_puts(sb, "\n\n");
                pending_sys = -1;
            }
            apr__sb_put_trimmed(sb, APR__TEXT(i));
            apr__sb_puts(sb, "<end_of_turn>\n");
        }
        if (add_assistant) apr__sb_puts(sb, "<start_of_turn>model\n");
        break;
    }
    case APR__CHAT_PHI3:
    case APR__CHAT_FALCON3:
        for (int64_t i = 0; i < n_messages; i++) {
            apr__sb_puts(sb, "<|");
            apr__sb_puts(sb, APR__ROLE(i));
            apr__sb_puts(sb, "|>\n");
            apr__sb_puts(sb, APR__TEXT(i));
            apr__sb_puts(sb, f == APR__CHAT_PHI3 ? "<|end|>\n" : "\n");
        }
        if (add_assistant) apr__sb_puts(sb, "<|assistant|>\n");
        break;
    case APR__CHAT_PHI4:
        for (int64_t i = 0; i < n_messages; i++) {
            apr__sb_puts(sb, "<|im_start|>");
            apr__sb_puts(sb, APR__ROLE(i));
            apr__sb_puts(sb, "<|im_sep|>");
            apr__sb_puts(sb, APR__TEXT(i));
            apr__sb_puts(sb, "<|im_end|>");
        }
        if (add_assistant) apr__sb_puts(sb, "<|im_start|>assistant<|im_sep|>");
        break;
    case APR__CHAT_DEEPSEEK:
        for (int64_t i = 0; i < n_messages; i++) {
            if (APR__IS(i, "system")) {
                apr__sb_puts(sb, APR__TEXT(i));
            } else if (APR__IS(i, "user")) {
                apr__sb_puts(sb, "### Instruction:\n");
                apr__sb_puts(sb, APR__TEXT(i));
                apr__sb_puts(sb, "\n");
            } else if (APR__IS(i, "assistant")) {
                apr__sb_puts(sb, "### Response:\n");
                apr__sb_puts(sb, APR__TEXT(i));
                apr__sb_puts(sb, "\n<|EOT|>\n");
            }
        }
        if (add_assistant) apr__sb_puts(sb, "### Response:\n");
        break;
    case APR__CHAT_DEEPSEEK2:
    case APR__CHAT_DEEPSEEK3: {
        static const char eos[] = "<\xEF\xBD\x9C" "end\xE2\x96\x81" "of\xE2\x96\x81"
                                  "sentence\xEF\xBD\x9C>";
        static const char user3[] = "<\xEF\xBD\x9C" "User\xEF\xBD\x9C>";
        static const char asst3[] = "<\xEF\xBD\x9C" "Assistant\xEF\xBD\x9C>";
        bool v3 = f == APR__CHAT_DEEPSEEK3;
        for (int64_t i = 0; i < n_messages; i++) {
            if (APR__IS(i, "system")) {
                apr__sb_puts(sb, APR__TEXT(i));
                apr__sb_puts(sb, "\n\n");
            } else if (APR__IS(i, "user")) {
                apr__sb_puts(sb, v3 ? user3 : "User: ");
                apr__sb_puts(sb, APR__TEXT(i));
                if (!v3) apr__sb_puts(sb, "\n\n");
            } else if (APR__IS(i, "assistant")) {
                apr__sb_puts(sb, v3 ? asst3 : "Assistant: ");
                apr__sb_puts(sb, APR__TEXT(i));
                apr__sb_puts(sb, eos);
            }
        }
        if (add_assistant) apr__sb_puts(sb, v3 ? asst3 : "Assistant:");
        break;
    }
    case APR__CHAT_VICUNA:
    case APR__CHAT_VICUNA_ORCA:
        for (int64_t i = 0; i < n_messages; i++) {
            if (APR__IS(i, "system")) {
                if (f == APR__CHAT_VICUNA_ORCA) apr__sb_puts(sb, "SYSTEM: ");
                apr__sb_puts(sb, APR__TEXT(i));
                apr__sb_puts(sb, f == APR__CHAT_VICUNA_ORCA ? "\n" : "\n\n");
            } else if (APR__IS(i, "user")) {
                apr__sb_puts(sb, "USER: ");
                apr__sb_puts(sb, APR__TEXT(i));
                apr__sb_puts(sb, "\n");
            } else if (APR__IS(i, "assistant")) {
                apr__sb_puts(sb, "ASSISTANT: ");
                apr__sb_puts(sb, APR__TEXT(i));
                apr__sb_puts(sb, "</s>\n");
            }
        }
        if (add_assistant) apr__sb_puts(sb, "ASSISTANT:");
        break;
    case APR__CHAT_OPENCHAT:
        for (int64_t i = 0; i < n_messages; i++) {
            if (APR__IS(i, "system")) {
                apr__sb_puts(sb, APR__TEXT(i));
            } else {
                const char *r = APR__ROLE(i);
                char first = r[0];
                if (first >= 'a' && first <= 'z') first = (char)(first - 'a' + 'A');
                apr__sb_puts(sb, "GPT4 Correct ");
                if (r[0]) {
                    apr__sb_putn(sb, &first, 1);
                    apr__sb_puts(sb, r + 1);
                }
                apr__sb_puts(sb, ": ");
                apr__sb_puts(sb, APR__TEXT(i));
            }
            apr__sb_puts(sb, "<|end_of_turn|>");
        }
        if (add_assistant) apr__sb_puts(sb, "GPT4 Correct Assistant:");
        break;
    case APR__CHAT_COMMAND_R:
        for (int64_t i = 0; i < n_messages; i++) {
            const char *tag = APR__IS(i, "system") ? "<|SYSTEM_TOKEN|>"
                            : APR__IS(i, "user") ? "<|USER_TOKEN|>"
                            : APR__IS(i, "assistant") ? "<|CHATBOT_TOKEN|>" : NULL;
            if (!tag) continue;
            apr__sb_puts(sb, "<|START_OF_TURN_TOKEN|>");
            apr__sb_puts(sb, tag);
            apr__sb_put_trimmed(sb, APR__TEXT(i));
            apr__sb_puts(sb, "<|END_OF_TURN_TOKEN|>");
        }
        if (add_assistant) apr__sb_puts(sb, "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>");
        break;
    case APR__CHAT_MONARCH:
        for (int64_t i = 0; i < n_messages; i++) {
            if (i > 0) apr__sb_puts(sb, "<s>");
            apr__sb_puts(sb, APR__ROLE(i));
            apr__sb_puts(sb, "\n");
            apr__sb_puts(sb, APR__TEXT(i));
            apr__sb_puts(sb, "</s>\n");
        }
        if (add_assistant) apr__sb_puts(sb, "<s>assistant\n");
        break;
    default:
        return APR_ERROR_NOT_FOUND;
    }
#undef APR__ROLE
#undef APR__TEXT
#undef APR__IS
    if (sb->len < size) buf[sb->len] = 0;
    return sb->len;
}
