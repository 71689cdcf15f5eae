/* The OpenAPI checker (see openapi-check.h). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tests/daemon/openapi-check.h"

json_object *oa_load(const char *path)
{
	return json_object_from_file(path);
}

/* Follow "#/components/..." references. */
static json_object *resolve(json_object *doc, json_object *o)
{
	json_object *ref;

	for (int depth = 0; depth < 8 && o && json_object_object_get_ex(o, "$ref", &ref); depth++) {
		char buf[256], *save = NULL, *tok;
		json_object *cur = doc;

		snprintf(buf, sizeof(buf), "%s", json_object_get_string(ref));
		if (strncmp(buf, "#/", 2) != 0)
			return NULL;
		for (tok = strtok_r(buf + 2, "/", &save); tok && cur; tok = strtok_r(NULL, "/", &save))
			if (!json_object_object_get_ex(cur, tok, &cur))
				cur = NULL;
		o = cur;
	}
	return o;
}

static json_object *operation(json_object *doc, const char *path, const char *method)
{
	json_object *paths, *item, *op;
	char m[16];
	size_t i;

	for (i = 0; method[i] && i < sizeof(m) - 1; i++)
		m[i] = (char)tolower((unsigned char)method[i]);
	m[i] = '\0';
	if (!json_object_object_get_ex(doc, "paths", &paths) ||
	    !json_object_object_get_ex(paths, path, &item) ||
	    !json_object_object_get_ex(item, m, &op))
		return NULL;
	return op;
}

bool oa_has_operation(json_object *doc, const char *path, const char *method)
{
	return operation(doc, path, method) != NULL;
}

static bool is_base64(const char *s)
{
	size_t n = strlen(s);

	if (n % 4)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '+' && s[i] != '/' &&
		    !(s[i] == '=' && i >= n - 2))
			return false;
	return true;
}

static int validate(json_object *doc, json_object *schema, json_object *v, const char *where,
		    char *err, size_t errsz);

static int fail(char *err, size_t errsz, const char *where, const char *what)
{
	snprintf(err, errsz, "%s: %s", where, what);
	return -1;
}

static int validate_object(json_object *doc, json_object *schema, json_object *v,
			   const char *where, char *err, size_t errsz)
{
	json_object *req, *props, *x;
	char sub[256];

	if (json_object_object_get_ex(schema, "required", &req))
		for (size_t i = 0; i < json_object_array_length(req); i++) {
			const char *k = json_object_get_string(json_object_array_get_idx(req, i));

			if (!json_object_object_get_ex(v, k, NULL)) {
				snprintf(sub, sizeof(sub), "required field '%s' missing", k);
				return fail(err, errsz, where, sub);
			}
		}
	if (!json_object_object_get_ex(schema, "properties", &props))
		return 0;
	json_object_object_foreach(props, key, sch) {
		if (!json_object_object_get_ex(v, key, &x))
			continue;
		snprintf(sub, sizeof(sub), "%s.%s", where, key);
		if (validate(doc, sch, x, sub, err, errsz) < 0)
			return -1;
	}
	return 0;
}

static int validate(json_object *doc, json_object *schema, json_object *v, const char *where,
		    char *err, size_t errsz)
{
	json_object *t, *en, *nullable, *items, *fmt;
	const char *type;

	schema = resolve(doc, schema);
	if (!schema)
		return fail(err, errsz, where, "schema reference does not resolve");
	if (!v) {
		if (json_object_object_get_ex(schema, "nullable", &nullable) &&
		    json_object_get_boolean(nullable))
			return 0;
		return fail(err, errsz, where, "null where the schema does not allow it");
	}
	if (!json_object_object_get_ex(schema, "type", &t))
		return 0;
	type = json_object_get_string(t);
	if (!strcmp(type, "object")) {
		if (!json_object_is_type(v, json_type_object))
			return fail(err, errsz, where, "expected an object");
		return validate_object(doc, schema, v, where, err, errsz);
	}
	if (!strcmp(type, "array")) {
		if (!json_object_is_type(v, json_type_array))
			return fail(err, errsz, where, "expected an array");
		if (json_object_object_get_ex(schema, "items", &items))
			for (size_t i = 0; i < json_object_array_length(v); i++)
				if (validate(doc, items, json_object_array_get_idx(v, i), where, err,
					     errsz) < 0)
					return -1;
		return 0;
	}
	if (!strcmp(type, "integer"))
		return json_object_is_type(v, json_type_int) ? 0
							      : fail(err, errsz, where, "expected an integer");
	if (!strcmp(type, "boolean"))
		return json_object_is_type(v, json_type_boolean)
			       ? 0
			       : fail(err, errsz, where, "expected a boolean");
	if (!strcmp(type, "string")) {
		if (!json_object_is_type(v, json_type_string))
			return fail(err, errsz, where, "expected a string");
		if (json_object_object_get_ex(schema, "format", &fmt) &&
		    !strcmp(json_object_get_string(fmt), "byte") &&
		    !is_base64(json_object_get_string(v)))
			return fail(err, errsz, where, "expected base64");
		if (json_object_object_get_ex(schema, "enum", &en)) {
			for (size_t i = 0; i < json_object_array_length(en); i++)
				if (!strcmp(json_object_get_string(json_object_array_get_idx(en, i)),
					    json_object_get_string(v)))
					return 0;
			return fail(err, errsz, where, "value not in the documented enum");
		}
		return 0;
	}
	return fail(err, errsz, where, "schema type this checker does not know");
}

int oa_check_response(json_object *doc, const char *path, const char *method, unsigned status,
		      const char *content_type, const char *body, char *err, size_t errsz)
{
	json_object *op = operation(doc, path, method), *responses, *resp, *content, *media, *schema;
	json_object *v;
	char code[8], where[128];
	const char *media_type;
	int r;

	snprintf(where, sizeof(where), "%s %s %u", method, path, status);
	if (!op)
		return fail(err, errsz, where, "operation not documented");
	snprintf(code, sizeof(code), "%u", status);
	if (!json_object_object_get_ex(op, "responses", &responses) ||
	    !json_object_object_get_ex(responses, code, &resp))
		return fail(err, errsz, where, "status not documented for this operation");
	resp = resolve(doc, resp);
	if (!resp || !json_object_object_get_ex(resp, "content", &content))
		return fail(err, errsz, where, "response has no documented content");
	/* Text answers (the metrics, the status page's files) are checked for their documented
	 * media type only; everything else must be JSON matching the schema. */
	if (content_type && strncasecmp(content_type, "application/json", 16) != 0) {
		char text_type[64];

		snprintf(text_type, sizeof(text_type), "%.*s", (int)strcspn(content_type, "; "),
			 content_type);
		if (!strncasecmp(text_type, "text/", 5) &&
		    json_object_object_get_ex(content, text_type, &media))
			return 0;
	}
	media_type = "application/json";
	if (!json_object_object_get_ex(content, media_type, &media))
		return fail(err, errsz, where, "content type not documented");
	if (!content_type || strncasecmp(content_type, "application/json", 16) != 0)
		return fail(err, errsz, where, "expected Content-Type application/json");
	if (!json_object_object_get_ex(media, "schema", &schema))
		return fail(err, errsz, where, "no schema");
	v = json_tokener_parse(body);
	if (!v)
		return fail(err, errsz, where, "body is not JSON");
	r = validate(doc, schema, v, where, err, errsz);
	json_object_put(v);
	return r;
}
