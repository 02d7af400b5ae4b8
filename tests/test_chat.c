/* tests/test_chat.c - chat template detection and rendering (exact strings, as
   llama.cpp's llm_chat_apply_template renders them). */
#define APR_IMPLEMENTATION
#include "apr.h"
#include "test.h"

static apr_chat_message msg(const char *role, const char *content) {
    apr_chat_message m;
    m.role = role;
    m.content = content;
    return m;
}

/* Render into a fresh buffer (checks the size-query protocol on the way). */
static char *render(const char *name, const apr_chat_message *m, int n, bool add_ass) {
    int64_t need = apr_chat_render(name, m, n, add_ass, NULL, 0);
    if (need < 0) return NULL;
    char *buf = (char *)malloc((size_t)need + 1);
    int64_t got = apr_chat_render(name, m, n, add_ass, buf, need + 1);
    if (got != need) {
        free(buf);
        return NULL;
    }
    return buf;
}

static void expect(const char *name, const apr_chat_message *m, int n, bool add_ass,
                   const char *want) {
    char *got = render(name, m, n, add_ass);
    CHECK(got && strcmp(got, want) == 0, "%s: got [%s]\nwant [%s]", name, got ? got : "(null)",
          want);
    free(got);
}

int main(void) {
    /* the conversation llama.cpp's test-chat-template.cpp uses */
    apr_chat_message conv[6];
    conv[0] = msg("system", "You are a helpful assistant");
    conv[1] = msg("user", "Hello");
    conv[2] = msg("assistant", "Hi there");
    conv[3] = msg("user", "Who are you");
    conv[4] = msg("assistant", "   I am an assistant   ");
    conv[5] = msg("user", "Another question");

    TEST("render chatml");
    expect("chatml", conv, 6, true,
           "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n"
           "<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n"
           "<|im_start|>assistant\n   I am an assistant   <|im_end|>\n<|im_start|>user\nAnother question<|im_end|>\n"
           "<|im_start|>assistant\n");
    expect("chatml", conv + 1, 1, false, "<|im_start|>user\nHello<|im_end|>\n");

    TEST("render qwen2 default system prompt");
    expect("qwen2", conv + 1, 1, true,
           "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
           "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n");
    expect("qwen2", conv, 2, true,
           "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n"
           "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n");
    expect("qwen2", conv, 0, false,
           "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n");

    TEST("render llama3");
    expect("llama3", conv, 6, true,
           "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant<|eot_id|>"
           "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
           "<|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|>"
           "<|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|>"
           "<|start_header_id|>assistant<|end_header_id|>\n\nI am an assistant<|eot_id|>"
           "<|start_header_id|>user<|end_header_id|>\n\nAnother question<|eot_id|>"
           "<|start_header_id|>assistant<|end_header_id|>\n\n");

    TEST("render llama2 variants");
    expect("llama2", conv, 6, true,
           "[INST] You are a helpful assistant\nHello [/INST]Hi there</s>[INST] Who are you [/INST]   I am an assistant   </s>[INST] Another question [/INST]");
    expect("llama2-sys", conv, 6, true,
           "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST]Hi there</s>[INST] Who are you [/INST]   I am an assistant   </s>[INST] Another question [/INST]");
    expect("llama2-sys-bos", conv, 6, true,
           "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST]Hi there</s><s>[INST] Who are you [/INST]   I am an assistant   </s><s>[INST] Another question [/INST]");
    expect("llama2-sys-strip", conv, 6, true,
           "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST]Hi there</s>[INST] Who are you [/INST]I am an assistant</s>[INST] Another question [/INST]");

    TEST("render mistral variants");
    expect("mistral-v1", conv, 6, true,
           " [INST] You are a helpful assistant\n\nHello [/INST] Hi there</s> [INST] Who are you [/INST]    I am an assistant   </s> [INST] Another question [/INST]");
    expect("mistral-v3", conv, 6, true,
           "[INST] You are a helpful assistant\n\nHello[/INST] Hi there</s>[INST] Who are you[/INST] I am an assistant</s>[INST] Another question[/INST]");
    expect("mistral", conv, 6, true,
           "[INST] You are a helpful assistant\n\nHello[/INST] Hi there</s>[INST] Who are you[/INST] I am an assistant</s>[INST] Another question[/INST]");
    expect("mistral-v3-tekken", conv, 6, true,
           "[INST]You are a helpful assistant\n\nHello[/INST]Hi there</s>[INST]Who are you[/INST]   I am an assistant   </s>[INST]Another question[/INST]");
    expect("mistral-v7", conv, 6, true,
           "[SYSTEM_PROMPT] You are a helpful assistant[/SYSTEM_PROMPT][INST] Hello[/INST] Hi there</s>[INST] Who are you[/INST]    I am an assistant   </s>[INST] Another question[/INST]");
    expect("mistral-v7-tekken", conv, 6, true,
           "[SYSTEM_PROMPT]You are a helpful assistant[/SYSTEM_PROMPT][INST]Hello[/INST]Hi there</s>[INST]Who are you[/INST]   I am an assistant   </s>[INST]Another question[/INST]");

    TEST("render zephyr, tinyllama, gemma, phi3");
    expect("zephyr", conv, 6, true,
           "<|system|>\nYou are a helpful assistant<|endoftext|>\n<|user|>\nHello<|endoftext|>\n<|assistant|>\nHi there<|endoftext|>\n"
           "<|user|>\nWho are you<|endoftext|>\n<|assistant|>\n   I am an assistant   <|endoftext|>\n<|user|>\nAnother question<|endoftext|>\n<|assistant|>\n");
    expect("tinyllama", conv, 2, true,
           "<|system|>\nYou are a helpful assistant</s>\n<|user|>\nHello</s>\n<|assistant|>\n");
    expect("gemma", conv, 6, true,
           "<start_of_turn>user\nYou are a helpful assistant\n\nHello<end_of_turn>\n<start_of_turn>model\nHi there<end_of_turn>\n"
           "<start_of_turn>user\nWho are you<end_of_turn>\n<start_of_turn>model\nI am an assistant<end_of_turn>\n"
           "<start_of_turn>user\nAnother question<end_of_turn>\n<start_of_turn>model\n");
    expect("phi3", conv, 6, true,
           "<|system|>\nYou are a helpful assistant<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n<|user|>\nWho are you<|end|>\n"
           "<|assistant|>\n   I am an assistant   <|end|>\n<|user|>\nAnother question<|end|>\n<|assistant|>\n");

    TEST("render deepseek family, vicuna, openchat, command-r, phi4");
    expect("deepseek", conv, 6, true,
           "You are a helpful assistant### Instruction:\nHello\n### Response:\nHi there\n<|EOT|>\n### Instruction:\nWho are you\n### Response:\n"
           "   I am an assistant   \n<|EOT|>\n### Instruction:\nAnother question\n### Response:\n");
    expect("deepseek-coder", conv + 1, 1, true, "### Instruction:\nHello\n### Response:\n");
    expect("deepseek2", conv, 6, true,
           "You are a helpful assistant\n\nUser: Hello\n\nAssistant: Hi there<\xEF\xBD\x9C" "end\xE2\x96\x81" "of\xE2\x96\x81" "sentence\xEF\xBD\x9C>"
           "User: Who are you\n\nAssistant:    I am an assistant   <\xEF\xBD\x9C" "end\xE2\x96\x81" "of\xE2\x96\x81" "sentence\xEF\xBD\x9C>"
           "User: Another question\n\nAssistant:");
    expect("deepseek3", conv + 1, 2, true,
           "<\xEF\xBD\x9CUser\xEF\xBD\x9C>Hello<\xEF\xBD\x9C" "Assistant\xEF\xBD\x9C>Hi there<\xEF\xBD\x9C" "end\xE2\x96\x81" "of\xE2\x96\x81" "sentence\xEF\xBD\x9C>"
           "<\xEF\xBD\x9C" "Assistant\xEF\xBD\x9C>");
    expect("vicuna", conv, 3, true, "You are a helpful assistant\n\nUSER: Hello\nASSISTANT: Hi there</s>\nASSISTANT:");
    expect("vicuna-orca", conv, 3, true, "SYSTEM: You are a helpful assistant\nUSER: Hello\nASSISTANT: Hi there</s>\nASSISTANT:");
    expect("openchat", conv, 3, true,
           "You are a helpful assistant<|end_of_turn|>GPT4 Correct User: Hello<|end_of_turn|>GPT4 Correct Assistant: Hi there<|end_of_turn|>GPT4 Correct Assistant:");
    expect("command-r", conv, 5, true,
           "<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>You are a helpful assistant<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|USER_TOKEN|>Hello<|END_OF_TURN_TOKEN|>"
           "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>Hi there<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|USER_TOKEN|>Who are you<|END_OF_TURN_TOKEN|>"
           "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>I am an assistant<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>");
    expect("phi4", conv, 2, true,
           "<|im_start|>system<|im_sep|>You are a helpful assistant<|im_end|><|im_start|>user<|im_sep|>Hello<|im_end|><|im_start|>assistant<|im_sep|>");
    expect("monarch", conv, 2, true, "system\nYou are a helpful assistant</s>\n<s>user\nHello</s>\n<s>assistant\n");

    TEST("render: sizes, truncation, unknown names, bad arguments");
    {
        char small[16];
        memset(small, 'x', sizeof small);
        int64_t need = apr_chat_render("chatml", conv + 1, 1, false, small, 10);
        CHECK(need == (int64_t)strlen("<|im_start|>user\nHello<|im_end|>\n"), "need %lld", (long long)need);
        CHECK(memcmp(small, "<|im_start", 10) == 0 && small[10] == 'x', "writes at most size bytes");
        char exact[64];
        int64_t n = apr_chat_render("chatml", conv + 1, 1, false, exact, need);
        CHECK(n == need && memcmp(exact, "<|im_start|>user\nHello<|im_end|>\n", (size_t)need) == 0,
              "exact size, no terminator needed");
        CHECK(apr_chat_render("no-such-template", conv, 1, true, exact, 64) == APR_ERROR_NOT_FOUND, "unknown name");
        CHECK(apr_chat_render(NULL, conv, 1, true, exact, 64) == APR_ERROR_NOT_FOUND, "NULL name");
        CHECK(apr_chat_render("chatml", NULL, 1, true, exact, 64) == APR_ERROR_INVALID_ARGUMENT, "NULL messages");
        CHECK(apr_chat_render("chatml", conv, -1, true, exact, 64) == APR_ERROR_INVALID_ARGUMENT, "negative count");
        apr_chat_message nulls[1];
        nulls[0] = msg(NULL, NULL);
        char *r = render("chatml", nulls, 1, false);
        CHECK(r && strcmp(r, "<|im_start|>\n<|im_end|>\n") == 0, "NULL role/content render as empty");
        free(r);
        /* a template is data: Jinja syntax in content is copied, never interpreted */
        apr_chat_message inj[1];
        inj[0] = msg("user", "{{ raise_exception('x') }}{% for m in messages %}");
        r = render("chatml", inj, 1, false);
        CHECK(r && strstr(r, "{{ raise_exception('x') }}{% for m in messages %}") != NULL, "content copied verbatim");
        free(r);
    }

    TEST("names list");
    {
        const char *const *names = apr_chat_template_names();
        int count = 0;
        bool has_qwen2 = false, has_gemma = false;
        for (; names && names[count]; count++) {
            if (!strcmp(names[count], "qwen2")) has_qwen2 = true;
            if (!strcmp(names[count], "gemma")) has_gemma = true;
            CHECK(apr_chat_render(names[count], conv, 2, true, NULL, 0) > 0, "%s renders", names[count]);
        }
        CHECK(count >= 10 && has_qwen2 && has_gemma, "count %d", count);
    }

    TEST("detect from real template texts");
    {
        /* excerpts of the templates shipped in the models' tokenizer_config.json */
        static const char qwen25[] =
            "{%- if tools %}\n    {{- '<|im_start|>system\\n' }}\n    {%- if messages[0]['role'] == 'system' %}\n"
            "        {{- messages[0]['content'] }}\n    {%- else %}\n        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}\n"
            "    {%- endif %}\n{%- else %}\n    {%- if messages[0]['role'] == 'system' %}\n"
            "        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n";
        static const char qwen3[] =
            "{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>' + '\\n' }}"
            "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- if enable_thinking is defined and enable_thinking is false %}"
            "{{- '<think>\\n\\n</think>\\n\\n' }}";
        static const char llama3[] =
            "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
            "message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
            "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
            "{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";
        static const char llama2[] =
            "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}"
            "{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}"
            "{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
            "{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}"
            "{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}"
            "{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";
        static const char mistral_v02[] =
            "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
            "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
            "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}"
            "{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}";
        static const char mistral_v3[] =
            "{%- if messages[0][\"role\"] == \"system\" %}{%- set system_message = messages[0][\"content\"] %}{%- endif %}"
            "{%- for message in loop_messages %}{%- if message[\"role\"] == \"user\" %}{%- if tools is not none and (message == user_messages[-1]) %}"
            "{{- \"[AVAILABLE_TOOLS] [\" }}{%- endif %}{%- if loop.last and system_message is defined %}"
            "{{- \"[INST] \" + system_message + \"\\n\\n\" + message[\"content\"] + \"[/INST]\" }}";
        static const char tinyllama[] =
            "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n"
            "{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n"
            "{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n"
            "{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}";
        static const char gemma[] =
            "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
            "{% for message in messages %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}"
            "{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}";
        static const char phi3[] =
            "{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\n' + message['content'] + '<|end|>\n'}}"
            "{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'assistant' %}"
            "{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}";
        static const char deepseek_coder[] =
            "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{%- set ns = namespace(found=false) -%}"
            "{%- for message in messages -%}{%- if message['role'] == 'user' %}{{'### Instruction:\\n' + message['content'] + '\\n'}}"
            "{%- else %}{{'### Response:\\n' + message['content'] + '\\n<|EOT|>\\n'}}{%- endif %}{%- endfor %}"
            "{% if add_generation_prompt %}{{'### Response:'}}{% endif %}";
        static const char r1_distill[] =
            "{% for message in messages %}{%- if message['role'] == 'user' %}{{'<\xEF\xBD\x9CUser\xEF\xBD\x9C>' + message['content']}}"
            "{%- endif %}{%- if message['role'] == 'assistant' %}{{'<\xEF\xBD\x9C" "Assistant\xEF\xBD\x9C>' + content + "
            "'<\xEF\xBD\x9C" "end\xE2\x96\x81" "of\xE2\x96\x81" "sentence\xEF\xBD\x9C>'}}{%- endif %}{%- endfor %}";
        static const char zephyr_stablelm[] =
            "{% for message in messages %}{{'<|' + message['role'] + '|>' + '\\n' + message['content'] + '<|endoftext|>' + '\\n'}}{% endfor %}"
            "{% if add_generation_prompt %}{{ '<|user|>\\n' }}{% endif %}";
        struct { const char *tmpl, *want; } cases[] = {
            {qwen25, "qwen2"}, {qwen3, "chatml"}, {llama3, "llama3"}, {llama2, "llama2-sys-strip"},
            {mistral_v02, "llama2"}, {mistral_v3, "mistral-v3"}, {tinyllama, "tinyllama"}, {gemma, "gemma"},
            {phi3, "phi3"}, {deepseek_coder, "deepseek"}, {r1_distill, "deepseek3"},
            {zephyr_stablelm, "zephyr"}, {"chatml", "chatml"}, {"llama3", "llama3"},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            const char *got = apr_chat_template_detect(cases[i].tmpl);
            CHECK(got && strcmp(got, cases[i].want) == 0, "case %d: got %s want %s", (int)i,
                  got ? got : "(null)", cases[i].want);
        }
        CHECK(apr_chat_template_detect("{{ messages }}") == NULL, "unknown template -> NULL");
        CHECK(apr_chat_template_detect("") == NULL, "empty -> NULL");
        CHECK(apr_chat_template_detect(NULL) == NULL, "NULL -> NULL");
    }
    return test_finish();
}
