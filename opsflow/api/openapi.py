"""The OpenAPI 3 description of ``/v1``, served at ``/v1/openapi.json`` (a stable URL).

Written by hand next to the routes rather than generated, so it says what the API promises
(types, nullability, status codes) and the schemathesis suite holds the code to it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["document"]

_NULL_STR = {"type": ["string", "null"]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "Bad request", 401: "No valid token", 403: "Not allowed by policy", 404: "Not found",
            409: "Does not fit the job's state", 413: "Body too large", 415: "Not JSON",
            422: "Definition or inputs invalid", 503: "ZooKeeper unreachable"}
    return {str(c): _json(_ref("Error"), text[c]) for c in codes}


_JOB_ID = {"name": "job_id", "in": "path", "required": True, "description": "A job's (run's) id, or a unique prefix",
           "schema": {"type": "string", "pattern": "^[0-9a-fA-F-]{1,36}$"}}
_FLOW_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
_GRAPH_FORMAT = {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "svg"]}}
_AUTH: list[dict[str, list[str]]] = [{"keystone": []}]
_SERVER_ID = {"name": "server_id", "in": "path", "required": True, "description": "A server's id",
              "schema": {"type": "string", "minLength": 1}}
#: The string fields of a server's reclaim cycle (:class:`opsflow.reclaim.cycles.Cycle`).
_RECLAIM_FIELDS = ("server", "run_id", "state", "name", "project", "project_id", "cloud", "reasons", "deadline",
                   "kept_until", "last")


def _graph_responses() -> dict[str, Any]:
    return {"200": {"description": "The graph", "content": {
        "application/json": {"schema": _ref("Graph")},
        "image/svg+xml": {"schema": {"type": "string"}}}}}


_SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["status", "title", "message"],
        "properties": {"status": {"type": "integer"}, "title": {"type": "string"}, "message": {"type": "string"}}}}},
    "Input": {"type": "object", "required": ["name", "type", "description", "required"], "properties": {
        "name": {"type": "string"}, "type": {"type": "string"}, "description": {"type": "string"},
        "required": {"type": "boolean"}, "default": {}}},
    "Flow": {"type": "object", "required": ["name", "description", "on_failure", "tasks", "inputs"], "properties": {
        "name": {"type": "string"}, "description": {"type": "string"},
        "on_failure": {"type": "string", "enum": ["revert", "pause"]}, "tasks": {"type": "integer"},
        "inputs": {"type": "array", "items": _ref("Input")}, "text": {"type": "string"},
        "task_names": {"type": "array", "items": {"type": "string"}}}},
    "Graph": {"type": "object", "required": ["name", "nodes", "edges"], "properties": {
        "name": {"type": "string"},
        "nodes": {"type": "array", "items": {"type": "object", "required": ["name", "what", "state", "done", "total"],
                                             "properties": {"name": {"type": "string"}, "what": {"type": "string"},
                                                            "state": {"type": "string"},
                                                            "done": {"type": "integer"}, "total": {"type": "integer"}}}},
        "edges": {"type": "array", "items": {"type": "array", "items": {"type": "string"}, "minItems": 2,
                                             "maxItems": 2}}}},
    "Validation": {"type": "object", "required": ["valid"], "properties": {
        "valid": {"type": "boolean"}, "flow": _ref("Flow"),
        "error": {"type": "object", "required": ["message", "line", "column", "reason"], "properties": {
            "message": {"type": "string"}, "line": {"type": "integer"}, "column": {"type": "integer"},
            "reason": {"type": "string"}}}}},
    "Job": {"type": "object", "required": ["id", "name", "state", "on_board", "project_id", "user_id", "claimed_by",
                                           "submitted", "due", "run_state", "tasks_done", "tasks_total", "parent_id"],
            "properties": {
                "id": {"type": "string"}, "name": _NULL_STR, "state": {"type": "string"},
                "on_board": {"type": "boolean"}, "project_id": _NULL_STR, "user_id": _NULL_STR,
                "claimed_by": _NULL_STR, "submitted": _NULL_STR, "due": _NULL_STR, "run_state": _NULL_STR,
                "tasks_done": {"type": "integer"}, "tasks_total": {"type": "integer"}, "parent_id": _NULL_STR}},
    "Task": {"type": "object", "required": ["path", "state", "started", "finished", "duration", "error"],
             "properties": {"path": {"type": "string"}, "state": {"type": "string"}, "started": _NULL_STR,
                            "finished": _NULL_STR, "duration": {"type": ["number", "null"]}, "error": _NULL_STR}},
    "JobDetail": {"allOf": [_ref("Job"), {"type": "object", "required": ["tasks", "inputs", "waiting", "children"],
                                          "properties": {
                                              "tasks": {"type": "array", "items": _ref("Task")},
                                              "inputs": {"type": "object"},
                                              "waiting": {"type": "object", "additionalProperties": {"type": "string"}},
                                              "children": {"type": "array", "items": {"type": "object"}}}}]},
    "Link": {"type": "object", "required": ["rel", "href"],
             "properties": {"rel": {"type": "string"}, "href": {"type": "string"}}},
    "Version": {"type": "object", "required": ["id", "status", "links"], "properties": {
        "id": {"type": "string"}, "status": {"type": "string"}, "updated": {"type": "string"},
        "links": {"type": "array", "items": _ref("Link")}, "media-types": {"type": "array"}}},
    "ServerReport": {"type": "object", "required": ["server", "run_id", "outcome", "downtime", "bytes", "rate",
                                                    "steps", "error"], "properties": {
        "server": {"type": "string"}, "run_id": {"type": "string"},
        "outcome": {"type": "string", "enum": ["moved", "reverted", "failed", "running"]},
        "downtime": {"type": ["number", "null"]}, "bytes": {"type": "integer"}, "rate": {"type": ["number", "null"]},
        "steps": {"type": "object", "additionalProperties": {"type": "number"}}, "error": _NULL_STR}},
    "ReclaimServer": {"type": "object", "required": list(_RECLAIM_FIELDS) + ["cycle"], "properties": {
        **{name: {"type": "string"} for name in _RECLAIM_FIELDS}, "cycle": {"type": "integer"}}},
    "AuditEvent": {"type": "object", "required": ["at", "server", "action", "actor", "reason", "run_id", "details"],
                   "properties": {"at": {"type": "number"}, "server": {"type": "string"},
                                  "action": {"type": "string"}, "actor": {"type": "string"},
                                  "reason": {"type": "string"}, "run_id": {"type": "string"},
                                  "details": {"type": "object"}}},
}


def _paths() -> dict[str, Any]:
    job = {"type": "object", "required": ["job"], "properties": {"job": _ref("Job")}}
    return {
        "/": {"get": {"operationId": "versions", "summary": "API versions", "security": [], "responses": {
            "300": _json({"type": "object", "required": ["versions"],
                          "properties": {"versions": {"type": "array", "items": _ref("Version")}}}, "Versions")}}},
        "/v1": {"get": {"operationId": "version_v1", "summary": "This version", "security": [], "responses": {
            "200": _json({"type": "object", "required": ["version"], "properties": {"version": _ref("Version")}},
                         "Version")}}},
        "/v1/openapi.json": {"get": {"operationId": "openapi", "summary": "This document", "security": [],
                                     "responses": {"200": _json({"type": "object"}, "OpenAPI 3 document")}}},
        "/v1/flows": {"get": {"operationId": "flows_list", "summary": "The built-in flow definitions",
                              "responses": {"200": _json({"type": "object", "required": ["flows"], "properties": {
                                  "flows": {"type": "array", "items": _ref("Flow")}}}, "Flows"), **_errors(401, 403)}}},
        "/v1/flows/validate": {"post": {
            "operationId": "flows_validate", "summary": "Validate an uploaded definition (bounded like a file)",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["definition"],
                "properties": {"definition": {"type": "string", "maxLength": 1 << 20}}}}}},
            "responses": {"200": _json(_ref("Validation"), "Whether it is valid, and where not"),
                          **_errors(400, 401, 403, 413, 415)}}},
        "/v1/flows/{name}": {"get": {"operationId": "flows_show", "summary": "One built-in definition",
                                     "parameters": [_FLOW_NAME], "responses": {
                                         "200": _json({"type": "object", "required": ["flow"],
                                                       "properties": {"flow": _ref("Flow")}}, "The definition"),
                                         **_errors(401, 403, 404)}}},
        "/v1/flows/{name}/graph": {"get": {"operationId": "flows_graph", "summary": "A built-in's graph",
                                           "parameters": [_FLOW_NAME, _GRAPH_FORMAT],
                                           "responses": {**_graph_responses(), **_errors(400, 401, 403, 404)}}},
        "/v1/jobs": {
            "get": {"operationId": "jobs_list", "summary": "Jobs on the board that the caller may see, oldest first",
                    "parameters": [
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                        {"name": "marker", "in": "query", "description": "Id of the last job of the previous page",
                         "schema": {"type": "string"}},
                        {"name": "state", "in": "query", "schema": {"type": "string"}},
                        {"name": "name", "in": "query", "schema": {"type": "string"}},
                        {"name": "project_id", "in": "query", "description": "Admin only",
                         "schema": {"type": "string"}},
                        {"name": "all_projects", "in": "query", "description": "Admin only",
                         "schema": {"type": "boolean"}}],
                    "responses": {"200": _json({"type": "object", "required": ["jobs", "links"], "properties": {
                        "jobs": {"type": "array", "items": _ref("Job")},
                        "links": {"type": "array", "items": _ref("Link")}}}, "A page of jobs"),
                        **_errors(400, 401, 403, 503)}},
            "post": {"operationId": "jobs_submit", "summary": "Submit a job into the caller's project",
                     "requestBody": {"required": True, "content": {"application/json": {"schema": {
                         "type": "object", "properties": {
                             "flow": {"type": "string", "description": "A built-in's name"},
                             "definition": {"type": "string", "description": "YAML text"},
                             "inputs": {"type": "object"},
                             "on_failure": {"type": "string", "enum": ["revert", "pause"]}}}}}},
                     "responses": {"201": _json(job, "Submitted"), **_errors(400, 401, 403, 404, 413, 415, 422, 503)}},
        },
        "/v1/jobs/{job_id}": {"get": {"operationId": "jobs_show", "summary": "A job with its tasks and children",
                                      "parameters": [_JOB_ID], "responses": {
                                          "200": _json({"type": "object", "required": ["job"],
                                                        "properties": {"job": _ref("JobDetail")}}, "The job"),
                                          **_errors(401, 404, 503)}}},
        "/v1/jobs/{job_id}/graph": {"get": {"operationId": "jobs_graph", "summary": "The job's graph with task states",
                                            "parameters": [_JOB_ID, _GRAPH_FORMAT],
                                            "responses": {**_graph_responses(), **_errors(400, 401, 404, 503)}}},
        "/v1/jobs/{job_id}/forklift": {"get": {
            "operationId": "forklift_report", "summary": "A forklift job's report, server by server",
            "parameters": [_JOB_ID], "responses": {
                "200": _json({"type": "object", "required": ["report"], "properties": {"report": {
                    "type": "object", "required": ["job_id", "servers", "summary"], "properties": {
                        "job_id": {"type": "string"}, "servers": {"type": "array", "items": _ref("ServerReport")},
                        "summary": {"type": "object"}}}}}, "The report"),
                **_errors(401, 403, 404, 503)}}},
        "/v1/reclaim/servers": {"get": {
            "operationId": "reclaim_list", "summary": "Servers of the caller's project in a reclaim cycle",
            "parameters": [{"name": "all_projects", "in": "query", "description": "Admin only",
                            "schema": {"type": "boolean"}}],
            "responses": {"200": _json({"type": "object", "required": ["servers"], "properties": {
                "servers": {"type": "array", "items": _ref("ReclaimServer")}}}, "Their cycles"),
                **_errors(400, 401, 403, 503)}}},
        "/v1/reclaim/servers/{server_id}": {"get": {
            "operationId": "reclaim_show", "summary": "A server's reclaim cycle and audit log",
            "parameters": [_SERVER_ID], "responses": {
                "200": _json({"type": "object", "required": ["server"], "properties": {"server": {"allOf": [
                    _ref("ReclaimServer"), {"type": "object", "required": ["events"], "properties": {
                        "events": {"type": "array", "items": _ref("AuditEvent")}}}]}}}, "The cycle"),
                **_errors(401, 403, 404, 503)}}},
        "/v1/reclaim/servers/{server_id}/keep": {"post": {
            "operationId": "reclaim_keep", "summary": "Keep the server: recorded first, then its run is told",
            "parameters": [_SERVER_ID],
            "requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object", "properties": {"days": {"type": "number", "exclusiveMinimum": 0,
                                                          "maximum": 365, "default": 30}}}}}},
            "responses": {"200": _json({"type": "object", "required": ["kept"], "properties": {"kept": {
                "type": "object", "required": ["server", "until", "run_id", "message"], "properties": {
                    "server": {"type": "string"}, "until": {"type": "number"}, "run_id": {"type": "string"},
                    "message": {"type": "string"}}}}}, "Kept"),
                **_errors(400, 401, 403, 404, 409, 413, 415, 503)}}},
        **{f"/v1/jobs/{{job_id}}/{action}": {"post": {
            "operationId": f"jobs_{action}", "summary": summary, "parameters": [_JOB_ID],
            **({"requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["name"], "properties": {"name": {"type": "string", "minLength": 1}}}}}}}
               if action == "signal" else {}),
            "responses": {"202": _json(job, "Accepted: conductors act on it"),
                          **_errors(400, 401, 403, 404, 409, 503)}}}
           for action, summary in (("resume", "Let conductors continue a paused or failed job"),
                                   ("revert", "Undo every completed task"),
                                   ("cancel", "Take it off the board, undoing nothing"),
                                   ("signal", "Deliver a signal (ends a wait for it)"))},
    }


def document(base_url: str) -> dict[str, Any]:
    """The whole description, with ``base_url`` as its server."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "opsflow", "version": "1.0",
                 "description": "Flows and jobs of opsflow, the OpenStack operators' toolkit. Authenticate with a "
                                "Keystone token in X-Auth-Token."},
        "servers": [{"url": base_url or "/"}],
        "security": _AUTH,
        "components": {"securitySchemes": {"keystone": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"}},
                       "schemas": _SCHEMAS},
        "paths": _paths(),
    }
