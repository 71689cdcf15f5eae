/* A small OpenAPI 3 checker for the daemon's tests: is an operation documented, and does a
 * response body match the documented schema (type, required, properties, items, enum,
 * nullable, $ref)? Enough of JSON Schema for daemon/openapi.yaml, which is written in the
 * JSON subset of YAML so that json-c reads it. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

json_object *oa_load(const char *path);
/* paths[path][method] exists (method lower or upper case). */
bool oa_has_operation(json_object *doc, const char *path, const char *method);
/* 0 when the response (status, content type, body) is documented and matches; -1 with the
 * reason in err otherwise. */
int oa_check_response(json_object *doc, const char *path, const char *method, unsigned status,
		      const char *content_type, const char *body, char *err, size_t errsz);
