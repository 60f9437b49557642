/* Scoped-cleanup helpers for the libraries' own types, so no module writes its own
 * `static inline void xxx_deletep()` (curl's lib/ and systemd keep these in one place too).
 * Each helper is NULL-safe: a variable declared `_cleanup_(cJSON_Deletep) cJSON *j = NULL;`
 * may leave scope before it is ever set. Own types declare theirs with DEFINE_CLEANUP_FUNC in
 * their own header (common/util.h). */
#pragma once

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <expat.h>
#include <openssl/evp.h>
#include <yaml.h>

#include "common/util.h"

DEFINE_CLEANUP_FUNC(cJSON *, cJSON_Delete);
DEFINE_CLEANUP_FUNC(struct curl_slist *, curl_slist_free_all);
DEFINE_CLEANUP_FUNC(CURL *, curl_easy_cleanup);
DEFINE_CLEANUP_FUNC(XML_Parser, XML_ParserFree);
DEFINE_CLEANUP_FUNC(EVP_MAC_CTX *, EVP_MAC_CTX_free);
DEFINE_CLEANUP_FUNC(EVP_MAC *, EVP_MAC_free);
DEFINE_CLEANUP_FUNC(EVP_MD_CTX *, EVP_MD_CTX_free);

/* A yaml_parser_t lives on the stack and is only valid after yaml_parser_initialize()
 * succeeded, so its cleanup takes a pointer that stays NULL until then:
 *     yaml_parser_t parser;
 *     _cleanup_(yaml_parser_deletep) yaml_parser_t *pp = NULL;
 *     if (!yaml_parser_initialize(&parser)) return -ENOMEM;
 *     pp = &parser; */
DEFINE_CLEANUP_FUNC(yaml_parser_t *, yaml_parser_delete);
